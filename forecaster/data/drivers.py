"""Drivers: columns of a long file that move demand (a price, a promotion flag, an event's name), read per
product and day beside the sales, and the future values a forecast needs.

A driver is *known ahead* (the planner sets next week's price and promotions, so the network reads the target
day's own value, and a forecast needs it for every day forecast) or *observed* (customers counted, stock: only
the day before the target day is read, so nothing about the future is needed or assumed). A number is one
feature channel (its daily mean over the product's rows); a text column of at most :data:`MAX_LEVELS` values is
one 0/1 channel per value ("event=Easter"). Values are kept by date, so a history cut anywhere (the backtest's
cut-offs, the recent history a forecast reads) finds its days without slicing anything.

A day without a row for a product (a long file that lists sales only) is filled: a flag or a category with
"off" (0), a price with the product's last known value (the next one before its first row).
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config import DriverChoice, known_ahead_name, parse_driver
from ..errors import DataError
from .numbers import AmbiguousNumbers, CommaNote, parse_numbers

MAX_LEVELS = 20  # a text column with more distinct values is an id or a description, not a driver
DETECT_ROWS = 200_000  # rows a column is judged on when candidates are offered
_ID_NAME = re.compile(r"(?i)(^|[^a-z])(id|no|nr|number|code|key|index)$|^(id|no|nr|index|row)([^a-z]|$)")


@dataclass(frozen=True)
class DriverCandidate:
    """A column the Data page offers as a driver: a number or a category (with its values), and the role
    its name suggests."""

    name: str
    kind: str  # "number" or "category"
    role: str
    levels: tuple[str, ...] = ()

    def describe(self) -> str:
        what = "a number" if self.kind == "number" else f"{len(self.levels)} values such as {self.levels[0]!r}"
        return f"{self.name} ({what}; {'known ahead' if self.role == 'known' else 'observed'})"


def _text(col: pd.Series) -> pd.Series:
    return col.astype("string").str.strip().replace("", pd.NA)


def _as_numbers(col: pd.Series, sep: str = ",") -> pd.Series | None:
    """The column as numbers where at least 98 % of its non-empty cells read as one (else None; also where its
    numbers read two ways, a tab file's 1,234)."""
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return col.astype(float)
    try:
        values = _as_numbers_cellwise(col, sep)
    except AmbiguousNumbers:
        return None
    filled = int(_text(col).notna().sum())
    return values if filled and values.notna().sum() >= 0.98 * filled else None


def _as_numbers_cellwise(col: pd.Series, sep: str = ",") -> pd.Series:
    """Each cell as a number, read as ingest reads quantities (:func:`~forecaster.data.numbers.parse_numbers`:
    one decimal mark per column, thousands groups); NaN where empty or not one."""
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return col.astype(float)
    with warnings.catch_warnings():  # ingest's note on a decimal comma is for quantities
        warnings.simplefilter("ignore", CommaNote)
        return parse_numbers(_text(col), sep, str(col.name))


def _judge(col: pd.Series, product: pd.Series, quantity: pd.Series | None,
           sep: str = ",") -> tuple[str, tuple[str, ...]] | str:
    """(kind, levels) of a usable driver column, or why it is not one."""
    text = _text(col)
    if text.nunique(dropna=False) <= 1:  # an empty cell is a value too ("no event")
        return "it holds one value on every row"
    numbers = _as_numbers(col, sep)
    if numbers is not None:
        if _ID_NAME.search(str(col.name)):
            return "its name says it is an id or a number, not a driver"
        if quantity is not None and np.allclose(numbers.fillna(-1), quantity.fillna(-1)):
            return "it is the quantity sold itself"
        kind, levels = "number", ()
    else:
        levels = tuple(sorted(text.dropna().unique().tolist(), key=str))
        if len(levels) > MAX_LEVELS:
            return f"it has {len(levels):,} different values: an id or a description, not a driver"
        kind = "category"
    if not text.groupby(product.to_numpy()).nunique(dropna=False).gt(1).any():
        return "it never changes within a product (a property of the product, not of the day)"
    return kind, levels


def driver_candidates(sample: pd.DataFrame, product: pd.Series, taken: tuple[str | None, ...],
                      quantity_col: str | None) -> list[DriverCandidate]:
    """The columns of a long file (``sample``: its first DETECT_ROWS rows, ``product``: their product key) that
    can be drivers: not a role already ``taken``, not a constant, an id, the quantity itself or a property
    of the product."""
    sep = sample.attrs.get("sep", ",")  # the file's separator: how its numbers are written
    quantity = _as_numbers(sample[quantity_col], sep) if quantity_col else None
    out = []
    for name in sample.columns:
        if name in taken:
            continue
        judged = _judge(sample[name], product, quantity, sep)
        if isinstance(judged, tuple):
            out.append(DriverCandidate(str(name), judged[0], "known" if known_ahead_name(name) else "observed",
                                       judged[1]))
    return out


@dataclass(frozen=True)
class DriverSpec:
    """Which drivers a run reads and how: each choice, and a category's values (one channel each)."""

    choices: tuple[DriverChoice, ...]
    levels: tuple[tuple[str, ...], ...]  # per choice: () for a number

    @property
    def channels(self) -> tuple[str, ...]:
        """Feature names: 'price', or 'event=Easter' per value of a category."""
        return tuple(c.name if not lv else f"{c.name}={v}" for c, lv in zip(self.choices, self.levels)
                     for v in (lv or (None,)))

    @property
    def known(self) -> np.ndarray:
        """(D,) bool: channels read on the target day itself (known ahead)."""
        return np.concatenate([np.full(channels.stop - channels.start, c.role == "known") for c, _, channels
                               in self.blocks()] or [np.zeros(0, dtype=bool)])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.choices)

    def blocks(self) -> list[tuple[DriverChoice, tuple[str, ...], slice]]:
        """Each choice with its category's values and the slice of the channels (the last axis) it holds."""
        out, start = [], 0
        for choice, levels in zip(self.choices, self.levels):
            out.append((choice, levels, slice(start, start + max(len(levels), 1))))
            start += max(len(levels), 1)
        return out

    def describe(self) -> str:
        return ", ".join(f"{c.name} ({'known ahead' if c.role == 'known' else 'observed'})" for c in self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {"choices": [c.text for c in self.choices], "levels": [list(lv) for lv in self.levels]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DriverSpec":
        return cls(tuple(parse_driver(t) for t in data["choices"]), tuple(tuple(lv) for lv in data["levels"]))


@dataclass(frozen=True)
class DriverPanel:
    """Driver values by date: ``values`` (len(dates), len(products), channels), NaN where not known (a
    future day nobody gave)."""

    spec: DriverSpec
    dates: pd.DatetimeIndex
    products: tuple[str, ...]
    values: np.ndarray

    def rows(self, days: pd.DatetimeIndex) -> np.ndarray:
        """(len(days), P, D) the values on ``days``; NaN on a day the panel does not cover."""
        at = self.dates.get_indexer(days)
        out = self.values[np.clip(at, 0, None)].copy() if len(self.dates) else np.full(
            (len(days), len(self.products), len(self.spec.channels)), np.nan, np.float32)
        out[at < 0] = np.nan
        return out

    def since(self, start: pd.Timestamp) -> "DriverPanel":
        """The values from ``start`` on, as a view (no copy): what a forecast from the latest days reads."""
        first = int(self.dates.searchsorted(start))
        return DriverPanel(self.spec, self.dates[first:], self.products, self.values[first:])

    def aligned(self, products: list[str]) -> "DriverPanel":
        """The same values with products in ``products``' order (a model's training order)."""
        if list(self.products) == list(products):
            return self
        at = pd.Index(self.products).get_indexer(products)
        if (at < 0).any():
            missing = products[int(np.flatnonzero(at < 0)[0])]
            raise DataError(f"The data has no rows for product {missing!r}, so no driver values either, and the "
                            "model was trained on it: give the history and driver values of every product the "
                            "model knows (or train again on this data).")
        return DriverPanel(self.spec, self.dates, tuple(products), self.values[:, at])

    def combined(self, later: "DriverPanel") -> "DriverPanel":
        """These values with ``later``'s (future values, a what-if) over them where ``later`` has one."""
        later = later.aligned(list(self.products))
        dates = self.dates.union(later.dates)
        values = self.rows(dates)
        new = later.rows(dates)
        values = np.where(np.isnan(new), values, new)
        return DriverPanel(self.spec, dates, self.products, values.astype(np.float32))

    def with_defaults(self, days: pd.DatetimeIndex) -> "DriverPanel":
        """Days not covered or left empty take each known driver's default where the user chose one, and an
        observed driver's last value before them (its future is never given: a forecast's later days read
        the last one seen, not a blank read as the product's lowest value)."""
        have = self.combined(DriverPanel(self.spec, days, self.products, np.full(
            (len(days), len(self.products), len(self.spec.channels)), np.nan, np.float32)))
        values = have.values  # a fresh array: combined() built it
        at = have.dates.get_indexer(days)
        for choice, levels, channels in self.spec.blocks():
            block = values[:, :, channels]
            if choice.role == "known" and choice.default is not None:
                empty = np.isnan(block[at]).any(axis=2)
                part = block[at]
                part[empty] = _default_row(choice, levels)
                block[at] = part
            elif choice.role == "observed":
                last = np.maximum.accumulate(np.where(~np.isnan(block).any(axis=2), np.arange(len(block))[:, None], -1),
                                             axis=0)  # (T, P) the row of each product's last value so far
                rows = np.clip(last, 0, None)
                filled = block[rows, np.arange(block.shape[1])[None, :]]
                block[:] = np.where((last >= 0)[:, :, None], filled, block)
        return DriverPanel(self.spec, have.dates, self.products, values)

    def with_value(self, product: str, name: str, value: str, days: pd.DatetimeIndex) -> "DriverPanel":
        """A what-if: ``product``'s driver ``name`` set to ``value`` (a number, or one of a category's values)
        on ``days``, everything else as it was."""
        choice, levels, channels = self.spec.blocks()[self.spec.names.index(name)]
        row = _default_row(DriverChoice(choice.name, choice.role, value), levels, "what-if value")
        grown = self.with_defaults(days) if len(days) else self
        values = grown.values.copy()
        at = grown.dates.get_indexer(days)
        values[at, self.products.index(product), channels] = row
        return DriverPanel(self.spec, grown.dates, self.products, values)

    def missing(self, days: pd.DatetimeIndex, trading: np.ndarray | None = None) -> str:
        """'' when every known driver has a value for every product on the (trading) ``days``, else a message
        naming the first product and day without one, and how many more there are."""
        known = self.spec.known
        if not known.any() or not len(days):
            return ""
        rows = self.rows(days)[:, :, known]  # (D, P, K)
        gaps = np.isnan(rows).any(axis=2)
        if trading is not None:
            gaps &= np.asarray(trading, dtype=bool)[:, None]
        if not gaps.any():
            return ""
        day, product = np.argwhere(gaps)[0]
        channel = np.array(self.spec.channels)[known][int(np.flatnonzero(np.isnan(rows[day, product]))[0])]
        name = channel.split("=")[0]
        more = int(gaps.sum()) - 1
        return (f"No future value of the driver {name!r} for product {self.products[product]!r} on "
                f"{days[day]:%a %d %b %Y}" + (f" ({more:,} more product-days lack one)" if more else "")
                + ": the forecast needs the drivers' values on every day it covers. Give them in a future values "
                "file, or choose a value for days without one (such as 0 for no promotion) and train again.")


def future_template(drivers: DriverPanel, date_col: str, product_cols: tuple[str, ...], days: pd.DatetimeIndex,
                    catalog: pd.DataFrame | None = None) -> pd.DataFrame:
    """The file a planner fills in with future values: one row per product and day of ``days``, the history's
    date and product columns (a key of several split into its columns, from ``catalog``), and each
    known-ahead driver's column holding its default where it has one, else empty."""
    known = [c for c in drivers.spec.choices if c.role == "known"]
    products = list(drivers.products)
    frame = pd.DataFrame({date_col: np.repeat(days.strftime("%Y-%m-%d"), len(products))})
    if len(product_cols) > 1 and catalog is not None and all(c in catalog.columns for c in product_cols):
        for col in product_cols:
            frame[col] = np.tile(catalog.reindex(products)[col].astype("string").to_numpy(), len(days))
    else:
        frame[product_cols[0] if product_cols else "product"] = np.tile(np.asarray(products, dtype=object), len(days))
    for choice in known:
        frame[choice.name] = choice.default if choice.default is not None else ""
    return frame


NO_VALUE = ("", "none")  # a category's value meaning none of its values (no event)


def _default_row(choice: DriverChoice, levels: tuple[str, ...], what: str = "value for days without one") -> np.ndarray:
    """The channel values of a driver's default (or a what-if's value): the number, or the category's 0/1
    flags (none set for 'none'); anything else is refused naming ``what`` it is."""
    text = str(choice.default).strip()
    if not levels:
        try:
            value = float(text.replace(",", "."))
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(f"The {what} of the driver {choice.name!r} must be a number, not {choice.default!r}.")
        return np.array([value], dtype=np.float32)
    if text not in levels and text.lower() not in NO_VALUE:
        raise DataError(f"The {what} of the driver {choice.name!r} must be one of its values in the history "
                        f"({', '.join(map(repr, levels[:12]))}) or none, not {choice.default!r}.")
    return np.array([float(text == v) for v in levels], dtype=np.float32)


def _as_in_file(choice: DriverChoice, columns: list) -> DriverChoice:
    """The choice naming the file's column as the file spells it, where only case, spaces or the quote our
    CSVs put before a formula-like name differ ("Promo" for promo, "'=x" for =x) and no other column matches."""
    if choice.name in columns:
        return choice
    same = [c for c in columns if str(c).strip().removeprefix("'").lower() == choice.name.strip().lower()]
    return DriverChoice(str(same[0]), choice.role, choice.default) if len(same) == 1 else choice


def _cell_means(numbers: np.ndarray, cells: np.ndarray, n_cells: int) -> np.ndarray:
    """Mean of the non-missing ``numbers`` per cell (NaN for a cell without one), by bincount."""
    ok = ~np.isnan(numbers)
    sums = np.bincount(cells[ok], weights=numbers[ok], minlength=n_cells)
    counts = np.bincount(cells[ok], minlength=n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def read_drivers(df: pd.DataFrame, choices: tuple[DriverChoice, ...], cells: np.ndarray, n_days: int,
                 n_products: int, spec: DriverSpec | None = None) -> tuple[DriverSpec, np.ndarray]:
    """The chosen columns of the rows ``df`` (one per ``cells`` entry: day * n_products + product) as
    (n_days, n_products, channels) daily values, NaN where a cell has no row. ``spec`` fixes a category's
    values (a saved run's, or the history's for its future file); without it they are read from the rows."""
    choices = tuple(_as_in_file(c, list(df.columns)) for c in choices)
    missing = [c.name for c in choices if c.name not in df.columns]
    if missing:
        raise DataError(f"The file has no column {missing[0]!r} for the driver of that name; its columns: "
                        + ", ".join(map(str, list(df.columns)[:20])) + "."
                        + (" A driver's role is known or observed (NAME:known, NAME:observed)." if ":" in missing[0]
                           else ""))
    blocks, all_levels, sep = [], [], df.attrs.get("sep", ",")
    for i, choice in enumerate(choices):
        col = df[choice.name]
        known_levels = spec.levels[i] if spec is not None else None
        numbers = (_as_numbers(col, sep) if known_levels is None else _as_numbers_cellwise(col, sep) if not known_levels
                   else None)
        if known_levels == ():  # a number in the history: every cell must read as one
            bad = (_text(col).notna() & numbers.isna()).to_numpy()
            if bad.any():
                raise DataError(f"The driver {choice.name!r} is a number in the history, but spreadsheet row "
                                f"{int(col.index[bad][0]) + 2} holds {str(col[bad].iloc[0])!r}.")
        elif numbers is not None and known_levels is None:  # read as a number: a cell that is not one is no gap
            _refuse_text_among_numbers(choice.name, col, numbers)
        if numbers is not None:
            all_levels.append(())
            blocks.append(_cell_means(numbers.to_numpy(dtype=np.float64), cells, n_days * n_products)[:, None])
            continue
        text = _text(col)
        levels = known_levels if known_levels is not None else tuple(sorted(text.dropna().unique().tolist(), key=str))
        if len(levels) > MAX_LEVELS:
            raise DataError(f"The driver {choice.name!r} has {len(levels):,} different values: an id or a "
                            f"description, not a driver (at most {MAX_LEVELS} values, or a number).")
        codes = pd.Index(list(levels), dtype=object).get_indexer(text.astype(object))  # -1: empty or not a level
        unseen = (codes < 0) & text.notna().to_numpy()
        if known_levels is not None and unseen.any():  # a value the history never had: its effect is unknown
            at = int(np.flatnonzero(unseen)[0])
            raise DataError(f"The driver {choice.name!r} holds {str(text.iloc[at])!r} in spreadsheet row "
                            f"{int(col.index[at]) + 2}, a value the history never had, so its effect is unknown: "
                            f"use one of {', '.join(map(repr, levels[:12]))} (or leave the cell empty for none).")
        flags = np.zeros((n_days * n_products, len(levels)))
        present = np.bincount(cells, minlength=n_days * n_products) > 0
        hit = codes >= 0
        np.maximum.at(flags, (cells[hit], codes[hit]), 1.0)
        flags[~present] = np.nan
        all_levels.append(tuple(levels))
        blocks.append(flags)
    values = np.concatenate(blocks, axis=1).reshape(n_days, n_products, -1).astype(np.float32)
    for choice, levels in zip(choices, all_levels):  # a default that cannot be read: refused now, not at forecast
        if choice.default is not None:
            _default_row(choice, levels)
    return DriverSpec(tuple(choices), tuple(all_levels)), values




def _refuse_text_among_numbers(name: str, col: pd.Series, numbers: pd.Series) -> None:
    """A driver read as numbers whose cells are not all numbers ('yes' in a 0/1 promo) is refused naming the
    rows: such a cell read as 'no row' trained a promotion as none."""
    bad = (_text(col).notna() & numbers.isna()).to_numpy()
    if bad.any():
        rows = ", ".join(str(int(i) + 2) for i in col.index[bad][:5]) + (
            f" and {int(bad.sum()) - 5:,} more" if bad.sum() > 5 else "")
        raise DataError(f"The driver {name!r} holds numbers, but spreadsheet row{'s' if bad.sum() > 1 else ''} "
                        f"{rows} hold{'' if bad.sum() > 1 else 's'} {str(col[bad].iloc[0])!r}: write a number there "
                        "(1 for yes, 0 for no), or leave the cell empty where there is no value (an empty cell "
                        "takes the product's last value, a flag 0).")


def fill_history(values: np.ndarray, spec: DriverSpec) -> tuple[np.ndarray, int]:
    """History cells without a row filled: a 0/1 number or a category's flags with 0 (off), any other number
    with the product's last value before (its first one, before its first row); a product with no value at
    all gets the driver's median over products. Returns the filled (T, P, D) values and the cells filled."""
    out = values.copy()
    filled = int(np.isnan(out).any(axis=2).sum())
    for choice, levels, channels in spec.blocks():
        block = out[:, :, channels]
        seen = block[~np.isnan(block)]
        if not levels and _OPEN_FLAG.match(choice.name):  # a file listing sales only: a day without a row was open
            block[np.isnan(block)] = 1.0
        elif levels or np.isin(seen, (0.0, 1.0)).all():
            block[np.isnan(block)] = 0.0
        else:
            frame = pd.DataFrame(block[:, :, 0]).ffill().bfill()
            median = float(np.nanmedian(seen)) if seen.size else 0.0
            block[:, :, 0] = frame.fillna(median).to_numpy()
        out[:, :, channels] = block
    return out, filled


@dataclass(frozen=True)
class DriverScale:
    """Each product's driver channels mapped to about 0..1 by their range on the days before the test span
    (a channel that never moved there is only shifted, so a future change still shows)."""

    offset: np.ndarray  # (P, D)
    divisor: np.ndarray  # (P, D)

    @classmethod
    def fit(cls, drivers: DriverPanel, end: pd.Timestamp) -> "DriverScale":
        values = drivers.values[drivers.dates < end]
        if not len(values):
            values = drivers.values[:1]
        with np.errstate(all="ignore"):
            lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        lo = np.nan_to_num(lo)
        span = np.nan_to_num(hi) - lo
        divisor = np.where(span > 0, span, np.maximum(np.abs(lo), 1.0))
        return cls(lo.astype(np.float32), divisor.astype(np.float32))

    def transform(self, rows: np.ndarray) -> np.ndarray:
        return ((rows - self.offset) / self.divisor).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"offset": self.offset.tolist(), "divisor": self.divisor.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DriverScale":
        return cls(np.asarray(data["offset"], np.float32), np.asarray(data["divisor"], np.float32))


# a known-ahead driver named so is a store's open flag: 0 (or closed = 1) shuts the product-day
_OPEN_FLAG = re.compile(r"(?i)^(is|store|shop)?[ _-]?open(ed)?$")
_CLOSED_FLAG = re.compile(r"(?i)^(is|store|shop)?[ _-]?closed?$")


def _open_flags(drivers: DriverPanel | None) -> list[tuple[DriverChoice, slice]]:
    """The known-ahead open flags among ``drivers`` (a number named open, or closed) and their channels."""
    return [(choice, channels) for choice, levels, channels in (drivers.spec.blocks() if drivers else [])
            if choice.role == "known" and not levels and (_OPEN_FLAG.match(choice.name) or _CLOSED_FLAG.match(choice.name))]


def closed_cells(drivers: DriverPanel | None, days: pd.DatetimeIndex) -> np.ndarray | None:
    """(len(days), P) the product-days a known-ahead open flag (a driver named open, or closed) marks shut:
    forecast 0 with nothing to order, and no training target, calibration error or score, as closed days
    are. None without such a driver; a day it does not cover is not shut here."""
    flags = _open_flags(drivers)
    if not flags:
        return None
    rows = drivers.rows(days)
    shut = np.zeros(rows.shape[:2], dtype=bool)
    for choice, channels in flags:
        value = rows[:, :, channels.start]
        shut |= (value == 0) if _OPEN_FLAG.match(choice.name) else (value == 1)
    return shut


def opened_cells(drivers: DriverPanel | None, days: pd.DatetimeIndex) -> np.ndarray | None:
    """(len(days), P) the product-days a known-ahead open flag's given values (not a default) mark open: on a
    day the business does not trade, a plan the forecast must not silently overrule. None without such a flag."""
    flags = _open_flags(drivers)
    if not flags:
        return None
    rows = drivers.rows(days)  # NaN where nobody gave a value
    opened = np.zeros(rows.shape[:2], dtype=bool)
    for choice, channels in flags:
        value = rows[:, :, channels.start]
        opened |= (value == 1) if _OPEN_FLAG.match(choice.name) else (value == 0)
    return opened


FILL_WEEKS = 8  # a closed product-day's lag reads the same weekday of an open week up to this many weeks back


def outside_history(drivers: DriverPanel, future: DriverPanel) -> list[str]:
    """Notes on a number among ``future``'s known values beyond anything its product had in ``drivers``' history
    (a price of -50, of a billion): the model never saw such a value, so its forecast there is a guess."""
    notes = []
    for choice, levels, channels in drivers.spec.blocks():
        if choice.role == "known" and not levels:
            with np.errstate(all="ignore"):
                lo = np.nanmin(drivers.values[:, :, channels.start], axis=0)
                hi = np.nanmax(drivers.values[:, :, channels.start], axis=0)
            value = future.values[:, :, channels.start]
            span = np.nan_to_num(hi - lo)
            off = ~np.isnan(value) & ((value < lo - span) | (value > hi + span) | ((value < 0) & (lo >= 0)))
            if off.any():
                day, product = np.argwhere(off)[0]
                notes.append(f"{choice.name} = {value[day, product]:g} for {drivers.products[product]!r} on "
                             f"{future.dates[day]:%d %b %Y} ({int(off.sum()):,} such product-day(s)) is far from "
                             f"anything it had in the history ({lo[product]:g} to {hi[product]:g}): the model "
                             "never saw such a value, so its forecast there is a guess.")
    return notes


def filled_closures(values: np.ndarray, shut: np.ndarray | None) -> np.ndarray:
    """(T, P) ``values`` with each ``shut`` product-day (:func:`closed_cells`) replaced, as the networks' lags read
    it, by the same weekday of the latest open week before it (up to FILL_WEEKS back), else by the product's mean
    over its open days: a closure says nothing about demand, and a 0 in the lags read as a collapse pulled the
    week after a planned closure down by 8-13 %. A handful of vector steps, no loop over days."""
    if shut is None or not shut.any():
        return values
    out = np.array(values, dtype=np.float64, copy=True)
    todo = shut.copy()
    for weeks in range(1, FILL_WEEKS + 1):
        lag = 7 * weeks
        if lag >= len(out) or not todo.any():
            break
        take = np.zeros_like(todo)
        take[lag:] = todo[lag:] & ~shut[:-lag]
        rows, cols = np.nonzero(take)
        out[rows, cols] = values[rows - lag, cols]
        todo &= ~take
    if todo.any():  # the product's mean over its open days before each day: nothing later leaks in
        open_values = np.where(shut, 0.0, values)
        sums = np.cumsum(open_values, axis=0) - open_values
        counts = np.cumsum(~shut, axis=0) - ~shut
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        out[todo] = mean[todo]
    return out


def driver_days(drivers: DriverPanel, days: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Per known-ahead driver, (len(days), P) whether it was set on a product-day: a value other than the
    product's usual one on the days before ``days`` (its median; a promotion flag's usual value is off)."""
    out = {}
    rows = drivers.rows(days)
    before = drivers.values[drivers.dates < days.min()] if len(days) else drivers.values
    before = before if len(before) else drivers.values
    for choice, _, channels in drivers.spec.blocks():
        if choice.role == "known":
            with np.errstate(all="ignore"):
                usual = np.nanmedian(before[:, :, channels], axis=0)  # (P, width)
            block = rows[:, :, channels]
            out[choice.name] = (np.abs(block - usual) > 1e-9).any(axis=2) & ~np.isnan(block).any(axis=2)
    return out


def driver_features(drivers: DriverPanel, scale: DriverScale, days: pd.DatetimeIndex) -> np.ndarray:
    """(len(days), P, D) scaled driver features of target days: a known-ahead channel's value on the day
    itself, an observed one's on the day before (its own day is not known when the forecast is made).
    A value nobody gave is 0 here; a forecast checks first that none is missing (:meth:`DriverPanel.missing`)."""
    known = drivers.spec.known
    rows = drivers.rows(days)
    if not known.all():
        rows[:, :, ~known] = drivers.rows(days - pd.Timedelta(days=1))[:, :, ~known]
    return np.nan_to_num(scale.transform(rows), nan=0.0)
