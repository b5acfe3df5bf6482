"""Closed days: found in the history (a weekday that never sells, a day nothing sold that the catalog almost
never has), named by the user, or switched off; and what they do to training spans and forecasts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, make_panel
from forecaster import fit, forecast
from forecaster.config import ForecastConfig
from forecaster.data.calendar import trading_calendar
from forecaster.errors import ForecasterError
from forecaster.model.windows import trading_split
from forecaster.results.forecasting import closed_doubts, closed_reasons, point_forecast


def shop(days: int = 399, products: int = 20, closed_weekday: int = 5, seed: int = 0) -> pd.DataFrame:
    """A shop that never opens on ``closed_weekday`` and closed one Christmas; its history ends on a Friday."""
    panel = make_panel(days, products, seed, start="2023-01-07")  # a Saturday: 399 days (57 weeks) end on a Friday
    panel.loc[panel.index.day_of_week == closed_weekday] = 0.0
    panel.loc[pd.Timestamp("2023-12-25")] = 0.0
    return panel


def test_a_weekday_without_sales_and_a_christmas_closure_are_found():
    panel = shop()
    cal = trading_calendar(panel)
    assert cal.closed_weekdays == (5,)
    closed_days = panel.index[cal.closed]
    assert set(closed_days.day_of_week) == {5, 0}  # every Saturday, and Monday 25 December
    assert pd.Timestamp("2023-12-25") in closed_days and (panel.index.day_of_week == 5).sum() == 57
    assert len(closed_days) == 58
    assert "no product sold on any Saturday" in cal.reason(pd.Timestamp("2024-02-10"))


def test_a_quiet_day_of_a_small_catalog_is_not_a_closure():
    """One product that sells on a few days: a day without sales is ordinary, and so is a weekday that
    happened to sell nothing in a handful of weeks."""
    rng = np.random.default_rng(1)
    index = pd.date_range("2024-01-01", periods=120, freq="D", name="date")
    panel = pd.DataFrame({"rare": rng.poisson(0.5, 120).astype(float)}, index=index)
    assert (panel["rare"] == 0).sum() > 40
    cal = trading_calendar(panel)
    assert cal.closed_weekdays == () and not cal.closed.any()
    short = shop(days=40)  # 5 or 6 Saturdays: too few to call the weekday closed
    assert trading_calendar(short).closed_weekdays == ()


def test_the_user_can_name_the_closed_weekdays_or_switch_them_off():
    panel = shop()
    assert not trading_calendar(panel, "off").closed.any()
    named = trading_calendar(panel, "sun")
    assert named.closed_weekdays == (6,) and named.named
    assert named.closed[panel.index.day_of_week == 6].all()
    assert pd.Timestamp("2023-12-25") in panel.index[named.closed]  # a closure is still a closure
    assert "Sundays are set as closed days" in named.reason(pd.Timestamp("2024-02-11"))
    with pytest.raises(ForecasterError, match="not a weekday"):
        ForecastConfig(closed_days="someday")


def test_closed_days_are_no_target_to_train_stop_or_score_on():
    panel = shop()
    config = TINY.replace(closed_days="auto")
    split = trading_split(panel, config)
    for days in (split.train, split.val, split.test):
        assert (panel.index[days].day_of_week != 5).all()
    assert len(split.test) == 14 - 2 and split.fit_end == len(panel) - 14  # two test Saturdays left out
    plain = trading_split(panel, config.replace(closed_days="off"))
    assert len(plain.test) == 14


def test_closed_days_are_forecast_zero_with_nothing_to_order_and_the_first_day_trades():
    panel = shop()
    assert panel.index[-1].day_of_week == 4  # history ends on a Friday: Saturday is closed
    trained = fit(panel, TINY)
    fc = forecast(trained, panel, horizon=14)
    days = fc.drop_duplicates("date")
    assert days["date"].iloc[0] == panel.index[-1] + pd.Timedelta(days=2)  # Sunday, the next trading day
    assert days["step"].tolist() == list(range(2, 16))
    saturdays = fc[fc["date"].dt.day_of_week == 5]
    assert len(saturdays) == 2 * panel.shape[1] and saturdays["closed"].all()
    assert (saturdays[["forecast", "lower", "median", "upper", "order_quantity"]] == 0).all().all()
    open_days = fc[~fc["closed"]]
    assert (open_days["forecast"] > 0).any() and (open_days["order_quantity"] > 0).any()
    assert list(closed_reasons(fc))[0] == panel.index[-1] + pd.Timedelta(days=1)


def test_without_closed_days_the_forecast_starts_tomorrow():
    panel = make_panel(120, 3)
    fc = point_forecast(fit(panel, TINY), panel, 2)
    assert fc["date"].min() == panel.index[-1] + pd.Timedelta(days=1) and not fc["closed"].any()
    assert fc["step"].tolist() == [1, 1, 1, 2, 2, 2]


def test_a_quiet_weekday_of_slow_movers_is_not_a_closed_weekday():
    """Two products selling about one day in ten: sixteen Wednesdays without a sale happen by chance (the
    chance of an empty day, 0.8, to the 16th power, is about 3 %), so Wednesday is not called closed; a busy
    shop's sixteen empty Wednesdays are."""
    rng = np.random.default_rng(7)
    index = pd.date_range("2025-01-06", periods=16 * 7, freq="D", name="date")
    slow = pd.DataFrame(rng.poisson(0.11, (len(index), 2)).astype(float), index=index, columns=["a", "b"])
    slow.loc[slow.index.day_of_week == 2] = 0.0
    assert trading_calendar(slow).closed_weekdays == ()
    busy = pd.DataFrame(rng.poisson(6.0, (len(index), 2)).astype(float), index=index, columns=["a", "b"])
    busy.loc[busy.index.day_of_week == 2] = 0.0
    cal = trading_calendar(busy)
    assert cal.closed_weekdays == (2,)
    assert "no product sold on any Wednesday in the last 16 weeks" in cal.reason(pd.Timestamp("2025-05-07"))


