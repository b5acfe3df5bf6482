"""Evaluation (baselines on exactly the test days, per-product table) and forecasting
(the day after the last date, clipped at zero, one row per product, recursive horizons)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY
from forecaster import ForecasterError, evaluate, fit, forecast
from forecaster.results.forecasting import current_calibration, point_forecast
from forecaster.results.evaluation import compare

# --- evaluation ----------------------------------------------------------------------------------------

@pytest.fixture
def panel3() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    index = pd.date_range("2024-01-01", periods=40, freq="D", name="date")
    return pd.DataFrame(rng.poisson([3, 20, 8], size=(40, 3)).astype(float), index=index,
                        columns=pd.Index(["Tea", "Coffee", "Milk"], name="product"))


def test_baselines_are_scored_on_exactly_the_same_days(panel3):
    values = panel3.to_numpy()
    days = np.arange(30, 40)
    ev = compare(panel3, {"network": values[days] + 1.0}, days)
    assert ev.dates.equals(panel3.index[30:40])
    np.testing.assert_array_equal(ev.actual, values[30:40])
    np.testing.assert_array_equal(ev.predictions["naive"], values[29:39])
    np.testing.assert_array_equal(ev.predictions["seasonal_naive"], values[23:33])
    for method, pred in ev.predictions.items():
        assert pred.shape == ev.actual.shape
        assert ev.overall.loc[method, "MAE"] == pytest.approx(np.abs(pred - ev.actual).mean())  # no distribution
    assert ev.overall.loc["network", "MAE"] == pytest.approx(1.0)
    assert list(ev.overall.columns[:6]) == ["MAE", "RMSE", "RMSSE", "Bias", "WAPE", "MASE"]
    assert ev.overall.loc["network", "Bias"] == pytest.approx(10 * 3 / values[days].sum())
    np.testing.assert_array_equal(ev.predictions["zero"], 0.0)
    assert ev.overall.loc["zero", "Bias"] == -1.0


def test_mae_judges_the_median_and_rmse_and_bias_the_mean(panel3):
    """A method with a distribution is scored by its distribution: MAE by the median, totals (bias) and RMSE
    by the mean, both drawn around the network's point; bounds too."""
    from forecaster.model.intervals import calibrate

    values = panel3.to_numpy()
    days = np.arange(30, 40)
    point = values[days] + 2.0
    cal = calibrate(values[20:30], values[20:30] + 2.0, values[:20])  # residuals say: the point is 2 too high
    ev = compare(panel3, {"network": point}, days, {"network": cal})
    mean, median = cal.mean(point), cal.median(point)
    assert not np.allclose(median, point) and np.abs(mean - values[days]).mean() < 1.0  # the 2 units corrected
    np.testing.assert_allclose(ev.predictions["network"], mean)
    assert ev.overall.loc["network", "MAE"] == pytest.approx(np.abs(median - values[days]).mean())
    assert ev.overall.loc["network", "RMSE"] == pytest.approx(np.sqrt(np.mean((mean - values[days]) ** 2)))
    assert ev.overall.loc["network", "Bias"] == pytest.approx(mean.sum() / values[days].sum() - 1)
    np.testing.assert_allclose(ev.bounds("network", 0.8)[1], cal.quantile(point, 0.9))


def test_per_product_table_says_which_baselines_the_network_beat(panel3):
    values = panel3.to_numpy()
    days = np.arange(30, 40)
    predicted = values[days].copy()
    predicted[:, 0] += 100  # Tea predicted terribly, the others perfectly
    ev = compare(panel3, {"network": predicted}, days)
    table = ev.per_product
    assert list(table["product"]) == ["Tea", "Coffee", "Milk"]
    for col in ("mae_network", "mae_naive", "mae_seasonal_naive", "beats_naive", "beats_seasonal_naive"):
        assert col in table.columns
    assert table["mae_network"].tolist() == pytest.approx([100.0, 0.0, 0.0])
    assert table["beats_naive"].tolist() == [False, True, True]
    assert table["beats_seasonal_naive"].tolist() == [False, True, True]
    assert table["mae_naive"].tolist() == pytest.approx(np.abs(values[days] - values[days - 1]).mean(0).tolist())


