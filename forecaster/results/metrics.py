"""Error measures in original units, pooled over all product-days and per product."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error

from ..model.scores import bias, naive_scale, rmsse

# MAE, WAPE and MASE judge the median (a forecast of zero can win them on intermittent demand); RMSE, RMSSE
# and Bias judge the mean, which totals and orders are made of: neither kind is read alone
METRIC_NAMES = ("MAE", "RMSE", "RMSSE", "Bias", "WAPE", "MASE")


def mase_scale(history: np.ndarray, season: int = 7) -> float:
    """Mean absolute change from the same weekday a week earlier, over the history before the test span:
    the in-sample error of seasonal naive, which MASE divides by (MASE < 1 beats it)."""
    if len(history) <= season:
        return float("nan")
    return float(np.abs(history[season:] - history[:-season]).mean())


def pooled_metrics(actual: np.ndarray, mean: np.ndarray, history: np.ndarray,
                   median: np.ndarray | None = None) -> dict[str, float]:
    """Every METRIC_NAMES measure over every product-day: MAE, WAPE (total absolute error / total demand)
    and MASE of the ``median`` (default: the mean itself), RMSE, RMSSE and Bias of the ``mean``."""
    a, m = actual.ravel(), mean.ravel()
    q = m if median is None else median.ravel()
    mae = mean_absolute_error(a, q)
    scale = mase_scale(history)
    total = np.abs(a).sum()
    return {
        "MAE": float(mae),
        "RMSE": float(np.sqrt(mean_squared_error(a, m))),
        "RMSSE": float(rmsse(actual, mean, naive_scale(history))),
        "Bias": float(bias(a, m)),
        "WAPE": float(np.abs(a - q).sum() / total) if total > 0 else float("nan"),
        "MASE": float(mae / scale) if scale > 0 else float("nan"),
    }


def per_product_mae(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return mean_absolute_error(actual, predicted, multioutput="raw_values")


INTERVAL_METRICS = ("coverage", "interval_score", "pinball")
PINBALL_PROBS = (0.1, 0.5, 0.9)


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Share of product-days whose demand fell inside [lower, upper] (0.8 is right for an 80% interval)."""
    return np.mean((actual >= lower) & (actual <= upper), axis=axis)


def interval_score(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float,
                   axis: int | None = None) -> np.ndarray | float:
    """Mean Winkler score of a central (1 - alpha) interval: its width, plus 2/alpha times each miss's
    distance. Lower is better; it rewards a narrow band only if the band still holds the demand."""
    miss_low = np.clip(lower - actual, 0, None)
    miss_high = np.clip(actual - upper, 0, None)
    return np.mean((upper - lower) + (2 / alpha) * (miss_low + miss_high), axis=axis)


def pinball_loss(actual: np.ndarray, quantiles: dict[float, np.ndarray], axis: int | None = None) -> np.ndarray | float:
    """Mean quantile (pinball) loss over the given probabilities -> (D, P) quantile forecasts."""
    losses = []
    for prob, q in quantiles.items():
        diff = actual - q
        losses.append(np.mean(np.maximum(prob * diff, (prob - 1) * diff), axis=axis))
    return np.mean(losses, axis=0)
