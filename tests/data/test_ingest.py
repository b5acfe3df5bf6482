"""Ingest: every accepted CSV shape becomes the right daily panel, and every rejection is a DataError
whose message names the column or the first offending rows."""
from __future__ import annotations

import gzip
import io
import re

import numpy as np
import pandas as pd
import pytest

from forecaster import DataError, ForecastConfig, ForecasterError, IngestOptions, fit, load_panel
from forecaster.model.windows import chronological_split


def panel_of(data: bytes, **options) -> pd.DataFrame:
    return load_panel(data, IngestOptions(**options)).panel


def days(*isodates: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(list(isodates)))


LONG = (b"date,product,quantity\n"
        b"2024-01-01,A,3\n"
        b"2024-01-01,A,2\n"
        b"2024-01-01,B,1\n"
        b"2024-01-03,B,4\n"
        b"2024-01-04,A,-2\n"
        b"2024-01-04,B,6\n")


# --- accepted shapes -------------------------------------------------------------------------------------

def test_long_format_sums_rows_per_day_and_product_and_fills_gaps_with_zero():
    result = load_panel(LONG)
    panel = result.panel
    assert result.report.mapping.format == "long"
    assert list(panel.columns) == ["A", "B"]
    assert panel.index.equals(pd.date_range("2024-01-01", "2024-01-04", freq="D"))
    assert panel.loc["2024-01-01", "A"] == 5.0  # 3 + 2 summed
    assert panel.loc["2024-01-02"].tolist() == [0.0, 0.0]  # a day with no sales at all
    assert panel.loc["2024-01-03"].tolist() == [0.0, 4.0]
    assert panel.dtypes.eq(float).all()


def test_returns_are_dropped_by_default_and_counted():
    result = load_panel(LONG)
    assert result.report.returns_dropped == 1
    assert result.report.returns_kept == 0
    assert (result.panel >= 0).all().all()
    assert result.panel.loc["2024-01-04", "A"] == 0.0
    assert result.panel.loc["2024-01-04", "B"] == 6.0


def test_returns_are_kept_with_keep_returns():
    result = load_panel(LONG, IngestOptions(keep_returns=True))
    assert result.report.returns_kept == 1
    assert result.report.returns_dropped == 0
    assert result.panel.loc["2024-01-04", "A"] == -2.0


@pytest.mark.parametrize("text_helper", ["weekday name", "day_name", "Month name"])
def test_wide_format_ignores_helper_columns_and_the_row_total(text_helper):
    index = pd.date_range("2024-01-01", periods=14, freq="D")
    rng = np.random.default_rng(0)
    products = pd.DataFrame(rng.integers(0, 9, (14, 3)), columns=["Apples", "Pears", "Plums"])
    table = pd.DataFrame({"date": index.strftime("%Y-%m-%d"), "year": index.year, "month": index.month,
                          "weekday": index.day_of_week, text_helper: index.day_name(), "hour": 0})
    table = pd.concat([table, products, products.sum(axis=1).rename("Row total")], axis=1)
    result = load_panel(table.to_csv(index=False).encode())
    assert result.report.mapping.format == "wide"
    assert list(result.panel.columns) == ["Apples", "Pears", "Plums"]
    assert result.panel.to_numpy().tolist() == products.to_numpy(dtype=float).tolist()


def test_a_last_day_with_only_returns_is_a_day_of_zero_sales_not_missing():
    """Otherwise "tomorrow" would be a day that already happened."""
    result = load_panel(b"date,product,quantity\n2024-01-01,A,3\n2024-01-02,A,2\n2024-01-03,A,-1\n")
    assert result.panel.index[-1] == pd.Timestamp("2024-01-03")
    assert result.panel["A"].tolist() == [3.0, 2.0, 0.0]
    assert result.report.end == pd.Timestamp("2024-01-03") and result.report.days == 3


def test_rows_without_a_product_are_skipped_and_reported():
    result = load_panel(b"date,product,quantity\n2024-01-01,A,3\n2024-01-02,,4\n2024-01-03,A,1\n")
    assert result.report.rows_without_product == 1
    assert result.panel["A"].tolist() == [3.0, 0.0, 1.0]
    assert any("row 3" in note for note in result.report.notes)


def test_wide_format_negative_cells_are_returns_dropped_by_default():
    data = b"date,Apples,Pears\n2024-01-01,3,-1\n2024-01-02,1,2\n2024-01-03,5,0\n"
    result = load_panel(data)
    assert result.report.returns_dropped == 1
    assert result.panel.loc["2024-01-01", "Pears"] == 0.0
    assert load_panel(data, IngestOptions(keep_returns=True)).panel.loc["2024-01-01", "Pears"] == -1.0


