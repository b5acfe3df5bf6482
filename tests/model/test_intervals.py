"""Prediction intervals: calibrated on held-out days only, right on known residuals, never below 0, wider
further out on a random walk; order quantities; interval metrics; rolling backtest; old runs load without."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from forecaster import fit, forecast, load, save
from forecaster.results.backtest import backtest, summary
from forecaster.model.baselines import seasonal_naive
from forecaster.errors import ForecasterError
from forecaster.results.evaluation import evaluate
from forecaster.model.intervals import Calibration, calibrate, calm_factor, horizon_growth
from forecaster.results.metrics import coverage, interval_score, pinball_loss

from conftest import TINY, make_panel


def _known_residuals(n: int = 4000, sigmas=(1.0, 5.0, 20.0), seed: int = 0):
    """A model whose one-step forecast is a constant level and whose errors are N(0, sigma_p): the right
    0.1 / 0.9 quantiles are the level -/+ 1.2816 sigma_p."""
    rng = np.random.default_rng(seed)
    sigmas = np.asarray(sigmas)
    level = 10 * sigmas + 100
    history = level + rng.normal(size=(400, len(sigmas))) * sigmas
    point = np.broadcast_to(level, (n, len(sigmas)))
    actual = point + rng.normal(size=point.shape) * sigmas
    return actual, point, history, sigmas, level


def test_a_model_with_known_residuals_gets_the_right_quantiles():
    actual, point, history, sigmas, level = _known_residuals()
    cal = calibrate(actual, point, history)
    one_day = point[:1]
    np.testing.assert_allclose(cal.quantile(one_day, 0.9)[0], level + 1.2816 * sigmas, rtol=0.01)
    np.testing.assert_allclose(cal.quantile(one_day, 0.1)[0], level - 1.2816 * sigmas, rtol=0.01)
    np.testing.assert_allclose(cal.quantile(one_day, 0.5)[0], level, atol=0.05 * sigmas.max())
    lower, upper = cal.bounds(one_day, 0.5)
    np.testing.assert_allclose(upper[0] - lower[0], 2 * 0.6745 * sigmas, rtol=0.05)


def test_the_median_of_whole_unit_demand_is_the_nearest_whole_number_within_the_narrowest_range():
    """Poisson counts about a continuous forecast: the median is a whole number (but where that lies outside
    the quantiles 0.25-0.75) and has a lower MAE than the continuous one; fractional demand keeps the
    continuous median, and so does a band narrower than a unit."""
    rng = np.random.default_rng(0)
    rate = rng.uniform(0.5, 4.0, size=(1, 6))
    point = np.broadcast_to(rate, (600, 6)) * rng.uniform(0.8, 1.2, size=(600, 6))  # a noisy point forecast
    actual = rng.poisson(rate, size=(600, 6)).astype(float)
    cal = calibrate(actual[:300], point[:300], actual[:300])
    assert cal.integer
    median, continuous = cal.median(point[300:]), cal.quantile(point[300:], 0.5)
    whole = median == np.round(median)
    assert whole.mean() > 0.75 and not np.all(continuous == np.round(continuous))
    np.testing.assert_array_equal(median[~whole], continuous[~whole])
    assert np.abs(actual[300:] - median).mean() < np.abs(actual[300:] - continuous).mean()
    lower, upper = cal.bounds(point[300:], 0.5)
    assert np.all((lower <= median) & (median <= upper))
    fractional = calibrate(actual[:300] + 0.25, point[:300], actual[:300] + 0.25)
    assert not fractional.integer
    np.testing.assert_array_equal(fractional.median(point[300:]), fractional.quantile(point[300:], 0.5))
    tight = dataclasses.replace(cal, offsets=cal.offsets * 1e-3, shift=None)  # a band far narrower than 1 unit
    one = np.full((1, 6), 2.3)
    np.testing.assert_array_equal(tight.median(one), tight.quantile(one, 0.5))  # 2 lies below its q25 (~2.3)
    assert not np.any(tight.median(one) == 2.0)


def test_a_fresh_sample_of_the_same_errors_is_covered_at_the_level():
    actual, point, history, _, _ = _known_residuals(seed=1)
    cal = calibrate(actual[:300], point[:300], history)  # a realistic few weeks of product-days
    fresh, fresh_point, _, _, _ = _known_residuals(seed=2)
    for level in (0.5, 0.8, 0.95):
        assert abs(coverage(fresh, *cal.bounds(fresh_point, level)) - level) < 0.05


def test_lower_bounds_never_go_below_zero():
    rng = np.random.default_rng(0)
    point = rng.uniform(0, 2, size=(50, 4))
    actual = rng.poisson(3, size=(50, 4)).astype(float) * (rng.random((50, 4)) < 0.3)
    cal = calibrate(actual, point, actual)
    for level in (0.5, 0.8, 0.98):
        lower, upper = cal.bounds(np.zeros((5, 4)), level, np.arange(1, 6))
        assert (lower >= 0).all() and (upper >= lower).all()
    assert (cal.quantile(point, 0.01) >= 0).all()


def test_a_product_that_sells_one_day_in_five_gets_an_honest_upper_bound():
    rng = np.random.default_rng(3)
    days = 400
    sells = rng.random((days, 1)) < 0.2
    demand = np.where(sells, rng.integers(1, 4, size=(days, 1)), 0).astype(float)
    steady = rng.poisson(20, size=(days, 1)).astype(float)
    values = np.hstack([demand, steady])
    point = np.tile(values[:-56].mean(axis=0), (56, 1))  # a forecast of the average day
    cal = calibrate(values[-56:-28], point[:28], values[:-56])
    lower, upper = cal.bounds(point[28:], 0.8)
    assert (upper[:, 0] >= 1).all()  # the days it sells are inside the band, not cut off at the mean
    assert (lower[:, 0] == 0).all()  # no sale stays possible: the chance of 0 is not moved
    assert coverage(values[-28:, 0], lower[:, 0], upper[:, 0]) >= 0.7
    assert (cal.order_quantity(point[28:], 0.9)[:, 0] >= 1).all()


def test_a_whole_unit_order_covers_the_same_days_as_its_calibrated_quantile_with_less_stock():
    """Poisson counts: the whole number at or below the 0.9 quantile covers exactly the days the continuous
    quantile covers (and about 90 % of them), where rounding it up would cover more than asked."""
    rng = np.random.default_rng(3)
    rate = rng.uniform(0.5, 6.0, size=(1, 8))
    point = np.broadcast_to(rate, (1200, 8)) * rng.uniform(0.9, 1.1, size=(1200, 8))
    actual = rng.poisson(rate, size=(1200, 8)).astype(float)
    cal = calibrate(actual[:600], point[:600], actual[:600])
    q, order = cal.quantile(point[600:], 0.9), cal.order_quantity(point[600:], 0.9)
    fresh = actual[600:]
    np.testing.assert_array_equal(fresh <= order, fresh <= q)
    assert (order <= q).all() and (order % 1 == 0).all()
    assert abs((fresh <= order).mean() - 0.9) < 0.03
    assert (fresh <= np.ceil(q)).mean() > (fresh <= order).mean() + 0.03  # rounding up over-covers


def test_order_quantities_are_whole_units_for_counts_and_rise_with_the_service_level():
    actual, point, history, _, _ = _known_residuals()
    counts = calibrate(np.round(actual), point, np.round(history))
    q90, q99 = counts.order_quantity(point[:3], 0.9), counts.order_quantity(point[:3], 0.99)
    assert (q90 % 1 == 0).all() and (q99 >= q90).all() and (q99 > q90).any()
    kilos = calibrate(actual, point, history + 0.5)  # not whole numbers: not rounded
    assert (kilos.order_quantity(point[:3], 0.9) % 1 != 0).any()
    with pytest.raises(ForecasterError, match="service level"):
        counts.order_quantity(point[:3], 1.0)
    with pytest.raises(ForecasterError, match="interval level"):
        counts.bounds(point[:3], 0.3)


def test_the_horizon_widens_the_interval_on_a_random_walk_and_not_on_a_stable_pattern():
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(size=(600, 4)), axis=0) + 200
    growth = horizon_growth(walk)
    assert growth[0] == 1 and (np.diff(growth) >= 0).all()
    assert 3.5 < growth[29] < 8  # about sqrt(30) = 5.5
    stable = rng.poisson(10, size=(600, 4)).astype(float)
    assert horizon_growth(stable)[29] < 1.2


def test_a_longer_horizon_never_gets_a_narrower_interval_than_day_one_on_a_random_walk():
    rng = np.random.default_rng(1)
    index = pd.date_range("2023-01-01", periods=300, freq="D", name="date")
    walk = pd.DataFrame(np.abs(np.cumsum(rng.normal(0, 3, size=(300, 3)), axis=0) + 100), index=index,
                        columns=pd.Index(["a", "b", "c"], name="product"))
    trained = fit(walk, TINY)
    fc = forecast(trained, walk, horizon=30)
    width = (fc["upper"] - fc["lower"]).to_numpy().reshape(30, 3)
    assert (width[-1] > 2 * width[0]).all()
    assert (fc.groupby("product")["upper"].apply(lambda u: u.iloc[-1] - u.iloc[0])).notna().all()


def test_the_interval_is_calibrated_on_validation_days_and_a_test_span_change_does_not_move_it():
    panel = make_panel(days=150)
    trained = fit(panel, TINY)
    changed = panel.copy()
    changed.iloc[-TINY.test_days:] *= 5  # a wild test span: nothing about it may reach the calibration
    again = fit(changed, TINY)
    assert trained.calibration.days == TINY.val_days
    np.testing.assert_array_equal(trained.calibration.offsets, again.calibration.offsets)
    np.testing.assert_array_equal(trained.calibration.scale, again.calibration.scale)
    values = panel.to_numpy(dtype=float)
    val = np.arange(len(panel) - TINY.test_days - TINY.val_days, len(panel) - TINY.test_days)
    expected = calibrate(values[val], trained.predict(panel, val), values[:val[0]])
    np.testing.assert_allclose(trained.calibration.offsets, expected.offsets)


def test_without_validation_days_there_is_no_interval_and_forecasts_say_so():
    panel = make_panel(days=100)
    trained = fit(panel, TINY.replace(val_days=0))
    assert trained.calibration is None
    fc = forecast(trained, panel)
    assert "lower" not in fc.columns and "forecast" in fc.columns
    assert evaluate(trained, panel).bounds("network") is None


def test_baselines_get_their_own_residual_quantiles_from_the_days_before_the_test_span(trained_small, small_panel):
    ev = evaluate(trained_small, small_panel)
    values = small_panel.to_numpy(dtype=float)
    start = len(small_panel) - TINY.test_days
    expected = np.quantile(values[7:start] - values[:start - 7], 0.9, axis=0)
    cal = ev.calibrations["seasonal_naive"]
    np.testing.assert_allclose(cal.offset(0.9), expected)
    np.testing.assert_allclose(ev.bounds("seasonal_naive", 0.8)[1],
                               np.clip(seasonal_naive(values, np.arange(start, len(values))) + expected, 0, None))
    table = ev.interval_overall(0.8)
    assert table.loc["seasonal_naive", "interval_score_ratio"] == 1
    assert set(table.index) == {"network", "naive", "seasonal_naive", "moving_average_7", "zero", "mean_28"}
    per_product = ev.interval_per_product(0.8)
    assert list(per_product["off_by"]) == sorted(per_product["off_by"], reverse=True)


def test_interval_metrics_on_hand_computed_cases():
    actual = np.array([[0.0, 5.0, 10.0]])
    lower, upper = np.array([[1.0, 4.0, 4.0]]), np.array([[3.0, 6.0, 8.0]])
    assert coverage(actual, lower, upper) == pytest.approx(1 / 3)
    # widths 2, 2, 4; misses 1 below and 2 above, each times 2 / 0.2 = 10
    assert interval_score(actual, lower, upper, alpha=0.2) == pytest.approx((2 + 2 + 4 + 10 * 1 + 10 * 2) / 3)
    q = {0.5: np.array([[0.0, 5.0, 12.0]])}
    assert pinball_loss(actual, q) == pytest.approx((0 + 0 + 0.5 * 2) / 3)


def test_a_saved_run_keeps_its_intervals_and_an_old_run_loads_without(tmp_path, trained_small, small_panel):
    run = save(trained_small, tmp_path)
    back = load(run)
    np.testing.assert_allclose(back.calibration.offsets, trained_small.calibration.offsets)
    pd.testing.assert_frame_equal(forecast(back, small_panel), forecast(trained_small, small_panel))
    meta = json.loads((run / "config.json").read_text())
    del meta["calibration"]  # as saved before intervals existed
    (run / "config.json").write_text(json.dumps(meta))
    old = load(run)
    assert old.calibration is None and "lower" not in forecast(old, small_panel).columns
    meta["calibration"] = {"offsets": [[1.0]], "scale": [1.0]}
    (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ForecasterError, match="interval calibration"):
        load(run)


def test_calibration_round_trips_and_refuses_wrong_shapes():
    actual, point, history, _, _ = _known_residuals(n=60)
    cal = calibrate(actual, point, history)
    again = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())), 3)
    np.testing.assert_array_equal(again.offsets, cal.offsets)
    with pytest.raises(ValueError):
        Calibration.from_dict(cal.to_dict(), 4)
    bad = cal.to_dict()
    bad["offsets"][0][0] = float("nan")
    with pytest.raises(ValueError):
        Calibration.from_dict(bad, 3)


def test_the_rolling_backtest_trains_each_cut_off_on_the_days_before_it_only():
    panel = make_panel(days=130)
    seen: list[pd.Timestamp] = []

    def fit_once(cut, config, callback, cancel):
        seen.append(cut.index[-1])
        return fit(cut, config)

    latest = fit(panel, TINY)
    table = backtest(panel, TINY, 3, latest, fit_once)
    assert seen == [panel.index[-8], panel.index[-15]]
    ends = table.drop_duplicates("origin").set_index("origin")["test_end"]
    assert list(ends) == [panel.index[-1], panel.index[-8], panel.index[-15]]
    assert set(table["method"]) == {"network", "naive", "seasonal_naive", "moving_average_7", "zero", "mean_28"}
    assert table["coverage"].between(0, 1).all()
    assert list(summary(table)["cut-offs"]) == [3] * 6


def test_fit_with_backtest_origins_returns_the_table_and_counts_every_cut_off_in_the_progress():
    panel = make_panel(days=130)
    records = []
    trained = fit(panel, TINY.replace(backtest_origins=2, retrain_for_forecast=True), callback=records.append)
    assert trained.backtest["origin"].nunique() == 2 and trained.latest_networks
    # two cut-offs, then the shipped model's retraining for its forecasts
    assert records[-1].total_epochs == 3 * TINY.epochs and records[-1].done_epochs == records[-1].total_epochs
    plain = fit(panel, TINY.replace(retrain_for_forecast=True))
    pd.testing.assert_frame_equal(forecast(plain, panel), forecast(trained, panel))  # the model is the same


def _late_starter_panel(days: int = 200, seed: int = 5) -> pd.DataFrame:
    """p0 steady, 'dead' never sells, 'new' sells about 15 a day only in the last 10 days."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=days, freq="D", name="date")
    values = np.column_stack([rng.poisson(20, days), np.zeros(days), np.r_[np.zeros(days - 10), rng.poisson(15, 10)]])
    return pd.DataFrame(values.astype(float), index=index, columns=pd.Index(["p0", "dead", "new"], name="product"))


