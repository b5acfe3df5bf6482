"""forecaster.results.metrics: MAE, RMSE, WAPE and MASE against a hand-computed example, and their edge cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from forecaster.results.metrics import mase_scale, per_product_mae, pooled_metrics


def test_metrics_match_a_hand_computed_example():
    actual = np.array([[2.0, 4.0], [6.0, 0.0]])  # total demand 12
    predicted = np.array([[3.0, 4.0], [5.0, 1.0]])  # absolute errors 1, 0, 1, 1 (predicted total 13)
    history = np.ones((8, 2))  # on sale from the first day (days before a first sale are not in the scale)
    history[7] = [3.0, -1.0]  # seasonal differences: only row 7 vs row 0 -> |2|, |-2| -> scale 2
    assert mase_scale(history) == 2.0
    m = pooled_metrics(actual, predicted, history)
    assert m["MAE"] == pytest.approx(0.75)
    assert m["RMSE"] == pytest.approx(math.sqrt(3 / 4))
    assert m["WAPE"] == pytest.approx(3 / 12)
    assert m["MASE"] == pytest.approx(0.75 / 2)
    np.testing.assert_allclose(per_product_mae(actual, predicted), [1.0, 0.5])


def test_metrics_without_demand_or_history_are_nan_not_a_crash():
    m = pooled_metrics(np.zeros((2, 2)), np.ones((2, 2)), np.zeros((3, 2)))
    assert m["MAE"] == 1.0 and math.isnan(m["WAPE"]) and math.isnan(m["MASE"])
