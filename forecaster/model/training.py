"""One explicit training loop for one registry model: device, seed, per-epoch callback, cancel between
batches, NaN guard.

``train(panel, config)`` returns a :class:`~forecaster.model.trained.TrainedForecaster`: the fitted network(s),
the scaler, the settings and the loss history. The test span never steers anything here: scaling is fit
on the days before it, and early stopping (and the choice of best weights) watches the validation span
before it. Choosing between a single network and the recommended model is not this module's job: that
is :func:`forecaster.run.fit.fit`.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from models import REGISTRY

from ..config import ForecastConfig
from ..data.drivers import DriverPanel, DriverScale, closed_cells, filled_closures
from ..device import resolve_device
from ..errors import ForecasterError, TrainingError
from . import threads
from .features import PanelScaler
from .scores import since_first_sale
from .trained import EVAL_BATCH, CancelFlag, EpochRecord, TrainedForecaster, build_network, counted_cells
from .windows import Split, WindowDataset, WindowFeatures, trading_split

ProgressCallback = Callable[[EpochRecord], None]

# The learning curve's test loss is measured every epoch on at most this many test windows (one evaluation
# batch): a fixed random sample when the test span holds more (1,000 products x 28 test days are 28,000
# windows, and measuring them all every epoch took a fifth of the global network's training time). It only
# draws the curve: early stopping reads the validation loss on every validation window, and the test
# metrics (forecaster.results.evaluation) use every test day of every product.
CURVE_SAMPLES = 8192


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
    L1 loss proportional to that pooled MAE. ``weights`` None gives the plain mean. A NaN target (a
    product not on sale yet, :class:`WindowFeatures`) adds nothing and is not counted.
    """

    def __init__(self, name: str, weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.base = _loss_fn(name, reduction="none")
        self.weights = weights

    def forward(self, pred: torch.Tensor, target: torch.Tensor, products: torch.Tensor | None = None) -> torch.Tensor:
        known = ~torch.isnan(target)
        raw = self.base(pred, torch.where(known, target, pred.detach()))  # (B, P) multi-output or (B,) global
        if self.weights is not None:
            raw = raw * (self.weights if products is None else self.weights[products])
        return (raw * known).sum() / known.sum().clamp(min=1)


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


def train(panel: pd.DataFrame, config: ForecastConfig, callback: ProgressCallback | None = None,
          cancel: CancelFlag | None = None, members: Sequence[int] | None = None,
          drivers: DriverPanel | None = None) -> TrainedForecaster:
    """Train ``config.model`` (a registry network, as ``config.ensemble`` seeds) on the daily panel
    (dates x products); the last ``config.test_days`` are held out.

    ``members`` trains only those ensemble members (0-based; default all of them). Member m is seeded
    with ``config.seed + m`` whichever members train with it, so members trained apart (in worker
    processes, :mod:`forecaster.run.executor`) and joined by :func:`merge_members` give the same networks as
    one run. Progress counts the epochs of the members asked for. ``drivers`` (values by date, covering the
    panel's days) are read beside each product's lags, scaled on the days before the test span.
    """
    if config.model not in REGISTRY:
        raise ValueError(f"train() trains one registry network, not {config.model!r}; use forecaster.run.fit")
    start = time.perf_counter()
    config = config.resolved(len(panel))  # yearly "auto" decided by this panel's length
    device = resolve_device(config.device)
    values = panel.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ForecasterError("The panel contains missing or infinite values; ingest fills gaps with 0.")
    split = trading_split(panel, config)
    members = tuple(range(config.ensemble)) if members is None else tuple(members)
    scaler = PanelScaler.fit(values[:split.fit_end], log1p=config.log1p)
    trained = TrainedForecaster(config=config, products=[str(c) for c in panel.columns], scaler=scaler,
                                networks=[], device=str(device), last_date=panel.index[-1],
                                new_products=new_products(values, split))
    if drivers is not None:
        drivers = drivers.aligned(trained.products)
        trained.driver_spec, trained.drivers = drivers.spec, drivers
        trained.driver_scale = DriverScale.fit(drivers, panel.index[0] + pd.Timedelta(days=split.fit_end))
    if cancel is not None and cancel.is_set():  # cancelled before it started (a task still waiting): build nothing
        trained.cancelled, trained.train_seconds = True, time.perf_counter() - start
        return trained
    with threads.cpu_threads(device):
        _train_members(trained, values, panel.index, split, scaler, members, device, start, callback, cancel)
    trained.train_seconds = time.perf_counter() - start
    return trained


NEW_DAYS = 28  # a product first selling within the training span's last 4 weeks (or later) is new to the networks


def new_products(values: np.ndarray, split: Split) -> tuple[bool, ...]:
    """Per product: did it first sell within the last NEW_DAYS training days, or after them (or never)?"""
    on_sale = since_first_sale(values)
    last = int(split.train[-1]) if len(split.train) else 0
    return tuple(bool(x) for x in ~on_sale[max(last - NEW_DAYS, 0)])


def _train_members(trained: TrainedForecaster, values: np.ndarray, index: pd.DatetimeIndex, split: Split,
                   scaler: PanelScaler, members: tuple[int, ...], device: torch.device, start: float,
                   callback: ProgressCallback | None, cancel: CancelFlag | None) -> None:
    """Build the windows once and train the members on them, one after another, into ``trained``."""
    config = trained.config
    drivers = (trained.drivers, trained.driver_scale) if trained.drivers is not None else None
    lags = filled_closures(values, closed_cells(trained.drivers, index))  # an open flag's closures: not a 0 in the lags
    features = WindowFeatures(scaler.transform(lags), index, config, REGISTRY[config.model].layout, device,
                              on_sale=counted_cells(values, index, trained.drivers),
                              drivers=drivers)
    spans = _Spans(WindowDataset(features, split.train),
                   WindowDataset(features, split.val) if len(split.val) else None,
                   curve_sample(WindowDataset(features, split.test)))
    loss_fn = ProductWeightedLoss(config.loss, product_weights(scaler, device) if config.weighted_loss else None)
    for position, member in enumerate(members):
        torch.manual_seed(config.seed + member)
        net = build_network(config, features.n_features, features.n_products).to(device)
        best_epoch = _train_member(net, member, (position, len(members)), config, spans, loss_fn, trained, start,
                                   callback, cancel)
        if best_epoch is None:  # cancelled before this member finished an epoch: nothing learned to keep
            break
        trained.networks.append(net.eval())
        trained.best_epochs.append(best_epoch)
        if trained.cancelled:
            break


def curve_sample(dataset: WindowDataset) -> Dataset:
    """The test windows the learning curve measures each epoch: all of them up to CURVE_SAMPLES, else a
    fixed random sample of that many, drawn with its own seed: the same windows in every epoch, member,
    candidate and worker, and the training's random stream untouched."""
    if len(dataset) <= CURVE_SAMPLES:
        return dataset
    pick = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:CURVE_SAMPLES]
    return Subset(dataset, pick.sort().values)