def test_a_product_that_never_sold_gets_no_range_and_orders_nothing():
    panel = _late_starter_panel()
    trained = fit(panel.iloc[:-10], TINY)  # 'new' has not sold yet either
    fc = forecast(trained, panel.iloc[:-10]).set_index("product")
    for product in ("dead", "new"):
        assert fc.loc[product, "upper"] < 1e-9 and fc.loc[product, "order_quantity"] == 0, fc.loc[product]
    assert fc.loc["p0", "upper"] - fc.loc["p0", "lower"] > 2


def test_a_product_with_only_returns_kept_forecasts_nothing_and_orders_nothing():
    """With keep_returns, a product whose every day is a return (at most 0) got an order of 1 or more."""
    panel = _late_starter_panel()
    panel["returns"] = -np.random.default_rng(2).poisson(1.0, len(panel)).astype(float)
    trained = fit(panel, TINY)
    fc = forecast(trained, panel, horizon=2).set_index("product").loc["returns"]
    assert (fc["forecast"] == 0).all() and (fc["upper"] == 0).all() and (fc["order_quantity"] == 0).all()


def test_a_product_that_starts_selling_after_calibration_borrows_the_catalogs_spread():
    panel = _late_starter_panel()
    trained = fit(panel.iloc[:-10], TINY)
    fc = forecast(trained, panel).set_index("product")  # 'new' has sold about 15 a day for 10 days now
    assert fc.loc["new", "upper"] - fc.loc["new", "lower"] > 3  # not a zero-width band around its forecast
    assert fc.loc["new", "order_quantity"] > fc.loc["new", "forecast"]
    assert fc.loc["dead", "order_quantity"] == 0
    assert trained.calibration.dormant.tolist() == [False, True, True]  # the model itself is unchanged


