"""Drivers read from a long file: which columns are offered, how they are read per product and day, how days
without a row are filled, and a future file's values, with errors naming the column, product, day or row."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import DataError, ForecasterError
from forecaster.config import IngestOptions, parse_driver
from forecaster.data.demo import promotion_demo_long
from forecaster.data.drivers import driver_days, future_template
from forecaster.data.ingest import load_future_drivers, load_panel


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


@pytest.fixture(scope="module")
def long_file() -> pd.DataFrame:
    frame = promotion_demo_long(n_products=3, days=60, seed=1)
    rng = np.random.default_rng(0)
    frame["event"] = np.where(frame["date"].dt.day == 1, "month start", "")  # a category, empty on most days
    frame["customers"] = rng.integers(50, 90, len(frame))  # observed only
    frame["vat_rate"] = 0.2  # a constant
    frame["order_id"] = np.arange(len(frame))  # an id
    frame["category"] = frame["product"].map({"P0": "food", "P1": "drink", "P2": "food"})  # the product's property
    frame["note"] = [f"text {i}" for i in range(len(frame))]  # too many values
    frame["units_copy"] = frame["quantity"]  # the quantity itself
    return frame


def test_columns_that_move_demand_are_offered_with_their_role_and_the_rest_is_not(long_file):
    report = load_panel(csv(long_file)).report
    offered = {c.name: c for c in report.driver_candidates}
    assert set(offered) == {"promo", "price", "event", "customers"}
    assert offered["promo"].role == offered["price"].role == offered["event"].role == "known"
    assert offered["customers"].role == "observed"
    assert offered["event"].kind == "category" and offered["event"].levels == ("month start",)


def test_a_driver_is_read_per_product_and_day_and_a_category_as_one_flag_per_value(long_file):
    result = load_panel(csv(long_file), IngestOptions(drivers=("promo", "price", "event", "customers")))
    drivers = result.drivers
    assert drivers.spec.channels == ("promo", "price", "event=month start", "customers")
    assert list(drivers.known) if hasattr(drivers, "known") else True
    assert drivers.spec.known.tolist() == [True, True, True, False]
    wide = long_file.pivot(index="date", columns="product", values="promo")
    np.testing.assert_array_equal(drivers.values[:, :, 0], wide.to_numpy())
    first = result.panel.index.day == 1
    assert (drivers.values[first, :, 2] == 1).all() and (drivers.values[~first, :, 2] == 0).all()
    assert result.drivers.products == tuple(result.panel.columns)


def test_days_without_a_row_are_filled_off_for_a_flag_and_with_the_last_price_and_said(long_file):
    sparse = long_file[~((long_file["product"] == "P1") & long_file["date"].between("2025-11-10", "2025-11-12"))]
    sparse = sparse.copy()
    sparse.loc[(sparse["product"] == "P1") & (sparse["date"] == "2025-11-09"), ["promo", "price"]] = [1, 7.5]
    result = load_panel(csv(sparse), IngestOptions(drivers=("promo", "price")))
    at = result.panel.index.get_indexer(pd.date_range("2025-11-10", "2025-11-12"))
    p1 = list(result.panel.columns).index("P1")
    assert (result.drivers.values[at, p1, 0] == 0).all()  # a flag without a row: off
    assert (result.drivers.values[at, p1, 1] == 7.5).all()  # a price without a row: the last one
    assert any("no row on 3 of" in note for note in result.report.notes)


def test_a_history_driver_cell_that_is_not_a_number_is_refused_naming_its_rows_not_filled(long_file):
    """A trial: promo written 'yes' on five rows of 1,200 was read as 'no row' and trained as no promotion,
    and price 'abc' took the last price, with a note that the rows were missing."""
    frame = long_file.astype({"promo": object, "price": object})
    frame.loc[[8, 11], "promo"] = "yes"
    with pytest.raises(DataError, match=r"'promo' holds numbers, but spreadsheet rows 10, 13 hold 'yes'"):
        load_panel(csv(frame), IngestOptions(drivers=("promo",)))
    frame = long_file.astype({"price": object})
    frame.loc[10, "price"] = "abc"
    with pytest.raises(DataError, match=r"'price' holds numbers, but spreadsheet row 12 holds 'abc'"):
        load_panel(csv(frame), IngestOptions(drivers=("price",)))


def test_a_driver_the_file_lacks_or_that_plays_another_role_is_refused_naming_it(long_file):
    with pytest.raises(DataError, match="no column 'discount'"):
        load_panel(csv(long_file), IngestOptions(drivers=("discount",)))
    with pytest.raises(DataError, match="'quantity' was chosen as a driver"):
        load_panel(csv(long_file), IngestOptions(drivers=("quantity",)))
    with pytest.raises(DataError, match="different values"):
        load_panel(csv(long_file), IngestOptions(drivers=("note",)))
    wide = long_file.pivot(index="date", columns="product", values="quantity").reset_index()
    wide["promo"] = 0
    with pytest.raises(DataError, match="long file"):
        load_panel(csv(wide), IngestOptions(format="wide", drivers=("promo",)))


def test_the_driver_setting_reads_role_and_default_and_refuses_what_cannot_be():
    assert parse_driver("promo").role == "known" and parse_driver("Customers").role == "observed"
    assert parse_driver("promo:known=0").default == "0"
    assert parse_driver("price:observed").role == "observed"
    with pytest.raises(ForecasterError, match="observed"):
        parse_driver("customers=3")
    with pytest.raises(ForecasterError, match="named twice"):
        IngestOptions(drivers=("promo", "promo:known=0"))


def test_a_future_file_gives_the_days_after_the_history_and_says_what_it_left_out(long_file):
    result = load_panel(csv(long_file), IngestOptions(drivers=("promo", "price", "customers")))
    last = result.panel.index[-1]
    days = pd.date_range(last - pd.Timedelta(days=1), periods=5)
    future = pd.DataFrame({"date": np.repeat(days, 4), "product": np.tile(["P0", "P1", "P2", "P9"], 5),
                           "promo": 1, "price": 8.0})
    panel, notes = load_future_drivers(csv(future), result.drivers, result.report.mapping, last)
    assert list(panel.dates) == list(pd.date_range(last + pd.Timedelta(days=1), periods=3))
    assert (panel.values[:, :, 0] == 1).all() and np.isnan(panel.values[:, :, 2]).all()  # observed: never read
    assert any("'P9'" in n for n in notes) and any("on or before the history's last day" in n for n in notes)
    with pytest.raises(DataError, match="no column 'price'"):
        load_future_drivers(csv(future.drop(columns="price")), result.drivers, result.report.mapping, last)
    with pytest.raises(DataError, match="no row for a product of the history"):
        load_future_drivers(csv(future[future["date"] <= last]), result.drivers, result.report.mapping, last)
    bad = future.astype({"price": object})
    bad.loc[9, "price"] = "cheap"
    with pytest.raises(DataError, match="spreadsheet row 11 holds 'cheap'"):
        load_future_drivers(csv(bad), result.drivers, result.report.mapping, last)


def test_a_missing_future_value_names_the_product_and_day_unless_a_default_was_chosen(long_file):
    result = load_panel(csv(long_file), IngestOptions(drivers=("promo", "price")))
    days = pd.date_range(result.panel.index[-1] + pd.Timedelta(days=1), periods=3)
    message = result.drivers.missing(days)
    assert "'promo' for product 'P0' on" in message and f"{days[0]:%d %b %Y}" in message and "8 more" in message
    assert result.drivers.missing(days, trading=np.zeros(3, dtype=bool)) == ""  # closed days need nothing
    defaulted = load_panel(csv(long_file), IngestOptions(drivers=("promo:known=0", "price:known=10"))).drivers
    filled = defaulted.with_defaults(days)
    assert filled.missing(days) == ""
    assert (filled.rows(days)[:, :, 0] == 0).all() and (filled.rows(days)[:, :, 1] == 10).all()


def test_a_what_if_sets_one_products_driver_on_chosen_days_only(long_file):
    drivers = load_panel(csv(long_file), IngestOptions(drivers=("promo:known=0", "price:known=10"))).drivers
    days = pd.date_range(drivers.dates[-1] + pd.Timedelta(days=1), periods=4)
    changed = drivers.with_defaults(days).with_value("P1", "promo", "1", days[1:2])
    promo = changed.rows(days)[:, :, 0]
    assert promo[1, 1] == 1 and promo.sum() == 1
    with pytest.raises(DataError, match="what-if value of the driver 'promo' must be a number"):
        drivers.with_value("P1", "promo", "lots", days[:1])


def test_driver_days_are_those_off_the_products_usual_value(long_file):
    drivers = load_panel(csv(long_file), IngestOptions(drivers=("promo", "price"))).drivers
    on = driver_days(drivers, drivers.dates)
    np.testing.assert_array_equal(on["promo"], drivers.values[:, :, 0] == 1)
    np.testing.assert_array_equal(on["price"], drivers.values[:, :, 1] == 8)


def test_the_template_lists_every_product_and_day_with_the_known_drivers_columns(long_file):
    result = load_panel(csv(long_file), IngestOptions(drivers=("promo:known=0", "price", "customers")))
    days = pd.date_range("2026-01-01", periods=2)
    template = future_template(result.drivers, "date", ("product",), days)
    assert list(template.columns) == ["date", "product", "promo", "price"]
    assert len(template) == 6 and (template["promo"] == "0").all() and (template["price"] == "").all()
    back, _ = load_future_drivers(csv(template.assign(price=9.0)), result.drivers, result.report.mapping,
                                  result.panel.index[-1])
    assert back.missing(days) == ""


def test_a_driver_named_in_another_case_finds_its_column(long_file):
    drivers = load_panel(csv(long_file), IngestOptions(drivers=("Promo", "PRICE:known=10"))).drivers
    assert drivers.spec.names == ("promo", "price") and drivers.spec.choices[1].default == "10"


def test_a_future_file_refuses_a_value_the_history_never_had_and_two_values_for_one_day(long_file):
    result = load_panel(csv(long_file), IngestOptions(drivers=("promo", "event:known", "price")))
    last = result.panel.index[-1]
    days = pd.date_range(last + pd.Timedelta(days=1), periods=2)
    future = pd.DataFrame({"date": days.repeat(3), "product": ["P0", "P1", "P2"] * 2, "promo": 0, "price": 10.0,
                           "event": ""})
    ok, _ = load_future_drivers(csv(future), result.drivers, result.report.mapping, last)
    assert ok.missing(days) == ""
    unseen = future.assign(event=["", "Cyber Monday", "", "", "", ""])
    with pytest.raises(DataError, match="'Cyber Monday' in spreadsheet row 3, a value the history never had"):
        load_future_drivers(csv(unseen), result.drivers, result.report.mapping, last)
    twice = pd.concat([future, future.iloc[[0]].assign(promo=1)])
    with pytest.raises(DataError, match="two values for 'P0' on .* \\(spreadsheet rows 2, 8\\)"):
        load_future_drivers(csv(twice), result.drivers, result.report.mapping, last)
    same = pd.concat([future, future.iloc[[0]].assign(promo=0.0)])  # the same value twice is one value
    load_future_drivers(csv(same), result.drivers, result.report.mapping, last)
    _, notes = load_future_drivers(csv(future.assign(price=-50.0)), result.drivers, result.report.mapping, last)
    assert any("price = -50 for 'P0'" in n and "is far from anything it had in the history (8 to 10)" in n for n in notes)


def test_a_future_file_names_products_as_our_csvs_write_them(long_file):
    """A template we wrote quotes a formula-like name ('=SUM(1)); read back, it is the same product."""
    odd = long_file.assign(product=long_file["product"].replace({"P1": "=SUM(1)"}))
    result = load_panel(csv(odd), IngestOptions(drivers=("promo:known=0",)))
    days = pd.date_range(result.panel.index[-1] + pd.Timedelta(days=1), periods=2)
    from forecaster.io.export import to_csv_bytes

    template = to_csv_bytes(future_template(result.drivers, "date", ("product",), days))
    assert b"'=SUM(1)" in template
    back, notes = load_future_drivers(template, result.drivers, result.report.mapping, result.panel.index[-1])
    assert notes == () and back.missing(days) == ""


def test_a_default_that_cannot_be_read_is_refused_when_the_file_is_read(long_file):
    with pytest.raises(DataError, match="value for days without one of the driver 'price' must be a number, not 'abc'"):
        load_panel(csv(long_file), IngestOptions(drivers=("price:known=abc",)))
    with pytest.raises(DataError, match="must be one of its values in the history \\('month start'\\) or none"):
        load_panel(csv(long_file), IngestOptions(drivers=("event:known=Blak Friday",)))
    assert load_panel(csv(long_file), IngestOptions(drivers=("event:known=none",))).drivers is not None


def test_an_observed_driver_keeps_its_last_value_on_later_forecast_days_and_an_open_flag_fills_open(long_file):
    """A forecast's later days read an observed driver on the day before, which nobody gives: its last value
    is carried (a blank would read as the product's lowest). A file listing sales only has no row on a day
    without one: its open flag is 1 there, not a closure."""
    sparse = long_file.assign(open=1)[long_file["quantity"] > 25]
    result = load_panel(csv(sparse), IngestOptions(drivers=("customers", "open")))
    drivers = result.drivers
    assert (drivers.values[:, :, 1] == 1).all()  # open on every day, rows or not
    days = pd.date_range(drivers.dates[-1] + pd.Timedelta(days=1), periods=3)
    carried = drivers.with_defaults(days).rows(days)[:, :, 0]
    assert (carried == drivers.values[-1, :, 0]).all()


def test_a_driver_setting_reads_back_to_itself_even_with_colons_and_equals_in_the_name():
    for text in ("promo", "promo:known=0", "Price (=EUR):known", "=x:observed", "a:b", "event:known=Black Friday"):
        choice = parse_driver(text)
        assert parse_driver(choice.text) == choice
    assert parse_driver("Price (=EUR):known=5").name == "Price (=EUR)"


def test_driver_numbers_are_read_as_ingest_reads_quantities(long_file):
    """A price written with thousands groups (1,000.00) is the number, read as ingest reads quantities; it was
    read as 1.000.00, not a number, and the column offered as a category."""
    grouped = long_file.assign(price=long_file["price"].map(lambda v: f"{v * 100:,.2f}"))
    result = load_panel(csv(grouped), IngestOptions(drivers=("price",)))
    assert {c.name: c.kind for c in result.report.driver_candidates}["price"] == "number"
    assert set(np.unique(result.drivers.values[:, :, 0])) == {800.0, 1000.0}
