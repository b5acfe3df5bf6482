"""Save and load a trained forecaster as weights plus JSON, never pickle.

A run directory holds ``config.json`` (settings, registry name, products, scaler bounds, library
version, training summary), ``calibration.npz`` (the intervals' per-product arrays, read without pickle)
and ``network_<i>.pt`` state dicts (plus ``latest_<i>.pt``, the networks forecasts come from, where the run
retrained them on every day), loaded with ``weights_only=True`` so a tampered file cannot run code.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import pickle
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from models import REGISTRY

from .. import __version__
from ..config import ForecastConfig
from ..data.drivers import DriverScale, DriverSpec
from ..data.holidays import HOLIDAY_FEATURES
from ..errors import ForecasterError
from ..labels import NETWORK
from ..model.baselines import BLEND_COMPONENTS
from ..model.features import PanelScaler
from ..model.horizon import LEVEL_RULES, PATH_DAYS
from ..model.intervals import Calibration
from ..model.trained import EpochRecord, TrainedForecaster, build_network, feature_count
from ..results.backtest import COLUMNS as BACKTEST_COLUMNS

CONFIG_FILE = "config.json"
CALIBRATION_FILE = "calibration.npz"
CALIBRATION_ARRAYS = ("offsets", "scale", "level", "dormant", "shift")  # the calibration's per-product arrays


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
    return write_run(trained, run)


def write_run(trained: TrainedForecaster, run: Path) -> Path:
    """Write the forecaster into the folder ``run`` (existing and empty: a timestamped one from :func:`save`,
    or the run store's own folder for the run) and return it."""
    meta = {
        "library_version": __version__,
        "model": trained.config.model,
        "config": trained.config.to_dict(),
        "products": trained.products,
        "scaler": trained.scaler.to_dict(),
        "last_date": trained.last_date.strftime("%Y-%m-%d") if trained.last_date is not None else None,
        "best_epochs": trained.best_epochs,
        "history": [dataclasses.asdict(r) for r in trained.history],  # the loss curves, for a reopened run
        "cancelled": trained.cancelled,
        "train_seconds": trained.train_seconds,
        "networks": [f"network_{i}.pt" for i in range(len(trained.networks))],
        "latest_networks": [f"latest_{i}.pt" for i in range(len(trained.latest_networks))],
        "latest_scaler": trained.latest_scaler.to_dict() if trained.latest_scaler is not None else None,
        "latest_epochs": trained.latest_epochs,
        "blend": dict(trained.blend),
        "anchor_weights": list(trained.anchor_weights),
        "anchor_level": trained.anchor_level,
        "new_products": list(trained.new_products),
        "latest_new_products": list(trained.latest_new_products),
        "selection": (trained.selection.to_dict(orient="records") if trained.selection is not None else None),
        "selection_reason": trained.selection_reason,
        "calibration": _write_calibration(trained.calibration, run),
        "backtest": (trained.backtest.to_json(orient="records", date_format="iso")
                     if trained.backtest is not None else None),
        "holiday_features": len(HOLIDAY_FEATURES),
        "drivers": (None if trained.driver_spec is None else
                    {**trained.driver_spec.to_dict(), "scale": trained.driver_scale.to_dict(),
                     "latest_scale": (trained.latest_driver_scale.to_dict()
                                      if trained.latest_driver_scale is not None else None)}),
    }
    files = list(zip(meta["networks"], trained.networks)) + list(zip(meta["latest_networks"], trained.latest_networks))
    for name, net in files:
        torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, run / name)
    arrays = [CALIBRATION_FILE] if trained.calibration is not None else []
    meta["sha256"] = {name: _sha256(run / name) for name in [n for n, _ in files] + arrays}  # verified at load
    (run / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    return run


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(run: str | Path, device: str = "cpu") -> TrainedForecaster:
    """Load a run directory written by :func:`save`, refusing anything it did not write: config.json is
    checked against the expected fields, types and bounds before anything is built; each weights file must be
    a plain file in the run directory (no link), match its SHA-256, load with ``weights_only=True``, be finite."""
    run = Path(run)
    meta = _read_meta(run)
    try:
        # runs saved before window scaling existed were trained without it
        config = ForecastConfig.from_dict({"window_scaling": False, **_field(meta, "config", dict)})
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: JSON's Infinity as a whole number
        raise _foreign(run, f"settings ({exc})") from None
    except ForecasterError as exc:  # settings this version refuses, such as a model it does not know
        raise ForecasterError(f"{str(run)!r} was saved with settings this version cannot use. {exc}") from None
    products = _field(meta, "products", list)
    if not products or len(products) > MAX_PRODUCTS or not all(isinstance(p, str) for p in products) \
            or len(set(products)) < len(products):
        raise _foreign(run, "product list")
    scaler = _scaler(run, _field(meta, "scaler", dict), len(products))
    names, checksums = _field(meta, "networks", list), _field(meta, "sha256", dict)
    if not 1 <= len(names) <= MAX_NETWORKS or not all(isinstance(n, str) and WEIGHTS_NAME.fullmatch(n) for n in names):
        raise _foreign(run, "network list")
    blend = _field(meta, "blend", dict)
    if not all(isinstance(k, str) and isinstance(v, (int, float)) and 0 <= v <= 1 for k, v in blend.items()):
        raise _foreign(run, "blend weights")
    unknown = [k for k in blend if k != NETWORK and k not in BLEND_COMPONENTS]
    if unknown:
        raise ForecasterError(f"The saved model blends with {unknown[0]!r}, which this version does not know.")
    anchor, anchor_level = _anchor(run, meta)
    _check_holiday_features(run, config, meta)
    spec, scale, latest_scale = _drivers(run, meta.get("drivers"), len(products))
    n_features = feature_count(config, len(products), REGISTRY[config.model].layout, len(getattr(spec, "channels", ())))
    networks = [_network(run, name, checksums, config, n_features, len(products), device) for name in names]
    latest_names = meta.get("latest_networks") or []  # runs saved before the latest networks have none
    if not isinstance(latest_names, list) or len(latest_names) > MAX_NETWORKS or \
            not all(isinstance(n, str) and LATEST_NAME.fullmatch(n) for n in latest_names):
        raise _foreign(run, "latest network list")
    latest = [_network(run, name, checksums, config, n_features, len(products), device) for name in latest_names]
    try:
        return TrainedForecaster(
            config=config, products=products, scaler=scaler, networks=networks,
            best_epochs=[int(e) for e in meta.get("best_epochs", [])], device=device,
            last_date=pd.Timestamp(meta["last_date"]) if meta.get("last_date") else None,
            cancelled=bool(meta.get("cancelled")),
            train_seconds=float(meta.get("train_seconds", 0.0)), version=str(meta.get("library_version", "unknown")),
            selection=pd.DataFrame(meta["selection"]) if meta.get("selection") else None,
            selection_reason=str(meta.get("selection_reason", "")), blend={str(k): float(v) for k, v in blend.items()},
            calibration=_calibration(run, meta.get("calibration"), len(products), checksums),
            backtest=_backtest(run, meta.get("backtest")), latest_networks=latest,
            latest_scaler=_scaler(run, _field(meta, "latest_scaler", dict), len(products)) if latest else None,
            latest_epochs=int(meta.get("latest_epochs", 0)) if latest else 0,
            anchor_weights=anchor, anchor_level=anchor_level, new_products=_new_products(meta, run, len(products)),
            latest_new_products=_new_products(meta, run, len(products), "latest_new_products"),
            driver_spec=spec, driver_scale=scale, latest_driver_scale=latest_scale if latest else None,
            history=_history(meta))
    except (TypeError, ValueError, OverflowError) as exc:
        raise _foreign(run, f"summary fields ({exc})") from None


MAX_CONFIG_BYTES = 20 * 2**20
MAX_WEIGHTS_BYTES = 512 * 2**20
MAX_NETWORKS = 64
MAX_PRODUCTS = 100_000
WEIGHTS_NAME = re.compile(r"network_\d{1,3}\.pt")
LATEST_NAME = re.compile(r"latest_\d{1,3}\.pt")


def _history(meta: dict) -> list[EpochRecord]:
    """The loss curves (runs saved before they were kept have none)."""
    return [EpochRecord(**r) for r in meta.get("history") or []]


def _anchor(run: Path, meta: dict) -> tuple[tuple[float, ...], str]:
    """The level anchor's weights and rule as saved, refused where they are not what this tool writes."""
    weights = meta.get("anchor_weights") or []  # runs saved before the level anchor forecast recursively only
    if not isinstance(weights, list) or len(weights) > PATH_DAYS or \
            not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 <= w <= 1 for w in weights):
        raise _foreign(run, "level anchor weights")
    rule = meta.get("anchor_level", "mean")  # runs saved before the choice read the 4 weeks' mean
    if not isinstance(rule, str) or rule not in LEVEL_RULES:
        raise _foreign(run, "level anchor rule")
    return tuple(float(w) for w in weights), rule


