"""Days the business does not trade, found in the history or named by the user.

A closed day is forecast 0 with nothing to order, and left out of the training targets, the calibration and
the scores: a model that "predicts" a Saturday the shop never opens learns nothing, and an error of 0 on it
flatters every method alike. Two kinds are found (``closed_days="auto"``):

* a weekday with no sale of any product in the last year (at least :data:`MIN_WEEKS` of them seen), while
  other weekdays sell: closed every week, in the future too;
* a single day on which no product sold, where the catalog would sell nothing on a trading day with a chance
  below :data:`CLOSED_CHANCE` (the product of each product's share of zero days): a Christmas closure of a
  busy shop, not a quiet day of a one-product file. Such a day is closed where it was observed, and in the
  future where it comes back every year: the same date (Christmas Day, New Year's Day) closed in every
  earlier year the history holds it, at least :data:`MIN_YEARS` of them, or, with a public holiday
  calendar, the same holiday (Good Friday moves) closed in every earlier year, one is enough (a holiday is
  a reason; one shut 25 December alone might have been a one-off, and is said as a doubt instead).

``"off"`` makes every day a trading day; a list of weekdays (``"sat,sun"``) names the closed weekdays instead
of finding them (single closed days are still found).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import closed_weekdays_named
from .holidays import holiday_names

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
YEAR = 364  # days a closed weekday must have gone without a sale (52 weeks)
MIN_WEEKS = 8  # ... and at least this many of that weekday seen
CLOSED_CHANCE = 0.01  # a day with no sale at all is a closure when a trading day would be so empty this rarely
MIN_YEARS = 2  # a date closed in every earlier year, at least this many, is closed in the future
MIN_HOLIDAY_YEARS = 1  # ... and a public holiday of the run's calendar closed in every earlier year, even one
LEAD_CLOSED = 21  # closed days a forecast may skip before its first trading day (closed weekdays and holidays)


@dataclass(frozen=True)
class TradingCalendar:
    """Which days of a history were closed (``closed``, one flag per day of ``dates``) and which weekdays
    are closed every week (Monday = 0), found or named."""

    dates: pd.DatetimeIndex
    closed: np.ndarray  # (T,) bool
    closed_weekdays: tuple[int, ...]
    named: bool = False  # the weekdays were named by the user, not found
    holidays: str = ""  # the run's public holiday calendar: a holiday closed every year is closed ahead too
    _values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False, compare=False)  # (T, P) demand

    def weekday_closed(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """(len(dates),) bool: the days that fall on a closed weekday (for future days)."""
        return np.isin(dates.day_of_week, self.closed_weekdays)

    def future_closed(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """(len(dates),) bool: the future days that are closed: a closed weekday, or a date or public holiday
        closed in every earlier year (:meth:`yearly_reason`)."""
        return self.weekday_closed(dates) | np.array([bool(self.yearly_reason(d)) for d in dates], dtype=bool)

    def ahead(self, last: pd.Timestamp, days: int) -> tuple[pd.DatetimeIndex, np.ndarray, int]:
        """What a forecast of ``days`` days after ``last`` covers: the closed days before the next trading day
        (at most LEAD_CLOSED) and ``days`` days from it; their closed flags; and how many closed days lead."""
        dates = pd.date_range(last + pd.Timedelta(days=1), periods=days + LEAD_CLOSED, freq="D")
        closed = self.future_closed(dates)
        skip = int(np.argmin(closed))
        return dates[:skip + days], closed[:skip + days], skip

    def yearly_reason(self, date: pd.Timestamp) -> str:
        """Why a future ``date`` is closed as it was every earlier year, in a planner's words ('' if not):
        the same calendar date, or the same public holiday of :attr:`holidays`, closed in each of at least
        MIN_YEARS earlier years and open in none; a year it fell on a closed weekday says nothing of it."""
        trades = ~np.isin(self.dates.day_of_week, self.closed_weekdays)
        same = self._same_date(date)
        if same.sum() >= MIN_YEARS and self.closed[same].all():
            return f"no product sold on {date:%d %B} in any of the {int(same.sum())} earlier years"
        name = holiday_names([date], self.holidays).get(date) if self.holidays else None
        if name:
            same = (self._named_history == name).to_numpy() & trades
            if same.sum() >= MIN_HOLIDAY_YEARS and self.closed[same].all():
                years = "its one earlier year" if same.sum() == 1 else f"any of the {int(same.sum())} earlier years"
                return f"no product sold on {name} in {years}"
        return ""

    def doubt(self, date: pd.Timestamp) -> str:
        """Why a future ``date`` forecast as trading might be closed ('' if nothing says so): the same date
        was closed in the history's one earlier year, too little to make it a rule (:data:`MIN_YEARS`)."""
        if self.yearly_reason(date) or date.day_of_week in self.closed_weekdays:
            return ""
        same = np.flatnonzero(self._same_date(date))
        if len(same) == 1 and self.closed[same[0]]:
            return f"no product sold on {self.dates[same[0]]:%d %B %Y}, the one earlier {date:%d %B} the history holds"
        return ""

    def _same_date(self, date: pd.Timestamp) -> np.ndarray:
        """(T,) the history's days on ``date``'s month and day that fell on a trading weekday (a year it fell
        on a closed weekday says nothing of the date)."""
        trades = ~np.isin(self.dates.day_of_week, self.closed_weekdays)
        return np.asarray((self.dates.month == date.month) & (self.dates.day == date.day)) & trades

    @functools.cached_property
    def _named_history(self) -> pd.Series:
        """Each history date's public holiday by name (missing where none, or without a calendar); read once."""
        named = holiday_names(self.dates, self.holidays) if self.holidays else {}
        return pd.Series(named, dtype=object).reindex(self.dates)

    @functools.cached_property
    def product_off_weekdays(self) -> np.ndarray:
        """(7, P) bool: the weekdays on which a product has not sold in the last year while the business traded
        and it sold on other weekdays, where that many weeks without a sale would happen by chance under
        CLOSED_CHANCE over the catalog's 7P product-weekdays (a lunch menu sold Monday to Friday in a shop open
        on Saturdays; not a slow seller's unlucky Tuesdays); from its first sale on, at least MIN_WEEKS such
        weekdays seen. Forecast 0 there, nothing to order; none with ``"off"``."""
        values = self._values
        n, P = values.shape
        off = np.zeros((7, P), dtype=bool)
        if self.named and not self.closed_weekdays or P == 0:  # "off": every day trades, for every product
            return off
        start = max(0, n - YEAR)
        window, weekday = values[start:], self.dates[start:n].day_of_week.to_numpy()
        on_sale = (np.cumsum(values > 0, axis=0) > 0)[start:] & ~self.closed[start:n, None]  # (W, P)
        sold_on = window > 0
        for day in range(7):  # seven (W, P) passes: memory stays that of the year's values
            this = on_sale & (weekday == day)[:, None]
            others = on_sale & ~this
            seen = this.sum(axis=0)
            zero_share = (others & ~sold_on).sum(axis=0) / np.maximum(others.sum(axis=0), 1)
            chance = np.log(np.clip(zero_share, 1e-12, 1.0)) * seen
            off[day] = ((seen >= MIN_WEEKS) & ~(this & sold_on).any(axis=0) & (others & sold_on).any(axis=0)
                        & (chance < np.log(CLOSED_CHANCE / (7 * P))))  # 7P chances to be empty by luck
        return off

    def reason(self, date: pd.Timestamp) -> str:
        """Why a future closed ``date`` is closed, in a planner's words."""
        yearly = self.yearly_reason(date)
        if yearly and date.day_of_week not in self.closed_weekdays:
            return yearly
        name = WEEKDAY_NAMES[date.day_of_week]
        if self.named:
            return f"{name}s are set as closed days"
        weeks = min(int((self.dates[-YEAR:].day_of_week == date.day_of_week).sum()), 52)
        return f"no product sold on any {name} in the last {'year' if weeks >= 52 else f'{weeks} weeks'}"


