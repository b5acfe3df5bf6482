"""Forecasts a spreadsheet could make, one step ahead from the actual history before each day."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..labels import MEAN_28, MOVING_AVERAGE_7, NAIVE, SEASONAL_NAIVE, WEEKDAY_MEAN_4, ZERO
from .scores import since_first_sale


def naive(values: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Tomorrow sells what today sold."""
    return values[days - 1]


def seasonal_naive(values: np.ndarray, days: np.ndarray, season: int = 7) -> np.ndarray:
    """Tomorrow sells what the same weekday sold last week."""
    return values[days - season]


def moving_average(values: np.ndarray, days: np.ndarray, window: int = 7) -> np.ndarray:
    """Tomorrow sells the mean of the last ``window`` days (cumulative sums, no loop over days)."""
    csum = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    return (csum[days] - csum[days - window]) / window


def zero(values: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Nothing sells: the forecast that wins MAE on intermittent demand while ordering nothing."""
    return np.zeros((len(days), values.shape[1]))


def mean_28(values: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Tomorrow sells the mean of the last 28 days (fewer at the start of the history): an unbiased level."""
    csum = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    start = np.maximum(days - 28, 0)
    return (csum[days] - csum[start]) / np.maximum(days - start, 1)[:, None]


def recent_mean_on_sale(values: np.ndarray, days: np.ndarray, window: int = 7) -> np.ndarray:
    """Tomorrow sells the mean of the last ``window`` days, counting only the days the product was on sale
    (from its first sale) and the catalog traded (something sold): a new product's level, not diluted by
    the days before its launch or by closed days (0 with none)."""
    on = since_first_sale(values) & (values.sum(axis=1, keepdims=True) > 0)
    zero_row = np.zeros((1, values.shape[1]))
    total = np.concatenate([zero_row, np.cumsum(np.where(on, values, 0.0), axis=0)])
    count = np.concatenate([zero_row, np.cumsum(on, axis=0)])
    start = np.maximum(days - window, 0)
    n = count[days] - count[start]
    return np.where(n > 0, (total[days] - total[start]) / np.maximum(n, 1), 0.0)


BASELINES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    NAIVE: naive,
    SEASONAL_NAIVE: seasonal_naive,
    MOVING_AVERAGE_7: moving_average,
}
# reference rows every evaluation shows next to the baselines: no method may look good by forecasting less
# than forecast zero, nor by a bias the plain 28-day mean does not have
REFERENCES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {ZERO: zero, MEAN_28: mean_28}


def weekday_mean(values: np.ndarray, days: np.ndarray, weeks: int = 4) -> np.ndarray:
    """Tomorrow sells the mean of the same weekday over the last ``weeks`` weeks (fewer where the history
    is shorter; never reaching before the first day)."""
    total = np.zeros((len(days), values.shape[1]))
    count = np.zeros((len(days), 1))
    for k in range(1, weeks + 1):  # a handful of slices, not a loop over days
        ok = days - 7 * k >= 0
        total[ok] += values[days[ok] - 7 * k]
        count[ok] += 1
    return np.where(count > 0, total / np.maximum(count, 1), values[np.maximum(days - 1, 0)])


# what a recommended forecaster may blend with its network (forecaster.model.recommend); the evaluation tables
# keep showing BASELINES only; value = (function, days of history it reads)
BLEND_COMPONENTS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], int]] = {
    NAIVE: (naive, 1),
    SEASONAL_NAIVE: (seasonal_naive, 7),
    MOVING_AVERAGE_7: (moving_average, 7),
    WEEKDAY_MEAN_4: (weekday_mean, 28),
}
