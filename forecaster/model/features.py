"""Lag and calendar features, and the per-product scaler, fit on the days before the test span only
(training and validation days).

Row ``r`` of every feature array describes one *target day*: its lags (demand 1, 2, ... days before it),
optional rolling means of the days before it, and its own calendar. Nothing in a row looks at the
target day's demand, so a model can never see the answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

from ..data.holidays import HOLIDAY_FEATURES, holiday_features


@dataclass
class PanelScaler:
    """Optional log1p, then a MinMaxScaler per product, fit on the days before the test span."""

    log1p: bool
    scaler: MinMaxScaler

    @classmethod
    def fit(cls, train_values: np.ndarray, log1p: bool = False) -> "PanelScaler":
        base = np.log1p(np.clip(train_values, 0, None)) if log1p else train_values
        return cls(log1p, MinMaxScaler().fit(base))

    def transform(self, values: np.ndarray) -> np.ndarray:
        base = np.log1p(np.clip(values, 0, None)) if self.log1p else values
        return self.scaler.transform(base).astype(np.float32)

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        base = self.scaler.inverse_transform(np.asarray(scaled, dtype=np.float64))
        return np.expm1(base) if self.log1p else base

    def to_dict(self) -> dict[str, Any]:
        return {"log1p": self.log1p, "data_min": self.scaler.data_min_.tolist(),
                "data_max": self.scaler.data_max_.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PanelScaler":
        bounds = np.array([data["data_min"], data["data_max"]], dtype=np.float64)
        return cls(bool(data["log1p"]), MinMaxScaler().fit(bounds))


def calendar_names(extended: bool, holidays: str = "") -> list[str]:
    """The columns of :func:`calendar_features`, in order."""
    names = [f"dow_{d}" for d in range(7)] + ["weekend", "month_sin", "month_cos"]
    if extended:
        names += ["dom_sin", "dom_cos", "woy_sin", "woy_cos"]
    return names + (list(HOLIDAY_FEATURES) if holidays else [])


def calendar_features(index: pd.DatetimeIndex, extended: bool = False, holidays: str = "") -> np.ndarray:
    """Calendar of each day, bounded in [-1, 1]: weekday one-hot, weekend flag, month (and day of month,
    week of year) as sine/cosine so that December sits next to January; with a ``holidays`` calendar, its
    flags around public holidays (:func:`~forecaster.data.holidays.holiday_features`)."""
    dow = index.day_of_week.to_numpy()
    cols = [np.eye(7, dtype=np.float32)[dow], (dow >= 5).astype(np.float32)[:, None]]
    angle = 2 * np.pi * (index.month.to_numpy() - 1) / 12
    cols.append(np.stack([np.sin(angle), np.cos(angle)], axis=1))
    if extended:
        dom = 2 * np.pi * (index.day.to_numpy() - 1) / index.days_in_month.to_numpy()
        woy = 2 * np.pi * (index.isocalendar().week.to_numpy(dtype=np.float64) - 1) / 53
        cols.append(np.stack([np.sin(dom), np.cos(dom), np.sin(woy), np.cos(woy)], axis=1))
    if holidays:
        cols.append(holiday_features(index, holidays))
    return np.concatenate(cols, axis=1).astype(np.float32)


def first_feature_day(lags: tuple[int, ...], rolling: tuple[int, ...]) -> int:
    """Index of the first day whose features are all defined."""
    return max(lags + rolling)


def series_features(scaled: np.ndarray, lags: tuple[int, ...], rolling: tuple[int, ...]) -> np.ndarray:
    """(T, P) scaled demand -> (T + 1 - first, P, K) features for target days first..T (T is tomorrow).

    One slice per lag and one cumulative-sum difference per rolling window: no loop over days or products.
    """
    T, P = scaled.shape
    first = first_feature_day(lags, rolling)
    rows = T + 1 - first
    out = np.empty((rows, P, len(lags) + len(rolling)), dtype=np.float32)
    for k, lag in enumerate(lags):
        out[:, :, k] = scaled[first - lag:T + 1 - lag]
    if rolling:
        csum = np.concatenate([np.zeros((1, P)), np.cumsum(scaled, axis=0, dtype=np.float64)])
        for k, w in enumerate(rolling, start=len(lags)):
            out[:, :, k] = (csum[first:T + 1] - csum[first - w:T + 1 - w]) / w
    return out