def test_transactions_floor_timestamps_to_days_and_count_rows_without_a_quantity_column():
    data = (b"InvoiceNo,InvoiceDate,StockCode,Country\n"
            b"1,2024-01-01 09:15,X1,UK\n"
            b"1,2024-01-01 23:59,X1,UK\n"
            b"2,2024-01-02 00:00,X2,UK\n"
            b"3,2024-01-04 17:40,X1,FR\n")
    result = load_panel(data)
    m = result.report.mapping
    assert (m.format, m.date_col, m.product_cols, m.quantity_col) == ("transactions", "InvoiceDate", ("StockCode",), None)
    panel = result.panel
    assert panel.index.equals(pd.date_range("2024-01-01", "2024-01-04", freq="D"))
    assert panel["X1"].tolist() == [2.0, 0.0, 0.0, 1.0]  # 23:59 stays on Jan 1; each row is one unit
    assert panel["X2"].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_transaction_log_uses_quantity_and_ignores_price_customer_and_cancellations():
    data = (b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
            b"536365,85123A,WHITE HANGING HEART,6,12/01/2010 08:26,2.55,17850,United Kingdom\n"
            b"536366,85123A,WHITE HANGING HEART,4,12/01/2010 09:01,2.55,17850,United Kingdom\n"
            b"536367,71053,WHITE METAL LANTERN,2,12/02/2010 10:00,3.39,13047,United Kingdom\n"
            b"C536379,71053,WHITE METAL LANTERN,-1,12/03/2010 09:41,3.39,14527,United Kingdom\n"
            b"536380,71053,WHITE METAL LANTERN,3,12/03/2010 11:41,3.39,14527,United Kingdom\n")
    result = load_panel(data)
    m = result.report.mapping
    assert m.format == "transactions" and m.quantity_col == "Quantity" and m.date_col == "InvoiceDate"
    assert result.report.returns_dropped == 1
    panel = result.panel
    assert panel.index.equals(pd.date_range("2010-12-01", "2010-12-03", freq="D"))
    assert panel.sum().sum() == 6 + 4 + 2 + 3
    assert panel.loc["2010-12-01"].max() == 10.0  # 6 + 4 of one product on one day, not the price


def test_multi_column_product_key_is_joined_into_one_name():
    data = (b"date,store,item,units\n"
            b"2024-01-01,S1,I1,2\n"
            b"2024-01-01,S2,I1,3\n"
            b"2024-01-02,S1,I1,1\n"
            b"2024-01-02,S1,I2,7\n")
    panel = panel_of(data, product_cols=("store", "item"))
    assert list(panel.columns) == ["S1 / I1", "S1 / I2", "S2 / I1"]
    assert panel["S1 / I1"].tolist() == [2.0, 1.0]
    assert panel["S2 / I1"].tolist() == [3.0, 0.0]
    # detected without the override too: a store column next to the item column
    assert list(panel_of(data).columns) == ["S1 / I1", "S1 / I2", "S2 / I1"]


def test_day_first_dates_are_detected_from_a_day_above_twelve():
    data = b"date,product,quantity\n13/01/2024,A,1\n14/01/2024,A,2\n02/01/2024,A,5\n"
    result = load_panel(data)
    assert result.report.dayfirst is True
    panel = result.panel
    assert panel.index[0] == pd.Timestamp("2024-01-02") and panel.index[-1] == pd.Timestamp("2024-01-14")
    assert panel.loc["2024-01-02", "A"] == 5.0 and panel.loc["2024-01-13", "A"] == 1.0
    assert len(panel) == 13


def test_dayfirst_option_is_honoured_for_ambiguous_dates():
    data = b"date,product,quantity\n01/05/2024,A,1\n02/05/2024,A,2\n03/05/2024,A,5\n"
    panel = panel_of(data, dayfirst=True)
    assert panel.index.equals(days("2024-05-01", "2024-05-02", "2024-05-03"))
    assert panel["A"].tolist() == [1.0, 2.0, 5.0]
    # read month-first these are 5 Jan, 5 Feb, 5 Mar: not daily data, so it is rejected rather than misread
    with pytest.raises(DataError):
        panel_of(data, dayfirst=False)


def test_semicolon_delimiter_with_decimal_comma():
    data = "date;product;quantity\n2024-01-01;Café;1,5\n2024-01-02;Café;2\n2024-01-02;Tea;3\n".encode()
    panel = panel_of(data)
    assert list(panel.columns) == ["Café", "Tea"]
    assert panel["Café"].tolist() == [1.5, 2.0]


@pytest.mark.parametrize("header", ["Datum;Artikel;Menge", "Fecha;Producto;Cantidad", "Datum;Artikel;Wert"])
def test_an_excel_export_with_decimal_quantities_under_a_foreign_or_plain_header_reads_them(header):
    """A planner's trial: 'Menge' with 14,56 kg a day was left out and every row counted as one unit. A named
    quantity is found by its name; an unknown one (Wert) because each product has one row a day."""
    rows = [f"{d:02d}/01/2024;Käse;{10 + d},5{d % 10}\r\n{d:02d}/01/2024;Brötchen;{30 + d % 3},4" for d in range(13, 31)]
    data = b"\xef\xbb\xbf" + (header + "\r\n" + "\r\n".join(rows) + "\r\n").encode()
    result = load_panel(data)
    assert result.report.mapping.format == "long" and result.report.mapping.quantity_col == header.split(";")[2]
    assert result.panel.loc["2024-01-13", "Käse"] == 23.53 and result.panel.loc["2024-01-14", "Brötchen"] == 32.4


def test_a_log_read_as_one_unit_a_row_with_one_row_per_product_day_says_so():
    """Two unknown numbers: neither is guessed as the quantity, and the reading says what counting rows means."""
    data = b"date,product,a,b\n2024-01-01,X,1.5,2.5\n2024-01-02,X,3.5,1.5\n2024-01-02,Y,2.5,4.5\n"
    result = load_panel(data)
    assert result.report.mapping.format == "transactions" and result.report.mapping.quantity_col is None
    assert any("every day 0 or 1 unit" in n and "'a' or 'b'" in n for n in result.report.notes)