def test_a_huge_product_does_not_widen_a_small_products_band():
    rng = np.random.default_rng(0)
    history = np.column_stack([rng.poisson(1e8, 300), rng.poisson(3, 300)]).astype(float)
    actual = np.column_stack([rng.poisson(1e8, 28), rng.poisson(3, 28)]).astype(float)
    point = np.tile([1e8, 3.0], (28, 1))
    cal = calibrate(actual, point, history)
    lower, upper = cal.bounds(np.array([[1e8, 3.0]]), 0.8)
    assert upper[0, 1] < 10 and cal.order_quantity(np.array([[1e8, 3.0]]), 0.9)[0, 1] <= 8


@pytest.mark.parametrize("field,value", [("days", float("inf")), ("scale", "huge"), ("offsets", "huge"),
                                         ("growth", "huge"), ("level", "negative")])
def test_a_saved_calibration_out_of_range_is_refused(tmp_path, trained_small, field, value):
    """Even with its checksum made to match (the arrays live in calibration.npz, checksummed)."""
    import hashlib

    from forecaster.io.persistence import CALIBRATION_ARRAYS, CALIBRATION_FILE

    run = save(trained_small, tmp_path)
    meta = json.loads((run / "config.json").read_text())
    with np.load(run / CALIBRATION_FILE) as saved:
        cal = {**meta["calibration"], **{k: saved[k] for k in saved.files}}
    if value == "huge":
        cal[field] = np.asarray(cal[field]) * 1e300
    elif value == "negative":
        cal[field] = -np.ones_like(np.asarray(cal[field]))
    else:
        cal[field] = value
    np.savez(run / CALIBRATION_FILE, **{k: cal.pop(k) for k in CALIBRATION_ARRAYS if k in cal})
    meta["calibration"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in cal.items()}
    meta["sha256"][CALIBRATION_FILE] = hashlib.sha256((run / CALIBRATION_FILE).read_bytes()).hexdigest()
    (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ForecasterError, match="interval calibration"):
        load(run)


