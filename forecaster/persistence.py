"""Save and load a trained forecaster as weights plus JSON, never pickle.

A run directory holds ``config.json`` (settings, registry name, products, scaler bounds, library
version, training summary) and ``network_<i>.pt`` state dicts, loaded with ``weights_only=True`` so a
tampered file cannot run code.
"""
from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from models import REGISTRY

from . import __version__
from .baselines import BLEND_COMPONENTS
from .config import ForecastConfig
from .errors import ForecasterError
from .features import PanelScaler, calendar_names
from .labels import NETWORK
from .trained import TrainedForecaster, build_network

CONFIG_FILE = "config.json"


def _n_features(config: ForecastConfig, n_products: int, layout: str) -> int:
    per_series = config.n_series_features * (n_products if layout == "multi" else 1)
    return per_series + len(calendar_names(config.extended_calendar))


def save(trained: TrainedForecaster, root: str | Path) -> Path:
    """Write the forecaster to a new timestamped directory under ``root`` and return its path."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    root = Path(root)
    run = root / f"run-{stamp}"
    n = 1
    while run.exists():
        n += 1
        run = root / f"run-{stamp}-{n}"
    run.mkdir(parents=True)
    meta = {
        "library_version": __version__,
        "model": trained.config.model,
        "config": trained.config.to_dict(),
        "products": trained.products,
        "scaler": trained.scaler.to_dict(),
        "last_date": trained.last_date.strftime("%Y-%m-%d") if trained.last_date is not None else None,
        "best_epochs": trained.best_epochs,
        "cancelled": trained.cancelled,
        "train_seconds": trained.train_seconds,
        "networks": [f"network_{i}.pt" for i in range(len(trained.networks))],
        "blend": dict(trained.blend),
        "selection": (trained.selection.to_dict(orient="records") if trained.selection is not None else None),
        "selection_reason": trained.selection_reason,
    }
    for name, net in zip(meta["networks"], trained.networks):
        torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, run / name)
    (run / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    return run


def load(run: str | Path, device: str = "cpu") -> TrainedForecaster:
    """Load a run directory written by :func:`save`."""
    run = Path(run)
    try:
        meta = json.loads((run / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ForecasterError(f"{str(run)!r} is not a saved model directory ({exc}).") from None
    try:
        # runs saved before window scaling existed were trained without it
        config = ForecastConfig.from_dict({"window_scaling": False, **meta["config"]})
        products = list(meta["products"])
        scaler = PanelScaler.from_dict(meta["scaler"])
        names = list(meta["networks"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ForecasterError(f"{str(run)!r} holds an incomplete or foreign config.json (missing or bad {exc}). "
                              "Train and save the model again.") from None
    except ForecasterError as exc:  # settings this version refuses, such as a model it does not know
        raise ForecasterError(f"{str(run)!r} was saved with settings this version cannot use. {exc}") from None
    n_features = _n_features(config, len(products), REGISTRY[config.model].layout)
    networks = []
    for name in names:
        net = build_network(config, n_features, len(products))
        try:
            state = torch.load(run / Path(name).name, map_location=device, weights_only=True)
            net.load_state_dict(state)
        except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, TypeError, OSError):
            # tampered, damaged or mismatched weights: refused, never loaded with weights_only=False
            raise ForecasterError(f"The weights file {name!r} in {str(run)!r} is damaged, does not match its "
                                  "config.json, or holds more than plain weights. Train and save the model again.") from None
        networks.append(net.to(device).eval())
    blend = {str(k): float(v) for k, v in (meta.get("blend") or {}).items()}
    unknown = [k for k in blend if k != NETWORK and k not in BLEND_COMPONENTS]
    if unknown:
        raise ForecasterError(f"The saved model blends with {unknown[0]!r}, which this version does not know.")
    last = meta.get("last_date")
    return TrainedForecaster(
        config=config, products=products, scaler=scaler, networks=networks,
        best_epochs=list(meta.get("best_epochs", [])), device=device,
        last_date=pd.Timestamp(last) if last else None, cancelled=bool(meta.get("cancelled")),
        train_seconds=float(meta.get("train_seconds", 0.0)), version=meta.get("library_version", "unknown"),
        selection=pd.DataFrame(meta["selection"]) if meta.get("selection") else None,
        selection_reason=str(meta.get("selection_reason", "")),
        blend=blend)