def test_utf8_with_bom_reads_the_first_column_name_cleanly():
    result = load_panel(b"\xef\xbb\xbf" + LONG)
    assert result.report.mapping.date_col == "date"
    assert result.panel.loc["2024-01-01", "A"] == 5.0


def test_latin1_file_falls_back_and_keeps_accented_names():
    data = "date,product,quantity\n2024-01-01,Café,1\n2024-01-02,Crème brûlée,2\n".encode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the point of the test: not valid UTF-8
    panel = panel_of(data)
    assert list(panel.columns) == ["Café", "Crème brûlée"]


def test_gzip_bytes_and_gz_files_are_unpacked(tmp_path):
    assert load_panel(gzip.compress(LONG)).panel.equals(load_panel(LONG).panel)
    path = tmp_path / "purchases.csv.gz"
    path.write_bytes(gzip.compress(LONG))
    assert load_panel(path).panel.equals(load_panel(LONG).panel)


def test_file_like_upload_is_read():
    class Upload:  # what Streamlit's UploadedFile offers
        def getvalue(self) -> bytes:
            return LONG

    assert load_panel(Upload()).panel.equals(load_panel(LONG).panel)


def test_explicit_column_overrides_win_over_detection():
    data = (b"order_date,ship_date,sku,category,quantity,units_returned\n"
            b"2024-01-01,2024-01-05,A,fruit,3,1\n"
            b"2024-01-02,2024-01-06,B,fruit,4,2\n"
            b"2024-01-03,2024-01-07,A,veg,5,3\n")
    detected = load_panel(data).report.mapping
    assert (detected.date_col, detected.product_cols, detected.quantity_col) == ("order_date", ("sku",), "quantity")
    result = load_panel(data, IngestOptions(date_col="ship_date", product_cols=("category",),
                                            quantity_col="units_returned"))
    m = result.report.mapping
    assert (m.date_col, m.product_cols, m.quantity_col) == ("ship_date", ("category",), "units_returned")
    panel = result.panel
    assert panel.index[0] == pd.Timestamp("2024-01-05")
    assert list(panel.columns) == ["fruit", "veg"]
    assert panel["fruit"].tolist() == [1.0, 2.0, 0.0]


def test_format_override_reads_a_long_looking_file_as_wide():
    data = b"date,A,B\n2024-01-01,1,2\n2024-01-02,3,4\n"
    result = load_panel(data, IngestOptions(format="wide", product_cols=("B",)))
    assert result.report.mapping.format == "wide"
    assert list(result.panel.columns) == ["B"]


def test_override_naming_a_missing_column_is_rejected_with_its_name():
    with pytest.raises(DataError, match="'qty'"):
        load_panel(LONG, IngestOptions(quantity_col="qty"))


# --- rejections ----------------------------------------------------------------------------------------

def test_data_error_is_a_forecaster_error():
    assert issubclass(DataError, ForecasterError)


@pytest.mark.parametrize("data", [b"", b"   \n\n"])
def test_empty_file_is_rejected(data):
    with pytest.raises(DataError, match="empty"):
        load_panel(data)


def test_header_without_rows_is_rejected():
    with pytest.raises(DataError, match="no data rows"):
        load_panel(b"date,product,quantity\n")


def test_file_without_a_date_column_is_rejected_naming_the_columns():
    with pytest.raises(DataError, match="No date column") as exc:
        load_panel(b"shop,product,quantity\nx,A,1\ny,B,2\n")
    assert "'shop'" in str(exc.value)


def test_unparseable_dates_name_the_column_and_the_first_bad_rows():
    data = b"date,product,quantity\n2024-01-01,A,1\nnot a date,A,2\n2024-01-03,A,1\nsoon,A,1\n"
    with pytest.raises(DataError) as exc:
        load_panel(data)
    msg = str(exc.value)
    assert "'date'" in msg and "not a date" in msg
    assert "rows 3, 5" in msg  # spreadsheet rows: the header is row 1


def test_non_numeric_quantities_name_the_column_and_the_first_bad_rows():
    data = b"date,product,quantity\n2024-01-01,A,1\n2024-01-02,A,lots\n2024-01-03,A,1\n"
    with pytest.raises(DataError) as exc:
        load_panel(data)
    msg = str(exc.value)
    assert "'quantity'" in msg and "'lots'" in msg and "row 3" in msg


def test_non_numeric_cell_in_a_wide_product_column_is_rejected():
    data = b"date,Apples,Pears\n2024-01-01,1,2\n2024-01-02,3,4\n2024-01-03,5,six\n"
    with pytest.raises(DataError, match="'Pears'"):
        load_panel(data, IngestOptions(format="wide"))


def test_a_single_day_is_rejected():
    with pytest.raises(DataError, match="single day"):
        load_panel(b"date,product,quantity\n2024-01-01,A,1\n2024-01-01,B,2\n")


def test_weekly_data_is_rejected():
    data = b"date,product,quantity\n2024-01-01,A,1\n2024-01-08,A,2\n2024-01-15,A,1\n2024-01-22,A,1\n"
    with pytest.raises(DataError, match="weekly"):
        load_panel(data)


def test_more_products_than_max_products_is_rejected():
    with pytest.raises(DataError, match="limit is 1") as exc:
        load_panel(LONG, IngestOptions(max_products=1))
    assert "'product'" in str(exc.value)  # names the product column to check
    assert load_panel(LONG, IngestOptions(max_products=2)).panel.shape[1] == 2


