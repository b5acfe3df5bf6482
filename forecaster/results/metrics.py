"""Error measures in original units, pooled over all product-days and per product."""
from __future__ import annotations

import numpy as np

from ..model.scores import bias, masked_mean, naive_scale, rmsse, since_first_sale

# MAE, WAPE and MASE judge the median (a forecast of zero can win them on intermittent demand); RMSE, RMSSE
# and Bias judge the mean, which totals and orders are made of: neither kind is read alone
METRIC_NAMES = ("MAE", "RMSE", "RMSSE", "Bias", "WAPE", "MASE")


def mase_scale(history: np.ndarray, season: int = 7) -> float:
    """Mean absolute change from the same weekday a week earlier, over the history before the test span
    (each product from its first sale): the in-sample error of seasonal naive, which MASE divides by (MASE
    < 1 beats it)."""
    if len(history) <= season:
        return float("nan")
    return float(masked_mean(np.abs(history[season:] - history[:-season]), where=since_first_sale(history)[:-season]))


def pooled_metrics(actual: np.ndarray, mean: np.ndarray, history: np.ndarray, median: np.ndarray | None = None,
                   where: np.ndarray | bool = True) -> dict[str, float]:
    """Every METRIC_NAMES measure over the product-days ``where`` says (:func:`since_first_sale`; default
    all): MAE, WAPE (total absolute error / total demand) and MASE of the ``median`` (default: the mean
    itself), RMSE, RMSSE and Bias of the ``mean``."""
    q = mean if median is None else median
    mae = float(masked_mean(np.abs(actual - q), where=where))
    scale = mase_scale(history)
    where = np.broadcast_to(where, actual.shape)
    total = np.abs(actual).sum(where=where)
    return {
        "MAE": mae,
        "RMSE": float(np.sqrt(masked_mean((actual - mean) ** 2, where=where))),
        "RMSSE": float(rmsse(actual, mean, naive_scale(history), where=where)),
        "Bias": float(bias(actual, mean, where=where)),
        "WAPE": float(np.abs(actual - q).sum(where=where) / total) if total > 0 else float("nan"),
        "MASE": float(mae / scale) if scale > 0 else float("nan"),
    }


def per_product_mae(actual: np.ndarray, predicted: np.ndarray, where: np.ndarray | bool = True) -> np.ndarray:
    """(P,) each product's mean absolute error over its scored days (NaN for a product with none)."""
    return masked_mean(np.abs(actual - predicted), axis=0, where=where)


INTERVAL_METRICS = ("coverage", "interval_score", "pinball")
PINBALL_PROBS = (0.1, 0.5, 0.9)


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, axis: int | None = None,
             where: np.ndarray | bool = True) -> np.ndarray | float:
    """Share of the (scored) product-days whose demand fell inside [lower, upper] (0.8 is right for an 80%
    interval)."""
    return masked_mean((actual >= lower) & (actual <= upper), axis=axis, where=where)


def interval_score(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float,
                   axis: int | None = None, where: np.ndarray | bool = True) -> np.ndarray | float:
    """Mean Winkler score of a central (1 - alpha) interval: its width, plus 2/alpha times each miss's
    distance. Lower is better; it rewards a narrow band only if the band still holds the demand."""
    miss_low = np.clip(lower - actual, 0, None)
    miss_high = np.clip(actual - upper, 0, None)
    return masked_mean((upper - lower) + (2 / alpha) * (miss_low + miss_high), axis=axis, where=where)


def pinball_loss(actual: np.ndarray, quantiles: dict[float, np.ndarray], axis: int | None = None,
                 where: np.ndarray | bool = True) -> np.ndarray | float:
    """Mean quantile (pinball) loss over the given probabilities -> (D, P) quantile forecasts, on the
    (scored) product-days."""
    losses = []
    for prob, q in quantiles.items():
        diff = actual - q
        losses.append(masked_mean(np.maximum(prob * diff, (prob - 1) * diff), axis=axis, where=where))
    return np.mean(losses, axis=0)
