"""The squared error and the bias of a mean forecast: what the recommendation chooses by, and what the
evaluation reports next to MAE (one definition for both)."""
from __future__ import annotations

import numpy as np


def since_first_sale(values: np.ndarray) -> np.ndarray:
    """(T, P) whether each product had sold by each day, its first sale included. The days before are not a
    demand of zero but a product not on sale yet: they are left out of the training targets and of every
    score (a product that never sold has no scored day)."""
    return np.logical_or.accumulate(np.asarray(values) > 0, axis=0)


def masked_mean(x: np.ndarray, axis: int | tuple[int, ...] | None = None,
                where: np.ndarray | bool = True) -> np.ndarray | float:
    """Mean of ``x`` over the cells ``where`` says (broadcast to ``x``); NaN, without a warning, where none."""
    where = np.broadcast_to(where, np.shape(x))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.sum(x, axis=axis, where=where) / np.sum(where, axis=axis))[()]


def naive_scale(history: np.ndarray) -> np.ndarray:
    """(P,) each product's mean squared one-day change over ``history`` from its first sale on (RMSSE's
    scale, as in the M5 competition), NaN for a product that never changed (it says nothing about an
    error's size)."""
    if len(history) < 2:
        return np.full(history.shape[1], np.nan)
    scale = masked_mean(np.diff(history, axis=0) ** 2, axis=0, where=since_first_sale(history)[:-1])
    return np.where(scale > 0, scale, np.nan)


def rmsse(actual: np.ndarray, mean: np.ndarray, scale: np.ndarray, per_product: bool = False,
          where: np.ndarray | bool = True) -> np.ndarray:
    """Root mean squared scaled error of ``mean`` against ``actual`` (..., D, P) on the product-days
    ``where`` says (:func:`since_first_sale`; default all), with ``scale`` from :func:`naive_scale`: per
    product (..., P), or averaged over the products with a scale and a scored day (...); NaN where none has
    one. Below 1 beats the naive rule's own error."""
    with np.errstate(invalid="ignore", divide="ignore"):
        each = np.sqrt(masked_mean((mean - actual) ** 2, axis=-2, where=where) / scale)
    if per_product:
        return each
    finite = np.isfinite(each)
    with np.errstate(invalid="ignore", divide="ignore"):  # no product with a scale and a scored day: NaN
        return (np.where(finite, each, 0).sum(axis=-1) / finite.sum(axis=-1))[()]


def bias(actual: np.ndarray, mean: np.ndarray, axis: int | None = None,
         where: np.ndarray | bool = True) -> np.ndarray | float:
    """(forecast total - actual total) / actual total over the product-days ``where`` says (default all):
    -0.3 means 30 % too little was forecast; NaN where nothing sold."""
    where = np.broadcast_to(where, np.shape(actual))
    sold = np.sum(actual, axis=axis, where=where)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sold > 0, (np.sum(mean, axis=axis, where=where) - sold) / np.where(sold > 0, sold, 1),
                        np.nan)[()]