def test_fewer_days_than_the_settings_need_is_rejected_by_the_split():
    config = ForecastConfig(lags=(1, 2, 3, 4, 5, 6, 7), seq_len=3, val_days=14, test_days=14)
    need = config.history_needed + 14 + 14 + 14  # history, minimum training days, validation, test
    with pytest.raises(DataError, match=f"covers {need - 1} days.*at least {need}"):
        chronological_split(need - 1, config)
    split = chronological_split(need, config)
    assert len(split.test) == 14 and len(split.val) == 14


def test_fit_rejects_a_panel_too_short_for_the_settings(tiny_config):
    index = pd.date_range("2024-01-01", periods=30, freq="D")
    short = pd.DataFrame(np.ones((30, 2)), index=index, columns=["a", "b"])
    with pytest.raises(DataError, match="need at least"):
        fit(short, tiny_config)


def test_a_year_typo_is_rejected_naming_the_row_instead_of_spanning_centuries():
    rows = [f"2024-01-{d:02d},Tea,{d}" for d in range(1, 29)] + ["3024-01-29,Tea,5"]
    with pytest.raises(DataError, match=r"(?s)outside 1900-2100.*'3024-01-29'.*row 30\b"):
        load_panel(("date,product,quantity\n" + "\n".join(rows)).encode())


def test_dates_spanning_more_than_fifty_years_are_rejected_as_a_likely_typo():
    rows = [f"2024-01-{d:02d},Tea,{d}" for d in range(1, 29)] + ["1924-01-29,Tea,5"]
    with pytest.raises(DataError, match=r"(?s)1924-01-29 to 2024-01-28.*rows .*30"):
        load_panel(("date,product,quantity\n" + "\n".join(rows)).encode())


def test_dates_with_and_without_a_time_of_day_in_one_column_are_both_read():
    rows = [f"2024-01-{d:02d},Tea,1" for d in range(1, 21)] + [f"2024-01-{d:02d} 10:30,Tea,2" for d in range(5, 9)]
    panel = load_panel(("date,product,quantity\n" + "\n".join(rows)).encode()).panel
    assert len(panel) == 20 and panel.loc["2024-01-05", "Tea"] == 3 and panel["Tea"].sum() == 28