def test_an_all_zero_test_span_has_no_interval_score_ratio_rather_than_infinity():
    panel = make_panel(days=120)
    panel.iloc[:] = 0.0
    table = evaluate(fit(panel, TINY), panel).interval_overall(0.8)
    # nothing ever sold: no product is on sale, so no day is scored (NaN), and nothing is infinite
    assert table["interval_score_ratio"].isna().all() and table["coverage"].isna().all()
    assert not np.isinf(table.to_numpy(dtype=float)).any()


def test_wide_levels_beyond_what_the_calibration_days_support_are_flagged():
    actual, point, history, _, _ = _known_residuals(n=28)
    cal = calibrate(actual, point, history)
    assert 0.9 < cal.reliable_level < 0.95


def test_calm_calibration_days_widen_the_band_and_rough_ones_never_narrow_it():
    rng = np.random.default_rng(5)
    year = rng.normal(100, 20, (400, 3)).round().clip(0)
    calm = rng.normal(100, 5, (28, 3)).round().clip(0)
    point = np.full_like(calm, 100.0)
    history = np.vstack([year, calm])
    assert calm_factor(history, 28) > 1.5  # four times calmer: about sqrt(4) wider, capped at MAX_CALM
    rough = rng.normal(100, 60, (28, 3)).round().clip(0)
    assert calm_factor(np.vstack([year, rough]), 28) == 1.0
    assert calm_factor(calm, 28) == 1.0  # nothing before the calibration days to compare with
    plain = calibrate(calm, point, year)
    assert plain.widened == calm_factor(np.vstack([year, calm]), 28)
    lo, hi = plain.bounds(point, 0.8)
    unwidened = dataclasses.replace(plain, offsets=plain.offsets / plain.widened, shift=plain.shift / plain.widened)
    lo0, hi0 = unwidened.bounds(point, 0.8)
    assert np.allclose(hi - point, (hi0 - point) * plain.widened)
    assert Calibration.from_dict(plain.to_dict(), 3).widened == plain.widened  # saved with the run


