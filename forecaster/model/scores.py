"""The squared error and the bias of a mean forecast: what the recommendation chooses by, and what the
evaluation reports next to MAE (one definition for both)."""
from __future__ import annotations

import numpy as np


def naive_scale(history: np.ndarray) -> np.ndarray:
    """(P,) each product's mean squared one-day change over ``history`` (RMSSE's scale, as in the M5
    competition), NaN for a product that never changed (it says nothing about an error's size)."""
    scale = np.mean(np.diff(history, axis=0) ** 2, axis=0) if len(history) > 1 else np.zeros(history.shape[1])
    return np.where(scale > 0, scale, np.nan)


def rmsse(actual: np.ndarray, mean: np.ndarray, scale: np.ndarray, per_product: bool = False) -> np.ndarray:
    """Root mean squared scaled error of ``mean`` against ``actual`` (..., D, P), with ``scale`` from
    :func:`naive_scale`: per product (..., P), or averaged over the products with a scale (...); NaN where
    none has one. Below 1 beats the naive rule's own error."""
    with np.errstate(invalid="ignore", divide="ignore"):
        each = np.sqrt(np.mean((mean - actual) ** 2, axis=-2) / scale)
    if per_product:
        return each
    if not np.isfinite(scale).any():
        return np.full(each.shape[:-1], np.nan)[()]
    return np.nanmean(each, axis=-1)[()]


def bias(actual: np.ndarray, mean: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """(forecast total - actual total) / actual total: -0.3 means 30 % too little was forecast; NaN where
    nothing sold."""
    sold = np.sum(actual, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sold > 0, (np.sum(mean, axis=axis) - sold) / np.where(sold > 0, sold, 1), np.nan)[()]