@pytest.mark.parametrize("n_products", [1, 2, 3000])
def test_a_wide_file_with_product_like_names_keeps_every_numeric_column(n_products):
    """'item 0', 'item 1' ... hold each product's daily demand: one row per day, every column a number. Read
    as a product-id column of a transaction log, 3,000 products became 16 without a word."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.poisson(5, size=(40, n_products)), columns=[f"item {i}" for i in range(n_products)])
    frame.insert(0, "date", pd.date_range("2024-01-01", periods=40).strftime("%Y-%m-%d"))
    result = load_panel(frame.to_csv(index=False).encode())
    assert result.report.mapping.format == "wide" and result.panel.shape == (40, n_products)
    np.testing.assert_array_equal(result.panel.to_numpy(), frame.drop(columns="date").to_numpy())
    if n_products <= 3:  # a close call is said, naming the column that could be a product id
        assert "item 0" in result.report.mapping.doubt


def test_a_daily_long_file_with_a_numeric_product_id_is_still_long():
    text = "date,sku,qty\n" + "".join(f"2024-01-{d:02d},{sku},{d + sku}\n" for d in range(1, 29) for sku in (101, 202))
    result = load_panel(text.encode())
    assert result.report.mapping.format == "long" and list(result.panel.columns) == ["101", "202"]


# --- files that would fill the memory, and the encodings Excel writes -----------------------------------
def test_a_gzip_bomb_is_refused_naming_the_limit_before_it_is_unpacked(monkeypatch):
    """A small .gz that unpacks to far more than the limit: refused after reading just past it."""
    import resource

    from forecaster.data import ingest

    monkeypatch.setattr(ingest, "MAX_BYTES", 8 * 2**20)
    bomb = gzip.compress(b"date,product,quantity\n" + b"2024-01-01,a,1\n" * (4 * 2**20), compresslevel=9)
    assert len(bomb) < 2**20  # under 1 MB compressed, 60 MB unpacked
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError, match="larger than 8 MB"):
        load_panel(bomb)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: never all of it


def test_an_endless_source_is_refused(monkeypatch):
    from forecaster.data import ingest

    class Endless(io.RawIOBase):  # a stream that never ends, as standard input fed from /dev/zero would be
        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            buffer[:] = b"\0" * len(buffer)
            return len(buffer)

    monkeypatch.setattr(ingest, "MAX_BYTES", 2**20)
    with pytest.raises(DataError, match="larger than 1 MB"):
        load_panel(io.BufferedReader(Endless()))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(Endless())))
    with pytest.raises(DataError, match="Standard input is larger than 1 MB"):
        load_panel("-")


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_an_input_that_is_not_a_regular_file_is_refused_at_once(kind, tmp_path):
    """A FIFO with no writer used to block the read forever; a device never ends."""
    import os

    path = {"fifo": tmp_path / "pipe.csv", "device": "/dev/zero", "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(DataError, match={"fifo": "named pipe", "device": "a device", "folder": "a folder"}[kind]):
        load_panel(path)


def test_standard_input_is_read_as_a_file(monkeypatch):
    rows = "".join(f"{day:%Y-%m-%d},a,{i % 5}\n" for i, day in enumerate(pd.date_range("2024-01-01", periods=60)))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(("date,product,quantity\n" + rows).encode())))
    assert load_panel("-").panel["a"].tolist() == [i % 5 for i in range(60)]


def test_too_many_cells_are_refused_before_parsing(monkeypatch):
    from forecaster.data import ingest

    monkeypatch.setattr(ingest, "MAX_CELLS", 1000)
    text = "date," + ",".join(f"p{i}" for i in range(50)) + "\n" + "".join(
        f"2024-01-{d:02d}," + ",".join("1" * 50) + "\n" for d in range(1, 29))
    with pytest.raises(DataError, match="cells"):
        load_panel(text.encode())


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_excel_unicode_text_utf16_tab_separated_is_read(encoding):
    text = "date\tproduct\tquantity\n" + "".join(f"2024-01-{d:02d}\tCafé crème\t{d}\n" for d in range(1, 29))
    panel = load_panel(text.encode(encoding)).panel
    assert list(panel.columns) == ["Café crème"] and panel.iloc[:, 0].tolist() == list(range(1, 29))


@pytest.mark.parametrize("value", ["1e308", "inf", "-inf", "2e9"])
def test_quantities_that_cannot_be_unit_sales_are_refused_naming_the_rows(value):
    text = "date,product,quantity\n" + "".join(f"2024-01-{d:02d},a,{value if d == 5 else 3}\n" for d in range(1, 29))
    with pytest.raises(DataError, match=r"beyond 1,000,000,000 units or not finite .* row 6"):
        load_panel(text.encode())


def test_absurd_values_in_a_wide_file_are_refused_too():
    text = "date,a,b\n" + "".join(f"2024-01-{d:02d},1,{'1e308' if d == 3 else 2}\n" for d in range(1, 29))
    with pytest.raises(DataError, match="'b'.*row 4"):
        load_panel(text.encode())


def test_day_first_chosen_for_year_first_dates_is_an_error_naming_both():
    text = "date,product,quantity\n" + "".join(f"2024-01-{d:02d},a,{d}\n" for d in range(1, 29))
    with pytest.raises(DataError, match="Day-first dates were chosen.*year-first"):
        load_panel(text.encode(), IngestOptions(dayfirst=True))


def test_month_first_chosen_for_day_first_dates_is_an_error():
    text = "date,product,quantity\n" + "".join(f"{d:02d}/01/2024,a,{d}\n" for d in range(1, 29))
    with pytest.raises(DataError, match="Month-first dates were chosen"):
        load_panel(text.encode(), IngestOptions(dayfirst=False))


def test_a_quantity_column_that_cannot_be_one_is_an_error_not_ignored():
    text = "date,product,quantity\n" + "".join(f"2024-01-{d:02d},a,{d}\n" for d in range(1, 29))
    with pytest.raises(DataError, match="'product'"):
        load_panel(text.encode(), IngestOptions(quantity_col="product"))
    with pytest.raises(DataError, match="wide shape was chosen together with the quantity column 'quantity'"):
        load_panel(text.encode(), IngestOptions(format="wide", quantity_col="quantity"))


def test_timestamps_with_utc_offsets_count_on_the_local_day_written_across_a_dst_change():
    rows = ["2024-03-30 23:30:00+01:00,a,1", "2024-03-31 00:30:00+01:00,a,2", "2024-03-31 23:30:00+02:00,a,4",
            "2024-04-01T08:00:00Z,a,8", "2024-04-02 09:15:00-0500,a,16"]
    panel = load_panel(("timestamp,product,quantity\n" + "\n".join(rows) + "\n").encode()).panel
    assert panel["a"].to_dict() == {pd.Timestamp("2024-03-30"): 1.0, pd.Timestamp("2024-03-31"): 6.0,
                                    pd.Timestamp("2024-04-01"): 8.0, pd.Timestamp("2024-04-02"): 16.0}


# --- what a hostile-user run found misread or crashed ----------------------------------------------------
def _long_rows(n_days: int = 28, products=("P0", "P1")) -> list[tuple[str, str, int]]:
    return [(f"2024-01-{d:02d}", p, d + i) for d in range(1, n_days + 1) for i, p in enumerate(products)]


def test_thousands_separators_are_read_as_numbers_not_turned_into_one_unit_per_row():
    text = "date;product;quantity\n" + "".join(f"{d};{p};6.000,5\n" for d, p, _ in _long_rows())
    panel = load_panel(text.encode()).panel
    assert panel.to_numpy().sum() == pytest.approx(6000.5 * 56)
    us = "date,product,quantity\n" + "".join(f'{d},{p},"6,000.5"\n' for d, p, _ in _long_rows())
    assert load_panel(us.encode()).panel.to_numpy().sum() == pytest.approx(6000.5 * 56)


def test_a_decimal_point_in_a_semicolon_file_is_not_a_thousands_separator():
    text = "date;product;quantity\n" + "".join(f"{d};{p};6.5\n" for d, p, _ in _long_rows())
    assert load_panel(text.encode()).panel.to_numpy().sum() == pytest.approx(6.5 * 56)


def test_product_ids_with_leading_zeros_stay_apart():
    text = "date,product,quantity\n" + "".join(f"{d},{'00123' if p == 'P0' else '123'},{q}\n"
                                                for d, p, q in _long_rows())
    assert sorted(load_panel(text.encode()).panel.columns) == ["00123", "123"]


def test_names_repeated_in_the_header_are_refused_naming_them():
    for header in ("date,product,quantity ,quantity", "date,product,quantity,quantity"):
        text = header + "\n" + "".join(f"{d},{p},{q},7\n" for d, p, q in _long_rows())
        with pytest.raises(DataError, match="'quantity' more than once"):
            load_panel(text.encode())


def test_year_first_and_day_month_dates_in_one_column_are_refused():
    rows = [(d if i % 2 else pd.Timestamp(d).strftime("%d/%m/%Y"), p, q) for i, (d, p, q) in enumerate(_long_rows())]
    text = "date,product,quantity\n" + "".join(f"{d},{p},{q}\n" for d, p, q in rows)
    with pytest.raises(DataError, match="mixes year-first dates"):
        load_panel(text.encode())


def test_day_first_chosen_for_month_first_dates_is_an_error():
    text = "date,product,quantity\n" + "".join(f"01/{d:02d}/2024,a,{d}\n" for d in range(1, 29))
    with pytest.raises(DataError, match="Day-first dates were chosen.*month-first"):
        load_panel(text.encode(), IngestOptions(dayfirst=True))


def test_windows_1252_names_keep_the_euro_sign_and_dashes():
    text = "date,product,quantity\n" + "".join(f"2024-01-{d:02d},Kaffee 5€ – grün,{d}\n" for d in range(1, 29))
    assert list(load_panel(text.encode("cp1252")).panel.columns) == ["Kaffee 5€ – grün"]


def test_one_column_in_two_roles_is_refused():
    text = "date,product,quantity\n" + "".join(f"{d},{p},{q}\n" for d, p, q in _long_rows())
    with pytest.raises(DataError, match="two roles"):
        load_panel(text.encode(), IngestOptions(product_cols=("date",)))


@pytest.mark.parametrize("shape", ["long", "wide"])
def test_a_small_file_whose_daily_history_would_be_huge_is_refused_before_it_is_built(shape):
    """10,000 products on two dates 49 years apart: a 0.4 MB long file whose daily panel was 179M values (1.4 GB)."""
    import resource
    import time

    products = [f"p{i}" for i in range(10_000)]
    if shape == "long":
        rows = [f"1970-01-01,{p},1" for p in products] + [f"2019-01-01,{p},1" for p in products]
        text = "date,product,quantity\n" + "\n".join(rows)
    else:
        text = "date," + ",".join(products) + "\n" + "\n".join(f"{d}," + ",".join(["1"] * 10_000)
                                                                  for d in ("1970-01-01", "2019-01-01"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"17,898 days .* times 10,000 products"):
        load_panel(text.encode())
    if shape == "long":  # the probe's file; a wide one spends its time detecting 10,000 columns (issue 28)
        assert time.perf_counter() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300 * 1024  # KiB


def _month_csv(name: str = "a") -> str:
    return "date,product,quantity\n" + "".join(f"2024-01-{d:02d},{name},{d}\n" for d in range(1, 29))


@pytest.mark.parametrize("kind, data, says", [
    ("utf-16 cut to an odd byte count", _month_csv().encode("utf-16")[:-1], "UTF-16 text cut short"),
    ("a gzip inside a gzip", gzip.compress(gzip.compress(_month_csv().encode())), "compressed twice"),
    ("a program", open("/bin/ls", "rb").read(), "a program"),
    ("binary without a known signature", b"\x00\x01\x02garbage\x00" * 50, "binary data"),
    ("an xlsx renamed .csv", b"PK\x03\x04" + b"\x00" * 100, "Excel workbook"),
    ("an HTML page", b"<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table></body></html>", "web page"),
    ("a JSON array", b'[{"date": "2024-01-01", "product": "a", "quantity": 1}]', "JSON"),
    ("UTF-32", _month_csv().encode("utf-32"), "UTF-32"),
])
def test_a_file_that_is_not_csv_text_is_refused_naming_what_it_is(kind, data, says):
    """Each of these was a traceback or a misleading "header but no data rows" (issue 24)."""
    with pytest.raises(DataError, match=says):
        load_panel(data)


def test_old_mac_line_ends_are_read():
    """Excel's "CSV (Macintosh)" ends lines with CR only."""
    panel = load_panel(_month_csv().replace("\n", "\r").encode()).panel
    assert panel["a"].tolist() == list(range(1, 29))


