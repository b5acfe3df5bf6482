"""One explicit training loop: device, seed, per-epoch callback, cancel between batches, NaN guard.

``fit(panel, config)`` returns a :class:`TrainedForecaster`: the fitted network(s), the scaler, the
settings and the loss history. The test span never steers anything here: scaling is fit on the days
before it, and early stopping (and the choice of best weights) watches the validation span before it.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from models import REGISTRY

from . import __version__
from .baselines import BLEND_COMPONENTS
from .config import AUTO_MODEL, ForecastConfig
from .errors import ForecasterError, TrainingError
from .features import PanelScaler
from .windows import Split, WindowDataset, WindowFeatures, chronological_split

EVAL_BATCH = 8192


@dataclass(frozen=True)
class EpochRecord:
    """What the callback receives after every epoch (losses are on the scaled data)."""

    member: int  # which ensemble member (0-based)
    epoch: int  # 1-based within the member
    epochs: int
    train_loss: float
    val_loss: float | None
    test_loss: float
    elapsed: float  # seconds since fit started
    total_epochs: int  # epochs * ensemble, for a progress bar
    done_epochs: int


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class TrainedForecaster:
    """A fitted forecaster: everything needed to predict, evaluate, forecast and save."""

    config: ForecastConfig
    products: list[str]
    scaler: PanelScaler
    networks: list[nn.Module]
    history: list[EpochRecord] = field(default_factory=list)
    best_epochs: list[int] = field(default_factory=list)
    device: str = "cpu"
    last_date: pd.Timestamp | None = None
    cancelled: bool = False
    train_seconds: float = 0.0
    version: str = __version__
    # set when the model was chosen by validation among candidates: one row per candidate, and why
    selection: pd.DataFrame | None = None
    selection_reason: str = ""
    # a validation-weighted blend: component -> weight ("network" = this forecaster's networks, other
    # keys name forecaster.baselines.BLEND_COMPONENTS); empty means the networks alone
    blend: dict[str, float] = field(default_factory=dict)

    @property
    def history_days(self) -> int:
        """Days of actual history one prediction reads (the network's windows and any blended baseline)."""
        return max([self.config.history_needed] + [BLEND_COMPONENTS[k][1] for k in self.blend if k != "network"])

    @property
    def layout(self) -> str:
        return REGISTRY[self.config.model].layout

    def align(self, panel: pd.DataFrame) -> pd.DataFrame:
        """The panel's columns in training order; a product the model never saw cannot be forecast."""
        missing = [p for p in self.products if p not in panel.columns]
        if missing:
            raise ForecasterError(f"The data lacks {len(missing)} product(s) the model was trained on "
                                  f"(first: {missing[0]!r}). Train again on this data.")
        return panel[self.products]

    def features(self, panel: pd.DataFrame) -> WindowFeatures:
        values = self.align(panel).to_numpy(dtype=np.float64)
        return WindowFeatures(self.scaler.transform(values), panel.index, self.config, self.layout, self.device)

    @torch.no_grad()
    def predict_scaled(self, features: WindowFeatures, days: np.ndarray) -> torch.Tensor:
        """(D, P) scaled predictions for target days, averaged over the ensemble members."""
        days_t = torch.as_tensor(days, dtype=torch.long, device=features.device)
        P = features.n_products
        outs = []
        for net in self.networks:
            net.eval()
            if self.layout == "multi":
                outs.append(torch.cat([net(*features.inputs(d)) for d in days_t.split(EVAL_BATCH)]))
            else:
                flat = torch.arange(len(days_t) * P, device=features.device)
                pred = torch.cat([net(*features.inputs(days_t[i // P], i % P)) for i in flat.split(EVAL_BATCH)])
                outs.append(pred.reshape(len(days_t), P))
        return torch.stack(outs).mean(0)

    def predict(self, panel: pd.DataFrame, days: np.ndarray) -> np.ndarray:
        """(D, P) predictions in original units for target-day positions in ``panel`` (len(panel) = tomorrow)."""
        days = np.asarray(days)
        if not self.blend:
            scaled = self.predict_scaled(self.features(panel), days).cpu().numpy()
            return np.clip(self.scaler.inverse(scaled), 0, None)
        values = self.align(panel).to_numpy(dtype=np.float64)
        out = np.zeros((len(days), len(self.products)))
        for name, weight in self.blend.items():
            if weight == 0:
                continue
            if name == "network":
                scaled = self.predict_scaled(self.features(panel), days).cpu().numpy()
                part = np.clip(self.scaler.inverse(scaled), 0, None)
            else:
                part = BLEND_COMPONENTS[name][0](values, days)
            out += weight * part
        return np.clip(out, 0, None)


def resolve_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; a forced device that is absent is a user error, not a crash."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ForecasterError("No CUDA GPU is available here; choose device 'auto' or 'cpu'.")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ForecasterError("Apple MPS is not available here; choose device 'auto' or 'cpu'.")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return "Apple GPU (MPS)" if device.type == "mps" else "CPU"


class ShuffledBatches(Sampler):
    """Yields index tensors of one batch each, reshuffled every epoch from a seeded generator."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator, limit: int = 0) -> None:
        self.n, self.batch_size, self.generator = n, batch_size, generator
        self.take = min(n, limit) if limit > 0 else n  # samples per epoch: a fresh random draw each epoch

    def __iter__(self) -> Iterator[torch.Tensor]:
        yield from torch.randperm(self.n, generator=self.generator)[:self.take].split(self.batch_size)

    def __len__(self) -> int:
        return math.ceil(self.take / self.batch_size)


def _loss_fn(name: str, reduction: str = "mean") -> nn.Module:
    return {"mse": nn.MSELoss(reduction=reduction), "l1": nn.L1Loss(reduction=reduction),
            "huber": nn.HuberLoss(delta=0.1, reduction=reduction)}[name]


class ProductWeightedLoss(nn.Module):
    """The configured loss with each product's errors weighted by its scale in original units.

    Targets are scaled per product, so a plain mean treats a 1-unit seller and a 1,000-unit seller alike;
    the MAE a user reads pools units. Weighting by each product's MinMax range (mean weight 1) makes the
    L1 loss proportional to that pooled MAE. ``weights`` None gives the plain mean.
    """

    def __init__(self, name: str, weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.base = _loss_fn(name, reduction="none")
        self.weights = weights

    def forward(self, pred: torch.Tensor, target: torch.Tensor, products: torch.Tensor | None = None) -> torch.Tensor:
        raw = self.base(pred, target)  # (B, P) multi-output or (B,) global
        if self.weights is None:
            return raw.mean()
        return (raw * (self.weights if products is None else self.weights[products])).mean()


def product_weights(scaler: PanelScaler, device: torch.device) -> torch.Tensor:
    """(P,) each product's range on the training days, in original units, divided by the mean range."""
    span = np.asarray(scaler.scaler.data_range_, dtype=np.float64)
    span = np.where(np.isfinite(span) & (span > 0), span, 0.0)
    w = span / span.mean() if span.mean() > 0 else np.ones_like(span)
    return torch.as_tensor(w, dtype=torch.float32, device=device)


@torch.no_grad()
def _span_loss(net: nn.Module, dataset: WindowDataset, loss_fn: nn.Module) -> float:
    net.eval()
    total, count = 0.0, 0
    for idx in torch.arange(len(dataset)).split(EVAL_BATCH):
        inputs, target = dataset[idx]
        total += float(loss_fn(net(*inputs), target, *inputs[1:])) * len(idx)
        count += len(idx)
    return total / max(count, 1)


def build_network(config: ForecastConfig, n_features: int, n_products: int) -> nn.Module:
    if config.model not in REGISTRY:
        raise ForecasterError(f"Unknown model {config.model!r}; choose one of {', '.join(REGISTRY)}.")
    return REGISTRY[config.model](n_features=n_features, n_products=n_products, **network_kwargs(config))


def network_kwargs(config: ForecastConfig) -> dict:
    return {"conv_channels": config.conv_channels, "kernel_size": config.kernel_size,
            "hidden_size": config.hidden_size, "lstm_layers": config.lstm_layers, "dropout": config.dropout,
            "embedding_dim": config.embedding_dim, "window_scaling": config.window_scaling,
            "n_series": config.n_series_features}


def fit(panel: pd.DataFrame, config: ForecastConfig = ForecastConfig(),
        callback: Callable[[EpochRecord], None] | None = None, cancel: CancelFlag | None = None) -> TrainedForecaster:
    """Train on the daily panel (dates x products); the last ``config.test_days`` are held out.

    ``config.model == "auto"`` (the default) trains several candidates and recommends one by its error
    on the validation span (see :mod:`forecaster.recommend`).
    """
    if config.model == AUTO_MODEL:
        from .recommend import recommend

        return recommend(panel, config, callback, cancel).trained
    start = time.perf_counter()
    device = resolve_device(config.device)
    if config.model not in REGISTRY:
        raise ForecasterError(f"Unknown model {config.model!r}; choose one of {', '.join(REGISTRY)}.")
    values = panel.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ForecasterError("The panel contains missing or infinite values; ingest fills gaps with 0.")
    split: Split = chronological_split(len(panel), config)
    scaler = PanelScaler.fit(values[:split.fit_end], log1p=config.log1p)
    layout = REGISTRY[config.model].layout
    features = WindowFeatures(scaler.transform(values), panel.index, config, layout, device)
    train_set = WindowDataset(features, split.train)
    val_set = WindowDataset(features, split.val) if len(split.val) else None
    test_set = WindowDataset(features, split.test)
    loss_fn = ProductWeightedLoss(config.loss, product_weights(scaler, device) if config.weighted_loss else None)
    trained = TrainedForecaster(config=config, products=[str(c) for c in panel.columns], scaler=scaler,
                                networks=[], device=str(device), last_date=panel.index[-1])
    total_epochs = config.epochs * config.ensemble
    for member in range(config.ensemble):
        torch.manual_seed(config.seed + member)
        net = build_network(config, features.n_features, features.n_products).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        generator = torch.Generator().manual_seed(config.seed + member)
        loader = DataLoader(train_set, sampler=ShuffledBatches(len(train_set), config.batch_size, generator,
                                                                config.epoch_samples),
                            batch_size=None)
        best_loss, best_state, best_epoch, stale = math.inf, None, 0, 0
        for epoch in range(1, config.epochs + 1):
            net.train()
            total, count = 0.0, 0
            for inputs, target in loader:
                if cancel is not None and cancel.is_set():
                    trained.cancelled = True
                    break
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(net(*inputs), target, *inputs[1:])
                if not torch.isfinite(loss.detach()):
                    raise TrainingError(
                        f"Training diverged: the loss became {loss.item()} in epoch {epoch}. Lower the learning "
                        f"rate (now {config.learning_rate:g}) or check the data for extreme values.")
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(target)
                count += len(target)
            if trained.cancelled and count == 0:
                break
            val_loss = _span_loss(net, val_set, loss_fn) if val_set is not None else None
            test_loss = _span_loss(net, test_set, loss_fn)
            if val_loss is not None and not math.isfinite(val_loss):
                raise TrainingError(f"Training diverged: the validation loss became {val_loss} in epoch {epoch}. "
                                    f"Lower the learning rate (now {config.learning_rate:g}).")
            record = EpochRecord(member, epoch, config.epochs, total / count, val_loss, test_loss,
                                 time.perf_counter() - start, total_epochs, member * config.epochs + epoch)
            trained.history.append(record)
            if callback is not None:
                callback(record)
            watched = val_loss if val_loss is not None else record.train_loss
            # an epoch counts as progress only when it beats the best so far by min_improvement (relative):
            # on a flat validation curve the noise no longer picks a late "best" epoch and stretches training
            if watched < best_loss * (1 - config.min_improvement) or best_state is None:
                best_loss, best_state, best_epoch, stale = watched, copy.deepcopy(net.state_dict()), epoch, 0
            else:
                stale += 1
            if trained.cancelled or (val_set is not None and config.patience and stale >= config.patience):
                break
        if best_state is None:  # cancelled before this member finished an epoch: nothing learned to keep
            break
        net.load_state_dict(best_state)
        net.eval()
        trained.networks.append(net)
        trained.best_epochs.append(best_epoch)
        if trained.cancelled:
            break
    trained.train_seconds = time.perf_counter() - start
    return trained