def test_evaluate_scores_the_last_test_days_in_original_units(trained_small, small_panel):
    ev = evaluate(trained_small, small_panel)
    n = TINY.test_days
    assert ev.dates.equals(small_panel.index[-n:])
    np.testing.assert_array_equal(ev.actual, small_panel.to_numpy()[-n:])
    assert ev.predictions["network"].shape == (n, small_panel.shape[1])
    assert (ev.predictions["network"] >= 0).all()
    # predictions are one step ahead from the actual history: the same numbers as predict() on those days
    days = np.arange(len(small_panel) - n, len(small_panel))
    point = trained_small.predict(small_panel, days)
    np.testing.assert_allclose(ev.point("network"), point)
    # scored as the expected demand of the calibrated distribution drawn around those points
    np.testing.assert_allclose(ev.predictions["network"], trained_small.calibration.mean(point))
    table = ev.predictions_table()
    assert list(table.columns) == ["date", "product", "actual", "predicted", "lower", "upper"]
    assert len(table) == n * small_panel.shape[1]


def test_evaluate_reorders_columns_to_the_trained_product_order(trained_small, small_panel):
    shuffled = small_panel[small_panel.columns[::-1]]
    a, b = evaluate(trained_small, small_panel), evaluate(trained_small, shuffled)
    assert a.products == b.products == list(small_panel.columns)
    np.testing.assert_allclose(a.predictions["network"], b.predictions["network"])


# --- forecast ------------------------------------------------------------------------------------------

def test_forecast_is_the_next_day_one_non_negative_row_per_product(trained_small, small_panel):
    fc = forecast(trained_small, small_panel)
    assert list(fc.columns) == ["date", "product", "step", "forecast", "closed", "stopped", "lower", "median", "upper",
                                "order_quantity"]
    assert len(fc) == small_panel.shape[1]
    assert list(fc["product"]) == list(small_panel.columns)
    assert (fc["date"] == small_panel.index[-1] + pd.Timedelta(days=1)).all()
    assert (fc["forecast"] >= 0).all() and np.isfinite(fc["forecast"]).all()
    point = trained_small.predict(small_panel, np.array([len(small_panel)]))
    np.testing.assert_allclose(fc["forecast"], current_calibration(trained_small, small_panel).mean(point)[0])
    assert (fc["lower"] <= fc["median"]).all() and (fc["median"] <= fc["upper"]).all()


def test_forecast_is_clipped_at_zero(small_panel):
    trained = fit(small_panel, TINY.replace(epochs=1))
    with torch.no_grad():
        trained.networks[0].head[-1].bias.fill_(-1000.0)  # the network now says "minus a lot" everywhere
    trained.anchor_weights = ()  # the recursion alone (a path of 0 would take the level anchor's days)
    scaled = trained.predict_scaled(trained.features(small_panel), np.array([len(small_panel)]))
    assert (scaled < 0).all()
    assert (point_forecast(trained, small_panel, horizon=3)["forecast"] == 0).all()
    assert (forecast(trained, small_panel, horizon=3)[["forecast", "lower", "median"]] >= 0).all().all()