def test_names_of_thousands_of_digits_are_read_and_sorted_without_a_traceback():
    """Python refuses int() of more than 4,300 digits: a 5,000-digit product name or header used to crash."""
    long_name = "9" * 5000
    text = _month_csv(long_name) + "".join(f"2024-01-{d:02d},p10,1\n2024-01-{d:02d},p2,1\n" for d in range(1, 29))
    assert list(load_panel(text.encode()).panel.columns) == [long_name, "p2", "p10"]
    wide = "date," + "7" * 5000 + "\n" + "".join(f"2024-01-{d:02d},{d}\n" for d in range(1, 29))
    assert load_panel(wide.encode()).panel.shape == (28, 1)


def test_a_header_in_brackets_is_still_a_csv():
    text = "[date],product,quantity\n" + _month_csv().split("\n", 1)[1]
    assert load_panel(text.encode()).panel["a"].tolist() == list(range(1, 29))  # not taken for JSON


def _quantities_csv(values: list[str], sep: str) -> bytes:
    rows = [sep.join(["date", "product", "quantity"])]
    rows += [sep.join([f"2024-01-{i % 28 + 1:02d}", "a", v]) for i, v in enumerate(values)]
    return ("\n".join(rows) + "\n").encode()


@pytest.mark.parametrize("sep, values, expected", [
    ("\t", ["12,5", "3", "1,25"] + ["1"] * 25, [12.5, 3, 1.25]),  # German Excel: a decimal comma
    (";", ["3.582", "12", "1"] + ["2.000"] * 25, [3582, 12, 1]),  # European thousands
    (";", ["1.234,5", "1.234", "2"] + ["1"] * 25, [1234.5, 1234, 2]),  # one convention for the whole column
    (",", ['"1,582"', "3.5", "2"] + ['"2,000"'] * 25, [1582, 3.5, 2]),  # US thousands
    (",", ["1 582", "12 000", "3"] + ["2 000"] * 25, [1582, 12000, 3]),  # a space between groups, in most rows
])
def test_a_quantity_column_is_read_in_one_convention_for_the_whole_column(sep, values, expected):
    panel = load_panel(_quantities_csv(values, sep)).panel
    assert panel["a"].iloc[:3].tolist() == expected