def trading_calendar(panel: pd.DataFrame, spec: str = "auto", history_end: int | None = None,
                     holidays: str = "") -> TradingCalendar:
    """The closed days of ``panel`` (dates x products). The weekday rule and the products' zero shares read
    only the year before ``history_end`` (default: the whole panel), so that a test span steers nothing;
    the flags cover every day of the panel."""
    values = panel.to_numpy(dtype=np.float64)
    dates = pd.DatetimeIndex(panel.index)
    named = closed_weekdays_named(spec)
    if named == ():  # "off"
        return TradingCalendar(dates, np.zeros(len(dates), dtype=bool), (), True, holidays, values)
    end = len(values) if history_end is None else int(history_end)
    start = max(0, end - YEAR)
    weekdays = named if named is not None else _closed_weekdays(values[start:end], dates[start:end])
    on_weekday = np.isin(dates.day_of_week, weekdays)
    return TradingCalendar(dates, on_weekday | _empty_days(values, ~on_weekday, start, end), weekdays,
                           named is not None, holidays, values[:end])


def _closed_weekdays(values: np.ndarray, dates: pd.DatetimeIndex) -> tuple[int, ...]:
    """Weekdays seen at least MIN_WEEKS times with no sale at all, while other weekdays sold, and where
    that many empty weeks would happen by chance under CLOSED_CHANCE (a quiet weekday of slow movers is
    not a closure): the chance is the catalog's chance of an empty day on the other weekdays, to the
    power of the weeks seen."""
    totals = values.sum(axis=1)
    weekday = dates.day_of_week.to_numpy()
    seen = np.bincount(weekday, minlength=7)
    sold = np.bincount(weekday, weights=totals, minlength=7)
    candidates = np.flatnonzero((seen >= MIN_WEEKS) & (sold == 0))
    if sold.sum() == 0 or not len(candidates):
        return ()
    others = ~np.isin(weekday, candidates)
    log_empty_day = np.log(np.clip((values[others] == 0).mean(axis=0), 1e-12, 1.0)).sum()
    return tuple(int(d) for d in candidates if log_empty_day * seen[d] < np.log(CLOSED_CHANCE))


def _empty_days(values: np.ndarray, trading: np.ndarray, start: int, end: int) -> np.ndarray:
    """(T,) days with no sale of any product that a trading day of this catalog would almost never have."""
    empty = (values == 0).all(axis=1)
    window = trading[start:end]
    if not window.any() or values.shape[1] == 0:
        return np.zeros(len(values), dtype=bool)
    zero_share = (values[start:end][window] == 0).mean(axis=0)  # each product's share of trading days unsold
    chance = float(np.exp(np.log(np.clip(zero_share, 1e-12, 1.0)).sum()))
    return empty & (chance < CLOSED_CHANCE)
