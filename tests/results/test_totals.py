"""Lead-time totals: the sum of the expected demand, and a range read from sampled paths of the daily
distributions (never the sum of daily quantiles), wider the more a product's days err together."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from conftest import TINY
from forecaster import fit
from forecaster.errors import ForecasterError
from forecaster.model.intervals import Calibration, GRID, day_correlation
from forecaster.results.forecasting import (current_calibration, lead_time_total, point_forecast, totals,
                                           with_intervals)


def normal_calibration(products: int, correlation: float) -> Calibration:
    """Standard normal residual quantiles, one unit of spread, no level effect, no horizon growth."""
    from scipy.stats import norm

    offsets = np.repeat(norm.ppf(GRID)[:, None], products, axis=1)
    return Calibration(offsets, np.ones(products), np.ones(products), 0.0, np.ones(90), 28, correlation=correlation)


def points_of(days: int, products: int, mean: float = 10.0) -> pd.DataFrame:
    dates = pd.date_range("2025-01-01", periods=days, freq="D")
    return pd.DataFrame({"date": np.repeat(dates, products), "product": np.tile([f"p{i}" for i in range(products)], days),
                         "step": np.repeat(np.arange(1, days + 1), products), "forecast": mean,
                         "closed": False})


@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_a_total_has_the_spread_its_days_add_up_to(rho):
    """Seven days of N(10, 1) errors with correlation rho: the total is N(70, 7 (1 + 6 rho)); its 80 % range
    is that wide, far narrower than the sum of the daily ranges when the days err apart."""
    total = totals(points_of(7, 3), normal_calibration(3, rho), 7, level=0.8, service_level=0.9)
    sd = np.sqrt(7 * (1 + 6 * rho))
    assert np.allclose(total["forecast"], 70)
    np.testing.assert_allclose(total["median"], 70, atol=0.15 * sd)
    np.testing.assert_allclose(total["upper"] - total["lower"], 2 * 1.2816 * sd, rtol=0.08)
    np.testing.assert_allclose(total["order_quantity"], 70 + 1.2816 * sd, rtol=0.02)
    assert (total["upper"] - total["lower"] < 7 * 2 * 1.2816).all()  # the sum of the daily ranges
    assert (total["lower"] <= total["median"]).all() and (total["median"] <= total["upper"]).all()


def test_closed_days_add_nothing_to_a_total():
    points = points_of(7, 2).assign(closed=lambda d: d["date"].dt.day_of_week == 5)
    total = totals(points, normal_calibration(2, 0.0), 7)
    assert np.allclose(total["forecast"], 60)  # six open days of 10
    np.testing.assert_allclose(total["median"], 60, atol=0.5)  # six open days of N(10, 1)


def test_the_correlation_is_read_from_how_weekly_totals_of_errors_vary():
    rng = np.random.default_rng(0)
    independent = rng.standard_normal((400, 20))
    shared = independent * np.sqrt(0.5) + np.repeat(rng.standard_normal((80, 20)), 5, axis=0) * np.sqrt(0.5)
    assert day_correlation(independent) < 0.05
    assert day_correlation(shared) > 0.15
    assert day_correlation(independent[:10]) == 0.0  # too few days to say


def test_lead_time_total_of_a_trained_model_is_reproducible_and_consistent(small_panel):
    trained = fit(small_panel, TINY)
    a, b = lead_time_total(trained, small_panel, 5), lead_time_total(trained, small_panel, 5)
    pd.testing.assert_frame_equal(a, b)
    daily = point_forecast(trained, small_panel, 5)
    shown = with_intervals(daily, current_calibration(trained, small_panel))  # what the Forecast page shows
    np.testing.assert_allclose(a["forecast"], shown.groupby("product", sort=False)["forecast"].sum().to_numpy())
    assert (a["first_day"] == daily["date"].min()).all() and (a["days"] == 5).all()
    assert (a["order_quantity"] >= a["median"]).all() and (a["order_quantity"] % 1 == 0).all()
    with pytest.raises(ForecasterError, match="between 1 and 5"):
        totals(daily, trained.calibration, 6)


def test_a_saved_calibration_keeps_its_correlation_and_old_ones_load_without_it():
    cal = normal_calibration(2, 0.3)
    again = Calibration.from_dict(cal.to_dict(), 2)
    assert again.correlation == 0.3
    old = {k: v for k, v in cal.to_dict().items() if k != "correlation"}
    assert Calibration.from_dict(old, 2).correlation == 0.0
    with pytest.raises(ValueError):
        Calibration.from_dict({**cal.to_dict(), "correlation": 3.0}, 2)


def test_with_intervals_and_totals_agree_on_a_single_day():
    points = points_of(1, 4)
    cal = dataclasses.replace(normal_calibration(4, 0.0), integer=False)
    daily = with_intervals(points, cal, 0.8, 0.9)
    total = totals(points, cal, 1, 0.8, 0.9)
    np.testing.assert_allclose(total["upper"], daily["upper"], rtol=0.03)
    np.testing.assert_allclose(total["lower"], daily["lower"], rtol=0.03)


def test_totals_for_a_large_catalog_stay_bounded_in_memory():
    """Products go through the sampler in chunks: 1,000 products over 42 days is 84M draws in all."""
    total = totals(points_of(42, 1000, mean=1.0), normal_calibration(1000, 0.2), 42)
    assert len(total) == 1000 and np.isfinite(total[["lower", "upper"]].to_numpy()).all()


def test_a_product_that_never_sold_totals_zero():
    cal = dataclasses.replace(normal_calibration(2, 0.0), dormant=np.array([True, False]))
    total = totals(points_of(7, 2, mean=0.0), cal, 7)
    assert total.loc[0, ["lower", "median", "upper", "order_quantity"]].eq(0).all()


def _held_out_runs(runs: int, products: int, total_sd: float, seed: int = 0):
    """Held-out 7-day runs forecast at 10 a day whose actual totals spread ``total_sd`` about 70."""
    rng = np.random.default_rng(seed)
    point = np.full((runs, 7, products), 10.0)
    actual = point + rng.normal(0, total_sd / 7, (runs, 1, products))  # one miss a day, all week
    return actual, point, np.ones((runs, 7), dtype=bool)


@pytest.mark.parametrize("total_sd, wider", [(8.0, True), (0.5, False)])
def test_a_totals_range_follows_how_far_the_held_out_totals_fell(total_sd, wider):
    """With independent days assumed, a week of N(10, 1) days has a total of sd 2.6: held-out totals that
    miss by 8 widen the range until about 80 % of them fall inside; ones that hardly miss narrow it."""
    from forecaster.model.intervals import MIN_TOTAL_SPREAD, total_widening

    cal = normal_calibration(40, 0.0)
    actual, point, open_ = _held_out_runs(4, 40, total_sd)
    factor = total_widening(cal, actual, point, open_, level=0.8)
    assert (factor > 1.5) if wider else (factor == MIN_TOTAL_SPREAD)
    spread = dataclasses.replace(cal, total_spread=factor)
    fresh, _, _ = _held_out_runs(10, 40, total_sd, seed=1)  # new runs of the same kind
    total = totals(points_of(7, 40), spread, 7, level=0.8)
    sums = fresh.sum(axis=1)
    covered = ((sums >= total["lower"].to_numpy()) & (sums <= total["upper"].to_numpy())).mean()
    assert 0.7 <= covered <= 0.95 if wider else covered > 0.95
    assert Calibration.from_dict(spread.to_dict(), 40).total_spread == factor
    assert Calibration.from_dict({k: v for k, v in cal.to_dict().items() if k != "total_spread"}, 40).total_spread == 1.0


def test_too_few_held_out_totals_leave_the_range_as_sampled():
    from forecaster.model.intervals import total_widening

    actual, point, open_ = _held_out_runs(1, 5, 12.0)
    assert total_widening(normal_calibration(5, 0.0), actual, point, open_) == 1.0


def test_a_product_that_stopped_selling_is_flagged_and_orders_nothing_unless_asked(small_panel):
    """Issue 25: products with no sale in the last 56 days got orders like any other."""
    from forecaster.results.forecasting import STOPPED_DAYS, forecast, lead_time_total, stopped_selling

    panel = small_panel.copy()
    panel.iloc[-STOPPED_DAYS:, 1] = 0.0  # p1 stopped two months ago
    assert stopped_selling(panel).tolist() == [False, True, False]
    trained = fit(panel, TINY)
    fc = forecast(trained, panel, horizon=3)
    p1 = fc[fc["product"] == "p1"]
    assert p1["stopped"].all() and (p1["order_quantity"] == 0).all() and not fc.loc[fc["product"] != "p1", "stopped"].any()
    asked = forecast(trained, panel, horizon=3, order_stopped=True)
    assert (asked.loc[asked["product"] == "p1", "order_quantity"] >= 0).all()
    assert (asked.loc[asked["product"] != "p1", "order_quantity"].to_numpy() ==
            fc.loc[fc["product"] != "p1", "order_quantity"].to_numpy()).all()
    total = lead_time_total(trained, panel, days=7).set_index("product")
    assert total.loc["p1", "order_quantity"] == 0 and total.loc["p0", "order_quantity"] > 0
    assert stopped_selling(panel.iloc[:STOPPED_DAYS]).tolist() == [False] * 3  # too short a history to tell


def test_forecast_pieces_prepared_as_a_run_ends_are_the_ones_a_page_would_compute(small_panel):
    """prepare() (the dashboard's keeper calls it on the training thread) holds the calibration, each
    horizon's own point forecast (not the first days of a longer one: the level anchor rescales whole
    weeks) and the totals at the default levels, equal to computing them on the page."""
    from forecaster.results.forecasting import forecast, prepare

    trained = fit(small_panel, TINY.replace(epochs=2))
    prepared = prepare(trained, small_panel, (1, 28), (7,))
    assert sorted(prepared.points) == [1, 7, 28]
    for horizon in (1, 7, 28):
        pd.testing.assert_frame_equal(prepared.points[horizon], point_forecast(trained, small_panel, horizon))
    assert prepared.calibration.to_dict() == current_calibration(trained, small_panel).to_dict()
    calibration = current_calibration(trained, small_panel)
    pd.testing.assert_frame_equal(prepared.totals[(7, 0.8, 0.9, False)],
                                  totals(point_forecast(trained, small_panel, 7), calibration, 7, 0.8, 0.9))
    pd.testing.assert_frame_equal(prepared.forecast(28), forecast(trained, small_panel, 28))


def _steady_beside_stopped(stopped: int, days: int = 200, seed: int = 3) -> pd.DataFrame:
    """A planner's trial: 'Steady' sells 8-12 a day, ``stopped`` others sold 2-6 a day until 70 days before
    the end; Sundays closed."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=days, freq="D", name="date")
    columns = {"Steady": rng.integers(8, 13, days).astype(float)}
    for i in range(stopped):
        columns[f"gone{i}"] = np.r_[rng.integers(2, 7, days - 70), np.zeros(70)].astype(float)
    panel = pd.DataFrame(columns, index=index).rename_axis(columns="product")
    panel[index.day_of_week == 6] = 0.0
    return panel


