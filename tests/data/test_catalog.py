"""Product names and keys of several columns (issue 25): a name column is found, carried beside the code into
every table and CSV, and a key of several columns is exported as those columns."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from forecaster import DataError
from forecaster.config import IngestOptions
from forecaster.data.catalog import display_names, with_catalog
from forecaster.data.ingest import load_panel
from forecaster.io.export import forecast_table, to_csv_bytes

from conftest import invoice_log


def test_an_invoice_logs_description_is_found_and_each_code_gets_its_usual_name():
    result = load_panel(invoice_log())
    assert result.report.mapping.name_col == "Description"
    assert "names in 'Description'" in result.report.mapping.describe()
    assert list(result.catalog.index) == list(result.panel.columns)
    assert result.catalog.loc["22960", "name"] == "JAM MAKING SET WITH JARS"  # not the rare second spelling
    names = display_names(result.panel.columns, result.catalog)
    assert names["22960"] == "JAM MAKING SET WITH JARS (22960)"


def test_a_column_shared_by_many_products_is_not_a_name_and_a_file_without_one_has_codes_only():
    log = pd.read_csv(io.BytesIO(invoice_log()), dtype=str).drop(columns=["Description"])
    result = load_panel(log.to_csv(index=False).encode())
    assert result.report.mapping.name_col is None  # Country names every product alike
    assert result.catalog.shape == (4, 0)
    assert display_names(["22960"], result.catalog) == {"22960": "22960"}


def test_a_chosen_name_column_wins_none_means_codes_and_a_clash_is_refused():
    data = invoice_log(days=40)
    assert load_panel(data, IngestOptions(name_col="")).report.mapping.name_col is None
    assert load_panel(data, IngestOptions(name_col="Country")).catalog["name"].eq("United Kingdom").all()
    with pytest.raises(DataError, match="another role"):
        load_panel(data, IngestOptions(product_cols=("StockCode",), name_col="StockCode"))
    with pytest.raises(DataError, match="Nope"):
        load_panel(data, IngestOptions(name_col="Nope"))


def test_a_key_of_two_columns_is_exported_as_those_columns_with_the_name():
    rows = [(f"2024-01-{d:02d}", store, item, f"{item} the {kind}", d % 5 + 1)
            for d in range(1, 29) for store in ("CA_1", "TX_2") for item, kind in (("FOODS_1", "soup"), ("HOBBY_9", "kite"))]
    data = pd.DataFrame(rows, columns=["date", "store_id", "item_id", "item_name", "qty"]).to_csv(index=False).encode()
    result = load_panel(data, IngestOptions(product_cols=("store_id", "item_id")))
    assert list(result.panel.columns)[0] == "CA_1 / FOODS_1"
    assert result.report.mapping.name_col == "item_name"
    fc = pd.DataFrame({"date": pd.Timestamp("2024-01-29"), "product": list(result.panel.columns), "forecast": 1.0})
    table = forecast_table(fc, result.catalog)
    assert list(table.columns[:5]) == ["date", "product", "store_id", "item_id", "name"]
    assert table.loc[table["product"] == "TX_2 / HOBBY_9", ["store_id", "item_id", "name"]].iloc[0].tolist() == \
        ["TX_2", "HOBBY_9", "HOBBY_9 the kite"]


def test_names_in_a_csv_are_neutralised_like_every_cell_and_missing_products_stay_blank():
    catalog = pd.DataFrame({"name": ["=HYPERLINK(\"http://x\")", "Plain"]}, index=pd.Index(["a", "b"], name="product"))
    table = with_catalog(pd.DataFrame({"product": ["a", "b", "c"], "forecast": [1.0, 2.0, 3.0]}), catalog)
    text = to_csv_bytes(table).decode()
    assert "'=HYPERLINK" in text and "\nc,," in text.replace("\r", "")
    assert with_catalog(table, None) is table


def _with_non_sales(days: int = 40) -> bytes:
    log = pd.read_csv(io.BytesIO(invoice_log(days=days)), dtype=str)
    extra = pd.DataFrame([["600001", "POST", "POSTAGE", "1", "2011-01-05 10:00:00", "18.00", "12345.0", "France"],
                          ["600002", "M", "Manual", "1", "2011-01-06 10:00:00", "500.00", "12346.0", "United Kingdom"],
                          ["600004", "90001", "DISCOUNT line", "1", "2011-01-08 10:00:00", "5.00", "", "United Kingdom"],
                          ["600003", "22960", "JAM MAKING SET WITH JARS", "5568", "2011-01-07 10:00:00", "0", "",
                           "United Kingdom"]], columns=log.columns)
    return pd.concat([log, extra]).to_csv(index=False).encode()


def test_postage_manual_discount_and_zero_price_lines_are_listed_and_left_out_unless_kept():
    """Issue 25: 'M' (Manual) was the worst product on Evaluate, POST was forecast like an item, and a stock
    adjustment at price 0 counted as 5,568 units sold in a day."""
    result = load_panel(_with_non_sales())
    excluded = result.report.excluded.set_index("product")
    assert set(excluded.index) == {"POST", "M", "90001", "22960"}
    assert "price 0" in excluded.loc["22960", "reason"] and excluded.loc["22960", "units"] == 5568
    assert "name says" in excluded.loc["90001", "reason"] and excluded.loc["M", "name"] == "Manual"
    assert not {"POST", "M", "90001"} & set(result.panel.columns)
    assert result.panel["22960"].max() < 100  # the adjustment is not a day's sales
    kept = load_panel(_with_non_sales(), IngestOptions(keep_non_sales=True))
    assert {"POST", "M", "90001"} <= set(kept.panel.columns)
    assert "22960" in set(kept.report.extremes["product"])  # kept, it is the extreme day it looks like
    assert kept.report.non_sales_kept and kept.report.excluded is not None


def test_a_file_of_nothing_but_non_sales_is_refused_naming_them_and_how_to_keep_them():
    rows = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice\n" + "".join(
        f"5{d:05d},{code},{name},1,2011-01-{d:02d} 10:00,{price}\n" for d in range(1, 29)
        for code, name, price in (("POST", "POSTAGE", "18"), ("M", "Manual", "3")))
    with pytest.raises(DataError, match="not a sale .*'POST'.*keep-non-sales"):
        load_panel(rows.encode())
    assert load_panel(rows.encode(), IngestOptions(keep_non_sales=True)).panel.shape[1] == 2


def test_a_real_product_whose_name_merely_contains_such_letters_is_kept():
    rows = "date,product,description,qty\n" + "".join(
        f"2024-01-{d:02d},{code},{name},2\n" for d in range(1, 29)
        for code, name in (("C1", "COFFEE MUG"), ("P2", "POSTCARD SET"), ("MM", "MANUALLY GROUND PEPPER")))
    result = load_panel(rows.encode())
    assert result.report.excluded is None and result.panel.shape[1] == 3


def test_a_price_column_with_cells_that_are_not_numbers_does_not_refuse_the_file():
    """Review: the price column is found by its name, not chosen; one 'free' cell refused the whole file."""
    log = pd.read_csv(io.BytesIO(_with_non_sales()), dtype=str)
    log.loc[log.index[5], "UnitPrice"] = "free"
    result = load_panel(log.to_csv(index=False).encode())
    assert "22960" in set(result.report.excluded["product"])  # the parsed 0 still found


def test_a_chosen_name_column_may_not_be_the_detected_date_or_quantity():
    with pytest.raises(DataError, match="another role"):
        load_panel(invoice_log(days=40), IngestOptions(name_col="InvoiceDate"))
    with pytest.raises(DataError, match="another role"):
        load_panel(invoice_log(days=40), IngestOptions(name_col="Quantity"))
