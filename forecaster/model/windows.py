"""Sliding windows over the feature rows, as strided views, and the chronological split.

Two layouts feed the two model families:

* ``multi``: one sample per target day, every product's features side by side, target = the demand
  vector of all products (the reference notebook's design);
* ``global``: one sample per (target day, product), that product's own features plus the calendar and
  its id for an embedding, target = one number.

Windows come from ``Tensor.unfold``, which returns a view: the feature matrix is never copied
``seq_len`` times; only the rows of one batch are gathered when the batch is drawn.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from ..config import ForecastConfig
from ..data.calendar import trading_calendar
from ..errors import DataError
from ..data.drivers import DriverPanel, DriverScale, driver_features
from .features import calendar_features, first_feature_day, series_features


@dataclass(frozen=True)
class Split:
    """Target-day indices (positions in the panel) of each span, oldest first."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_start: int | None = None  # where the test span starts when its first day is closed (not a target)

    @property
    def fit_end(self) -> int:
        """Days before this index may inform scaling; the test span starts here."""
        return int(self.test[0]) if self.test_start is None else self.test_start


def chronological_split(n_days: int, config: ForecastConfig) -> Split:
    """Last ``test_days`` are the test span, the ``val_days`` before it steer early stopping, the rest trains."""
    config.check_trainable(n_days)
    start = config.history_needed
    test_start = n_days - config.test_days
    val_start = test_start - config.val_days
    return Split(np.arange(start, val_start), np.arange(val_start, test_start), np.arange(test_start, n_days))


def trading_split(panel: pd.DataFrame, config: ForecastConfig) -> Split:
    """:func:`chronological_split` without the panel's closed days (:mod:`forecaster.data.calendar`): no
    target to train, stop, calibrate or score on. Closed days are judged on the history before the test span
    (a closed weekday) and on each day itself (nothing sold where the catalog almost always sells)."""
    split = chronological_split(len(panel), config)
    closed = trading_calendar(panel, config.closed_days, split.fit_end).closed
    spans = [days[~closed[days]] for days in (split.train, split.val, split.test)]
    for name, before, after in zip(("training", "validation"), (split.train, split.val), spans):
        if len(before) and not len(after):  # an all-closed test span only leaves nothing to score (evaluate says so)
            raise DataError(f"Every day of the {name} span ({len(before)} days) is a closed day: give it more days, "
                            "or set the closed days yourself (closed_days).")
    return Split(*spans, test_start=split.fit_end)


class WindowFeatures:
    """Feature rows for target days ``first .. n_days`` (the last one is tomorrow) and their windows.

    ``layout`` is "multi" or "global" (see module docstring). Shapes: T days, P products,
    K per-product features, C calendar features, L seq_len.
    """

    def __init__(self, scaled: np.ndarray, index: pd.DatetimeIndex, config: ForecastConfig, layout: str,
                 device: torch.device | str = "cpu", on_sale: np.ndarray | None = None,
                 drivers: tuple[DriverPanel, DriverScale] | None = None) -> None:
        self.layout = layout
        self.seq_len = config.seq_len
        self.n_days, self.n_products = scaled.shape
        self.first = first_feature_day(config.lags, config.rolling_windows)
        days = pd.date_range(index[0], periods=self.n_days + 1, freq="D")[self.first:]
        series = torch.from_numpy(series_features(scaled, config.lags, config.rolling_windows))  # (R, P, K)
        if drivers is not None:  # each product's drivers of the target day beside its lags: (R, P, K + D)
            series = torch.cat([series, torch.from_numpy(driver_features(*drivers, days))], dim=2)
        calendar = torch.from_numpy(calendar_features(days, config.extended_calendar, config.holidays))  # (R, C)
        # (T, P); NaN where ``on_sale`` (T, P) is False: a product's days before its first sale are no target
        targets = np.array(scaled, dtype=np.float32)
        if on_sale is not None:
            targets[~on_sale] = np.nan
        self.targets = torch.from_numpy(targets).to(device)
        if layout == "multi":
            rows = torch.cat([series.reshape(series.shape[0], -1), calendar], dim=1)  # (R, P*K + C)
            self._windows = rows.to(device).unfold(0, self.seq_len, 1)  # view: (R-L+1, F, L)
            self.n_features = rows.shape[1]
        elif layout == "global":
            self._series_windows = series.to(device).unfold(0, self.seq_len, 1)  # view: (R-L+1, P, K, L)
            self._calendar_windows = calendar.to(device).unfold(0, self.seq_len, 1)  # view: (R-L+1, C, L)
            self.n_features = series.shape[2] + calendar.shape[1]
        else:
            raise ValueError(f"unknown layout {layout!r}")
        self.device = torch.device(device)

    def _window_index(self, days: torch.Tensor) -> torch.Tensor:
        return days - (self.first + self.seq_len - 1)

    def inputs(self, days: torch.Tensor, products: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """Model inputs for target days (and, in the global layout, products): (B, L, F) [+ (B,) ids]."""
        w = self._window_index(days)
        if self.layout == "multi":
            return (self._windows[w].transpose(1, 2),)
        x = torch.cat([self._series_windows[w, products], self._calendar_windows[w]], dim=1)  # (B, F, L)
        return x.transpose(1, 2), products

    def target(self, days: torch.Tensor, products: torch.Tensor | None = None) -> torch.Tensor:
        return self.targets[days] if self.layout == "multi" else self.targets[days, products]


class WindowDataset(Dataset):
    """Samples of one span. Indexed with a list of sample numbers (a whole batch at once), so that a
    batch is one vectorised gather instead of ``batch_size`` Python calls; used with a BatchSampler."""

    def __init__(self, features: WindowFeatures, days: np.ndarray) -> None:
        self.features = features
        self.days = torch.as_tensor(days, dtype=torch.long, device=features.device)
        self.per_day = 1 if features.layout == "multi" else features.n_products

    def __len__(self) -> int:
        return len(self.days) * self.per_day

    def __getitem__(self, batch: list[int]) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        idx = torch.as_tensor(batch, dtype=torch.long, device=self.features.device)
        if self.features.layout == "multi":  # not per_day == 1: a global panel may hold one product
            days, products = self.days[idx], None
        else:
            days, products = self.days[idx // self.per_day], idx % self.per_day
        return self.features.inputs(days, products), self.features.target(days, products)