def test_a_tab_file_whose_numbers_read_two_ways_is_refused_naming_the_column():
    """1,582 in a tab file: a thousand five hundred (US) or one and a half (German)? It was read as 1582."""
    with pytest.raises(DataError, match=r"'quantity' has numbers like '1,582'.*either way"):
        load_panel(_quantities_csv(["1,582", "12"] + ["1"] * 26, "\t"))
    with pytest.raises(DataError, match="both ways"):
        load_panel(_quantities_csv(["12,5", "3.25"] + ["1"] * 26, ";"))


@pytest.mark.parametrize("cell", ["$12", "many"])
def test_a_column_named_quantity_is_read_or_refused_never_dropped(cell):
    """'$12' and 'many' in most rows made the quantity column vanish: each row then counted as one unit."""
    with pytest.raises(DataError, match=rf"'quantity' has 27 value\(s\) that are not numbers \(first one: "
                                        rf"'{re.escape(cell)}'"):
        load_panel(_quantities_csv([cell] * 27 + ["2"], ","))


def test_german_excel_unicode_text_keeps_its_quantity_column():
    """Excel's "Unicode text": UTF-16, tab-separated, decimal commas."""
    text = "date\tproduct\tquantity\n" + "".join(f"2024-01-{d:02d}\ta\t{d},5\n" for d in range(1, 29))
    panel = load_panel(text.encode("utf-16")).panel
    assert panel["a"].tolist() == [d + 0.5 for d in range(1, 29)]


def _names_csv(names: tuple[str, ...]) -> str:
    return "date,product,quantity\n" + "".join(f"2024-01-{d:02d},{n},{d}\n" for d in range(1, 29) for n in names)


@pytest.mark.parametrize("encoding, names", [
    ("shift_jis", ("コーヒー豆", "牛乳パック")),  # were mojibake with control characters
    ("gb18030", ("咖啡豆", "牛奶", "绿茶", "面包", "苹果汁", "巧克力蛋糕", "矿泉水", "酸奶")),  # a few names: two are ambiguous
    ("cp1252", ("Café crème", "Größe", "Ñandú €")),  # Excel's Western CSV
])
def test_a_file_in_another_encoding_is_read_with_its_names_and_a_note_saying_which(encoding, names):
    result = load_panel(_names_csv(names).encode(encoding))
    assert sorted(result.panel.columns) == sorted(names)
    assert any("not UTF-8" in note for note in result.report.notes)


def test_utf8_with_one_line_in_latin1_is_refused_naming_the_line():
    """Read as Windows-1252, every name turned into 'CafÃ©'."""
    data = _names_csv(("Café", "Crème")).encode("utf-8") + "2024-01-29,Crêpe,3\n".encode("latin-1")
    with pytest.raises(DataError, match="UTF-8 text except line 58"):
        load_panel(data)


def test_an_encoding_the_user_names_wins_or_the_reading_fails_naming_the_line():
    data = _names_csv(("コーヒー豆",)).encode("shift_jis")
    assert list(load_panel(data, IngestOptions(encoding="shift_jis")).panel.columns) == ["コーヒー豆"]
    with pytest.raises(DataError, match="not utf-8 text: line 2"):
        load_panel(data, IngestOptions(encoding="utf-8"))
    with pytest.raises(ForecasterError, match="Unknown encoding 'klingon'"):
        IngestOptions(encoding="klingon")


def test_dates_that_read_both_ways_take_the_denser_order_and_say_so():
    """Day-first dates whose days are all 12 or less were read month-first without a word."""
    days = [d for d in pd.date_range("2024-01-01", "2024-12-31") if d.day <= 12][:72]  # Jan 1-12 ... Jun 1-12
    text = "date,product,quantity\n" + "".join(f"{d:%d/%m/%Y},a,{i % 5 + 1}\n" for i, d in enumerate(days))
    result = load_panel(text.encode())
    assert (result.report.start, result.report.end) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-06-12"))
    assert any("read both ways" in note and "day/month" in note for note in result.report.notes)
    us = "date,product,quantity\n" + "".join(f"{d:%m/%d/%Y},a,1\n" for d in pd.date_range("2024-01-01", periods=12))
    assert load_panel(us.encode()).report.end == pd.Timestamp("2024-01-12")  # month-first: 12 days in a row
    iso = "date,product,quantity\n" + "".join(f"{d:%Y-%m-%d},a,1\n" for d in pd.date_range("2024-01-01", periods=60))
    assert not any("both ways" in n for n in load_panel(iso.encode()).report.notes)