def test_horizon_gives_consecutive_days_fed_back_as_lags(trained_small, small_panel):
    """The network's own points are fed back (the calibrated mean is what the table shows); the recursion
    alone, without the level anchor (tests/model/test_horizon.py)."""
    forecast = point_forecast  # noqa: F811 (the recursion is on the points)
    trained_small = dataclasses.replace(trained_small, anchor_weights=())
    fc = forecast(trained_small, small_panel, horizon=3)
    P = small_panel.shape[1]
    assert len(fc) == 3 * P
    expected_days = pd.date_range(small_panel.index[-1] + pd.Timedelta(days=1), periods=3, freq="D")
    assert sorted(fc["date"].unique()) == list(expected_days)
    assert (fc.groupby("product").size() == 3).all()
    one = forecast(trained_small, small_panel, horizon=1)
    np.testing.assert_allclose(fc[fc["date"] == expected_days[0]]["forecast"], one["forecast"])
    # day 2 is the one-step forecast from the history extended by day 1's forecast
    day1 = one.pivot(index="date", columns="product", values="forecast")[list(small_panel.columns)]
    extended = pd.concat([small_panel, day1]).asfreq("D")
    step2 = forecast(trained_small, extended, horizon=1)
    np.testing.assert_allclose(fc[fc["date"] == expected_days[1]]["forecast"].to_numpy(), step2["forecast"].to_numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("horizon", [0, -1, 10_000])
def test_out_of_range_horizon_is_a_user_error(trained_small, small_panel, horizon):
    with pytest.raises(ForecasterError, match="horizon"):
        forecast(trained_small, small_panel, horizon=horizon)


def test_forecast_needs_the_products_it_was_trained_on(trained_small, small_panel):
    with pytest.raises(ForecasterError, match="p1"):
        forecast(trained_small, small_panel.drop(columns=["p1"]))


def test_forecast_needs_enough_history(trained_small, small_panel):
    with pytest.raises(ForecasterError, match="history"):
        forecast(trained_small, small_panel.iloc[:3])


def test_a_forecast_follows_the_latest_days_misses_and_evaluation_never_sees_them(trained_small, small_panel):
    """The calibration for forecasting is moved by the last 28 days' misses (after the validation days the
    model was calibrated on); scoring the test span keeps the validation-day calibration."""
    doubled = small_panel.copy()
    doubled.iloc[-28:] *= 2  # the level doubled on the last 28 days: the one-step forecasts there fall short
    latest = current_calibration(trained_small, doubled)
    point = trained_small.predict(doubled, np.array([len(doubled)]))
    assert (latest.mean(point) > trained_small.calibration.mean(point)).all()
    assert evaluate(trained_small, small_panel).calibrations["network"] is trained_small.calibration


# --- a product's days before its first sale --------------------------------------------------------------

def test_a_product_s_days_before_its_first_sale_are_not_scored(panel3):
    """Milk first sells on test day 5: the 5 days before are a product not on sale yet, not a demand of zero
    that a forecast of zero gets right. Its errors, the pooled ones and the bias count only from day 5."""
    values = panel3.to_numpy(copy=True)
    values[:35, 2] = 0.0
    values[35:, 2] = np.maximum(values[35:, 2], 1.0)
    panel = pd.DataFrame(values, index=panel3.index, columns=panel3.columns)
    days = np.arange(30, 40)
    pred = values[days].copy()
    pred[:5, 2] = 7.0  # forecasts for the days Milk was not on sale: missing them costs nothing
    ev = compare(panel, {"network": pred}, days)
    milk = ev.per_product.set_index("product").loc["Milk"]
    assert milk["mae_network"] == 0.0 and milk["bias"] == 0.0 and milk["error_pct"] == 0.0
    assert ev.overall.loc["network", "MAE"] == 0.0 and ev.overall.loc["network", "Bias"] == 0.0
    # the baselines are scored on the same product-days: zero's error on Milk is its sales from day 5 on
    zero = ev.per_product.set_index("product").loc["Milk", "mae_zero"]
    assert zero == pytest.approx(values[35:40, 2].mean())
    assert ev.scored[:5, 2].sum() == 0 and ev.scored[5:, 2].all() and ev.scored[:, :2].all()


def test_a_product_that_never_sold_has_no_error_rather_than_a_perfect_one(panel3):
    values = panel3.to_numpy(copy=True)
    values[:, 0] = 0.0
    panel = pd.DataFrame(values, index=panel3.index, columns=panel3.columns)
    days = np.arange(30, 40)
    ev = compare(panel, {"network": values[days]}, days)
    tea = ev.per_product.set_index("product").loc["Tea"]
    assert np.isnan(tea["mae_network"]) and np.isnan(tea["error_pct"]) and np.isnan(tea["bias"])
    assert np.isfinite(ev.overall.loc["network", ["MAE", "RMSE", "Bias"]].astype(float)).all()


def test_scales_start_at_a_product_s_first_sale_and_unscored_products_are_not_counted(panel3):
    """Review of the first-sale change: RMSSE's and MASE's scales from the first sale (leading zeros would
    shrink them); a baseline's residuals before the first sale do not narrow its interval; a product never on
    sale neither beats nor loses to seasonal naive."""
    from forecaster.io import charts
    from forecaster.model.intervals import residual_calibration
    from forecaster.model.baselines import BASELINES
    from forecaster.model.scores import naive_scale
    from forecaster.results.metrics import mase_scale

    rng = np.random.default_rng(0)
    late = np.zeros((272, 1))
    late[220:, 0] = rng.poisson(10, 52)
    assert naive_scale(late)[0] == pytest.approx(naive_scale(late[220:])[0])
    assert mase_scale(late) == pytest.approx(mase_scale(late[220:]))
    naive = residual_calibration(late, BASELINES["naive"], 272)
    assert naive.offsets[9, 0] < -1 and naive.offsets[89, 0] > 1  # not the pre-launch zeros' [0, 0]
    values = panel3.to_numpy(copy=True)
    values[:, 0] = 0.0
    panel = pd.DataFrame(values, index=panel3.index, columns=panel3.columns)
    ev = compare(panel, {"network": values[np.arange(30, 40)]}, np.arange(30, 40))
    assert pd.isna(ev.per_product.set_index("product").loc["Tea", "beats_seasonal_naive"])
    assert "of 2 products" in charts.verdict(ev, "Model")
    bars = {y for trace in charts.per_product_mae_bar(ev.per_product).data for y in trace.y}
    assert bars == {"Coffee", "Milk"}


def test_a_product_that_wakes_in_the_test_span_is_scored_on_its_one_step_forecast_without_reading_ahead(panel3):
    """Review: refreshing a never-sold product's range over the test span read the very days it was scored on.
    It is scored on its one-step point forecast, which depends on the days before each test day only."""
    from forecaster.model.intervals import calibrate

    values = panel3.to_numpy(copy=True)
    values[:33, 2] = 0.0  # Milk first sells on test day 3
    panel = pd.DataFrame(values, index=panel3.index, columns=panel3.columns)
    days = np.arange(30, 40)
    cal = calibrate(values[20:30], values[20:30] + 1.0, values[:20])
    assert cal.dormant.tolist() == [False, False, True]
    point = values[days - 1]  # naive: each day's point reads only the day before
    ev = compare(panel, {"network": point}, days, {"network": cal})
    np.testing.assert_allclose(ev.predictions["network"][:, 2], point[:, 2])
    later = values.copy()
    later[36:, 2] *= 10  # later test days change: the earlier days' scores do not
    ev2 = compare(pd.DataFrame(later, index=panel.index, columns=panel.columns), {"network": later[days - 1]}, days,
                  {"network": cal})
    np.testing.assert_allclose(ev2.predictions["network"][:6, 2], ev.predictions["network"][:6, 2])


def test_two_figures_compared_in_a_sentence_have_the_same_decimals():
    """A trial read "MAE 0.62 against 0.609" on Evaluate."""
    from forecaster.results.evaluation import _alike

    assert _alike(0.62, 0.609) == ("0.620", "0.609")
    assert _alike(1234.5, 1100.2) == ("1234", "1100") and _alike(42.79, 41.8) == ("42.8", "41.8")
