"""Public holidays of a country, read from the maintained ``holidays`` package rather than a list of our own.

A holiday moves demand on the day itself and on the days around it (shoppers buy ahead; a shop shut on
the day sells more the day after; a long weekend empties city shops), so a run given a calendar reads five
flags per day: a holiday today, tomorrow, in two or three days, or yesterday, and a day of a long weekend. The calendar is a setting of the run (``--holidays EC``,
``US-CA`` for a subdivision), saved with it, and known for every future date: forecasts need no file.
"""
from __future__ import annotations

import functools
import re

import holidays as calendars
import numpy as np
import pandas as pd

from ..config import country_names, parse_calendar, words_of

# the flags a day gets: it is a holiday; tomorrow is; one falls in two or three days; yesterday was; it is part
# of a long weekend (three or more days off in a row, weekends and holidays, one of them a holiday: people travel)
HOLIDAY_FEATURES = ("holiday", "holiday tomorrow", "holiday in 2-3 days", "holiday yesterday", "long weekend")
AROUND = 3  # a day up to this many days before a holiday is "before" it


def region_names(country: str) -> dict[str, str]:
    """A country's region codes in words where the package names them: 'BY' -> 'BY, Bayern'."""
    aliases = calendars.country_holidays(country).get_subdivision_aliases() if country else {}
    return {code: f"{code}, {names[0]}" if names else code for code, names in aliases.items()}


def calendar_name(text: str) -> str:
    """'EC' -> 'Ecuador', 'GB-SCT' -> 'United Kingdom (Scotland)': the calendar in words, for the pages."""
    country, subdiv = parse_calendar(text)
    name = country_names()[country][0]
    if not subdiv:
        return name
    aliases = calendars.country_holidays(country).get_subdivision_aliases().get(subdiv) or [subdiv]
    return f"{name} ({aliases[0]})"


MOVED_WITHIN = 7  # days between a holiday and the day off it was moved to (an "observed" day)


@functools.lru_cache(maxsize=64)
def _dates(text: str, first_year: int, last_year: int) -> np.ndarray:
    """The calendar's days off: its holidays with the package's observed days, less a holiday on a weekday
    whose day off was moved (Ecuador's 10 August 2017, a Thursday, was worked; Friday the 11th was off). A
    holiday on a weekend stays: it is still celebrated, and the observed weekday is off too."""
    country, subdiv = parse_calendar(text)
    years = range(first_year, last_year + 1)
    days = calendars.country_holidays(country, subdiv=subdiv, years=years)
    own = calendars.country_holidays(country, subdiv=subdiv, years=years, observed=False)
    moved = [d for d in days if d not in own]
    worked = {d for d in own if d.weekday() < 5 and any(
        0 < abs((m - d).days) <= MOVED_WITHIN and own[d] in days[m] for m in moved)}
    return np.array(sorted(np.datetime64(d, "D") for d in days if d not in worked), dtype="datetime64[D]")


def holiday_dates(text: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """The calendar's holidays from ``start`` to ``end`` (both included)."""
    dates = pd.DatetimeIndex(_dates(text, start.year, end.year))
    return dates[(dates >= start.normalize()) & (dates <= end.normalize())]


def holiday_names(dates: list[pd.Timestamp] | pd.DatetimeIndex, text: str) -> dict[pd.Timestamp, str]:
    """The holidays among ``dates`` by name (as the package names them), for the pages."""
    if not text or not len(dates):
        return {}
    country, subdiv = parse_calendar(text)
    days = pd.DatetimeIndex(dates)
    named = calendars.country_holidays(country, subdiv=subdiv, years=range(days.min().year, days.max().year + 1))
    off = set(_dates(text, days.min().year, days.max().year).tolist())  # a moved holiday's own day was worked
    return {d: named.get(d.date()) for d in dates if d.date() in named and d.date() in off}


def holiday_features(index: pd.DatetimeIndex, text: str) -> np.ndarray:
    """(len(index), 5) float32 flags per day, in the order of HOLIDAY_FEATURES; computed for any dates,
    future ones included."""
    if not len(index):
        return np.zeros((0, len(HOLIDAY_FEATURES)), dtype=np.float32)
    days = index.normalize().to_numpy(dtype="datetime64[D]")
    dates = _dates(text, int(index.min().year) - 1, int(index.max().year) + 1)
    is_holiday = lambda shift: np.isin(days + np.timedelta64(shift, "D"), dates)  # noqa: E731
    ahead = np.logical_or.reduce([is_holiday(k) for k in range(2, AROUND + 1)])
    return np.stack([is_holiday(0), is_holiday(1), ahead, is_holiday(-1), _long_weekend(days, dates)],
                    axis=1).astype(np.float32)


def _long_weekend(days: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """(len(days),) whether a day lies in a run of at least three days off (Saturdays, Sundays and holidays)
    holding a holiday: a Friday or Monday holiday makes a long weekend, and its Saturday and Sunday too."""
    first, last = days.min() - np.timedelta64(AROUND, "D"), days.max() + np.timedelta64(AROUND, "D")
    span = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
    holiday = np.isin(span, dates)
    off = holiday | ((span.astype(np.int64) + 3) % 7 >= 5)  # 1970-01-01 was a Thursday: Monday is 0
    run = np.cumsum(np.r_[True, off[1:] != off[:-1]])  # one number per run of equal days
    long_run = (np.bincount(run)[run] >= 3) & (np.bincount(run, weights=holiday)[run] > 0)
    return (off & long_run)[(days - first).astype(np.int64)]


def holiday_days(index: pd.DatetimeIndex, text: str) -> np.ndarray:
    """(len(index),) whether a day is a holiday or within the days around one that the features mark: the
    days Evaluate scores apart from the rest."""
    return holiday_features(index, text).any(axis=1)


# a column that says where a sale happened: its usual value names the country whose calendar fits the file
_COUNTRY_HEADER = re.compile(r"(^|[^a-z])(country|land|pais|país|pays)([^a-z]|$)", re.IGNORECASE)


_NOT_WHERE_SOLD = re.compile(r"origin|birth|manufactur|made|produc", re.IGNORECASE)  # a product's country


@functools.lru_cache(maxsize=1)
def _by_name() -> dict[str, str]:
    """Country names and codes (two and three letters), lower case, to the two-letter code."""
    out = {}
    for module, (cls, code, alpha3, *_) in calendars.registry.COUNTRIES.items():
        for key in (module.replace("_", " "), words_of(cls), code, alpha3):
            out[key.lower()] = code
    out.update({"uk": "GB", "eire": "IE", "usa": "US", "holland": "NL"})
    return out


def suggest_country(frame: pd.DataFrame) -> str:
    """The two-letter code of the country at least COUNTRY_SHARE of the rows of ``frame`` name in a column
    headed like "Country" (a name, such as "United Kingdom", or a code), when the holidays package knows it;
    else '' (a file of several countries has no one calendar)."""
    names = _by_name()
    for column in frame.columns:
        if not _COUNTRY_HEADER.search(str(column)) or _NOT_WHERE_SOLD.search(str(column)):
            continue
        counts = frame[column].value_counts()  # the few distinct values, then their spellings read as one
        usual = counts.groupby(counts.index.astype("string").str.strip().str.lower()).sum()
        # one calendar fits only where nearly every row names the same country (a trial's file named DE and FR
        # half and half, and was offered Germany "as the file's country column says")
        if len(usual) and usual.idxmax() in names and usual.max() >= COUNTRY_SHARE * usual.sum():
            return names[usual.idxmax()]
    return ""


COUNTRY_SHARE = 0.9  # of the rows that must name one country for its calendar to be suggested
