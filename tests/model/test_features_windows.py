"""Features and windows: each window's last row describes its target day (lags from the days before it,
calendar of the day itself), windows are views of the feature rows, and shapes hold for N products."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import day_number_panel
from forecaster import ForecastConfig, ForecasterError
from forecaster.config import parse_lags
from forecaster.model.features import (PanelScaler, calendar_features, calendar_names, first_feature_day,
                                 series_features)
from forecaster.model.windows import WindowDataset, WindowFeatures, chronological_split


def features_for(panel: pd.DataFrame, config: ForecastConfig, layout: str) -> WindowFeatures:
    """Windows over the raw values (no scaling), so each feature can be read back as a day number."""
    return WindowFeatures(panel.to_numpy(dtype=np.float64), panel.index, config, layout)


# --- lags and rolling means ----------------------------------------------------------------------------

def test_lag_count_means_one_to_n_and_a_list_is_explicit():
    assert parse_lags("7") == (1, 2, 3, 4, 5, 6, 7)
    assert parse_lags("1,7,14") == (1, 7, 14)
    assert ForecastConfig(lags=(14, 1, 7, 7)).lags == (1, 7, 14)  # sorted, de-duplicated
    with pytest.raises(ForecasterError):
        parse_lags("a week")
    with pytest.raises(ForecasterError):
        ForecastConfig(lags=(0, 1))


def test_explicit_lags_read_the_right_days():
    values = np.arange(40, dtype=np.float32)[:, None] * np.array([[1.0, 10.0]], dtype=np.float32)  # (T, 2)
    lags = (1, 7, 14)
    out = series_features(values, lags, ())
    first = first_feature_day(lags, ())
    assert first == 14
    assert out.shape == (40 + 1 - 14, 2, 3)  # target days 14..40 (40 = the day after the last)
    for r in (0, 5, len(out) - 1):
        t = first + r
        assert out[r, 0].tolist() == [t - 1, t - 7, t - 14]
        assert out[r, 1].tolist() == [10 * (t - 1), 10 * (t - 7), 10 * (t - 14)]


def test_rolling_means_average_the_days_before_the_target_day():
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 1, (30, 3)).astype(np.float32)
    out = series_features(values, (1,), (3, 7))
    first = 7
    for r in range(len(out)):
        t = first + r
        np.testing.assert_allclose(out[r, :, 1], values[t - 3:t].mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out[r, :, 2], values[t - 7:t].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_calendar_features_describe_the_day_itself():
    index = pd.date_range("2024-01-05", periods=10, freq="D")  # a Friday
    cal = calendar_features(index, extended=True)
    names = calendar_names(True)
    assert cal.shape == (10, len(names))
    dow = cal[:, :7].argmax(axis=1)
    assert dow.tolist() == index.day_of_week.tolist()
    assert cal[:, names.index("weekend")].tolist() == [float(d >= 5) for d in index.day_of_week]
    assert np.abs(cal).max() <= 1.0


def test_scaler_round_trips_and_serialises():
    train = np.array([[0.0, 10.0], [4.0, 30.0], [2.0, 20.0]])
    scaler = PanelScaler.fit(train)
    scaled = scaler.transform(train)
    assert scaled.min() == 0.0 and scaled.max() == 1.0
    np.testing.assert_allclose(scaler.inverse(scaled), train, rtol=1e-6)
    again = PanelScaler.from_dict(scaler.to_dict())
    np.testing.assert_array_equal(again.transform(train), scaled)


# --- windows line up with the target day ---------------------------------------------------------------

@pytest.mark.parametrize("lags", [(1, 2, 3), (1, 7, 14)])
def test_multi_window_last_row_holds_the_days_before_the_target_and_the_target_is_that_day(lags):
    panel = day_number_panel(days=60, products=3)
    config = ForecastConfig(lags=lags, seq_len=4, extended_calendar=False)
    wf = features_for(panel, config, "multi")
    K, P = len(lags), 3
    split = chronological_split(len(panel), config.replace(test_days=7, val_days=7))
    for t in (int(split.train[0]), 30, len(panel) - 1):
        (x,) = wf.inputs(torch.tensor([t]))
        assert x.shape == (1, config.seq_len, P * K + len(calendar_names(False)))
        series = x[0, :, :P * K].reshape(config.seq_len, P, K)
        for j in range(config.seq_len):  # row L-1-j describes target day t-j
            day = t - j
            for k, lag in enumerate(lags):
                assert series[config.seq_len - 1 - j, :, k].tolist() == [day - lag + 100 * p for p in range(P)]
        assert wf.target(torch.tensor([t]))[0].tolist() == [t + 100 * p for p in range(P)]
        # calendar of the target day itself, not of the day before
        assert int(x[0, -1, P * K:P * K + 7].argmax()) == panel.index[t].day_of_week


def test_global_window_holds_one_products_lags_and_its_target():
    panel = day_number_panel(days=60, products=4)
    config = ForecastConfig(lags=(1, 7), seq_len=3, extended_calendar=False)
    wf = features_for(panel, config, "global")
    days = torch.tensor([20, 20, 45])
    products = torch.tensor([0, 3, 2])
    x, ids = wf.inputs(days, products)
    assert x.shape == (3, 3, 2 + len(calendar_names(False)))
    assert ids.tolist() == [0, 3, 2]
    for b, (t, p) in enumerate(zip(days.tolist(), products.tolist())):
        assert x[b, -1, :2].tolist() == [t - 1 + 100 * p, t - 7 + 100 * p]
        assert x[b, 0, :2].tolist() == [t - 3 + 100 * p, t - 9 + 100 * p]
        assert int(x[b, -1, 2:9].argmax()) == panel.index[t].day_of_week
    assert wf.target(days, products).tolist() == [20.0, 320.0, 245.0]


def test_tomorrow_is_a_valid_target_day_with_its_own_calendar():
    panel = day_number_panel(days=40, products=2)
    config = ForecastConfig(lags=(1, 2), seq_len=2, extended_calendar=False)
    wf = features_for(panel, config, "multi")
    (x,) = wf.inputs(torch.tensor([len(panel)]))
    assert x[0, -1, :4].reshape(2, 2).tolist() == [[39.0, 38.0], [139.0, 138.0]]
    tomorrow = panel.index[-1] + pd.Timedelta(days=1)
    assert int(x[0, -1, 4:11].argmax()) == tomorrow.day_of_week


def test_first_training_day_has_a_full_window_without_wrapping_around():
    config = ForecastConfig(lags=(1, 7, 14), rolling_windows=(28,), seq_len=5, test_days=7, val_days=7)
    panel = day_number_panel(days=120, products=2)
    split = chronological_split(len(panel), config)
    assert split.train[0] == config.history_needed == 28 + 5 - 1
    wf = features_for(panel, config, "multi")
    assert int(wf._window_index(torch.tensor(split.train[0]))) == 0
    (x,) = wf.inputs(torch.tensor([int(split.train[0])]))
    lag1 = x[0, :, 0]  # product 0, lag 1, rows for target days t-4..t
    assert lag1.tolist() == [float(split.train[0] - 1 - j) for j in range(4, -1, -1)]


def test_split_is_chronological_and_contiguous():
    config = ForecastConfig(lags=(1, 2, 3), seq_len=2, test_days=10, val_days=5)
    split = chronological_split(100, config)
    assert split.test.tolist() == list(range(90, 100))
    assert split.val.tolist() == list(range(85, 90))
    assert split.train.tolist() == list(range(config.history_needed, 85))
    assert split.fit_end == 90


# --- windows are views ---------------------------------------------------------------------------------

def test_multi_windows_share_storage_with_the_feature_rows():
    panel = day_number_panel(days=200, products=5)
    config = ForecastConfig(lags=(1, 2, 3, 4, 5, 6, 7), seq_len=10)
    wf = features_for(panel, config, "multi")
    rows = wf._windows.shape[0] + config.seq_len - 1
    row_bytes = wf.n_features * 4
    # a copy would hold seq_len times the rows; a view's storage is the feature matrix itself
    assert wf._windows.untyped_storage().nbytes() == rows * row_bytes
    assert wf._windows.stride(0) == wf.n_features and wf._windows.stride(-1) == wf.n_features
    assert not wf._windows.is_contiguous()


def test_global_windows_share_storage_with_the_feature_rows():
    panel = day_number_panel(days=200, products=5)
    config = ForecastConfig(lags=(1, 2, 3), seq_len=8)
    wf = features_for(panel, config, "global")
    rows = wf._series_windows.shape[0] + config.seq_len - 1
    assert wf._series_windows.untyped_storage().nbytes() == rows * 5 * 3 * 4
    cal = wf._calendar_windows
    assert cal.untyped_storage().nbytes() == rows * cal.shape[1] * 4


# --- shapes for N products -----------------------------------------------------------------------------

@pytest.mark.parametrize("n_products", [1, 3, 17])
@pytest.mark.parametrize("layout", ["multi", "global"])
def test_dataset_shapes_for_n_products(layout, n_products):
    panel = day_number_panel(days=80, products=n_products)
    config = ForecastConfig(lags=(1, 2, 7), seq_len=3, extended_calendar=True, test_days=7, val_days=7)
    wf = features_for(panel, config, layout)
    C = len(calendar_names(True))
    split = chronological_split(len(panel), config)
    ds = WindowDataset(wf, split.train)
    batch = list(range(5))
    inputs, target = ds[batch]
    if layout == "multi":
        assert wf.n_features == n_products * 3 + C
        assert len(ds) == len(split.train)
        assert inputs[0].shape == (5, 3, n_products * 3 + C)
        assert target.shape == (5, n_products)
    else:
        assert wf.n_features == 3 + C
        assert len(ds) == len(split.train) * n_products
        assert inputs[0].shape == (5, 3, 3 + C) and inputs[1].shape == (5,)
        assert target.shape == (5,)