def test_days_before_a_product_s_first_sale_do_not_calibrate_its_range():
    """A product that launched on the last calibration day: its forecasts of 5 on the days before, against
    no sales (it was not on sale), are not errors; with them its own quantiles would lean far below."""
    rng = np.random.default_rng(0)
    history = rng.poisson(10, size=(200, 2)).astype(float)
    actual = rng.poisson(10, size=(28, 2)).astype(float)
    point = np.full((28, 2), 10.0)
    actual[:27, 1], point[:27, 1] = 0.0, 5.0
    history[:, 1] = 0.0
    where = np.ones_like(actual, dtype=bool)
    where[:27, 1] = False
    with_launch = calibrate(actual, point, history, where=where)
    without = calibrate(actual, point, history)
    # the product's own lower quantiles: no longer the 27 days of "missing 5 units"
    assert with_launch.offsets[0, 1] > without.offsets[0, 1]


def test_the_per_product_quantiles_are_numpys_nanquantile_for_every_product_at_once():
    """Computed vectorised (numpy's nanquantile loops over products in Python); the same numbers, bit for bit,
    with NaN residuals left out, a product without any at 0, one with a single residual at that residual."""
    import warnings

    from forecaster.model.intervals import GRID, _quantiles

    rng = np.random.default_rng(3)
    for n, products in ((28, 40), (1, 3), (2, 5), (200, 300)):
        residuals = rng.normal(size=(n, products))
        residuals[rng.random((n, products)) < 0.3] = np.nan
        residuals[:, 0] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nan_to_num(np.nanquantile(residuals, GRID, axis=0))
        np.testing.assert_array_equal(_quantiles(residuals), expected)