def test_products_that_stopped_selling_do_not_widen_a_steady_products_ranges():
    """A planner's trial: five stopped products beside one steady seller made the calibration days look calm
    (every daily range twice as wide) and missed their 0.4-0.5 total ranges by a week of no sales (every
    total's range four times as wide): the steady product's 7-day total ran 20.5-103.3, order-up-to 103, for
    about 60 a week. Calm is read from the products that sold on those days; a total of whole units is judged
    to half a unit."""
    from forecaster.model.intervals import calm_factor, total_widening

    panel = _steady_beside_stopped(5, days=460)
    values = panel.to_numpy()
    assert calm_factor(values, 28) == pytest.approx(calm_factor(values[:, :1], 28)) and calm_factor(values, 28) < 1.2
    # held-out runs: Steady forecast about right, the stopped products forecast 0.07 a day and selling nothing
    rng = np.random.default_rng(0)
    runs, days = 4, 7
    point = np.concatenate([np.full((runs, days, 1), 10.0), np.full((runs, days, 5), 0.07)], axis=2)
    actual = np.concatenate([rng.integers(8, 13, (runs, days, 1)), np.zeros((runs, days, 5))], axis=2).astype(float)
    tight = dataclasses.replace(normal_calibration(6, 0.0), scale=np.r_[1.5, np.full(5, 0.02)], integer=True)
    factor = total_widening(tight, actual, point, np.ones((runs, days), dtype=bool))
    assert factor < 1.6  # 4.0, the most it may widen, before
    assert total_widening(tight, actual[..., :1], point[..., :1], np.ones((runs, days), dtype=bool)) < 1.6
