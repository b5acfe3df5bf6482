"""forecaster.io.charts: pure figure builders, tested without Streamlit."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from forecaster.io import charts
from forecaster.results.evaluation import compare
from forecaster.labels import label
from forecaster.model.trained import EpochRecord


@pytest.fixture()
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    index = pd.date_range("2024-01-01", periods=60, freq="D", name="date")
    values = rng.poisson([3, 20, 8], size=(60, 3)).astype(float)
    return pd.DataFrame(values, index=index, columns=pd.Index(["Tea", "Coffee", "Milk"], name="product"))


@pytest.fixture()
def evaluation(panel):
    days = np.arange(46, 60)
    values = panel.to_numpy()
    predicted = values[days].copy()
    predicted[:, 0] += 5  # Tea predicted badly, the others perfectly
    return compare(panel, {"network": predicted}, days)


def history(n: int, with_val: bool = True) -> list[EpochRecord]:
    return [EpochRecord(0, e, n, 1.0 / e, 1.2 / e if with_val else None, 1.3 / e, e * 0.1, n, e)
            for e in range(1, n + 1)]


def test_loss_curve_draws_train_validation_and_test_per_epoch():
    fig = charts.loss_curve(history(5), total_epochs=10, best_epoch=4)
    assert tuple(charts.loss_curve(history(40), total_epochs=1000).layout.xaxis.range) == (0.5, 50.5)
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["Training days", "Validation days", "Test days"]
    assert list(fig.data[0].x) == [1, 2, 3, 4, 5]
    assert fig.data[0].y[1] == pytest.approx(0.5)
    assert tuple(fig.layout.xaxis.range) == (0.5, 10.5)  # a short run spans all planned epochs
    assert any(s.x0 == 4 for s in fig.layout.shapes)


def test_loss_curve_without_validation_and_before_the_first_epoch():
    assert [t.name for t in charts.loss_curve(history(3, with_val=False)).data] == ["Training days", "Test days"]
    empty = charts.loss_curve([], total_epochs=10)
    assert "Waiting" in empty.layout.annotations[0].text


def test_loss_curve_says_when_its_test_loss_is_measured_on_a_sample():
    sampled = [dataclasses.replace(r, test_sample=8192) for r in history(3)]
    assert [t.name for t in charts.loss_curve(sampled).data][-1] == "Test days (a sample of 8,192 product-days)"
    mixed = sampled + history(2)  # an auto run: the multi-output candidate measured every test day
    assert [t.name for t in charts.loss_curve(mixed).data][-1] == "Test days (partly a sample of 8,192 product-days)"


def test_per_product_bars_are_sorted_and_coloured_by_beating_seasonal_naive(evaluation):
    fig = charts.per_product_mae_bar(evaluation.per_product)
    bars = [t for t in fig.data if t.type == "bar"]
    by_name = {t.name: list(t.y) for t in bars}
    assert by_name[charts.NOT_BEAT] == ["Tea"]
    assert set(by_name[charts.BEAT]) == {"Coffee", "Milk"}
    assert list(fig.layout.yaxis.categoryarray)[-1] == "Tea"  # largest error on top (y runs bottom-up)
    markers = [t for t in fig.data if t.type == "scatter"]
    assert markers and markers[0].name == label("seasonal_naive")


def test_per_product_bars_top_n_keeps_the_largest_errors(evaluation):
    fig = charts.per_product_mae_bar(evaluation.per_product, top_n=1)
    shown = [y for t in fig.data if t.type == "bar" for y in t.y]
    assert shown == ["Tea"]
    assert "the 1 worst" in fig.layout.title.text


def test_per_product_errors_rank_by_share_of_sales_not_by_size():
    """Issue 25: in units the biggest sellers were always on top. A slow seller missing half its sales is worse
    for its orders than a big one missing a tenth."""
    table = pd.DataFrame({"product": ["Big", "Slow", "Never"], "mae_network": [10.0, 1.0, 0.5],
                          "mae_seasonal_naive": [12.0, 1.5, 0.0], "error_pct": [0.10, 0.50, np.nan],
                          "bias": [0.0, -0.2, np.nan], "beats_seasonal_naive": [True, True, False]})
    assert list(charts.worst_first(table)["product"]) == ["Slow", "Big", "Never"]
    fig = charts.per_product_mae_bar(table)
    assert list(fig.layout.yaxis.categoryarray)[::-1] == ["Slow", "Big", "Never"]  # worst on top (y runs up)
    bars = {y: x for t in fig.data if t.type == "bar" for x, y in zip(t.x, t.y)}
    assert bars["Slow"] == pytest.approx(0.5) and bars["Big"] == pytest.approx(0.1)
    marker = next(t for t in fig.data if t.type == "scatter")
    assert list(marker.x)[:2] == pytest.approx([0.75, 0.12])  # seasonal naive's share on the same sales


def test_coverage_colours_say_too_narrow_and_too_wide_and_the_level_label_sits_above_the_bars():
    table = pd.DataFrame({"product": ["a", "b", "c"], "coverage": [0.5, 0.8, 1.0], "interval_score": [1.0, 1.0, 1.0]})
    fig = charts.coverage_per_product(table, 0.8)
    colour_of = {y: t.name for t in fig.data if t.type == "bar" for y in t.y}
    assert colour_of == {"a": charts.TOO_NARROW, "b": charts.NEAR_LEVEL, "c": charts.TOO_WIDE}
    note = fig.layout.annotations[0]
    assert note.text == "level 80%" and note.yref == "paper" and note.y >= 1.0


def test_actual_vs_predicted_shows_the_products_test_days(evaluation, panel):
    fig = charts.actual_vs_predicted(evaluation, "Tea", ["network", "seasonal_naive"])
    series = {t.name: np.asarray(t.y) for t in fig.data}
    assert set(series) == {"Actual", "Neural network", label("seasonal_naive")}
    np.testing.assert_allclose(series["Actual"], panel["Tea"].iloc[46:].to_numpy())
    np.testing.assert_allclose(series["Neural network"], panel["Tea"].iloc[46:].to_numpy() + 5)
    assert "Tea" in fig.layout.title.text


def test_verdict_says_when_the_network_does_not_beat_the_baselines(panel):
    days = np.arange(46, 60)
    worse = compare(panel, {"network": panel.to_numpy()[days] + 50}, days)
    assert "does NOT beat" in charts.verdict(worse)
    better = compare(panel, {"network": panel.to_numpy()[days]}, days)
    assert "beats every baseline" in charts.verdict(better)
    assert "3 of 3 products" in charts.verdict(better)


def test_total_daily_demand_sums_all_products(panel):
    fig = charts.total_daily_demand(panel)
    total = next(t for t in fig.data if t.name == "Units per day")
    np.testing.assert_allclose(np.asarray(total.y), panel.sum(axis=1).to_numpy())


def test_long_line_charts_are_drawn_as_svg_not_webgl():
    """plotly express switches a line chart of more than 1,000 rows to WebGL, which a browser without a
    graphics card emulates slowly: three years of daily demand, and a long history, stay SVG."""
    rng = np.random.default_rng(1)
    index = pd.date_range("2023-01-01", periods=1095, freq="D", name="date")
    long = pd.DataFrame(rng.poisson([3, 20], size=(1095, 2)).astype(float), index=index,
                        columns=pd.Index(["Tea", "Coffee"], name="product"))
    fc = pd.DataFrame({"date": [index[-1] + pd.Timedelta(days=1)] * 2, "product": ["Tea", "Coffee"],
                       "forecast": [3.0, 20.0]})
    figures = [charts.total_daily_demand(long), charts.history_and_forecast(long, fc, "Coffee", history_days=1095)]
    types = {t.type for fig in figures for t in fig.data}
    assert types == {"scatter"}, types


def test_top_products_orders_by_units_sold(panel):
    fig = charts.top_products(panel, n=2)
    assert list(fig.data[0].y) == ["Coffee", "Milk"]


def test_forecast_charts_and_table(panel):
    dates = pd.date_range("2024-03-01", periods=2, freq="D")
    fc = pd.DataFrame({"date": np.repeat(dates, 3), "product": ["Tea", "Coffee", "Milk"] * 2,
                       "forecast": [1.0, 9.0, 4.0, 2.0, 8.0, 5.0]})
    bar = charts.forecast_bar(fc)
    assert list(bar.data[0].y) == ["Coffee", "Milk", "Tea"]  # first day only, largest first
    assert bar.layout.title.text == "Forecast for Fri 01 Mar 2024"  # short enough for the page's column
    labels = next(t for t in bar.data if t.type == "scatter")  # values written past the bars, not under whiskers
    assert list(labels.text) == [" 9.0", " 4.0", " 1.0"] and labels.textposition == "middle right"
    day = charts.forecast_day_table(fc, dates[1])
    assert list(day["product"]) == ["Coffee", "Milk", "Tea"] and day.shape == (3, 2)  # one day, largest first
    hist_fc = charts.history_and_forecast(panel.set_axis(pd.date_range(end="2024-02-29", periods=60), axis=0),
                                          fc, "Coffee", history_days=30)
    lines = {t.name: t for t in hist_fc.data}
    assert len(lines["Actual sales"].x) == 30
    assert list(lines["Forecast"].y)[1:] == [9.0, 8.0]  # joined to the last actual day


def test_loss_curve_runs_networks_back_to_back_without_the_epochs_early_stopping_skipped():
    # two networks with a plan of 10 epochs each; the first stopped early after 3
    first = [EpochRecord(0, e, 10, 1.0, 1.0, 1.0, e, 20, e) for e in (1, 2, 3)]
    second = [EpochRecord(0, e, 10, 1.0, 1.0, 1.0, 3 + e, 20, 10 + e) for e in (1, 2)]
    fig = charts.loss_curve(first + second, total_epochs=20)
    assert list(fig.data[0].x) == [1, 2, 3, None, 4, 5]  # no gap from 4 to 10, a break between networks
    assert [s.x0 for s in fig.layout.shapes] == [3.5]
    assert "next network" in fig.layout.xaxis.title.text


def test_a_huge_product_name_is_cut_in_charts_and_two_cut_names_stay_apart():
    """A 100 KB product name squeezed the top-products chart to nothing."""
    from forecaster.text import MAX_LABEL

    long_a, long_b = "A" * 100_000, "A" * 99_999 + "B"
    index = pd.date_range("2024-01-01", periods=10, name="date")
    panel = pd.DataFrame({long_a: np.arange(10.0), long_b: np.ones(10), "<b>x</b>": np.zeros(10)}, index=index)
    fig = charts.top_products(panel)
    labels = list(fig.data[0].y)
    assert all(len(label) <= MAX_LABEL + 10 for label in labels) and len(set(labels)) == 3
    assert "&lt;b&gt;x&lt;/b&gt;" in labels  # still escaped


def test_one_spike_does_not_flatten_a_products_forecast_and_is_said_to_be_off_the_chart():
    """Issue 25: one day of 500 in a product selling about 5 squeezed its forecast into a flat line."""
    index = pd.date_range("2024-01-01", periods=60, freq="D")
    history = pd.DataFrame({"Tea": np.r_[np.full(30, 5.0), [500.0], np.full(29, 6.0)]}, index=index)
    fc = pd.DataFrame({"date": pd.date_range("2024-03-01", periods=3), "product": "Tea", "forecast": 5.5,
                       "lower": 3.0, "upper": 8.0, "order_quantity": 8.0})
    fig = charts.history_and_forecast(history, fc, "Tea", history_days=60)
    assert fig.layout.yaxis.range[1] < 50  # the forecast keeps its height
    assert "1 day(s) off the chart, up to 500" in fig.layout.annotations[0].text
    calm = charts.history_and_forecast(history.clip(upper=7), fc, "Tea", history_days=60)
    assert calm.layout.yaxis.range is None and not calm.layout.annotations


def test_backtest_lines_have_clearly_different_colours():
    table = pd.DataFrame({"origin": np.repeat([0, 1], 4), "test_start": np.repeat(pd.to_datetime(["2024-01-01", "2024-01-08"]), 4),
                          "method": ["network", "seasonal_naive", "naive", "moving_average_7"] * 2,
                          "MAE": np.arange(8.0), "coverage": np.linspace(0.5, 0.9, 8)})
    colours = [t.line.color for t in charts.backtest_chart(table).data]
    assert len(set(colours)) == 4


def test_a_day_with_nothing_forecast_keeps_a_readable_axis():
    fc = pd.DataFrame({"date": pd.Timestamp("2024-03-02"), "product": ["Tea", "Milk"], "forecast": 0.0,
                       "lower": 0.0, "upper": 0.0})
    assert tuple(charts.forecast_bar(fc).layout.xaxis.range) == (0, 1.0)