def test_a_long_stretch_without_any_row_is_told_not_only_filled_with_zeros():
    dates = list(pd.date_range("2022-01-01", periods=60)) + list(pd.date_range("2023-03-01", periods=60))
    text = "date,product,quantity\n" + "".join(f"{d:%Y-%m-%d},a,3\n" for d in dates)
    notes = load_panel(text.encode()).report.notes
    assert any("no rows at all from 02 Mar 2022 to 28 Feb 2023 (364 days)" in n for n in notes), notes


def _typo_csv() -> bytes:
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=120)
    sold = rng.integers(0, 10, 120)
    sold[50] = 999_999_999  # one cell: a typo
    return ("date,product,quantity\n" + "".join(f"{d:%Y-%m-%d},a,{v}\n" for d, v in zip(days, sold))
            + "".join(f"{d:%Y-%m-%d},b,{rng.poisson(30)}\n" for d in days)).encode()


def test_an_extreme_day_is_listed_and_kept_out_of_what_the_model_learns_unless_kept():
    """One cell of 999,999,999 in a product selling 0-9 a day gave a forecast of 3,265,738 and an order of
    158,940,745 without a warning."""
    result = load_panel(_typo_csv())
    extremes = result.report.extremes
    assert list(extremes["product"]) == ["a"] and extremes["value"].iloc[0] == 999_999_999
    assert extremes["date"].iloc[0] == pd.Timestamp("2024-02-20") and 0 <= extremes["replaced_by"].iloc[0] <= 9
    assert result.panel["a"].max() <= 9 and result.panel["b"].max() < 100  # nothing else touched
    assert any("999,999,999 units of 'a' on 20 Feb 2024" in note for note in result.report.notes)
    kept = load_panel(_typo_csv(), IngestOptions(keep_extremes=True))
    assert kept.panel["a"].max() == 999_999_999


def test_a_promotion_or_a_slow_sellers_group_purchase_is_not_extreme():
    days = pd.date_range("2024-01-01", periods=120)
    normal = "".join(f"{d:%Y-%m-%d},tea,{10 + i % 5}\n" for i, d in enumerate(days[:-1]))
    slow = "".join(f"{d:%Y-%m-%d},tshirt,{i % 40 == 0:d}\n" for i, d in enumerate(days[:-1]))
    text = "date,product,quantity\n" + normal + slow + f"{days[-1]:%Y-%m-%d},tea,150\n{days[-1]:%Y-%m-%d},tshirt,21\n"
    assert load_panel(text.encode()).report.extremes.empty  # 10x a promotion, 21 T-shirts for a group


def test_a_long_file_forced_to_the_wide_shape_is_refused_not_summed_across_products():
    """Found by a hostile-user probe: --format wide on date,product,quantity dropped the product column and
    added Apple's and Pear's sales into one 'quantity' product."""
    days = pd.date_range("2024-01-01", periods=120)
    text = "date,product,quantity\n" + "".join(f"{d:%Y-%m-%d},Apple,6\n{d:%Y-%m-%d},Pear,7\n" for d in days)
    with pytest.raises(DataError, match="Read as wide .* 120 row\\(s\\) for a day that already had one"):
        load_panel(text.encode(), IngestOptions(format="wide"))
    assert list(load_panel(text.encode()).panel.columns) == ["Apple", "Pear"]  # detected: long


def test_names_that_differ_only_by_surrounding_spaces_are_joined_and_the_report_says_so():
    days = pd.date_range("2024-01-01", periods=120)
    text = "date,product,quantity\n" + "".join(f'{d:%Y-%m-%d},"  Apple ",6\n{d:%Y-%m-%d},Apple,7\n' for d in days)
    result = load_panel(text.encode())
    assert list(result.panel.columns) == ["Apple"] and result.panel["Apple"].iloc[0] == 13
    assert any("differ from another only by spaces" in note and "'  Apple '" in note for note in result.report.notes)


def test_thousands_looking_values_read_with_a_decimal_comma_are_said():
    """Found by a hostile-user probe: one '12,5' in the column made every '1,234' read as 1.234 without a word
    (the column's convention is right; the user is told which values it changed)."""
    days = pd.date_range("2024-01-01", periods=28)
    text = "date,product,quantity\n" + "".join(f'{d:%Y-%m-%d},A,"12,5"\n{d:%Y-%m-%d},B,"1,234"\n' for d in days)
    result = load_panel(text.encode())
    assert result.panel.iloc[0].tolist() == [12.5, 1.234]
    assert any("such as '1,234' were read with a decimal comma" in note for note in result.report.notes)


def test_a_row_with_a_cell_too_many_is_named_in_plain_words():
    """A trial: pandas' "Error tokenizing data. C error: Expected 3 fields in line 41, saw 4" reached the page."""
    with pytest.raises(DataError, match=r"^Row 3 of the file has 4 cells where the header has 3: a comma too many"):
        load_panel(b"date,product,quantity\n2024-01-01,A,1\n2024-01-02,A,2,3\n2024-01-03,A,1\n")


def test_a_bad_date_and_a_bad_quantity_are_named_in_one_message():
    """A trial: only the date was named; fixing it, the next upload named the quantity (two round trips)."""
    rows = [f"2024-01-{d:02d},A,{'abc' if d == 5 else d}" for d in range(1, 20)]
    rows[9] = ",A,3"
    with pytest.raises(DataError, match=r"(?s)'date' .* at row 11\..*Also: Quantity column 'quantity' .*'abc'.* at row 6\."):
        load_panel(("date,product,quantity\n" + "\n".join(rows) + "\n").encode())
