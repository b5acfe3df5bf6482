"""Each product's own response to public holidays, beside the catalog's.

The networks read the days around holidays as flags shared by every product, so they learn one response
for the catalog. But a holiday moves shops differently: on favorita's long weekends a beach town's store
sells about twice its Friday of the week before while the capital's stores sell less, and over its 54
stores the mean of a store's past long-weekend Fridays predicts its August 2017 one with a correlation of
0.93.

So a run with a holiday calendar multiplies its forecast of a holiday, the day after one, or a day of a
long weekend by a per-product factor: how far the product's own ratio to the same weekday a week before, on
its past days of that kind (the same :data:`HOLIDAY_FEATURES` flags), lay above or below the catalog's, as
the geometric mean of those ratios shrunk toward the catalog's as if the catalog's were :data:`PRIOR_DAYS`
more of the product's own. A product that responds as the catalog does keeps 1: the networks have the
catalog's response already. The days *before* a holiday keep the networks' forecast alone: what shoppers buy
ahead depends on which holiday it is (the days before Easter are not those before a long weekend in May),
which the networks read from the season and a pooled ratio does not (measured: the factor on those days
made four holiday spans of favorita worse). Only pairs where the product sold on both days count (a zero is
a shut shop or an intermittent product's no-sale, not a ratio) and whose week-before day was no day around
a holiday (New Year's Day against Christmas Day says nothing). A factor stays within :data:`FACTOR_BOUNDS`.
Read from the actual history before each forecast day, as its lags are: nothing is fitted or saved.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.holidays import HOLIDAY_FEATURES, holiday_features

PRIOR_DAYS = 30.0  # the catalog's mean ratio counts as this many of a product's own days of the kind
WEEK = 7  # a day is compared with the same weekday this many days before
FACTOR_BOUNDS = (0.5, 2.0)  # a product's own factor moves a forecast at most this far
# the flags whose days get a product's own factor: the holiday, the day after, a long weekend's days
ON_OR_AFTER = tuple(HOLIDAY_FEATURES.index(name) for name in ("holiday", "holiday yesterday", "long weekend"))


def day_kinds(index: pd.DatetimeIndex, calendar: str) -> np.ndarray:
    """(len(index),) each day's kind: its holiday flags as bits, 0 for a day that gets no factor (an ordinary
    day, or one only before a holiday)."""
    flags = holiday_features(index, calendar).astype(np.int64)
    kinds = flags @ (1 << np.arange(flags.shape[1]))
    return np.where(flags[:, ON_OR_AFTER].any(axis=1), kinds, 0)


def holiday_factors(history: np.ndarray, index: pd.DatetimeIndex, targets: pd.DatetimeIndex,
                    calendar: str, relative: bool = True) -> np.ndarray:
    """(len(targets), P) the factor each product's forecast of each target day is multiplied by, read from
    ``history`` (days, P) on the consecutive days ``index`` before each target (a target inside the history
    reads only the days before it): beside the catalog's response (``relative``, for the networks' forecast,
    which has the catalog's), or the whole of it (for a level that reads no holiday). 1 without a calendar,
    on days without a kind and on kinds not seen."""
    out = np.ones((len(targets), history.shape[1]))
    if not calendar or not len(targets) or len(history) <= WEEK:
        return out
    wanted = day_kinds(targets, calendar)
    if not wanted.any():
        return out
    kinds = day_kinds(index, calendar)
    now, before = history[WEEK:], history[:-WEEK]
    ordinary_before = ~holiday_features(index[:-WEEK], calendar).any(axis=1)
    pair = (now > 0) & (before > 0) & ordinary_before[:, None]  # (T - 7, P): both days sold, the first ordinary
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(pair, np.log(np.where(pair, now, 1.0) / np.where(pair, before, 1.0)), 0.0)
    # (targets, T - 7): the earlier days of the target's kind, as a matrix so that no loop runs over days
    same = (kinds[WEEK:][None, :] == wanted[:, None]) & (wanted[:, None] > 0) \
        & (index[WEEK:].to_numpy()[None, :] < targets.to_numpy()[:, None])
    same = same.astype(np.float64)
    total, count = same @ ratio, same @ pair.astype(np.float64)  # (targets, P)
    pooled = total.sum(axis=1, keepdims=True) / np.maximum(count.sum(axis=1, keepdims=True), 1.0)
    own = (total + PRIOR_DAYS * pooled) / (count + PRIOR_DAYS)
    return np.clip(np.exp(own - pooled if relative else own), *FACTOR_BOUNDS)
