"""Multi-day forecasts that hold their level.

A recursive forecast feeds its own days back as lags, so beyond the first days it drifts toward what it
fed itself (measured: on the coffee data days 8-14 came out at 0.83 of days 1-7 while sales held level).
So each week ahead of the recursive path is also rescaled, per product, to the total of a *level anchor*
read from the actual history at the origin only (each product's weekly total smoothed exponentially, with
the smoothing weight the history's own weeks choose, as ETS fits its level, or the mean of its last 4 weeks,
whichever did better on the validation days; spread over the weekdays by its profile): the network's
day-to-day shape stays, the anchor's level comes in. The forecast is a blend of the path and its rescaled
copy, with one weight per horizon bucket chosen on the validation days' own recursive forecasts, then moved
halfway toward an even blend (:data:`SHRINK`): a weight read off a handful of
validation weeks is noisy, and an estimated combination weight shrunk toward equal weights forecasts
better than the estimate itself (the "forecast combination puzzle"; measured here: better on the six shared
and held-out files, worse on Rossmann without its promotions, see the README). The first trading day is the network's one-step forecast (what Evaluate scores) and is never
blended, nor is a closed day (0).
"""
from __future__ import annotations

import numpy as np

LEVEL_WEEKS = 4  # the "mean" level: each product's mean of the last 4 weeks (also where too short to smooth)
# how the anchor reads a product's level: its weekly totals exponentially smoothed, or their mean over the last
# LEVEL_WEEKS weeks (a level that swings with paydays within a month keeps a month's mean); chosen per run
LEVEL_RULES = ("mean", "smoothed")  # a tie keeps the first
SMOOTHING = np.round(np.arange(1, 9) / 10, 1)  # smoothing weights of the newest week tried: 0.1 .. 0.8
FIT_WEEKS = 26  # weeks whose one- and two-week-ahead misses choose the smoothing weight
WARM_WEEKS = 8  # weeks the smoothing runs before its misses count
LEVEL_DAYS = 7 * (FIT_WEEKS + WARM_WEEKS + 2)  # days of history the anchor reads (level and profile), at most
PROFILE_WEEKS = 8  # its weekday profile: read from the last 8 weeks
PROFILE_PRIOR_WEEKS = 4  # a product's own profile shrunk toward the catalog's, as if it were this many weeks
PATH_DAYS = 14  # validation paths this long choose the weights; later days keep the last bucket's weight
# horizon buckets with one weight each (0-based days after the origin); day 1 is never blended
BUCKETS = (slice(1, 7), slice(7, PATH_DAYS))
WEIGHT_GRID = np.linspace(0.0, 1.0, 11)
EVEN_BLEND = 0.5
SHRINK = 0.5  # how far a chosen weight moves toward the even blend: halfway
# a path is moved toward the anchor's level by at most these factors (a path of 0 takes the anchor as it is)
RATIO_BOUNDS = (0.2, 5.0)


