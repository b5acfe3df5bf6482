"""forecaster.model.baselines: each rule predicts from the days before the target day only, and never wraps around."""
from __future__ import annotations

import numpy as np

from forecaster.model.baselines import BASELINES, BLEND_COMPONENTS, moving_average, naive, seasonal_naive, weekday_mean
from forecaster.labels import LABELS


def test_baselines_copy_yesterday_last_week_and_the_weekly_mean():
    values = np.arange(30, dtype=float)[:, None] * np.array([[1.0, 2.0]])
    days = np.array([20, 21, 29])
    np.testing.assert_array_equal(naive(values, days), values[days - 1])
    np.testing.assert_array_equal(seasonal_naive(values, days), values[days - 7])
    np.testing.assert_allclose(moving_average(values, days), np.stack([values[d - 7:d].mean(0) for d in days]))


def test_weekday_mean_never_wraps_around_to_the_end_of_the_panel():
    values = np.arange(40, dtype=float)[:, None]
    out = weekday_mean(values, np.array([3, 10, 30]))
    assert out[:, 0].tolist() == [2.0, 3.0, (23 + 16 + 9 + 2) / 4]  # day 3: no full week yet -> yesterday


def test_every_baseline_has_a_label_and_reads_no_more_history_than_it_declares():
    values = np.arange(60, dtype=float)[:, None]
    for name, (rule, history) in BLEND_COMPONENTS.items():
        assert name in LABELS
        days = np.array([history, 59])  # the first day with enough history, and the last
        changed = values.copy()
        changed[:days[0] - history] = -1000.0  # days before the declared history must not matter
        np.testing.assert_array_equal(rule(values, days), rule(changed, days))
    assert set(BASELINES) <= set(BLEND_COMPONENTS)
