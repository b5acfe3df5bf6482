"""Test-span predictions and metric tables: the network next to the baselines, on exactly the same days."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .baselines import BASELINES
from .labels import NETWORK, SEASONAL_NAIVE
from .metrics import METRIC_NAMES, per_product_mae, pooled_metrics
from .trained import TrainedForecaster
from .windows import chronological_split


@dataclass(frozen=True)
class Evaluation:
    """Every test day predicted one step ahead from the actual history before it."""

    dates: pd.DatetimeIndex
    products: list[str]
    actual: np.ndarray  # (D, P)
    predictions: dict[str, np.ndarray]  # method -> (D, P), "network" first
    overall: pd.DataFrame  # one row per method: MAE, RMSE, WAPE, MASE, ratio_to_seasonal_naive
    per_product: pd.DataFrame  # one row per product: mae_<method>, beats_<baseline>

    def predictions_table(self, method: str = NETWORK) -> pd.DataFrame:
        """Long table date, product, actual, predicted for one method."""
        D, P = self.actual.shape
        return pd.DataFrame({
            "date": np.repeat(self.dates.to_numpy(), P),
            "product": np.tile(np.asarray(self.products, dtype=object), D),
            "actual": self.actual.ravel(),
            "predicted": self.predictions[method].ravel(),
        })


def compare(panel: pd.DataFrame, predictions: dict[str, np.ndarray], days: np.ndarray) -> Evaluation:
    """Score any set of (D, P) predictions for target days ``days`` against the baselines."""
    values = panel.to_numpy(dtype=np.float64)
    actual = values[days]
    history = values[:days[0]]
    all_preds = dict(predictions)
    for name, baseline in BASELINES.items():
        all_preds.setdefault(name, baseline(values, days))
    rows = {name: pooled_metrics(actual, pred, history) for name, pred in all_preds.items()}
    overall = pd.DataFrame.from_dict(rows, orient="index", columns=list(METRIC_NAMES))
    overall.index.name = "method"
    overall["ratio_to_seasonal_naive"] = overall["MAE"] / overall.loc[SEASONAL_NAIVE, "MAE"]
    per_product = pd.DataFrame({"product": [str(c) for c in panel.columns]})
    for name, pred in all_preds.items():
        per_product[f"mae_{name}"] = per_product_mae(actual, pred)
    first = next(iter(predictions), None)
    if first is not None:
        for name in BASELINES:
            if name != first:
                per_product[f"beats_{name}"] = per_product[f"mae_{first}"] < per_product[f"mae_{name}"]
    return Evaluation(panel.index[days], list(per_product["product"]), actual, all_preds, overall, per_product)


def evaluate(trained: TrainedForecaster, panel: pd.DataFrame) -> Evaluation:
    """Score the trained network on the test span of ``panel`` (its last ``test_days`` days)."""
    panel = trained.align(panel)
    days = chronological_split(len(panel), trained.config).test
    return compare(panel, {NETWORK: trained.predict(panel, days)}, days)