def _yearly_shop(end: str) -> pd.DataFrame:
    """20 products over three years, shut on Christmas Day, Boxing Day, New Year's Day and Good Friday."""
    panel = make_panel(pd.date_range("2021-01-01", end).size, 20, 0, start="2021-01-01")
    for day in ("12-25", "12-26", "01-01"):
        panel.loc[panel.index.strftime("%m-%d") == day] = 0.0
    panel.loc[pd.to_datetime(["2021-04-02", "2022-04-15", "2023-04-07"])] = 0.0  # Good Fridays
    return panel


def test_a_date_closed_every_earlier_year_is_closed_ahead_with_its_reason():
    """Issue 23: Christmas and New Year, shut in each of the history's years, are forecast closed (0, nothing
    to order) with the reason; Christmas Eve, which traded, is not."""
    panel = _yearly_shop("2023-12-20")
    points = point_forecast(fit(panel, TINY), panel, horizon=14)
    shut = sorted({d.strftime("%m-%d") for d in points.loc[points["closed"], "date"]})
    assert shut == ["01-01", "12-25", "12-26"]
    assert (points.loc[points["closed"], "forecast"] == 0).all()
    reasons = closed_reasons(points)
    assert reasons[pd.Timestamp("2023-12-25")] == "no product sold on 25 December in any of the 2 earlier years"
    import warnings

    import pyarrow as pa
    with warnings.catch_warnings():  # the reasons travel with the frame into Streamlit's tables (Arrow): no warning
        warnings.simplefilter("error")
        pa.Table.from_pandas(points)
    assert trading_calendar(panel, "off").future_closed(pd.date_range("2023-12-24", periods=3)).tolist() == \
        [False, False, False]  # the user's "every day trades" wins


def test_one_earlier_year_closes_a_public_holiday_ahead_and_only_casts_doubt_on_a_plain_date():
    """A planner's trial: 13 months of a shop shut on 25 December and 1 January (Mondays in 2023-24, trading
    weekdays) forecast 25 December 2024 at 20 with an order, without a word. One year of a plain date is no
    rule (a one-off closure), so it is said as a doubt; with a holiday calendar the public holiday closes."""
    panel = make_panel(pd.date_range("2023-11-21", "2024-12-20").size, 20, 0, start="2023-11-21")
    panel.loc[pd.to_datetime(["2023-12-25", "2024-01-01"])] = 0.0
    plain = trading_calendar(panel)
    christmas, new_year = pd.Timestamp("2024-12-25"), pd.Timestamp("2025-01-01")
    assert plain.future_closed(pd.DatetimeIndex([christmas, new_year])).tolist() == [False, False]
    assert plain.doubt(christmas) == "no product sold on 25 December 2023, the one earlier 25 December the history holds"
    assert plain.doubt(pd.Timestamp("2024-12-24")) == ""  # traded last year
    german = trading_calendar(panel, holidays="DE")
    assert german.future_closed(pd.DatetimeIndex([christmas, new_year])).tolist() == [True, True]
    assert german.reason(christmas) == "no product sold on Christmas Day in its one earlier year"
    assert german.doubt(christmas) == ""
    points = point_forecast(fit(panel, TINY), panel, horizon=14)
    assert list(closed_doubts(points)) == [christmas, new_year]  # what the page and the CLI say


