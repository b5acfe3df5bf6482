"""Forecasts a spreadsheet could make, one step ahead from the actual history before each day."""
from __future__ import annotations

from typing import Callable

import numpy as np


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


BASELINES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "moving_average_7": moving_average,
}
