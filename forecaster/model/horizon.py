"""Multi-day forecasts that hold their level.

A recursive forecast feeds its own days back as lags, so beyond the first days it drifts toward what it
fed itself (measured: on the coffee data days 8-14 came out at 0.83 of days 1-7 while sales held level).
So each week ahead of the recursive path is also rescaled, per product, to the total of a *level anchor*
read from the actual history at the origin only (each product's mean of the last weeks, spread over the
weekdays by its profile): the network's day-to-day shape stays, the anchor's level comes in. The forecast
is a blend of the path and its rescaled copy, with one weight per horizon bucket chosen on the validation
days' own recursive forecasts: 0 where recursion was better there, up to 1 where the level was. The first
trading day is the network's one-step forecast (what Evaluate scores) and is never blended, nor is a
closed day (0).
"""
from __future__ import annotations

import numpy as np

LEVEL_WEEKS = 4  # the anchor's level: each product's mean over the last 4 weeks
PROFILE_WEEKS = 8  # its weekday profile: read from the last 8 weeks
PROFILE_PRIOR_WEEKS = 4  # a product's own profile shrunk toward the catalog's, as if it were this many weeks
PATH_DAYS = 14  # validation paths this long choose the weights; later days keep the last bucket's weight
# horizon buckets with one weight each (0-based days after the origin); day 1 is never blended
BUCKETS = (slice(1, 7), slice(7, PATH_DAYS))
WEIGHT_GRID = np.linspace(0.0, 1.0, 11)
# a path is moved toward the anchor's level by at most these factors (a path of 0 takes the anchor as it is)
RATIO_BOUNDS = (0.2, 5.0)


def level_anchor(history: np.ndarray, days: int) -> np.ndarray:
    """(days, P) each product's mean of the last LEVEL_WEEKS weeks of ``history`` (days, P), spread over the
    weekdays by its profile of the last PROFILE_WEEKS weeks (shrunk toward the catalog's, so one busy
    Tuesday does not make every Tuesday busy). Day h (1-based) after the history shares the weekday of
    history row ``len - 7 + (h - 1) % 7``. A weekday that never sold in those weeks gets 0; a week's total
    is the recent weeks' mean total."""
    n, P = history.shape
    weeks = min(PROFILE_WEEKS, n // 7)
    if weeks == 0:
        return np.tile(history.mean(axis=0) if n else np.zeros(P), (days, 1))
    recent = history[n - 7 * weeks:].reshape(weeks, 7, P)
    level = history[n - 7 * min(LEVEL_WEEKS, weeks):].mean(axis=0)
    mean = recent.mean(axis=(0, 1))
    pooled = recent.sum(axis=(0, 2)) / max(float(recent.sum()), 1e-12) * 7  # (7,), the catalog's profile
    shrunk = (weeks * recent.mean(axis=0) + PROFILE_PRIOR_WEEKS * pooled[:, None] * mean) / (weeks + PROFILE_PRIOR_WEEKS)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(mean > 0, shrunk / mean, pooled[:, None])
    return level * profile[np.arange(days) % 7]


def rescaled_path(path: np.ndarray, anchor: np.ndarray, open_: np.ndarray) -> np.ndarray:
    """(..., days, P) ``path`` with each product's days 2-7, 8-14, 15-21, ... (one factor per span) scaled to
    the ``anchor``'s total over that span's open days (``open_`` (..., days)), the factor bounded by
    RATIO_BOUNDS; a product the path forecasts 0 over a span gets the anchor's days. Day 1 stays."""
    out = np.array(path, dtype=np.float64, copy=True)
    days = path.shape[-2]
    spans = [slice(1, min(7, days))] + [slice(s, min(s + 7, days)) for s in range(7, days, 7)]
    for span in spans:  # a handful of week-long spans, not a loop over days
        shown = open_[..., span, None]
        have, want = (np.sum(x[..., span, :] * shown, axis=-2, keepdims=True) for x in (path, anchor))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.clip(want / have, *RATIO_BOUNDS)
        out[..., span, :] = np.where(have > 1e-9, path[..., span, :] * np.nan_to_num(ratio), anchor[..., span, :])
    return out


def anchor_weights(actual: np.ndarray, path: np.ndarray, anchor: np.ndarray, open_: np.ndarray,
                   scale: np.ndarray) -> tuple[float, ...]:
    """One weight per day ahead (day 1 first, always 0): for each of :data:`BUCKETS` the grid weight of the
    path rescaled to the anchor's level (:func:`rescaled_path`) whose blend with the recursive ``path`` has
    the least squared error against ``actual`` on the open days, each product's error divided by its ``scale`` (:func:`~forecaster.model.scores.naive_scale`;
    products without one left out). Arrays are (origins, days, P), ``open_`` (origins, days). A bucket the
    paths do not reach keeps the previous bucket's weight; ties keep the least anchor."""
    days = actual.shape[1]
    anchor = rescaled_path(path, anchor, open_)
    weights = np.zeros(PATH_DAYS)
    keep = np.isfinite(scale)
    previous = 0.0
    for bucket in BUCKETS:
        span = range(PATH_DAYS)[bucket]
        if span.start >= days:
            weights[bucket] = previous
            continue
        part = slice(span.start, min(span.stop, days))
        a, p, q = (x[:, part][..., keep] for x in (actual, path, anchor))
        mask = (open_ & after_first_open(open_))[:, part][..., None]
        blended = (1 - WEIGHT_GRID[:, None, None, None]) * p + WEIGHT_GRID[:, None, None, None] * q
        score = (((blended - a) ** 2 * mask) / scale[keep]).sum(axis=(1, 2, 3))
        previous = float(WEIGHT_GRID[int(np.argmin(score))]) if keep.any() and mask.any() else previous
        weights[bucket] = previous
    return tuple(round(float(w), 6) for w in weights)


def after_first_open(open_: np.ndarray) -> np.ndarray:
    """(..., days) whether a day comes after the first trading day (the days a blend may touch)."""
    return (np.cumsum(open_, axis=-1) - open_) > 0


def blend_with_anchor(path: np.ndarray, anchor: np.ndarray, weights: tuple[float, ...],
                      open_: np.ndarray) -> np.ndarray:
    """(days, P) the recursive ``path`` blended day by day with its copy rescaled to ``anchor``'s level
    (:func:`rescaled_path`): day i's weight is ``weights[i]`` (the last one for days beyond them) on the
    trading days after the first (``open_``, (days,)); every other day as the path has it (closed days 0).
    No weights: the path as it is."""
    if not weights:
        return path
    w = np.asarray(weights, dtype=np.float64)[np.minimum(np.arange(len(path)), len(weights) - 1)]
    w = np.where(open_ & after_first_open(open_), w, 0.0)[:, None]
    return (1 - w) * path + w * rescaled_path(path, anchor, open_)
