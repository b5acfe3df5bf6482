"""The inference object: fitted networks, scaler, settings and blend weights; predict and align, no training.

Evaluate, forecast and persistence depend on this module only, never on the training loop.
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn

from models import REGISTRY

from .. import __version__
from ..config import ForecastConfig
from ..errors import ForecasterError
from ..data.drivers import DriverPanel, DriverScale, DriverSpec, closed_cells, filled_closures
from ..labels import NETWORK
from .baselines import BLEND_COMPONENTS, recent_mean_on_sale
from .features import PanelScaler, calendar_names
from .horizon import LEVEL_DAYS, blend_with_anchor, level_anchor
from .intervals import Calibration
from .scores import since_first_sale
from .windows import WindowFeatures

EVAL_BATCH = 8192
ABSURD_FACTOR = 100  # a forecast above this many times a product's busiest training day is refused


@dataclass(frozen=True)
class EpochRecord:
    """What the progress callback receives after every epoch (losses are on the scaled data)."""

    member: int  # which ensemble member (0-based)
    epoch: int  # 1-based within the member
    epochs: int
    train_loss: float
    val_loss: float | None
    test_loss: float
    elapsed: float  # seconds since fit started
    total_epochs: int  # epochs planned for the whole run, for a progress bar
    done_epochs: int
    test_sample: int = 0  # test_loss is on this many sampled test windows (0: on all; training.CURVE_SAMPLES)
    origin: int = 0  # a rolling backtest's cut-off this epoch trained for (0: the model's own test span)
    threads: int = 0  # torch threads the epoch ended with on the CPU (forecaster.model.threads; 0: on a GPU)


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


def network_arguments(config: ForecastConfig, model: type[nn.Module]) -> dict:
    """The settings a registry model's constructor names, and only those: a model never receives (and
    silently ignores) a setting it does not declare."""
    available = {"conv_channels": config.conv_channels, "kernel_size": config.kernel_size,
                 "hidden_size": config.hidden_size, "lstm_layers": config.lstm_layers,
                 "dropout": config.dropout, "embedding_dim": config.embedding_dim,
                 "window_scaling": config.window_scaling, "n_series": config.n_series_features}
    declared = inspect.signature(model).parameters
    return {k: v for k, v in available.items() if k in declared}


def feature_count(config: ForecastConfig, n_products: int, layout: str, drivers: int = 0) -> int:
    """Features per window step a network of this layout reads (``drivers``: driver channels per product):
    what its constructor needs to be rebuilt from a state dict (a saved run, or weights sent back by a
    worker process)."""
    per_series = (config.n_series_features + drivers) * (n_products if layout == "multi" else 1)
    return per_series + len(calendar_names(config.extended_calendar, config.holidays))


def counted_cells(values: np.ndarray, index: pd.DatetimeIndex, drivers: DriverPanel | None) -> np.ndarray:
    """(T, P) the product-days of ``values`` that are demand: from each product's first sale on, and not shut by
    an open flag among the ``drivers`` (:func:`~forecaster.data.drivers.closed_cells`)."""
    counted = since_first_sale(values)
    shut = closed_cells(drivers, index)
    return counted if shut is None else counted & ~shut


def build_network(config: ForecastConfig, n_features: int, n_products: int) -> nn.Module:
    """A fresh registry network for these settings (config validation already refused unknown models)."""
    model = REGISTRY[config.model]
    return model(n_features=n_features, n_products=n_products, **network_arguments(config, model))


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
    # a validation-weighted blend: component -> weight (NETWORK = this forecaster's networks, other keys
    # name forecaster.model.baselines.BLEND_COMPONENTS); empty means the networks alone
    blend: dict[str, float] = field(default_factory=dict)
    # prediction intervals calibrated on the validation days (forecaster.model.intervals); None: a model without
    # validation days, or saved before intervals existed
    calibration: Calibration | None = None
    # rolling backtest (forecaster.results.backtest): one row per cut-off and method; None when not asked for
    backtest: pd.DataFrame | None = None
    # the networks trained again on every day but the last, and their scaler (config.retrain_for_forecast):
    # what forecasts come from; empty: forecasts come from ``networks``, the evaluated ones
    latest_networks: list[nn.Module] = field(default_factory=list)
    latest_scaler: PanelScaler | None = None
    latest_epochs: int = 0  # the epochs each latest network trained (what early stopping found)
    # multi-day forecasts: day i's blend weight of the level anchor against the recursive path
    # (forecaster.model.horizon), chosen on the validation days; empty: the recursive path alone
    anchor_weights: tuple[float, ...] = ()
    # how the anchor reads a product's level (forecaster.model.horizon.LEVEL_RULES), chosen with the weights;
    # "mean" (the last 4 weeks' mean) for runs saved before there was a choice
    anchor_level: str = "mean"
    # per product: first sold within the last NEW_DAYS training days or later (the networks barely saw it
    # sell); empty for runs saved before this was kept
    new_products: tuple[bool, ...] = ()
    latest_new_products: tuple[bool, ...] = ()  # the same for the latest networks (their own, later, split)
    # drivers (forecaster.data.drivers): which ones the networks read and their scale, fixed at training; the
    # values by date (the history's, and future ones for forecasting), which a saved run does not keep
    driver_spec: DriverSpec | None = None
    driver_scale: DriverScale | None = None
    drivers: DriverPanel | None = None
    latest_driver_scale: DriverScale | None = None  # the latest networks' own (fit on their later days)

    def for_forecasting(self) -> "TrainedForecaster":
        """The forecaster forecasts come from: the latest networks (trained on the test days too) where
        there are some, else this one. Never for scoring the test span: the latest ones have seen it."""
        if not self.latest_networks:
            return self
        return dataclasses.replace(self, networks=self.latest_networks, scaler=self.latest_scaler,
                                   new_products=self.latest_new_products, latest_networks=[], latest_scaler=None,
                                   latest_new_products=(), driver_scale=self.latest_driver_scale or self.driver_scale,
                                   latest_driver_scale=None)

    @property
    def forecast_source(self) -> str:
        """A sentence for the user: which networks the forecasts come from, and why they differ from Evaluate's."""
        if not self.latest_networks:
            return "Forecasts come from the model Evaluate scores."
        return (f"Forecasts come from the chosen network trained again on every day but the last "
                f"({self.latest_epochs} epochs, as many as early stopping found), so they know the latest weeks; "
                "Evaluate scores the same network trained before its test days, which it never saw.")

    @property
    def history_days(self) -> int:
        """Days of actual history one prediction reads (the network's windows and any blended baseline)."""
        return max([self.config.history_needed] + [BLEND_COMPONENTS[k][1] for k in self.blend if k != NETWORK])

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

    def counted(self, panel: pd.DataFrame) -> np.ndarray:
        """(T, P) the panel's product-days that are demand: from each product's first sale on, and not shut by
        an open flag among the drivers (:func:`~forecaster.data.drivers.closed_cells`). The days trained,
        calibrated and scored on."""
        return counted_cells(self.align(panel).to_numpy(dtype=np.float64), pd.DatetimeIndex(panel.index), self.drivers)

    @property
    def driver_channels(self) -> int:
        return len(self.driver_spec.channels) if self.driver_spec is not None else 0

    def with_drivers(self, drivers: DriverPanel | None) -> "TrainedForecaster":
        """This forecaster reading ``drivers`` (the data's, with future values added): refused when they are
        not the drivers it was trained with."""
        if self.driver_spec is None:
            if drivers is not None:  # a driver named for a model that reads none: never dropped silently
                raise ForecasterError(f"This model was trained without drivers; the data is read with "
                                      f"{drivers.spec.describe()}: leave the drivers out, or train again with them.")
            return self
        roles = lambda spec: [(c.name, c.role) for c in spec.choices]  # noqa: E731
        if drivers is None or roles(drivers.spec) != roles(self.driver_spec):
            raise ForecasterError(f"This model was trained with the drivers {self.driver_spec.describe()}; the "
                                  + ("data has none" if drivers is None else f"data has {drivers.spec.describe()}")
                                  + ": read the file with the same drivers (--driver), or train again.")
        if drivers.spec.levels != self.driver_spec.levels:
            raise ForecasterError("The drivers' values differ from those the model learnt "
                                  f"({self.driver_spec.channels} against {drivers.spec.channels}): train again.")
        return dataclasses.replace(self, drivers=drivers.aligned(self.products))

    def features(self, panel: pd.DataFrame) -> WindowFeatures:
        values = filled_closures(self.align(panel).to_numpy(dtype=np.float64),
                                 closed_cells(self.drivers, pd.DatetimeIndex(panel.index)))
        drivers = None
        if self.driver_spec is not None:
            if self.drivers is None:
                raise ForecasterError(f"This model reads the drivers {self.driver_spec.describe()}: give it "
                                      "the data with them.")
            drivers = (self.drivers, self.driver_scale)
        return WindowFeatures(self.scaler.transform(values), panel.index, self.config, self.layout, self.device,
                              drivers=drivers)

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

    def predict_networks(self, panel: pd.DataFrame, days: np.ndarray) -> np.ndarray:
        """(D, P) the networks' own predictions in original units, clipped at zero; for :attr:`new_products`
        (launched as the training days ended, or since) the mean of their last 7 days on sale and open
        (:func:`~forecaster.model.baselines.recent_mean_on_sale`) instead: the networks never learnt their
        level (measured: one first selling 20 days before the end was forecast 0 while it sold 13 a day)."""
        days = np.asarray(days)
        scaled = self.predict_scaled(self.features(panel), days).cpu().numpy()
        out = np.clip(self.scaler.inverse(scaled), 0, None)
        new = np.asarray(self.new_products, dtype=bool)
        if new.any():
            values = self.align(panel).to_numpy(dtype=np.float64)
            out[:, new] = recent_mean_on_sale(values, days)[:, new]  # the catalog's closed days read whole
        return out

    def predict(self, panel: pd.DataFrame, days: np.ndarray) -> np.ndarray:
        """(D, P) predictions in original units for target-day positions in ``panel`` (len(panel) = tomorrow)."""
        return self._sane(self._predict(panel, np.asarray(days)), panel)

    def forecast_path(self, history: pd.DataFrame, closed: np.ndarray) -> np.ndarray:
        """(len(closed), P) expected demand for the days after ``history``'s last date, recursively: each
        day's forecast is fed back as the next day's lag; a ``closed`` day (``closed`` (days,), or (days, P)
        per product-day) is 0, fed back as 0, as such days stand in the history. Where the model has :attr:`anchor_weights`, each trading day after the first is
        blended with the level anchor read from the actual history (:mod:`forecaster.model.horizon`; the
        recursion itself feeds back its own days). Reads only the last :attr:`history_days` days of
        ``history`` (and the anchor's weeks)."""
        return self.anchored(history, self.recursive_path(history, closed), closed)

    def recursive_path(self, history: pd.DataFrame, closed: np.ndarray) -> np.ndarray:
        """:meth:`forecast_path` before the level anchor: the recursion alone (what the anchor is blended
        with, after it: a longer path's first days are a shorter one's)."""
        tail = self.align(history).iloc[-(self.history_days + 1):]
        cells = _closed_cells(closed, tail.shape[1])
        out = np.zeros(cells.shape)
        for i, shut in enumerate(cells.all(axis=1)):  # one step per day: each step needs the previous one
            if not shut:  # a day closed for every product: nothing to predict
                out[i] = self.predict(tail, np.array([len(tail)]))[0] * ~cells[i]
            day = tail.index[-1] + pd.Timedelta(days=1)
            tail = pd.concat([tail.iloc[1:], pd.DataFrame(out[i:i + 1], index=[day], columns=tail.columns)])
            tail.index.freq = "D"
        return out

    def anchored(self, history: pd.DataFrame, path: np.ndarray, closed: np.ndarray) -> np.ndarray:
        """A recursive ``path`` after ``history`` blended with the level anchor where the model has
        :attr:`anchor_weights` (else itself)."""
        if not self.anchor_weights:
            return path
        cells = _closed_cells(closed, path.shape[1])
        recent = self.align(history).iloc[-max(self.history_days + 1, LEVEL_DAYS):]
        if self.config.history_days:  # the history the user let it learn from, as its validation read it
            recent = recent.iloc[-self.config.history_days:]
        anchor = level_anchor(recent.to_numpy(dtype=np.float64), len(path), self.anchor_level)
        return blend_with_anchor(path, anchor, self.anchor_weights, ~cells.all(axis=1)) * ~cells

    def _sane(self, pred: np.ndarray, panel: pd.DataFrame) -> np.ndarray:
        """Refuse what no product could sell: a forecast that is not finite, or over ABSURD_FACTOR times the
        product's busiest day (in training or in the history given; damaged weights, or a run that diverged),
        never written as a number."""
        history = np.nan_to_num(self.align(panel).to_numpy(dtype=np.float64)).max(axis=0, initial=0.0)
        busiest = np.maximum(self.scaler.inverse(np.ones((1, len(self.products))))[0], history)
        limit = ABSURD_FACTOR * (np.abs(busiest) + 1.0)
        bad = ~np.isfinite(pred) | (pred > limit)
        if bad.any():
            p = int(np.flatnonzero(bad.any(axis=0))[0])
            raise ForecasterError(f"The model predicts {pred[:, p].max():.4g} units a day for {self.products[p]!r}, "
                                  f"over {ABSURD_FACTOR} times its busiest day ({busiest[p]:g}): the model is "
                                  "damaged or did not train. Train it again.")
        return pred

    def _predict(self, panel: pd.DataFrame, days: np.ndarray) -> np.ndarray:
        if not self.blend:
            return self.predict_networks(panel, days)
        values = self.align(panel).to_numpy(dtype=np.float64)
        out = np.zeros((len(days), len(self.products)))
        for name, weight in self.blend.items():
            if weight == 0:
                continue
            part = (self.predict_networks(panel, days) if name == NETWORK
                    else BLEND_COMPONENTS[name][0](values, days))
            out += weight * part
        return np.clip(out, 0, None)


def _closed_cells(closed: np.ndarray, n_products: int) -> np.ndarray:
    """(days, P) closed product-days from ``closed`` (days,) for every product, or (days, P) already."""
    closed = np.asarray(closed, dtype=bool)
    return closed if closed.ndim == 2 else np.repeat(closed[:, None], n_products, axis=1)