def _foreign(run: Path, what: str) -> ForecasterError:
    return ForecasterError(f"{str(run)!r} holds a damaged or foreign config.json (its {what} is not what this tool "
                           "saves). Train and save the model again.")


def _field(meta: dict, name: str, kind: type) -> Any:
    value = meta.get(name)
    if not isinstance(value, kind):
        raise ForecasterError(f"The saved model's config.json lacks a valid {name!r} (expected a {kind.__name__}); "
                              "it was not saved by this version, or it was changed. Train and save the model again.")
    return value


def _plain_file(run: Path, name: str) -> Path:
    """``run/name`` if it is a regular file directly inside the run directory, never a link or a way out."""
    path = run / name
    if path.is_symlink() or not path.is_file() or path.resolve().parent != run.resolve():
        raise ForecasterError(f"{name!r} in {str(run)!r} is missing, a link or not a plain file; saved runs hold "
                              "plain files only. Train and save the model again.")
    return path


def _read_meta(run: Path) -> dict:
    try:
        path = _plain_file(run, CONFIG_FILE)
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ForecasterError(f"{str(run)!r} holds a config.json far larger than this tool writes.")
        meta = json.loads(path.read_text(encoding="utf-8"))
    except ForecasterError as exc:
        raise ForecasterError(f"{str(run)!r} is not a saved model directory: {exc}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ForecasterError(f"{str(run)!r} is not a saved model directory ({type(exc).__name__}).") from None
    if not isinstance(meta, dict):
        raise _foreign(run, "top level")
    return meta


def _scaler(run: Path, data: dict, n_products: int) -> PanelScaler:
    lows, highs = data.get("data_min"), data.get("data_max")
    ok = (isinstance(data.get("log1p"), bool) and isinstance(lows, list) and isinstance(highs, list)
          and len(lows) == len(highs) == n_products
          and all(isinstance(v, (int, float)) and math.isfinite(v) for v in lows + highs))
    if not ok:
        raise _foreign(run, "scaler (one finite minimum and maximum per product)")
    return PanelScaler.from_dict(data)


def _write_calibration(calibration: Calibration | None, run: Path) -> dict | None:
    """The calibration's settings for config.json, its per-product arrays written to CALIBRATION_FILE: as JSON
    text they made a 10,000-product run's config.json 30 MB (99 quantile offsets per product)."""
    if calibration is None:
        return None
    data = calibration.to_dict()
    arrays = {k: np.asarray(getattr(calibration, k)) for k in CALIBRATION_ARRAYS if data.get(k) is not None}
    with open(run / CALIBRATION_FILE, "wb") as handle:
        np.savez(handle, **arrays)
    return {**{k: v for k, v in data.items() if k not in arrays}, "arrays": CALIBRATION_FILE}


def _calibration(run: Path, data: Any, n_products: int, checksums: dict) -> Calibration | None:
    """The saved interval calibration; None for a run saved before intervals existed (it loads without). Its
    per-product arrays come from CALIBRATION_FILE (plain arrays, no pickle, checked against its checksum);
    runs saved before that file hold them in config.json."""
    if data is None:
        return None
    try:
        if not isinstance(data, dict):
            raise TypeError("not an object")
        if "arrays" in data:
            data = {**data, **_calibration_arrays(run, data["arrays"], checksums, n_products)}
        return Calibration.from_dict(data, n_products)
    except (KeyError, TypeError, ValueError, OverflowError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _foreign(run, f"interval calibration ({exc})") from None


def _calibration_arrays(run: Path, name: Any, checksums: dict, n_products: int) -> dict[str, np.ndarray]:
    if name != CALIBRATION_FILE:
        raise ValueError("an unknown arrays file")
    path = _plain_file(run, CALIBRATION_FILE)
    if path.stat().st_size > (len(CALIBRATION_ARRAYS) + 100) * 8 * n_products + 2**16:
        raise ValueError("arrays far larger than the products need")
    if checksums.get(CALIBRATION_FILE) != _sha256(path):
        raise ForecasterError(f"{CALIBRATION_FILE!r} in {str(run)!r} does not match the checksum saved with it: it "
                              "was changed or damaged after saving. Train and save the model again.")
    with np.load(path, allow_pickle=False) as arrays:
        return {k: arrays[k] for k in CALIBRATION_ARRAYS if k in arrays.files}


def _check_holiday_features(run: Path, config: ForecastConfig, meta: dict) -> None:
    """A run with a holiday calendar saved with another number of holiday features per day (4 before the long
    weekend was added) cannot be rebuilt: said so, instead of a weights file that does not fit."""
    saved = meta.get("holiday_features", 4)
    if config.holidays and saved != len(HOLIDAY_FEATURES):
        raise ForecasterError(f"{str(run)!r} was saved with {saved} holiday features per day; this version reads "
                              f"{len(HOLIDAY_FEATURES)} (the long weekend was added): train it again.")


def _drivers(run: Path, data: Any, n_products: int) -> tuple[DriverSpec | None, DriverScale | None, DriverScale | None]:
    """The drivers a run reads (their choices, values and scale; runs saved before drivers have none)."""
    if data is None:
        return None, None, None
    try:
        spec = DriverSpec.from_dict(data)
        scales = [DriverScale.from_dict(data[k]) if data.get(k) is not None else None for k in ("scale", "latest_scale")]
    except (TypeError, ValueError, KeyError, ForecasterError) as exc:
        raise _foreign(run, f"drivers ({exc})") from None
    width = len(spec.channels)
    if len(spec.levels) != len(spec.choices) or scales[0] is None or any(
            s is not None and (s.offset.shape != (n_products, width) or s.divisor.shape != (n_products, width)
                               or not np.isfinite(s.offset).all() or not (s.divisor > 0).all()) for s in scales):
        raise _foreign(run, "drivers")
    return spec, scales[0], scales[1]


def _backtest(run: Path, data: Any) -> pd.DataFrame | None:
    """The saved backtest table (JSON records); None when the run has none."""
    if data is None:
        return None
    try:
        table = pd.read_json(io.StringIO(data), orient="records") if isinstance(data, str) else None
        if table is None or list(table.columns) != list(BACKTEST_COLUMNS):
            raise ValueError("unexpected columns")
        return table.assign(test_start=pd.to_datetime(table["test_start"]).dt.tz_localize(None),
                            test_end=pd.to_datetime(table["test_end"]).dt.tz_localize(None))
    except (TypeError, ValueError) as exc:
        raise _foreign(run, f"backtest table ({exc})") from None


def _new_products(meta: dict, run: Path, n_products: int, key: str = "new_products") -> tuple[bool, ...]:
    """The saved per-product "new to the networks" flags; () for runs saved before they were kept."""
    flags = meta.get(key) or []
    if not isinstance(flags, list) or flags and (len(flags) != n_products or
                                                  not all(isinstance(f, bool) for f in flags)):
        raise _foreign(run, "new product flags")
    return tuple(flags)


def _network(run: Path, name: str, checksums: dict, config: ForecastConfig, n_features: int, n_products: int,
             device: str) -> torch.nn.Module:
    path = _plain_file(run, name)
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise ForecasterError(f"The weights file {name!r} in {str(run)!r} is far larger than its settings need.")
    if checksums.get(name) != _sha256(path):
        raise ForecasterError(f"The weights file {name!r} in {str(run)!r} does not match the checksum saved with "
                              "it: it was changed or damaged after saving. Train and save the model again.")
    net = build_network(config, n_features, n_products)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        net.load_state_dict(state)
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, TypeError, OSError, AttributeError):
        # tampered, damaged or mismatched weights: refused, never loaded with weights_only=False
        raise ForecasterError(f"The weights file {name!r} in {str(run)!r} is damaged, does not match its "
                              "config.json, or holds more than plain weights. Train and save the model again.") from None
    if not all(torch.isfinite(t).all() for t in net.state_dict().values() if t.is_floating_point()):
        raise ForecasterError(f"The weights file {name!r} in {str(run)!r} holds values that are not finite "
                              "numbers. Train and save the model again.")
    return net.to(device).eval()
