"""CSV bytes -> the daily panel (dates x products), with a report of what was read, dropped and assumed.

Three shapes are accepted and detected from column names and contents; every guess can be overridden
through :class:`~forecaster.config.IngestOptions`. Anything that cannot be read raises
:class:`~forecaster.errors.DataError` with a message that names the column or the first bad rows.
"""
from __future__ import annotations

import codecs
import csv
import functools
import gzip
import io
import os
import re
import stat
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Union

import numpy as np
import pandas as pd

from ..config import IngestOptions, parse_driver
from ..errors import DataError
from .drivers import (DETECT_ROWS, DriverCandidate, DriverPanel, driver_candidates, fill_history, outside_history,
                      read_drivers)
from .holidays import suggest_country
from .numbers import AmbiguousNumbers, CommaNote, parse_numbers

Source = Union[str, Path, bytes, BinaryIO]

# Name fragments, already lower-cased with non-alphanumerics removed, scored by how strongly they
# suggest a role. Higher wins; the first column wins a tie.
_DATE_HINTS = {"date": 5, "datetime": 4, "timestamp": 4, "ds": 3, "day": 2, "period": 1}
_PRODUCT_HINTS = {"sku": 10, "product": 10, "stockcode": 9, "item": 9, "article": 9, "ean": 8, "upc": 8,
                  "store": 7, "name": 6, "code": 5, "series": 5, "description": 4, "dept": 3,
                  "category": 3, "id": 2}
_NOT_PRODUCT = ("invoice", "transaction", "customer", "client", "order", "basket", "receipt", "cash",
                "card", "payment", "country", "city", "state", "region", "type", "channel", "time", "date")
_QUANTITY_HINTS = {"quantity": 10, "qty": 10, "units": 9, "unitssold": 10, "sold": 8, "demand": 8,
                   "sales": 7, "volume": 6, "count": 5, "orders": 4,
                   # other languages' exports, as _norm spells them (accents dropped): Menge, Anzahl, Stück,
                   # cantidad, quantité / quantità / quantidade, unidades, aantal, hoeveelheid, antal / antall
                   "menge": 9, "anzahl": 9, "stck": 8, "stueck": 8, "cantidad": 9, "quantit": 9, "unidades": 8,
                   "aantal": 9, "hoeveelheid": 9, "antal": 8}
_QUANTITY_EXACT = {"transactions": 5, "y": 3, "value": 3, "n": 3}
_QUANTITY_NAMES = {"quantity", "qty", "quantitysold", "unitssold", "units"}  # always the quantity column
_NOT_QUANTITY = ("price", "money", "cost", "revenue", "amount", "nbr", "number", "no", "id", "year",
                 "month", "week", "hour", "total", "code")
# calendar helper columns (spreadsheet exports add them): never a product key, even when text like "Monday"
_CALENDAR_HELPERS = {"year", "month", "day", "dayofweek", "weekday", "week", "weekofyear", "hour", "minute",
                     "quarter", "dow", "doy", "dayofyear", "weekend", "isweekend", "holiday", "isholiday",
                     "dayname", "monthname", "weekdayname", "dayofweekname"}
# in a wide file: the calendar helpers, totals, row numbers and the date itself are not products
_WIDE_HELPERS = _CALENDAR_HELPERS | {"total", "sum", "all", "index", "id", "date", "time", "row", "totalsales",
                                     "grandtotal"}


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns play which role. For wide files ``product_cols`` lists the product columns."""

    format: str
    date_col: str
    product_cols: tuple[str, ...]
    quantity_col: str | None = None
    name_col: str | None = None  # each product's name (a long file or log): shown beside its code
    # set when the shape was a close call: what else the file could be, for the Data page and the CLI
    doubt: str = ""

    def describe(self) -> str:
        if self.format == "wide":
            return f"wide: dates in '{self.date_col}', {len(self.product_cols)} product columns"
        qty = f"quantity in '{self.quantity_col}'" if self.quantity_col else "each row counts as one unit"
        key = " + ".join(f"'{c}'" for c in self.product_cols)
        names = f", names in '{self.name_col}'" if self.name_col else ""
        return f"{self.format}: dates in '{self.date_col}', products in {key}{names}, {qty}"


@dataclass(frozen=True)
class IngestReport:
    """What ingest read, dropped and assumed, for the user to check."""

    mapping: ColumnMapping
    rows_read: int
    rows_used: int
    returns_dropped: int  # rows (or a wide file's cells)
    returns_kept: int
    rows_without_product: int
    rows_without_quantity: int
    dayfirst: bool
    products: int
    days: int
    start: pd.Timestamp
    end: pd.Timestamp
    zero_share: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    # days far beyond anything else the product sold (:func:`extreme_days`): product, date, the value in the
    # file, and what the panel holds instead (the same value when they are kept)
    extremes: pd.DataFrame | None = None
    # lines that are not sales of a product, per code: product, rows, units, reason (:func:`_not_sales`),
    # left out of the panel unless kept (IngestOptions.keep_non_sales); None when there were none
    excluded: pd.DataFrame | None = None
    non_sales_kept: bool = False
    returns_units: float = 0.0  # units in the returned rows, dropped or kept
    # the holiday calendar the file suggests (a "Country" column's usual value, :func:`suggest_country`), or ""
    country: str = ""
    # columns of a long file that could be drivers (:func:`~forecaster.data.drivers.driver_candidates`)
    driver_candidates: tuple[DriverCandidate, ...] = ()


@dataclass(frozen=True)
class IngestResult:
    panel: pd.DataFrame
    report: IngestReport
    # one row per product (the panel's columns, in order): its name where the file has a name column, and
    # the columns of a key of several (store, item); no columns when the file has neither
    catalog: pd.DataFrame | None = None
    # the drivers chosen (IngestOptions.drivers) by day and product, on the panel's dates; None without any
    drivers: DriverPanel | None = None


# what one file may be: past these a file is refused with the limit named, before it can fill the memory
MAX_BYTES = 512 * 2**20  # of CSV text (after unpacking a .gz), read in chunks: /dev/zero is refused too
# rows times columns, counted before pandas parses anything: the long form of 10,000 products x 3 years is 33
# million (327 MiB of text, read in 15 s: bench/scale.py --shape long; the README has the figures)
MAX_CELLS = 40_000_000
MAX_PANEL_CELLS = 20_000_000  # days (first to last date) times products of the daily panel (160 MB of numbers)
MAX_QUANTITY = 1e9  # units in one cell: beyond it (or inf, NaN written as a number) a value is refused


def _limited(data: bytes, what: str = "The file") -> bytes:
    """``data`` if it is at most MAX_BYTES, else a DataError that names the limit."""
    if len(data) > MAX_BYTES:
        raise DataError(f"{what} is larger than {MAX_BYTES // 2**20} MB of CSV text, the most one file may hold. "
                        "Export a shorter period or fewer products.")
    return data


STDIN = "-"  # the path that means standard input


def _regular_input(path: str | Path) -> None:
    """A path to read must be a regular file (a link to one is fine): a FIFO would wait forever for a
    writer, a device never ends, a folder is no table."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "not a regular file")
        raise DataError(f"{str(path)!r} is {kind}, not a file: give a CSV file, or - to read standard input.")


def read_bytes(source: Source) -> bytes:
    """Raw bytes from a path, bytes or a file-like object (such as Streamlit's UploadedFile); a .gz is
    unpacked as a stream, so a small file that unpacks to gigabytes is refused after MAX_BYTES."""
    if isinstance(source, (bytes, bytearray)):
        data = _limited(bytes(source))
    elif isinstance(source, (str, Path)) and str(source) == STDIN:
        data = _limited(sys.stdin.buffer.read(MAX_BYTES + 1), "Standard input")
    elif isinstance(source, (str, Path)):
        try:
            _regular_input(source)
            with open(source, "rb") as handle:  # one byte past the limit is enough to refuse an endless file
                data = _limited(handle.read(MAX_BYTES + 1))
        except OSError as exc:
            raise DataError(f"Cannot read the file {str(source)!r}: {exc.strerror or exc}.") from None
    elif hasattr(source, "getvalue"):
        data = _limited(source.getvalue())
    else:
        data = _limited(source.read(MAX_BYTES + 1))
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:  # a stream: never unpacked past the limit
                data = _limited(unpacked.read(MAX_BYTES + 1), "The unpacked .gz file")
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise DataError(f"The file looks gzip-compressed but cannot be unpacked ({exc}).") from None
        if data[:2] == b"\x1f\x8b":
            raise DataError("The file is compressed twice (a .gz inside a .gz): unpack it once and give the "
                            "inner .csv.gz.")
    _refuse_not_csv(data)
    return data