def test_a_moving_holiday_closed_every_year_is_closed_ahead_only_with_its_calendar():
    """Good Friday moves: with Germany's calendar it is found closed every earlier year; without one it is not."""
    panel = _yearly_shop("2024-03-20")
    good_friday = pd.date_range("2024-03-29", periods=1)
    with_calendar = trading_calendar(panel, holidays="DE")
    assert with_calendar.future_closed(good_friday).tolist() == [True]
    assert with_calendar.reason(good_friday[0]) == "no product sold on Good Friday in any of the 3 earlier years"
    assert trading_calendar(panel).future_closed(good_friday).tolist() == [False]
    assert trading_calendar(panel, holidays="DE").future_closed(pd.date_range("2024-04-01", periods=1)).tolist() \
        == [False]  # Easter Monday traded


def test_a_year_the_date_fell_on_a_closed_weekday_is_no_evidence():
    """Shut on Sundays: Christmas 2022 was a Sunday, so only 2021's (a Saturday, shut) says the shop closes on
    Christmas: one year, too few to close Christmas 2023."""
    from forecaster.data.calendar import TradingCalendar

    dates = pd.date_range("2021-01-01", "2023-12-20")
    closed = (dates.day_of_week == 6) | (dates == pd.Timestamp("2021-12-25"))
    cal = TradingCalendar(dates, np.asarray(closed), (6,))
    assert cal.future_closed(pd.DatetimeIndex(["2023-12-25"])).tolist() == [False]
    shut_2022 = TradingCalendar(dates, np.asarray(closed | (dates == pd.Timestamp("2022-12-26"))), (6,))
    assert not shut_2022.future_closed(pd.DatetimeIndex(["2023-12-25"]))[0]  # another date shut: not Christmas


def _weekday_lunch_shop(days: int = 420, seed: int = 4) -> pd.DataFrame:
    """Sundays closed; 'Bread' sells every trading day, 'Lunch' Monday to Friday only, 'Slow' one day in ten."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=days, freq="D", name="date")
    weekday = index.day_of_week.to_numpy()
    panel = pd.DataFrame({"Bread": rng.poisson(20, days), "Lunch": rng.poisson(10, days) * (weekday < 5),
                          "Slow": rng.binomial(1, 0.1, days)}, index=index).astype(float).rename_axis(columns="product")
    panel[weekday == 6] = 0.0
    return panel


def test_a_product_that_never_sells_on_a_weekday_the_shop_trades_is_forecast_0_that_day():
    """A planner's trial: a product with no sale on any of 57 Saturdays (the shop open, others selling) was
    forecast 1.3 with an order of 2 each Saturday. A slow seller's weekday is not closed by luck (7P tests),
    and "off" makes every day trade for every product."""
    panel = _weekday_lunch_shop()
    panel.loc[(panel.index.day_of_week == 1), "Slow"] = 0.0  # by luck no Tuesday sale in a year: 0.9^52 = 0.4 %
    off = trading_calendar(panel).product_off_weekdays
    assert off[:, 1].tolist() == [False] * 5 + [True, False]  # Lunch: Saturday (Sunday is the shop's own)
    assert not off[:, 0].any() and not off[:, 2].any()
    assert not trading_calendar(panel, "off").product_off_weekdays.any()
    fc = forecast(fit(panel, TINY), panel, horizon=14)
    lunch = fc[fc["product"] == "Lunch"]
    saturday = lunch["date"].dt.day_of_week == 5
    assert saturday.sum() == 2 and (lunch.loc[saturday, ["forecast", "upper", "order_quantity"]] == 0).all().all()
    assert lunch.loc[saturday, "closed"].all() and (lunch.loc[~saturday & ~lunch["closed"], "forecast"] > 0).all()
    assert fc.attrs["unsold_weekdays"] == {"Lunch": ["Saturday"]}
    assert not fc.loc[(fc["product"] == "Bread") & (fc["date"].dt.day_of_week == 5), "closed"].any()
