"""Error measures in original units, pooled over all product-days and per product."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error

METRIC_NAMES = ("MAE", "RMSE", "WAPE", "MASE")


def mase_scale(history: np.ndarray, season: int = 7) -> float:
    """Mean absolute change from the same weekday a week earlier, over the history before the test span:
    the in-sample error of seasonal naive, which MASE divides by (MASE < 1 beats it)."""
    if len(history) <= season:
        return float("nan")
    return float(np.abs(history[season:] - history[:-season]).mean())


def pooled_metrics(actual: np.ndarray, predicted: np.ndarray, history: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, WAPE (total absolute error / total demand) and MASE over every product-day."""
    a, p = actual.ravel(), predicted.ravel()
    mae = mean_absolute_error(a, p)
    scale = mase_scale(history)
    total = np.abs(a).sum()
    return {
        "MAE": float(mae),
        "RMSE": float(np.sqrt(mean_squared_error(a, p))),
        "WAPE": float(np.abs(a - p).sum() / total) if total > 0 else float("nan"),
        "MASE": float(mae / scale) if scale > 0 else float("nan"),
    }


def per_product_mae(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return mean_absolute_error(actual, predicted, multioutput="raw_values")