# what a file that is not a CSV starts with, and what to say: a refusal that names the file's kind
NOT_CSV = ((b"PK\x03\x04", "a zip archive or an Excel workbook (.xlsx)", "save the sheet as CSV"),
           (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)", "save the sheet as CSV"),
           (b"%PDF", "a PDF document", ""), (b"\x7fELF", "a program", ""), (b"\x89PNG", "an image", ""),
           (b"\xff\xd8\xff", "an image", ""), (b"\x00\x00\xfe\xff", "UTF-32 text", "save it as UTF-8"),
           (b"\xff\xfe\x00\x00", "UTF-32 text", "save it as UTF-8"))


def _refuse_not_csv(data: bytes) -> None:
    """A file that is not CSV text is refused naming what it is, never parsed into a misleading message."""
    for magic, what, hint in NOT_CSV:
        if data.startswith(magic):
            raise DataError(f"This file is {what}, not a CSV table" + (f": {hint}." if hint else "."))
    start = data.lstrip()[:200].lower()
    if start.startswith((b"<!doctype html", b"<html", b"<?xml")):
        raise DataError("This file is a web page or XML, not a CSV table: download the data itself as CSV.")
    if re.match(rb'(\[\s*[\[{"\d]|\{\s*")', start):  # an array or an object, not a "[date]" header
        raise DataError("This file is JSON, not a CSV table: export the data as CSV.")


# multi-byte encodings of East Asian text, which charset-normalizer tells apart from Western text reliably
MULTIBYTE = ("cp932", "shift_jis", "euc_jp", "iso2022_jp", "gb18030", "gbk", "gb2312", "big5", "big5hkscs", "cp950",
             "euc_kr", "cp949", "johab")