def smoothed_level(history: np.ndarray) -> np.ndarray | None:
    """(P,) each product's daily level at the end of ``history`` (days, P): simple exponential smoothing of
    its weekly totals (the weeks ending with the history), divided by 7. The smoothing weight is one for the
    catalog (a product has too few weeks to fit its own): the one of :data:`SMOOTHING` whose one- and
    two-week-ahead forecasts of the last FIT_WEEKS weeks missed least, each product's squared misses counted
    relative to their mean over the weights (so that one product's size, launch or stop counts as one
    product's vote, not as all of its misses). A level that moves gets a large weight, a steady one a small
    one, as ETS fits its own. A product's weeks before its first sale count as its first week on sale (a product launched three weeks
    ago sells its weeks' level, not a third of it) and are not scored. None with fewer than WARM_WEEKS + 3
    weeks."""
    n, P = history.shape
    weeks = min(n // 7, FIT_WEEKS + WARM_WEEKS + 2)
    if weeks < WARM_WEEKS + 3:
        return None
    weekly = history[n - 7 * weeks:].reshape(weeks, 7, P).sum(axis=1)
    sold = np.cumsum(weekly > 0, axis=0) > 0  # (W, P): from a product's first week with a sale on
    first = np.argmax(sold, axis=0)
    weekly = np.where(sold, weekly, weekly[first, np.arange(P)])
    alpha = SMOOTHING[:, None, None]
    lag = np.subtract.outer(np.arange(weeks), np.arange(weeks))  # (W, W): week t's weight on week k
    # the level after week t is alpha * sum over k <= t of (1 - alpha)^(t - k) x_k, started at x_0
    weights = np.where(lag >= 0, alpha * (1 - alpha) ** np.maximum(lag, 0), 0.0)
    weights[:, :, 0] += (1 - alpha[:, :, 0]) ** (np.arange(weeks) + 1)
    levels = weights @ weekly  # (S, W, P): every weight's level after every week, as matrix products
    misses = np.zeros((len(SMOOTHING), P))
    for h in (1, 2):  # forecasts h weeks ahead of the last FIT_WEEKS weeks, a product's first week on sale on
        start = max(WARM_WEEKS, weeks - FIT_WEEKS - h)
        scored = sold[start:weeks - h]
        misses += (((levels[:, start:weeks - h] - weekly[start + h:]) ** 2) * scored).sum(axis=1)
    typical = misses.mean(axis=0)
    moved = typical > 1e-12 * np.maximum(weekly.mean(axis=0), 1.0) ** 2  # a flat product's misses are rounding
    score = (misses[:, moved] / typical[moved]).sum(axis=1)
    return levels[int(np.argmin(score)), -1] / 7


def level_anchor(history: np.ndarray, days: int, level_rule: str = "mean") -> np.ndarray:
    """(days, P) each product's level by ``level_rule`` (:data:`LEVEL_RULES`: :func:`smoothed_level`, or the
    mean of the last LEVEL_WEEKS weeks, also where the history is too short to smooth) of ``history``
    (days, P), spread over the weekdays by its profile of the last PROFILE_WEEKS weeks (shrunk toward the
    catalog's, so one busy Tuesday does not make every Tuesday busy, nor one quiet Monday every Monday).
    Day h (1-based) after the history shares the weekday of history row ``len - 7 + (h - 1) % 7``. A weekday
    on which no product sold in those weeks gets 0; a week's total is 7 times the level."""
    if level_rule not in LEVEL_RULES:
        raise ValueError(f"unknown level rule {level_rule!r}")
    n, P = history.shape
    weeks = min(PROFILE_WEEKS, n // 7)
    if weeks == 0:
        return np.tile(history.mean(axis=0) if n else np.zeros(P), (days, 1))
    recent = history[n - 7 * weeks:].reshape(weeks, 7, P)
    level = smoothed_level(history) if level_rule == "smoothed" else None
    level = history[n - 7 * min(LEVEL_WEEKS, weeks):].mean(axis=0) if level is None else level
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
    products without one left out), moved by :data:`SHRINK` toward :data:`EVEN_BLEND`. Arrays are
    (origins, days, P), ``open_`` (origins, days). A bucket the paths do not reach keeps the previous
    bucket's weight; ties keep the least anchor; nothing to choose on: the even blend."""
    days = actual.shape[1]
    anchor = rescaled_path(path, anchor, open_)
    weights = np.zeros(PATH_DAYS)
    keep = np.isfinite(scale)
    previous = EVEN_BLEND
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
        if keep.any() and mask.any():
            previous = (1 - SHRINK) * float(WEIGHT_GRID[int(np.argmin(score))]) + SHRINK * EVEN_BLEND
        weights[bucket] = previous
    return tuple(round(float(w), 6) for w in weights)


def choose_anchor(actual: np.ndarray, path: np.ndarray, anchors: dict[str, np.ndarray], open_: np.ndarray,
                  scale: np.ndarray) -> tuple[tuple[float, ...], str]:
    """The weights (:func:`anchor_weights`) and the level rule (a key of ``anchors``, each rule's anchor
    (origins, days, P)) whose blend had the least squared error on the validation paths, scored as the
    weights are: a level that follows the last weeks suits a catalog whose level moves, a month's mean one
    whose weeks swing about a steady level, and the validation weeks show which; ties keep the first rule."""
    keep = np.isfinite(scale)
    best: tuple[float, tuple[float, ...], str] | None = None
    for rule, anchor in anchors.items():  # a rule or two
        weights = anchor_weights(actual, path, anchor, open_, scale)
        blended = blend_with_anchor(path, anchor, weights, open_)  # the path itself on day 1 and closed days
        score = float((((blended - actual) ** 2)[..., keep] / scale[keep]).sum()) if keep.any() else 0.0
        if best is None or score < best[0]:
            best = (score, weights, rule)
    assert best is not None, "no level rule to choose from"
    return best[1], best[2]


def after_first_open(open_: np.ndarray) -> np.ndarray:
    """(..., days) whether a day comes after the first trading day (the days a blend may touch)."""
    return (np.cumsum(open_, axis=-1) - open_) > 0


def blend_with_anchor(path: np.ndarray, anchor: np.ndarray, weights: tuple[float, ...],
                      open_: np.ndarray) -> np.ndarray:
    """(..., days, P) the recursive ``path`` blended day by day with its copy rescaled to ``anchor``'s level
    (:func:`rescaled_path`): day i's weight is ``weights[i]`` (the last one for days beyond them) on the
    trading days after the first (``open_``, (..., days)); every other day as the path has it (closed days
    0). Leading axes are origins (the validation paths are blended at once). No weights: the path as it is."""
    if not weights:
        return path
    w = np.asarray(weights, dtype=np.float64)[np.minimum(np.arange(path.shape[-2]), len(weights) - 1)]
    w = np.where(open_ & after_first_open(open_), w, 0.0)[..., None]
    return (1 - w) * path + w * rescaled_path(path, anchor, open_)
