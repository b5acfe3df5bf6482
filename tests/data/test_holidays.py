"""Public holidays (issue 26): the calendar from the holidays package, its features, the country a file
suggests, the setting, and a network that learns a holiday's effect only when it is given the calendar."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, invoice_log
from forecaster import ForecastConfig, ForecasterError, fit
from forecaster.data.holidays import (HOLIDAY_FEATURES, calendar_name, holiday_dates, holiday_days, holiday_features,
                                      holiday_names, parse_calendar, suggest_country)
from forecaster.data.ingest import load_panel
from forecaster.io.persistence import load, save
from forecaster.model.features import calendar_features


def test_the_flags_around_ecuador_s_independence_day_of_2017():
    """10 August 2017, a Thursday, was moved to Friday the 11th (the package's observed day): the 10th was
    worked, so only the 11th is a holiday; the days before it, the day after, and the long weekend it made
    (Friday to Sunday) are flagged."""
    index = pd.date_range("2017-08-05", "2017-08-14")
    flags = pd.DataFrame(holiday_features(index, "EC"), index=index.strftime("%d"), columns=HOLIDAY_FEATURES)
    assert flags["holiday"].to_dict() == {d: float(d == "11") for d in flags.index}
    assert flags.loc["10", "holiday tomorrow"] == 1 and flags["holiday tomorrow"].sum() == 1
    assert flags.loc[["08", "09"], "holiday in 2-3 days"].eq(1).all() and flags["holiday in 2-3 days"].sum() == 2
    assert flags.loc["12", "holiday yesterday"] == 1 and flags["holiday yesterday"].sum() == 1
    assert flags["long weekend"].to_dict() == {d: float(d in ("11", "12", "13")) for d in flags.index}
    assert holiday_days(index, "EC").tolist() == [False, False, False, True, True, True, True, True, True, False]
    assert list(holiday_names(list(index), "EC").values()) == ["Declaration of Independence of Quito (observed)"]


def test_a_holiday_on_a_weekend_stays_beside_its_observed_weekday_and_a_bridge_makes_a_long_weekend():
    """US Independence Day 2020 fell on a Saturday: Friday the 3rd was off and the 4th still celebrated; the
    Friday, Saturday and Sunday are a long weekend. An ordinary weekend is not."""
    index = pd.date_range("2020-06-26", "2020-07-06")
    flags = pd.DataFrame(holiday_features(index, "US"), index=index.strftime("%d"), columns=HOLIDAY_FEATURES)
    assert flags["holiday"].to_dict() == {d: float(d in ("03", "04")) for d in flags.index}
    assert flags["long weekend"].to_dict() == {d: float(d in ("03", "04", "05")) for d in flags.index}


def test_future_dates_and_regions_come_from_the_package():
    assert pd.Timestamp("2031-12-25") in holiday_dates("DE", pd.Timestamp("2031-01-01"), pd.Timestamp("2031-12-31"))
    bavaria = holiday_dates("DE-BY", pd.Timestamp("2031-01-01"), pd.Timestamp("2031-12-31"))
    berlin = holiday_dates("DE-BE", pd.Timestamp("2031-01-01"), pd.Timestamp("2031-12-31"))
    assert pd.Timestamp("2031-01-06") in bavaria and pd.Timestamp("2031-01-06") not in berlin  # Epiphany
    assert calendar_name("US-CA") == "United States (California)" and calendar_name("gb") == "United Kingdom"


@pytest.mark.parametrize("text,message", [("XX", "Unknown holiday calendar 'XX'"),
                                          ("US-ZZ", "US has no region 'ZZ'"),
                                          ("=cmd|' /C calc'!A0", "Unknown holiday calendar")])
def test_an_unknown_calendar_is_refused_naming_it(text, message):
    with pytest.raises(ForecasterError, match=message):
        parse_calendar(text)
    with pytest.raises(ForecasterError, match="Invalid settings"):
        ForecastConfig(holidays=text)


def test_the_setting_reads_any_case_and_is_kept_in_a_saved_run(tmp_path):
    assert ForecastConfig(holidays=" us-ca ").holidays == "US-CA"
    assert ForecastConfig(holidays="ec").holidays == "EC"
    panel = pd.DataFrame(np.random.default_rng(0).poisson(5, (120, 2)).astype(float),
                         index=pd.date_range("2024-01-01", periods=120, freq="D", name="date"),
                         columns=pd.Index(["a", "b"], name="product"))
    trained = fit(panel, TINY.replace(holidays="DE"))
    loaded = load(save(trained, tmp_path / "run"))
    assert loaded.config.holidays == "DE"
    np.testing.assert_allclose(loaded.predict(panel, np.arange(100, 121)), trained.predict(panel, np.arange(100, 121)))
    run = next((tmp_path / "run").iterdir())  # a run saved before the long-weekend flag: said, not a bad weights file
    meta = json.loads((run / "config.json").read_text())
    del meta["holiday_features"]
    (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ForecasterError, match="saved with 4 holiday features per day; this version reads 5"):
        load(run)


def test_the_calendar_adds_its_flags_to_the_calendar_features():
    index = pd.date_range("2024-12-20", periods=10)
    plain, with_holidays = calendar_features(index, True), calendar_features(index, True, "DE")
    assert with_holidays.shape[1] == plain.shape[1] + len(HOLIDAY_FEATURES)
    np.testing.assert_array_equal(with_holidays[:, :plain.shape[1]], plain)
    assert with_holidays[5, plain.shape[1]] == 1  # 25 December


def test_a_country_column_suggests_its_calendar():
    assert suggest_country(pd.DataFrame({"Country": ["United Kingdom"] * 9 + ["France"]})) == "GB"
    assert suggest_country(pd.DataFrame({"store_country": [" ec", "EC"] * 5 + ["PE"]})) == "EC"
    # a trial: half DE, half FR was offered Germany "as the file's country column says": no one calendar fits
    assert suggest_country(pd.DataFrame({"country": ["DE", "FR"] * 5})) == ""
    assert suggest_country(pd.DataFrame({"Country": ["United Kingdom"] * 3 + ["France"]})) == ""
    assert suggest_country(pd.DataFrame({"Country": ["Unspecified", "Unspecified", "EIRE"]})) == ""
    assert suggest_country(pd.DataFrame({"Description": ["Germany mug"]})) == ""  # not a country column


def test_an_invoice_log_with_a_country_column_suggests_it():
    assert load_panel(invoice_log()).report.country == "GB"


def _holiday_lift_panel() -> pd.DataFrame:
    """Two products at 20 a day over three years, sold three times as much on German public holidays."""
    index = pd.date_range("2021-01-01", "2023-12-24", freq="D", name="date")
    rng = np.random.default_rng(0)
    lift = np.where(np.isin(index, holiday_dates("DE", index[0], index[-1])), 3.0, 1.0)
    values = rng.poisson(20 * lift[:, None], size=(len(index), 2)).astype(float)
    return pd.DataFrame(values, index=index, columns=pd.Index(["a", "b"], name="product"))


@pytest.mark.parametrize("holidays", ["DE", ""])
def test_a_network_given_the_calendar_expects_the_holiday_lift(holidays):
    """Tomorrow is Christmas Day: with Germany's calendar the forecast is about three times a normal day's;
    without it nothing in the features says so."""
    panel = _holiday_lift_panel()
    config = TINY.replace(model="global_cnn_lstm", holidays=holidays, epochs=40, conv_channels=16, hidden_size=16,
                          learning_rate=3e-3, batch_size=64, loss="mse")
    trained = fit(panel, config)
    tomorrow = trained.predict(panel, np.array([len(panel)]))[0]
    ordinary = trained.predict(panel, np.arange(len(panel) - 14, len(panel) - 7)).mean(axis=0)
    ratio = tomorrow / ordinary
    if holidays:
        assert (ratio > 1.8).all(), ratio
    else:
        assert (ratio < 1.3).all(), ratio


def test_a_country_of_origin_is_not_where_the_sales_were_made():
    assert suggest_country(pd.DataFrame({"Country of origin": ["China"] * 3})) == ""
    assert suggest_country(pd.DataFrame({"Country of origin": ["China"], "Country": ["Ecuador"]})) == "EC"


def test_a_region_the_package_spells_as_a_word_is_read_in_any_case():
    assert parse_calendar("de-augsburg") == ("DE", "Augsburg")
    assert ForecastConfig(holidays="DE-AUGSBURG").holidays == "DE-Augsburg"