@dataclass(frozen=True)
class _Spans:
    """The training, validation (None without validation days) and test samples of one run (the test
    span's as :func:`curve_sample` draws them)."""

    train: WindowDataset
    val: WindowDataset | None
    test: Dataset

    @property
    def test_sample(self) -> int:
        """How many test windows the curve measures when they are a sample of the span, else 0."""
        return len(self.test) if isinstance(self.test, Subset) else 0


def _train_member(net: nn.Module, member: int, place: tuple[int, int], config: ForecastConfig, spans: _Spans,
                  loss_fn: nn.Module, trained: TrainedForecaster, start: float, callback: ProgressCallback | None,
                  cancel: CancelFlag | None) -> int | None:
    """Train one ensemble member and load its best weights; returns the best epoch (None: none finished).
    ``place`` is (its position, how many members) in this run, for the progress count.

    Appends an EpochRecord per epoch to ``trained.history`` and sets ``trained.cancelled`` on a cancel."""
    # foreach: one multi-tensor update of all the weights per step instead of one per weight (torch's default
    # on CUDA, not on the CPU): the same numbers, bit for bit, and 3-7% less time per step on the CPU
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay,
                                 foreach=True)
    generator = torch.Generator().manual_seed(config.seed + member)
    loader = DataLoader(spans.train, sampler=ShuffledBatches(len(spans.train), config.batch_size, generator,
                                                             config.epoch_samples), batch_size=None)
    best_loss, best_state, best_epoch, stale = math.inf, None, None, 0
    for epoch in range(1, config.epochs + 1):
        train_loss = _train_epoch(net, loader, optimizer, loss_fn, config, epoch, trained, cancel)
        if train_loss is None:  # cancelled before the first batch of this epoch
            break
        val_loss = _span_loss(net, spans.val, loss_fn) if spans.val is not None else None
        if val_loss is not None and not math.isfinite(val_loss):
            raise TrainingError(f"Training diverged: the validation loss became {val_loss} in epoch {epoch}. "
                                f"Lower the learning rate (now {config.learning_rate:g}).")
        record = EpochRecord(member, epoch, config.epochs, train_loss, val_loss,
                             _span_loss(net, spans.test, loss_fn), time.perf_counter() - start,
                             config.epochs * place[1], place[0] * config.epochs + epoch, spans.test_sample,
                             threads=torch.get_num_threads() if trained.device == "cpu" else 0)
        trained.history.append(record)
        if callback is not None:
            callback(record)
        watched = val_loss if val_loss is not None else train_loss
        # an epoch counts as progress only when it beats the best so far by min_improvement (relative):
        # on a flat validation curve the noise no longer picks a late "best" epoch and stretches training
        if best_state is None or watched < best_loss * (1 - config.min_improvement):
            best_loss, best_state, best_epoch, stale = watched, copy.deepcopy(net.state_dict()), epoch, 0
        else:
            stale += 1
        if trained.cancelled or (spans.val is not None and config.patience and stale >= config.patience):
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    return best_epoch


def _train_epoch(net: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
                 config: ForecastConfig, epoch: int, trained: TrainedForecaster,
                 cancel: CancelFlag | None) -> float | None:
    """One pass over the loader; the mean training loss, or None when cancelled before any batch."""
    net.train()
    total, count = 0.0, 0
    for inputs, target in loader:
        if cancel is not None and cancel.is_set():
            trained.cancelled = True
            break
        threads.adjust()  # the cores another training freed (or needs back) since the last batch
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
    return total / count if count else None


def merge_members(parts: Sequence[TrainedForecaster]) -> TrainedForecaster:
    """One forecaster from ensemble members trained apart (``train(..., members=...)`` of one config, the
    parts together covering members 0..ensemble-1 in order): networks and best epochs in member order,
    the histories numbered as one run's (member m's epoch e is done epoch m * epochs + e), training time
    added up (a caller that ran the parts at once sets the wall time). A part that learned nothing
    (cancelled before its first epoch) adds no network; any cancelled part marks the whole cancelled."""
    first = parts[0]
    config = first.config
    total = config.epochs * config.ensemble
    history = [dataclasses.replace(h, total_epochs=total, done_epochs=h.member * config.epochs + h.epoch)
               for part in parts for h in part.history]
    return dataclasses.replace(first, networks=[n for p in parts for n in p.networks],
                               best_epochs=[b for p in parts for b in p.best_epochs], history=history,
                               cancelled=any(p.cancelled for p in parts),
                               train_seconds=sum(p.train_seconds for p in parts))