def _decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text and the encoding it was read with: ``encoding`` when the user named one, else detected
    (:func:`_detect_encoding`); refused when it is not text."""
    if encoding:
        try:
            text = data.decode("utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding)
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise DataError(f"The file is not {encoding} text: line {line} holds bytes "
                            f"that {encoding} does not have. Choose another encoding, or leave it to be "
                            "detected.") from None
    else:
        text, encoding = _detect_encoding(data)
    if "\x00" in text:  # no encoding left a NUL: binary data
        raise DataError("This file holds binary data (a program, an image or a spreadsheet file?), not CSV text.")
    if "\r" in text and "\n" not in text:  # old Mac line ends (Excel's "CSV (Macintosh)")
        text = text.replace("\r", "\n")
    return text, encoding


def _detect_encoding(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text", with or without BOM); East Asian
    multi-byte text (Shift-JIS, GBK, Big5, EUC-KR ...) where charset-normalizer names such an encoding; else
    Windows' Western code page. Refused, naming the line, when UTF-8 text holds a line in another encoding, and when
    no encoding reads the file."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise DataError("The file is UTF-16 text cut short: it ends in the middle of a character (an odd "
                            "number of bytes). Export it again.") from None
    head = data[:4000]
    if len(head) >= 4 and head.count(b"\x00") >= len(head) // 4:  # UTF-16 without a BOM: every other byte 0
        encoding = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        return data.decode(encoding, errors="replace"), encoding
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    loose = data.decode("utf-8", errors="replace")
    if sum(ord(c) > 127 for c in loose) - loose.count("\ufffd") >= 2 * loose.count("\ufffd"):  # mostly UTF-8
        line = data[:first_bad].count(b"\n") + 1
        raise DataError(f"The file is UTF-8 text except line {line}, which is in another encoding (such as Latin-1): "
                        "fix that line or export the file again in one encoding.")
    from charset_normalizer import from_bytes  # only for files that are not UTF-8

    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding in MULTIBYTE:  # the byte patterns of East Asian text are distinctive
        try:
            return data.decode(best.encoding), best.encoding
        except UnicodeDecodeError:
            pass  # the sample read, the whole file does not: not that encoding
    try:  # Windows' Western code page (what Excel writes): like Latin-1, but with € – “ ” in 0x80-0x9f. Preferred
        return data.decode("cp1252"), "cp1252"  # to a guess among single-byte pages, which short texts leave open
    except UnicodeDecodeError:
        raise DataError("Cannot tell which encoding this file is in (not UTF-8, and bytes that the Western code "
                        "page does not have): choose the encoding, or export it again as UTF-8.") from None


def read_table(source: Source, encoding: str | None = None) -> pd.DataFrame:
    """Parse CSV text into a DataFrame: encoding (unless given) and delimiter detected, cells left as pandas
    reads them; ``attrs`` keep the separator and the encoding."""
    raw = read_bytes(source)
    text, encoding = _decode(raw, encoding)
    if not text.strip():
        raise DataError("The file is empty.")
    sample = text[:50_000]
    try:
        sep = csv.Sniffer().sniff("\n".join(sample.splitlines()[:20]), delimiters=",;\t|").delimiter
    except csv.Error:
        sep = ","
    header = text.lstrip().partition("\n")[0]  # whole: a header of 10,000 names is longer than the sample
    cells = (text.count("\n") + 1) * (header.count(sep) + 1)
    if cells > MAX_CELLS:
        raise DataError(f"The file has about {cells:,} cells (rows times columns); the most one file may hold is "
                        f"{MAX_CELLS:,}. Export a shorter period or fewer products.")
    names = [c.strip() for c in next(csv.reader([header], delimiter=sep), [])]
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise DataError(f"The header names {', '.join(repr(c) for c in repeated)} more than once; give every "
                        "column its own name (a second column of the same name would be read silently instead "
                        "of the one you mean).")
    # pandas parses the bytes itself: a StringIO of the text holds four bytes a character (a 135 MiB file
    # peaked at 1.56 GB that way, 0.87 GB from the bytes); the text goes as soon as its checks are done
    if b"\r" in raw and "\r" not in text:  # old Mac line ends were rewritten: parse the rewritten text
        raw, encoding_read = text.encode("utf-8"), "utf-8"
    else:
        encoding_read = "utf-8-sig" if encoding == "utf-8" else encoding
    del text, sample
    read = functools.partial(pd.read_csv, sep=sep, encoding=encoding_read, encoding_errors="replace",
                             skipinitialspace=True)
    try:
        df = read(io.BytesIO(raw), decimal="," if sep == ";" else ".", low_memory=False)
        df = _keep_leading_zeros(df, lambda **kw: read(io.BytesIO(raw), **kw))
    except pd.errors.EmptyDataError:
        raise DataError("The file is empty.") from None
    except (pd.errors.ParserError, ValueError) as exc:
        said = str(exc).strip().splitlines()[0]
        fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", said)
        if fields:  # pandas' words ("Error tokenizing data. C error: ...") in a planner's
            expected, line, saw = fields.groups()
            sep_name = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}.get(sep, repr(sep))
            raise DataError(f"Row {line} of the file has {saw} cells where the header has {expected}: a {sep_name} "
                            "too many in it (a name or a number with a separator in it needs quotes), or a "
                            "column missing from the header.") from None
        raise DataError(f"The file is not a readable CSV table: {said}") from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise DataError("The file has a header but no data rows.")
    if len(df.columns) < 2:
        raise DataError(f"The file has a single column ({df.columns[0]!r}); a date column and at least one "
                        "product or quantity column are needed.")
    df.attrs["sep"] = sep  # how its numbers are written depends on it (see parse_numbers)
    df.attrs["encoding"] = encoding
    return df


def _keep_leading_zeros(df: pd.DataFrame, read: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """Whole-number columns whose text has leading zeros ("00123") are ids, not numbers: read them as text
    again (``read``: the file's read_csv, given usecols, dtype and nrows), so that "00123" and "123" stay
    two products."""
    whole = [c for c in df.columns if pd.api.types.is_integer_dtype(df[c])]
    if not whole:
        return df
    sample = read(usecols=whole, dtype=str, nrows=100_000)
    ids = [c for c in whole if sample[c].str.match(r"^0\d").any()]
    if ids:
        df[ids] = read(usecols=ids, dtype=str)[ids]
    return df


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _rows(index: pd.Index, limit: int = 5) -> str:
    """'row 21' or 'rows 21, 40 and 3 more': spreadsheet row numbers (the header is row 1) of the first
    offending rows."""
    shown = ", ".join(str(int(i) + 2) for i in index[:limit])
    return ("row " if len(index) == 1 else "rows ") + shown + (f" and {len(index) - limit} more" if len(index) > limit else "")


def _looks_like_dates(col: pd.Series) -> bool:
    sample = col.head(2000).dropna().head(200).astype(str).str.strip().str.replace(_OFFSET, r"\1", regex=True)
    if sample.empty or pd.api.types.is_numeric_dtype(col):
        return False
    if not sample.str.match(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}").mean() >= 0.9:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return parsed.notna().mean() >= 0.9


def _best(columns: list[str], hints: dict[str, int], exact: dict[str, int] | None = None,
          exclude: tuple[str, ...] = ()) -> str | None:
    best, best_score = None, 0
    for col in columns:
        n = _norm(col)
        if exclude and any(x in n for x in exclude) and not any(h == n for h in hints):
            continue
        score = max([s for h, s in hints.items() if h in n] + [(exact or {}).get(n, 0)])
        if score > best_score:
            best, best_score = col, score
    return best


def _check_columns(df: pd.DataFrame, names: list[str]) -> None:
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise DataError(f"Column {missing[0]!r} is not in the file. Columns found: "
                        + ", ".join(repr(c) for c in df.columns) + ".")


def _find_date_col(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    ranked = sorted(cols, key=lambda c: -max([s for h, s in _DATE_HINTS.items() if h in _norm(c)] + [0]))
    for col in ranked:
        if _looks_like_dates(df[col]):
            return col
    named = _best(cols, _DATE_HINTS)
    if named is not None:
        return named  # parsing it will say which rows are not dates
    raise DataError("No date column found. Name one column 'date' (for example 2024-03-01), or choose "
                    "the date column by hand. Columns found: " + ", ".join(repr(c) for c in cols) + ".")


def _sep(df: pd.DataFrame) -> str:
    """The separator read_table found (a table built in code: ',')."""
    return df.attrs.get("sep", ",")


def _numeric_share(col: pd.Series, sep: str = ",") -> float:
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return 1.0
    sample = col.dropna().head(500)
    if sample.empty:
        return 0.0
    try:
        with warnings.catch_warnings():  # detection only: the reading itself reports what to check
            warnings.simplefilter("ignore", CommaNote)
            return float(parse_numbers(sample.astype("string").str.strip(), sep, str(col.name)).notna().mean())
    except AmbiguousNumbers:  # numbers all the same; reading them is refused with the reason
        return 1.0


def _looks_like_counts(col: pd.Series) -> bool:
    """Whole numbers that repeat and do not climb row after row (which ids and receipt numbers do)."""
    sample = pd.to_numeric(col.head(100_000), errors="coerce").dropna()
    if len(sample) < 2 or sample.is_monotonic_increasing:
        return False
    whole = bool((sample == sample.round()).mean() >= 0.95)
    return whole and sample.nunique() <= max(2, len(sample) // 2)


def detect_mapping(df: pd.DataFrame, options: IngestOptions = IngestOptions()) -> ColumnMapping:
    """Guess the shape and the role of each column; explicit options always win."""
    date_col = options.date_col
    if date_col is not None:
        _check_columns(df, [date_col])
    else:
        date_col = _find_date_col(df)
    others = [c for c in df.columns if c != date_col]
    _check_columns(df, list(options.product_cols) + ([options.quantity_col] if options.quantity_col else []))
    clash = date_col in options.product_cols or date_col == options.quantity_col
    if clash or (options.quantity_col is not None and options.quantity_col in options.product_cols):
        raise DataError(f"One column was chosen for two roles (date {date_col!r}, product "
                        f"{', '.join(map(repr, options.product_cols)) or 'detected'}, quantity "
                        f"{options.quantity_col!r}); each role needs its own column.")

    if options.format == "wide" and options.quantity_col:
        raise DataError(f"The wide shape was chosen together with the quantity column {options.quantity_col!r}: a "
                        "wide file has one column of quantities per product. Choose the long shape for a "
                        "quantity column, or leave the quantity column on detect.")
    if options.format == "wide":
        value_cols = tuple(options.product_cols) or _wide_value_columns(df, others)
        if not value_cols:
            raise DataError("A wide file needs one numeric column per product next to the date column; none found.")
        return ColumnMapping("wide", date_col, value_cols)

    if options.format == "auto" and not options.product_cols and not options.quantity_col:
        wide = _wide_if_one_row_per_day(df, date_col, others)
        if wide is not None:
            return wide

    product_cols = tuple(options.product_cols) or _detect_product_cols(df, others, options)
    if not product_cols:
        if options.quantity_col:
            raise DataError(f"The quantity column {options.quantity_col!r} was chosen, but no product column was "
                            "found to go with it. Choose the product column too (a wide file has no quantity "
                            "column: leave it on detect).")
        if options.format in ("long", "transactions"):
            raise DataError("No product column found. Choose the column that names the product (for "
                            "example 'product' or 'sku').")
        value_cols = _wide_value_columns(df, others)
        if not value_cols:
            raise DataError("Could not tell which columns hold products: name a product column "
                            "'product' (long format) or give one numeric column per product (wide format).")
        return ColumnMapping("wide", date_col, value_cols)

    quantity_col = options.quantity_col or _detect_quantity(df, date_col, product_cols, others)
    fmt = options.format
    if fmt == "auto":
        fmt = "transactions" if (_has_time_of_day(df[date_col]) or quantity_col is None) else "long"
    taken = (*product_cols, date_col, quantity_col)
    return ColumnMapping(fmt, date_col, product_cols, quantity_col, _name_column(df, others, taken, options))


_NAME_HINTS = {"description": 10, "productname": 10, "itemname": 10, "productdescription": 10, "name": 9,
               "desc": 8, "title": 7, "label": 6}
NAME_SAMPLE = 200_000  # rows a name column is judged on
NAME_AGREEMENT = 0.9  # a name column: this share of rows carries their product's usual name, and as big a
# share of products have a usual name of their own


def _name_column(df: pd.DataFrame, candidates: list[str], taken: tuple[str | None, ...],
                 options: IngestOptions) -> str | None:
    """The column naming each product: the user's choice ("" for none), else the best-named text column
    that maps onto the product key (each product mostly one name, names telling products apart). ``taken``:
    the product key's columns, then the date and quantity columns as chosen or detected."""
    product_cols = tuple(c for c in taken[:-2] if c)
    candidates = [c for c in candidates if c not in taken]
    if options.name_col is not None:
        if options.name_col == "":
            return None
        _check_columns(df, [options.name_col])
        if options.name_col in taken:
            raise DataError(f"The name column {options.name_col!r} is also chosen for another role; a name needs "
                            "its own column.")
        return options.name_col
    head = df.head(NAME_SAMPLE)
    texts = [c for c in candidates if _numeric_share(head[c], _sep(df)) < 0.5 and not _looks_like_dates(head[c])
             and _norm(c) not in _CALENDAR_HELPERS]
    if not texts:
        return None
    # a key of several columns (store, item): a name names the item, shared by its stores
    key = product_key(head, product_cols[-1:])
    texts.sort(key=lambda c: -max([w for h, w in _NAME_HINTS.items() if h in _norm(c)], default=0))
    return next((c for c in texts if _names_fit(key, head[c])), None)


def _names_fit(key: pd.Series, names: pd.Series) -> bool:
    """Whether ``names`` names the products of ``key``: NAME_AGREEMENT of the named rows carry their product's
    most frequent name, and as big a share of the products have a most frequent name no other product has."""
    counts = _name_counts(key, names)
    usual = counts.drop_duplicates("p")
    return len(usual) >= 2 and usual["count"].sum() >= NAME_AGREEMENT * counts["count"].sum() \
        and usual["n"].nunique() >= NAME_AGREEMENT * len(usual)


def usual_names(key: pd.Series, names: pd.Series) -> pd.Series:
    """Each product's most frequent non-empty name (product -> name); ties go to the name seen first."""
    usual = _name_counts(key, names).drop_duplicates("p")
    return pd.Series(usual["n"].to_numpy(dtype=object), index=usual["p"].to_numpy(dtype=object), name="name")


def _name_counts(key: pd.Series, names: pd.Series) -> pd.DataFrame:
    """Rows per (product p, non-empty name n), most frequent first (on a tie, the pair seen first)."""
    pairs = pd.DataFrame({"p": key, "n": names.astype("string").str.strip()}).dropna()
    counts = pairs[pairs["n"] != ""].groupby(["p", "n"], sort=False).size().rename("count").reset_index()
    return counts.sort_values("count", ascending=False, kind="stable")


def product_key(df: pd.DataFrame, product_cols: tuple[str, ...]) -> pd.Series:
    """Each row's product: its product column (spaces around it trimmed), or the columns of a key of several
    joined by " / " (store / item)."""
    parts = [df[c].astype("string").str.strip() for c in product_cols]
    return parts[0] if len(parts) == 1 else parts[0].str.cat(parts[1:], sep=" / ")


def _detect_product_cols(df: pd.DataFrame, others: list[str], options: IngestOptions) -> tuple[str, ...]:
    """The product key of a long file or log: the best product-like name, else a repeating text column;
    with a store column beside it, (store, product). Empty when nothing looks like a product."""
    if options.format not in ("auto", "long", "transactions"):
        return ()
    candidates = [c for c in others if not _looks_like_dates(df[c]) and c != options.quantity_col
                  and _norm(c) not in _CALENDAR_HELPERS]
    best = _best(candidates, _PRODUCT_HINTS, exclude=_NOT_PRODUCT)
    if best is None:  # no telling name: a text column that repeats, like product names do
        text = [c for c in candidates if _numeric_share(df[c], _sep(df)) < 0.5
                and 2 <= df[c].head(100_000).nunique() <= max(2, len(df) // 2)]
        best = max(text, key=lambda c: df[c].head(100_000).nunique(), default=None)
    if best is None:
        return ()
    store = _best([c for c in candidates if c != best], {"store": 1, "shop": 1, "location": 1})
    return (store, best) if "store" not in _norm(best) and store is not None else (best,)


def _detect_quantity(df: pd.DataFrame, date_col: str, product_cols: tuple[str, ...], others: list[str]) -> str | None:
    """The quantity column of a long file or log: one named so, else the best hint among the numeric columns,
    else the one column of counts, else the one number of a file with one row per product and day."""
    named = [c for c in others if c not in product_cols and _norm(c) in _QUANTITY_NAMES]
    if named:  # named so: read right, or refused naming its cells ($12, many)
        return named[0]
    rest = [c for c in others if c not in product_cols and _numeric_share(df[c], _sep(df)) >= 0.5]
    hinted = _best(rest, _QUANTITY_HINTS, _QUANTITY_EXACT, exclude=_NOT_QUANTITY)
    if hinted is not None:
        return hinted
    plain = [c for c in rest if not any(x in _norm(c) for x in _NOT_QUANTITY)]
    counts = [c for c in plain if _looks_like_counts(df[c])]
    if len(counts) == 1:  # no telling name: the one column of counts
        return counts[0]
    if len(plain) == 1 and _one_row_per_product_day(df, date_col, product_cols):
        return plain[0]  # one row per product and day: its one number is the day's quantity (14,56 kg)
    return None


def _one_row_per_product_day(df: pd.DataFrame, date_col: str, product_cols: tuple[str, ...]) -> bool:
    """No time of day and no product twice on a date: a long file of daily quantities, not a log of sales
    (read as one, every day would be 0 or 1 unit)."""
    return not _has_time_of_day(df[date_col]) and not df.duplicated([date_col, *product_cols]).any()


def _has_time_of_day(col: pd.Series) -> bool:
    times = col.head(2000).dropna().head(500).astype(str)
    return bool(times.str.contains(r"\d{1,2}:\d{2}").any())


def _wide_if_one_row_per_day(df: pd.DataFrame, date_col: str, others: list[str]) -> ColumnMapping | None:
    """The wide reading, when the file has one row per day (no time of day) and every other column is a
    number or a calendar helper: then a column named like a product ("item 3") is a product's daily
    demand, not a product id, and reading it as wide keeps every numeric column."""
    if _has_time_of_day(df[date_col]) or df[date_col].duplicated().any():
        return None
    values = _wide_value_columns(df, others)
    text = [c for c in others if c not in values and _norm(c) not in _WIDE_HELPERS and _numeric_share(df[c], _sep(df)) < 0.5]
    if not values or text:
        return None
    named = _best(list(values), _PRODUCT_HINTS, exclude=_NOT_PRODUCT)
    doubt = ""
    if named is not None and len(values) <= 3:
        doubt = (f"Read as wide (one column per product) because every row is a different day and every "
                 f"column is a number; if {named!r} holds product ids instead, choose the long shape.")
    return ColumnMapping("wide", date_col, values, doubt=doubt)


def _wide_value_columns(df: pd.DataFrame, columns: list[str]) -> tuple[str, ...]:
    values = [c for c in columns if _norm(c) not in _WIDE_HELPERS and not _norm(c).startswith("unnamed")
              and _numeric_share(df[c], _sep(df)) >= 0.5 and not _looks_like_dates(df[c])]
    if len(values) > 2:  # drop a row-total column: equal to the sum of the others
        numeric = df[values].apply(pd.to_numeric, errors="coerce").fillna(0.0)
        total = numeric.sum(axis=1)
        values = [c for c in values if not np.allclose(numeric[c] * 2, total, rtol=1e-9, atol=1e-9)]
    return tuple(values)


# plausible purchase dates; anything outside is reported as a likely typo rather than silently spanned
EARLIEST, LATEST = pd.Timestamp("1900-01-01"), pd.Timestamp("2100-12-31")
MAX_SPAN_YEARS = 50


def _detect_dayfirst(values: pd.Series) -> bool:
    """True when a d/m/y-looking date has a first part above 12 (13/01/2024 can only be day-first)."""
    heads = pd.Series(values.astype(str).str.slice(0, 10).unique())  # timestamps share few dates
    parts = heads.str.extract(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})")
    parts = parts.dropna().astype(int)
    if parts.empty:
        return False
    return bool((parts[0] > 12).any())


def _denser_day_first(heads: pd.Series) -> bool:
    """For d/m/y-looking dates none of which has a part above 12 (03/04/2024 reads both ways): day-first when
    that reading puts the dates on fewer calendar days end to end (daily sales fill their calendar; the
    wrong order scatters them over months), else month-first."""
    slashed = heads[heads.str.match(r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}")]
    if slashed.empty:
        return False
    spans = {}
    for first in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(slashed, errors="coerce", dayfirst=first).dropna()
        spans[first] = (parsed.max() - parsed.min()).days if len(parsed) else 0
    return spans[True] < spans[False]


def ambiguous_date_order(col: pd.Series) -> bool:
    """Whether a column's dates read both day-first and month-first (no part above 12 anywhere)."""
    heads = pd.Series(col.dropna().astype("string").str.strip().str.slice(0, 10).unique())
    parts = heads.str.extract(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})").dropna().astype(int)
    return bool(len(parts)) and not bool(((parts[0] > 12) | (parts[1] > 12)).any()) and \
        bool((parts[0] != parts[1]).any())


_TIME = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_ZONE = r"\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})$"
_OFFSET_TAIL = _TIME + _ZONE  # a time of day followed by a UTC offset
_OFFSET = "(" + _TIME + ")" + _ZONE  # the same, keeping the time for the replacement


def _check_date_formats(uniques: pd.Series, col: pd.Series) -> None:
    """Year-first dates next to day/month dates in one column cannot all be read right: refuse, do not guess."""
    iso = uniques.str.match(r"^\d{4}-\d{1,2}-\d{1,2}")
    slashed = uniques.str.match(r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")
    if iso.any() and slashed.any():
        raise DataError(f"Column {col.name!r} mixes year-first dates (such as {uniques[iso].iloc[0]!r}) with "
                        f"day/month dates (such as {uniques[slashed].iloc[0]!r}), which cannot all be read right. "
                        "Export the dates in one format.")


def _check_dayfirst_choice(uniques: pd.Series, dayfirst: bool | None, col: pd.Series) -> None:
    """An explicit date order the dates contradict is an error naming both, never a silent reshuffle."""
    if dayfirst is None:
        return
    parts = uniques.str.extract(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}").dropna().astype(int)
    if dayfirst is True and (parts[1] > 12).any():
        raise DataError(f"Day-first dates were chosen, but column {col.name!r} has dates whose second part is "
                        "above 12, so they are month-first. Leave the date order to be detected (Date order: detect; on the CLI, no --dayfirst) or choose month first.")
    if dayfirst is True and uniques.str.match(r"^\d{4}-\d{1,2}-\d{1,2}").mean() >= 0.9:
        raise DataError(f"Day-first dates were chosen, but column {col.name!r} holds year-first dates such as "
                        f"{uniques.iloc[0]!r} (year-month-day). Leave the date order to be detected (Date order: detect; on the CLI, no --dayfirst).")
    if dayfirst is False and _detect_dayfirst(uniques):
        raise DataError(f"Month-first dates were chosen, but column {col.name!r} has dates whose first part is "
                        "above 12, so they are day-first. Leave the date order to be detected (Date order: detect; on the CLI, no --dayfirst) or choose day first.")


def parse_dates(col: pd.Series, dayfirst: bool | None) -> tuple[pd.DatetimeIndex, bool]:
    """Parse each distinct value once (logs repeat timestamps), floor to days; reject what is not a date."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    uniques = pd.Series(uniques).astype("string").str.strip()
    if len(uniques) == 0:
        raise DataError(f"The date column {col.name!r} is empty.")
    # a UTC offset after a time of day (+02:00, -0500, Z): the sale happened on the local day as written,
    # also across a daylight-saving change where the offset differs from row to row
    if uniques.head(2000).str.contains(_OFFSET_TAIL, regex=True).any():  # a sample decides: a million stamps cost
        uniques = uniques.str.replace(_OFFSET, r"\1", regex=True)  # seconds (a later offset still fails loudly)
    heads = pd.Series(uniques.str.slice(0, 10).unique())  # the date parts: a log's million stamps share few days
    _check_date_formats(heads, col)
    _check_dayfirst_choice(heads, dayfirst, col)
    if dayfirst is None:
        dayfirst = _detect_dayfirst(uniques) or _denser_day_first(heads)
    try:
        with warnings.catch_warnings():  # pandas' "could not infer format" notes are not for the user
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(uniques, errors="coerce", dayfirst=dayfirst)
    except (ValueError, TypeError):
        try:
            parsed = pd.to_datetime(uniques, errors="coerce", dayfirst=dayfirst, format="mixed")
        except (ValueError, TypeError) as exc:
            raise DataError(f"Column {col.name!r} holds dates this tool cannot read consistently (such as "
                            f"{uniques.iloc[0]!r}): {str(exc).splitlines()[0]}") from None
    missed = parsed.isna() & uniques.notna()
    if missed.any():  # the format inferred from the first value misses others (2024-01-02 next to 2024-01-02 10:00)
        parsed[missed] = pd.to_datetime(uniques[missed], errors="coerce", dayfirst=dayfirst, format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    _check_date_range(parsed, uniques, codes, col)
    parsed_values = parsed.dt.as_unit("ns").to_numpy()
    result = np.where(codes >= 0, parsed_values[np.maximum(codes, 0)], np.datetime64("NaT"))
    dates = pd.DatetimeIndex(result)
    bad = np.flatnonzero(pd.isna(dates))
    if len(bad):
        blank = codes[bad] < 0
        first = col.index[bad]
        example = "" if blank[0] else f" (first one: {str(col.iloc[bad[0]])!r})"
        raise DataError(f"Column {col.name!r} has {len(bad)} cell(s) that are not dates{example}, at "
                        f"{_rows(first)}. Fix or remove those rows, or choose another date column.")
    return dates.floor("D"), bool(dayfirst)


def _check_date_range(parsed: pd.Series, uniques: pd.Series, codes: np.ndarray, col: pd.Series) -> None:
    """Reject dates outside EARLIEST..LATEST, or spanning more than MAX_SPAN_YEARS: almost always a typo
    (3024 for 2024) that would otherwise stretch the panel over centuries of zero days."""
    outside = (parsed < EARLIEST) | (parsed > LATEST)
    if outside.any():
        value = uniques[outside].iloc[0]
        rows = col.index[np.isin(codes, np.flatnonzero(outside.to_numpy()))]
        raise DataError(f"Column {col.name!r} has {len(rows)} date(s) outside {EARLIEST.year}-{LATEST.year} "
                        f"(first one: {value!r}) at {_rows(rows)}. Fix those dates (a typo in the year?).")
    first, last = parsed.min(), parsed.max()
    if pd.notna(first) and (last - first).days > MAX_SPAN_YEARS * 366:
        rows = col.index[np.isin(codes, [int(parsed.argmin()), int(parsed.argmax())])]
        raise DataError(f"Column {col.name!r} runs from {first:%Y-%m-%d} to {last:%Y-%m-%d}, more than "
                        f"{MAX_SPAN_YEARS} years of daily data: check the dates at {_rows(rows)} for typos.")


def _numbers(col: pd.Series, what: str, sep: str = ",", notes: list[str] | None = None) -> pd.Series:
    """Coerce to float; blanks stay NaN, text that is not a number is rejected with its rows; a reading to
    check (see :func:`parse_numbers`) is added to ``notes``."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        values = col.astype(float)
    else:
        text = col.astype("string").str.strip().str.replace(r"[\s\u00a0\u202f]", "", regex=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CommaNote)
            values = parse_numbers(text, sep, str(col.name))
        if notes is not None:
            notes += [str(w.message) for w in caught if issubclass(w.category, CommaNote)]
        bad = values.isna() & text.notna() & (text != "")
        if bad.any():
            idx = col.index[bad.to_numpy()]
            raise DataError(f"{what} {col.name!r} has {int(bad.sum())} value(s) that are not numbers "
                            f"(first one: {str(col.loc[idx[0]])!r}) at {_rows(idx)}. Fix those cells or "
                            "choose another column.")
    absurd = values.notna() & ~(values.abs() <= MAX_QUANTITY)  # inf, 1e308: not unit sales of one row
    if absurd.any():
        idx = col.index[absurd.to_numpy()]
        raise DataError(f"{what} {col.name!r} has {int(absurd.sum())} value(s) beyond {MAX_QUANTITY:,.0f} units "
                        f"or not finite (first one: {str(col.loc[idx[0]])!r}) at {_rows(idx)}: these cannot "
                        "be unit sales. Fix those cells or choose another column.")
    return values


def _quantity_problems(df: pd.DataFrame, mapping: ColumnMapping) -> list[str]:
    """What reading the quantities (a long file's column, a wide file's product columns) would refuse, as
    messages ("Also: ..."); [] when they read."""
    columns = mapping.product_cols if mapping.format == "wide" else (mapping.quantity_col,) * bool(mapping.quantity_col)
    problems = []
    for name in columns[:50]:  # a wide file's products: the first 50 are enough to say what to fix
        try:
            _numbers(df[name], "Product column" if mapping.format == "wide" else "Quantity column", _sep(df))
        except DataError as exc:
            problems.append(f"Also: {exc}")
    return problems[:3]


def _natural_key(name: str) -> tuple:
    """'p2' before 'p10': runs of digits compare as numbers (by length, then digits: no int(), which refuses
    a name of 5,000 digits), the rest as lower-case text."""
    return tuple((0, len(t.lstrip("0")), t.lstrip("0")) if t.isdigit() else (1, 0, t.lower())
                 for t in re.split(r"(\d+)", name) if t)


@dataclass
class _RowCounts:
    """What aggregation skipped, dropped or kept, for the report."""

    rows_used: int = 0
    returns_dropped: int = 0
    returns_kept: int = 0
    no_product: int = 0
    no_quantity: int = 0
    notes: list[str] = field(default_factory=list)
    catalog: pd.DataFrame | None = None  # names and key columns per product (a long file or log)
    returns_units: float = 0.0  # units the returned rows (or cells) hold
    excluded: pd.DataFrame | None = None  # lines that are not sales, per product (kept or not)
    country: str = ""  # the holiday calendar a country column suggests
    drivers: tuple | None = None  # (DriverSpec, (days, products, channels) values) of the chosen drivers

    def returns(self, negative: int, keep: bool, units: float = 0.0) -> None:
        """``negative`` rows (or cells) of returns holding ``units`` units, kept or dropped."""
        self.returns_units = float(units)
        if keep:
            self.returns_kept = negative
        else:
            self.returns_dropped = negative


EXTREME_FACTOR = 20  # a day above this many times a product's 99th percentile ...
EXTREME_FLOOR = 5.0  # ... taken as at least 5 units (a slow seller's group purchase of 21 is a sale) is extreme


def extreme_days(daily: pd.DataFrame) -> pd.DataFrame:
    """Product-days far beyond anything else the product sells: above EXTREME_FACTOR times its 99th
    percentile (at least EXTREME_FLOOR units), which a promotion does not reach and a typo (999,999,999 in a product
    selling 0-9 a day) or a stock adjustment does; with the product's median of its other days of the same
    weekday, which stands in for them unless the user keeps them. Vectorised over products."""
    values = daily.to_numpy(dtype=np.float64)
    limit = EXTREME_FACTOR * np.maximum(np.nanpercentile(values, 99, axis=0, method="lower"), EXTREME_FLOOR)
    flagged = values > limit
    if not flagged.any():
        return pd.DataFrame(columns=["product", "date", "value", "replaced_by"])
    rows, cols = np.nonzero(flagged)
    clean = pd.DataFrame(np.where(flagged, np.nan, values), index=daily.index, columns=daily.columns)
    weekday_median = clean.groupby(clean.index.day_of_week).median()  # (7, P), NaN where a weekday has no other day
    fallback = clean.median()
    stand_in = weekday_median.to_numpy()[daily.index.day_of_week[rows], cols]
    stand_in = np.where(np.isnan(stand_in), fallback.to_numpy()[cols], stand_in)
    return pd.DataFrame({"product": daily.columns[cols], "date": daily.index[rows], "value": values[rows, cols],
                         "replaced_by": np.nan_to_num(stand_in)})


def _handle_extremes(daily: pd.DataFrame, keep: bool, counts: "_RowCounts") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The panel with its extreme days replaced (unless ``keep``), the table of them, and a note."""
    extremes = extreme_days(daily)
    if extremes.empty:
        return daily, extremes
    first = extremes.iloc[int(np.argmax(extremes["value"].to_numpy()))]
    what = "kept as they are" if keep else "replaced by the product's median for that weekday in what it learns from"
    counts.notes.append(f"{len(extremes):,} day(s) are far beyond anything else their product sold (over "
                        f"{EXTREME_FACTOR} times its 99th percentile), such as {first['value']:,.0f} units of "
                        f"{first['product']!r} on {first['date']:%d %b %Y}: {what}. Check them in the file"
                        + ("." if keep else ", or keep them (--keep-extremes, or on the Data page)."))
    if keep:
        return daily, extremes.assign(replaced_by=extremes["value"])
    cleaned = daily.copy()
    rows = cleaned.index.get_indexer(extremes["date"])
    cols = cleaned.columns.get_indexer(extremes["product"])
    values = cleaned.to_numpy(copy=True)
    values[rows, cols] = extremes["replaced_by"].to_numpy()
    return pd.DataFrame(values, index=cleaned.index, columns=cleaned.columns), extremes


LONG_GAP_DAYS = 28  # a stretch with no row at all this long is told to the user, not only filled with zeros


def _note_long_gap(dates: pd.DatetimeIndex, counts: "_RowCounts") -> None:
    """A note on the longest stretch of days without a single row, when it is LONG_GAP_DAYS or longer: they
    become days of zero sales, which a closed shop or a missing export is not."""
    days = np.unique(dates.to_numpy(dtype="datetime64[D]"))
    if len(days) < 2:
        return
    gaps = np.diff(days).astype(int) - 1  # missing days between consecutive dates
    longest = int(np.argmax(gaps))
    if gaps[longest] >= LONG_GAP_DAYS:
        one = pd.Timedelta(days=1)
        start, end = pd.Timestamp(days[longest]) + one, pd.Timestamp(days[longest + 1]) - one
        counts.notes.append(f"The file has no rows at all from {start:%d %b %Y} to {end:%d %b %Y} ({gaps[longest]:,} "
                            "days): they count as days without sales. If the shop was closed or the export misses "
                            "them, use only the part after the gap.")


def check_panel_size(first: pd.Timestamp, last: pd.Timestamp, products: int) -> None:
    """The daily panel (every day from the first date to the last, times the products) within
    MAX_PANEL_CELLS, checked before it is built: a small file with two dates decades apart would otherwise
    fill gigabytes with zero days."""
    days = (last - first).days + 1
    if days * products > MAX_PANEL_CELLS:
        raise DataError(f"The daily history would hold {days:,} days ({first:%d %b %Y} to {last:%d %b %Y}) times "
                        f"{products:,} products = {days * products:,} values; the most is {MAX_PANEL_CELLS:,}. "
                        "Export a shorter period or fewer products (check the dates: one far from the others "
                        "stretches the history).")


def build_panel(df: pd.DataFrame, mapping: ColumnMapping, options: IngestOptions = IngestOptions()) -> IngestResult:
    """Aggregate the table to daily demand per product on a gap-free calendar (missing days are 0)."""
    _check_columns(df, [mapping.date_col, *mapping.product_cols] + ([mapping.quantity_col] if mapping.quantity_col else []))
    try:
        dates, dayfirst = parse_dates(df[mapping.date_col], options.dayfirst)
    except DataError as exc:  # and what else is wrong, so that one upload names every column to fix
        raise DataError(" ".join([str(exc), *_quantity_problems(df, mapping)])) from None
    ambiguous = options.dayfirst is None and ambiguous_date_order(df[mapping.date_col])
    if mapping.format == "wide":  # its products are its columns: known before anything is summed
        check_panel_size(dates.min(), dates.max(), len(mapping.product_cols))
    counts = _RowCounts()
    if mapping.format == "wide" and options.drivers:
        raise DataError("Drivers are read from a long file (one row per product and day, the driver beside the "
                        f"quantity); this file is read as wide, so its columns are products. Remove the drivers "
                        f"({', '.join(parse_driver(d).name for d in options.drivers)}) or read it as long.")
    roles = {mapping.date_col, mapping.quantity_col, mapping.name_col, *mapping.product_cols}
    clash = [parse_driver(d).name for d in options.drivers if parse_driver(d).name in roles]
    if clash:
        raise DataError(f"The column {clash[0]!r} was chosen as a driver and already plays another role (date, "
                        "product, quantity or name): a driver is a column of its own.")
    if ambiguous:
        order = "day/month" if dayfirst else "month/day"
        counts.notes.append(f"Dates such as {df[mapping.date_col].dropna().iloc[0]!s} read both ways (no day above "
                            f"12): read as {order}, which puts them on the fewer days end to end. If that is wrong, "
                            "choose the date order (--dayfirst, or Date order on the Data page).")
    encoding = df.attrs.get("encoding")
    if encoding and not options.encoding and encoding not in ("utf-8", "ascii", "utf-16", "utf-16-le", "utf-16-be"):
        counts.notes.append(f"The file is not UTF-8: it was read as {encoding}. If names look wrong, choose its "
                            "encoding (Text encoding, under how the file was read; on the CLI, --encoding).")
    daily = (_wide_daily if mapping.format == "wide" else _long_daily)(df, mapping, dates, options, counts)
    observed = _check_daily(daily, mapping, options)
    # the calendar spans every date in the file: a last day with only returns (or skipped rows) still
    # happened, so it is a day of zero sales and tomorrow is the day after it
    full = pd.date_range(min(observed[0], dates.min()), max(observed[-1], dates.max()), freq="D", name="date")
    check_panel_size(full[0], full[-1], daily.shape[1])
    _note_long_gap(dates, counts)
    daily = daily.reindex(full, fill_value=0.0).astype(float)
    daily.columns = pd.Index([str(c) for c in daily.columns], name="product")
    daily = daily[sorted(daily.columns, key=_natural_key)]
    daily, extremes = _handle_extremes(daily, options.keep_extremes, counts)
    catalog = (counts.catalog.reindex(daily.columns) if counts.catalog is not None
               else pd.DataFrame(index=daily.columns))
    drivers = _driver_panel(counts, observed, full, daily.columns)
    sample = df.head(DETECT_ROWS)
    candidates = () if mapping.format == "wide" else tuple(driver_candidates(
        sample, product_key(sample, mapping.product_cols), (mapping.date_col, mapping.quantity_col, mapping.name_col,
                                                            *mapping.product_cols), mapping.quantity_col))
    report = IngestReport(
        mapping=mapping, rows_read=len(df), rows_used=counts.rows_used, returns_dropped=counts.returns_dropped,
        returns_kept=counts.returns_kept, rows_without_product=counts.no_product,
        rows_without_quantity=counts.no_quantity, dayfirst=dayfirst, products=daily.shape[1], days=len(full),
        start=full[0], end=full[-1], zero_share=float((daily.to_numpy() == 0).mean()), notes=tuple(counts.notes),
        extremes=extremes, excluded=counts.excluded, non_sales_kept=options.keep_non_sales,
        returns_units=counts.returns_units, country=counts.country, driver_candidates=candidates)
    return IngestResult(daily, report, catalog, drivers)


def _driver_panel(counts: "_RowCounts", observed: pd.DatetimeIndex, full: pd.DatetimeIndex,
                  products: pd.Index) -> DriverPanel | None:
    """The chosen drivers on the panel's calendar and product order, days without a row filled
    (:func:`~forecaster.data.drivers.fill_history`), told in the notes."""
    if counts.drivers is None:
        return None
    spec, (days, names, values) = counts.drivers
    at_day = pd.DatetimeIndex(days).get_indexer(full)
    at_product = pd.Index(names).get_indexer(products)
    grid = values[np.clip(at_day, 0, None)][:, at_product]
    grid[at_day < 0] = np.nan
    grid, filled = fill_history(grid, spec)
    if filled:
        counts.notes.append(f"The drivers ({spec.describe()}) had no row on {filled:,} of {grid.shape[0] * grid.shape[1]:,} "
                            "product-days: a flag or a category was read as off there, a number as the product's "
                            "last value before.")
    return DriverPanel(spec, full, tuple(str(p) for p in products), grid)


def _wide_daily(df: pd.DataFrame, mapping: ColumnMapping, dates: pd.DatetimeIndex, options: IngestOptions,
                counts: _RowCounts) -> pd.DataFrame:
    """A wide file's product columns summed per day (empty cells are 0, negative cells are returns)."""
    values = pd.DataFrame({c: _numbers(df[c], "Product column", _sep(df), counts.notes)
                           for c in mapping.product_cols})
    counts.no_quantity = int(values.isna().to_numpy().sum())
    if counts.no_quantity:
        counts.notes.append(f"{counts.no_quantity} empty cell(s) read as 0.")
    values = values.fillna(0.0)
    negative = values < 0
    counts.returns(int(negative.to_numpy().sum()), options.keep_returns, float(-values[negative].sum().sum()))
    if not options.keep_returns:
        values = values.mask(negative, 0.0)
    values.index = dates
    counts.rows_used = len(df)
    if dates.duplicated().any() and not _has_time_of_day(df[mapping.date_col]):
        # one row per day is what a wide file is: a repeated day means the file is long (a product column
        # was dropped and its products' sales would be added together) or has rows twice
        again = np.flatnonzero(dates.duplicated())
        raise DataError(f"Read as wide (one row per day), the file has {len(again):,} row(s) for a day that already "
                        f"had one, such as {dates[again[0]]:%d %b %Y} at {_rows(df.index[again])}: the products' "
                        "sales would be added together. Is it a long file (a product column, then a quantity)? "
                        "Choose that shape, or remove the repeated rows.")
    return values.groupby(level=0).sum()


def _long_daily(df: pd.DataFrame, mapping: ColumnMapping, dates: pd.DatetimeIndex, options: IngestOptions,
                counts: _RowCounts) -> pd.DataFrame:
    """A long file or transaction log summed per day and product (rows without a product or quantity are
    skipped and reported; without a quantity column each row is one unit)."""
    product = product_key(df, mapping.product_cols)
    if len(mapping.product_cols) == 1:
        _note_trimmed_names(df[mapping.product_cols[0]].astype("string"), product, counts)
    missing_product = product.isna() | (product == "")
    qty = (_numbers(df[mapping.quantity_col], "Quantity column", _sep(df), counts.notes) if mapping.quantity_col
           else pd.Series(1.0, index=df.index))
    missing_qty = qty.isna() & ~missing_product
    negative = (qty < 0) & ~missing_product
    counts.no_product, counts.no_quantity = int(missing_product.sum()), int(missing_qty.sum())
    if counts.no_product:
        counts.notes.append(f"{counts.no_product} row(s) with no product name were skipped ("
                            f"{_rows(df.index[missing_product.to_numpy()])}).")
    if not mapping.quantity_col and _one_row_per_product_day(df, mapping.date_col, mapping.product_cols):
        numbers = [c for c in df.columns if c not in (mapping.date_col, *mapping.product_cols, mapping.name_col)
                   and _numeric_share(df[c], _sep(df)) >= 0.5]
        counts.notes.append("No product has two rows on one day, so counting rows as sales makes every day 0 or 1 "
                            "unit. " + (f"If {' or '.join(repr(c) for c in numbers[:3])} holds the quantities, choose "
                                        "it as the quantity column." if numbers else
                                        "If the file has a quantity column, choose it."))
    if counts.no_quantity:
        counts.notes.append(f"{counts.no_quantity} row(s) with no quantity (an empty cell, or a marker such as "
                            f"'n/a') were skipped ("
                            f"{_rows(df.index[missing_qty.to_numpy()])}).")
    keep = ~missing_product & ~missing_qty
    not_sale = _not_sales(df, mapping, product, qty, keep, counts)
    if not options.keep_non_sales:
        keep &= ~not_sale
    counts.returns(int((negative & keep).sum()), options.keep_returns, float(-qty[negative & keep].sum()))
    if not options.keep_returns:
        keep &= ~negative
    keep_np = keep.to_numpy()
    counts.rows_used = int(keep_np.sum())
    if counts.rows_used == 0:
        if counts.excluded is not None and not options.keep_non_sales:
            raise DataError(f"No usable rows: every line that has a product and a quantity is not a sale "
                            f"({len(counts.excluded):,} code(s) such as {counts.excluded['product'].iloc[0]!r}: "
                            f"{counts.excluded['reason'].iloc[0]}), or is a return. If they are sales, keep them "
                            "('Keep lines that are not sales' on the Data page, --keep-non-sales).")
        raise DataError("No usable rows: every row lacks a product or a quantity, or is a return.")
    # days and products as integer codes, summed into the grid by one bincount: a groupby over millions of
    # (date, name) pairs held them all as Python objects (a 135 MiB log peaked at 1.4 GB, now 0.8 GB)
    day_codes, days = pd.factorize(dates[keep_np], sort=True)
    product_codes, names = pd.factorize(product[keep_np])
    check_panel_size(days[0], days[-1], len(names))  # before the grid
    counts.catalog = _catalog(df[keep_np], product[keep_np], mapping)
    counts.country = suggest_country(df[keep_np])
    cells = day_codes.astype(np.int64) * len(names) + product_codes
    if options.drivers:
        spec, values = read_drivers(df[keep_np], tuple(parse_driver(d) for d in options.drivers), cells, len(days),
                                    len(names))
        counts.drivers = (spec, (days, [str(n) for n in names], values))
    sums = np.bincount(cells, weights=qty[keep_np].to_numpy(dtype=np.float64), minlength=len(days) * len(names))
    return pd.DataFrame(sums.reshape(len(days), len(names)), index=pd.DatetimeIndex(days, name="date"),
                        columns=pd.Index(np.asarray(names, dtype=object), name="product"))


# codes of lines that are not a product sold (the UCI invoice log's postage, carriage, commission and fees);
# its one-letter codes (M Manual, D Discount) are found by their names: a product called "M" or "B" is common
NON_PRODUCT_CODES = frozenset({"POST", "DOT", "C2", "CRUK", "BANK CHARGES", "AMAZONFEE"})
# ... and names that say so
NON_PRODUCT_NAME = re.compile(r"(?i)\b(?:postage|carriage|manual|discount|bank charges?|amazon fee|commission|"
                              r"adjust(?:ment)?|bad debt)\b")


def _price_column(df: pd.DataFrame, mapping: ColumnMapping) -> str | None:
    """A column of unit prices beside the quantity (its name says price), if the file has one."""
    roles = {mapping.date_col, mapping.quantity_col, mapping.name_col, *mapping.product_cols}
    return next((c for c in df.columns if c not in roles and "price" in _norm(c)
                 and _numeric_share(df[c].head(10_000), _sep(df)) >= 0.9), None)


def _not_sales(df: pd.DataFrame, mapping: ColumnMapping, product: pd.Series, qty: pd.Series, usable: pd.Series,
               counts: "_RowCounts") -> pd.Series:
    """Rows that are not a product's sale: a code of NON_PRODUCT_CODES, a name matching NON_PRODUCT_NAME, or a
    price of 0 (a stock adjustment). Returns the mask; the products they touch go to ``counts.excluded`` (code,
    name, rows, units, reason), so the Data page can list them whether or not they are kept. Codes and names
    are judged once per distinct value, not per row (a log of millions of rows has a few thousand)."""
    reason = np.zeros(len(df), dtype=np.int8)  # 0: a sale; else 1 + the index of its reason below
    texts = ["a postage, carriage or fee code",
             "its name says it is not a product (postage, fee, manual, discount, adjustment)"]
    codes = [c for c in pd.unique(product.dropna()) if str(c).upper() in NON_PRODUCT_CODES]
    reason[product.isin(codes).to_numpy(dtype=bool)] = 1
    if mapping.name_col:
        names = df[mapping.name_col].astype("string")
        said = [n for n in pd.unique(names.dropna()) if NON_PRODUCT_NAME.search(str(n))]
        reason[(reason == 0) & names.isin(said).to_numpy(dtype=bool)] = 2
    price_col = _price_column(df, mapping)
    if price_col is not None:
        texts.append(f"price 0 in '{price_col}' (a stock adjustment, not a sale)")
        try:
            price = _numbers(df[price_col], "Price column", _sep(df))
        except DataError:  # a column the user never chose must not refuse the file: its numbers that read
            price = pd.to_numeric(df[price_col], errors="coerce")
        free = (price == 0).fillna(False).to_numpy(dtype=bool)
        reason[(reason == 0) & free] = 3
    mask = pd.Series((reason > 0) & usable.to_numpy(dtype=bool), index=df.index)
    if mask.any():
        rows = pd.DataFrame({"product": product[mask], "units": qty[mask],
                             "reason": np.asarray(texts, dtype=object)[reason[mask.to_numpy()] - 1],
                             "name": df[mapping.name_col][mask] if mapping.name_col else pd.NA})
        table = rows.groupby("product", sort=False).agg(name=("name", "first"), rows=("units", "size"),
                                                        units=("units", "sum"), reason=("reason", "first"))
        if not mapping.name_col:
            table = table.drop(columns="name")
        counts.excluded = table.sort_values("rows", ascending=False).reset_index()
    return mask


def _catalog(rows: pd.DataFrame, product: pd.Series, mapping: ColumnMapping) -> pd.DataFrame:
    """One row per product: the key's columns when there are several (each product's first row), and its
    usual name when the file has a name column."""
    first = ~product.duplicated().to_numpy()
    catalog = pd.DataFrame(index=pd.Index(product[first].to_numpy(dtype=object), name="product"))
    if len(mapping.product_cols) > 1:
        for c in mapping.product_cols:
            catalog[c] = rows[c].astype("string").str.strip()[first].to_numpy(dtype=object)
    if mapping.name_col:
        catalog["name"] = usual_names(product, rows[mapping.name_col]).reindex(catalog.index)
    return catalog


def _note_trimmed_names(typed: pd.Series, trimmed: pd.Series, counts: "_RowCounts") -> None:
    """A note when names that differ only by spaces before or after them became one product ('  Apple '
    and 'Apple'): spaces around a name are taken as typing slips, but the merge is said, not silent."""
    changed = (typed != trimmed).fillna(False)
    if not changed.any():  # the usual file: nothing to count
        return
    joined = typed.nunique() - trimmed.nunique()
    if joined > 0:
        spaced = typed[changed.to_numpy(dtype=bool)].dropna()
        example = f" (such as {spaced.iloc[0]!r} read as {spaced.iloc[0].strip()!r})" if len(spaced) else ""
        counts.notes.append(f"{joined:,} product name(s) differ from another only by spaces before or after them "
                            f"and were read as one product{example}.")


def _check_daily(daily: pd.DataFrame, mapping: ColumnMapping, options: IngestOptions) -> pd.DatetimeIndex:
    """Refuse what is not daily demand of a bounded catalog; returns the observed days, sorted."""
    if daily.shape[1] == 0:
        raise DataError("No products found in the file.")
    if daily.shape[1] > options.max_products:
        raise DataError(f"The file has {daily.shape[1]:,} products; the limit is {options.max_products:,}. "
                        "Filter the export to fewer products, or check that the product column is right "
                        f"(it is {', '.join(repr(c) for c in mapping.product_cols[:3])}).")
    observed = daily.index.sort_values().unique()
    if len(observed) < 2:
        raise DataError(f"The file covers a single day ({observed[0].date()}); at least several weeks of "
                        "daily history are needed to forecast.")
    gaps = np.diff(observed.asi8) // 86_400_000_000_000
    if len(observed) >= 3 and gaps.min() >= 7:
        step = "weekly" if gaps.min() < 28 else "monthly or coarser"
        raise DataError(f"The dates are at least {int(gaps.min())} days apart ({step} data, e.g. "
                        f"{observed[0].date()}, {observed[1].date()}). This tool forecasts daily demand: "
                        "upload daily totals or the raw transaction log.")
    return observed


def load_panel(source: Source, options: IngestOptions = IngestOptions()) -> IngestResult:
    """Read a CSV (path, bytes or upload) into the daily panel and its report."""
    df = read_table(source, options.encoding)
    return build_panel(df, detect_mapping(df, options), options)


MAX_FUTURE_DAYS = 366  # a future file's days after the history, at most


def load_future_drivers(source: Source, drivers: DriverPanel, mapping: ColumnMapping, after: pd.Timestamp,
                        options: IngestOptions = IngestOptions(), dayfirst: bool | None = None
                        ) -> tuple[DriverPanel, tuple[str, ...]]:
    """The future values of known-ahead ``drivers`` from a second file with the history's date and product
    columns (``mapping``) and the same driver columns, for days after ``after`` (the history's last day):
    a panel of those days (NaN where the file has no row) and notes on what was left out. Rows of days not
    after the history, or of products the history lacks, are left out and counted; a driver column the file
    lacks, a date or a number that cannot be read are refused naming the column or row. Dates are read in
    the history's order (``dayfirst``, as the history was read) unless ``options`` name one."""
    df = read_table(source, options.encoding)
    date_col = mapping.date_col if mapping.date_col in df.columns else _find_date_col(df)
    _check_columns(df, [*mapping.product_cols])
    dates, _ = parse_dates(df[date_col], options.dayfirst if options.dayfirst is not None else dayfirst)
    product = product_key(df, mapping.product_cols)
    known = pd.Index(drivers.products)
    quoted = product.str.startswith("'").fillna(False) & ~product.isin(known)  # our CSVs quote a name like =x
    product = product.where(~quoted, product.str.slice(1))
    at_product = known.get_indexer(product.fillna(""))
    later = np.asarray(dates > after)
    notes = []
    unknown = (at_product < 0) & later
    if unknown.any():
        notes.append(f"{int(unknown.sum()):,} row(s) name a product the history lacks (first: "
                     f"{product[unknown].iloc[0]!r}, spreadsheet {_rows(df.index[unknown][:1])}): left out.")
    if (~later).any():
        notes.append(f"{int((~later).sum()):,} row(s) fall on or before the history's last day ({after:%d %b %Y}): "
                     "left out (the history's own values stand).")
    keep = later & (at_product >= 0)
    if not keep.any():
        raise DataError(f"The future file has no row for a product of the history on a day after "
                        f"{after:%d %b %Y}: give the drivers' values for the days to forecast.")
    days = pd.date_range(after + pd.Timedelta(days=1), dates[keep].max(), freq="D")
    if len(days) > MAX_FUTURE_DAYS:
        raise DataError(f"The future file reaches {dates[keep].max():%d %b %Y}, {len(days):,} days after the history: "
                        f"give at most {MAX_FUTURE_DAYS} days.")
    cells = days.get_indexer(dates[keep]).astype(np.int64) * len(drivers.products) + at_product[keep]
    known_choices = tuple(c for c in drivers.spec.choices if c.role == "known")
    if not known_choices:
        raise DataError("The model reads no known-ahead driver: it needs no future values.")
    rows = df[keep].assign(**{c.name: pd.NA for c in drivers.spec.choices if c.role == "observed" and c.name not in df})
    _refuse_conflicts(rows, cells, [c for c in known_choices], days, drivers.products)
    spec, values = read_drivers(rows, drivers.spec.choices, cells, len(days), len(drivers.products), drivers.spec)
    values[:, :, ~spec.known] = np.nan  # an observed driver's future is never read
    future = DriverPanel(spec, days, drivers.products, values)
    return future, tuple(notes) + tuple(outside_history(drivers, future))


def _refuse_conflicts(rows: pd.DataFrame, cells: np.ndarray, choices: list, days: pd.DatetimeIndex,
                      products: tuple[str, ...]) -> None:
    """Two rows of a future file for one product and day that give a driver different values: which one the
    planner means cannot be told (a mean of promotion and none is neither)."""
    for choice in choices:
        if choice.name not in rows.columns:
            continue
        text = rows[choice.name].astype("string").str.strip().replace("", pd.NA)
        number = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")  # "1" and "1.0" agree
        value = number.astype("string").where(number.notna(), text)
        seen = pd.DataFrame({"cell": cells, "value": value.to_numpy()}).dropna()
        counts = seen.groupby("cell")["value"].nunique()
        if (counts > 1).any():
            cell = int(counts.index[counts.to_numpy() > 1][0])
            at = rows.index[cells == cell]
            raise DataError(f"The future file gives {choice.name!r} two values for {products[cell % len(products)]!r} on "
                            f"{days[cell // len(products)]:%d %b %Y} (spreadsheet {_rows(at)}): keep one row "
                            "per product and day.")
