"""Prediction intervals and order quantities, calibrated on days the networks never trained on.

The method is split-conformal on normalised residuals (chosen by measurement on the four shared datasets,
see the README): on held-out days (the validation span, before the test span) the residual
``actual - forecast`` of every product-day is divided by a spread ``s = scale_p * rel ** LEVEL_POWER``:

* ``scale_p`` is the product's mean absolute week-on-week change over the history before those days (its
  usual size of a surprise, in units; it exists for every product that ever sold);
* ``rel`` is the forecast relative to the product's mean level (``(forecast + 0.25 level) / 1.25 level``):
  count-like demand spreads with the square root of its level, so a busy day gets a wider band than a
  quiet one.

The quantiles of these normalised residuals are taken per product and shrunk towards the quantiles pooled
over every product, with weight ``n / (n + SHRINK_DAYS)`` for ``n`` held-out days: a product with a few
weeks of residuals keeps its own shape (an intermittent seller's skew), and a thin one borrows from the
catalog. A quantile is then ``forecast + offset(prob) * s``, never below 0.

A calm month is no promise of a calm test span: when the products moved less from week to week on the
calibration days than over the year before them (pooled, ``past / now > 1``), every offset is widened by
``(past / now) ** CALM_POWER`` (at most :data:`MAX_CALM`); a rough month is kept as it is, never narrowed.
On the long favorita history the validation weeks of July were calmer than the year with its December
peaks, and the band covered 0.70 of the test days without this, 0.79 with it (see the README).

Multi-day (recursive) forecasts widen with the horizon: ``growth[h-1]`` multiplies the day-1 spread. It is
measured on the history, as how much worse the better of two simple rules (carry the last day forward,
carry the same weekday forward) does ``h`` days ahead than one day ahead, pooled over products, never
shrinking with ``h``: on a random walk that is about ``sqrt(h)``, on a stable weekly pattern about 1.

Baselines get their own intervals the plain way: each product's empirical residual quantiles over every
day before the test span (nothing is fitted, so every earlier day is held out for them).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..config import DEFAULT_INTERVALS, IntervalOptions, bounds
from ..errors import ForecasterError
from .scores import since_first_sale

GRID = np.round(np.arange(1, 100) / 100, 2)  # quantile probabilities kept: 0.01 .. 0.99
SHRINK_DAYS = 10  # per-product quantiles count as this many days' worth of pooled ones
LEVEL_POWER = 0.5  # spread grows with the square root of the forecast level
LEVEL_FLOOR = 0.25  # of the product's mean level, added so a forecast of 0 keeps a spread
REL_CLIP = (1 / 16, 16.0)
CALM_POWER = 0.5  # widening for calm calibration days: square root of how much calmer than the past year
CALM_YEAR = 365  # days before the calibration days they are compared with
MAX_CALM = 2.0
MAX_HORIZON = 90
LOCATION_SHARE = 0.5  # of the calibration days' mean (normalised) miss that moves a product's distribution
SUM_DAYS = 7  # days of the totals the correlation of a product's daily errors is read from
MAX_CORRELATION = 0.95
RECENT_DAYS = 28  # days a product that starts selling after calibration is judged on
MAX_OFFSET = 1e6  # bounds a saved calibration must respect (normalised units, units, spread multiplier)
MAX_UNITS = 1e10
MAX_GROWTH = 1e3
GROWTH_PRODUCTS = 500  # products (evenly spaced) and days the horizon growth is measured on, at most
GROWTH_DAYS = 730
LEVELS = bounds(IntervalOptions, "level")  # central interval levels a user may pick
SERVICE_LEVELS = bounds(IntervalOptions, "service_level")
DEFAULT_LEVEL = DEFAULT_INTERVALS.level
DEFAULT_SERVICE_LEVEL = DEFAULT_INTERVALS.service_level


def check_level(level: float, name: str = "interval level", bounds: tuple[float, float] = LEVELS) -> float:
    """A level as a fraction within ``bounds`` (0.8 for 80%), or an error naming the value."""
    lo, hi = bounds
    if not isinstance(level, (int, float)) or not math.isfinite(level) or not lo <= level <= hi:
        raise ForecasterError(f"The {name} goes from {lo:g} to {hi:g} (a fraction: 0.8 means 80%), not {level!r}.")
    return float(level)


@dataclass(frozen=True)
class Calibration:
    """Quantile offsets of normalised residuals per product, and how to turn them into bounds in units."""

    offsets: np.ndarray  # (len(GRID), P) normalised residual quantile at each GRID probability
    scale: np.ndarray  # (P,) units of one normalised residual at the product's mean level
    level: np.ndarray  # (P,) the product's mean demand (for the level factor)
    level_power: float  # 0: the spread does not follow the forecast (plain residual quantiles)
    growth: np.ndarray  # (MAX_HORIZON,) spread multiplier of horizon step h at index h-1; growth[0] == 1
    days: int  # held-out days it was calibrated on
    method: str = "conformal"
    integer: bool = field(default=False)  # demand comes in whole units: order quantities are whole units
    # (P,) products that had never sold by the end of the calibration days (their band is [0, 0]), and the
    # normalised quantiles pooled over the catalog, which such a product borrows once it starts selling
    dormant: np.ndarray | None = None
    pooled: np.ndarray | None = None
    widened: float = 1.0  # the calm-days factor already in the offsets (1: the calibration days were not calm)
    # how much a product's days err together (0: independent, 1: one error for every day), read from the
    # calibration days: what a total over several days needs beyond each day's own quantiles
    correlation: float = 0.0
    # (P,) normalised units the continuous part of each product's distribution moves by (its demand above 0;
    # the chance of no sale stays where the calibration days put it); None: no move (runs saved before)
    shift: np.ndarray | None = None
    # how much a total's quantiles spread about its median beyond what the sampled paths give: the held-out
    # totals' conformal factor (:func:`total_widening`); 1 for runs saved before it existed
    total_spread: float = 1.0

    @property
    def reliable_level(self) -> float:
        """The widest central level the calibration days can support: with n days per product a tail
        beyond 1/(n+1) lies past the most extreme residual seen (wider bands are extrapolated)."""
        return 1 - 2 / (self.days + 1)

    def refreshed(self, history: np.ndarray) -> "Calibration":
        """This calibration for forecasting after ``history`` (T, P): a product that had never sold at
        calibration time but has sold since gets the catalog's pooled quantiles and a scale and level
        from its own recent days, instead of the [0, 0] band of a product that never sells."""
        if self.dormant is None or self.pooled is None or not self.dormant.any():
            return self
        recent = np.asarray(history, dtype=np.float64)[-RECENT_DAYS:]
        woke = self.dormant & (recent > 0).any(axis=0)
        if not woke.any():
            return self
        floor = unit_floor(self.integer, self.scale)
        offsets, scale, level = self.offsets.copy(), self.scale.copy(), self.level.copy()
        offsets[:, woke] = self.pooled[:, None]
        scale[woke] = np.maximum(product_scale(recent[:, woke], floor), floor)
        level[woke] = np.maximum(recent[:, woke].mean(axis=0), floor)
        shift = None if self.shift is None else np.where(woke, 0.0, self.shift)  # the catalog's shape, unmoved
        return dataclasses.replace(self, offsets=offsets, scale=scale, level=level, dormant=self.dormant & ~woke,
                                   shift=shift)

    def relocated(self, actual: np.ndarray, point: np.ndarray) -> "Calibration":
        """This calibration with each product's distribution moved by the latest days' misses instead of the
        calibration days' (``actual`` and ``point`` (n, P): the most recent days and their one-step
        forecasts): LOCATION_SHARE of the mean normalised miss, shrunk towards the catalog's as the offsets
        are. What a forecast after those days uses; scoring the test span never does (it would see them)."""
        actual, point = np.asarray(actual, dtype=np.float64), np.asarray(point, dtype=np.float64)
        if not len(actual):
            return self
        normalised = (actual - point) / self.spread(point)
        informative = ((actual > 0) | (point > 0)).sum(axis=0)
        w = informative / (informative + SHRINK_DAYS)
        recent = w * normalised.mean(axis=0) + (1 - w) * normalised.mean()
        return dataclasses.replace(self, shift=LOCATION_SHARE * recent - self.offsets.mean(axis=0))

    def spread(self, point: np.ndarray, steps: np.ndarray | int = 1) -> np.ndarray:
        """(D, P) units per normalised residual, for forecasts ``point`` made ``steps`` days ahead."""
        point = np.asarray(point, dtype=np.float64)
        s = np.broadcast_to(self.scale, point.shape)
        if self.level_power:
            level = np.maximum(self.level, 1e-9)
            rel = np.clip((np.clip(point, 0, None) + LEVEL_FLOOR * level) / ((1 + LEVEL_FLOOR) * level), *REL_CLIP)
            s = s * rel ** self.level_power
        idx = np.clip(np.asarray(steps, dtype=np.int64), 1, len(self.growth)) - 1
        g = self.growth[idx]
        return s * (g[:, None] if np.ndim(g) else g)

    def offset(self, prob: float | np.ndarray) -> np.ndarray:
        """The normalised residual quantile at ``prob``, interpolated on the grid: (P,) for one probability,
        (..., P) for an array of them, one per product in its last axis."""
        probs = np.asarray(prob, dtype=np.float64)
        if probs.ndim == 0:
            probs = np.full(self.offsets.shape[1], probs)
        pos = (np.clip(probs, GRID[0], GRID[-1]) - GRID[0]) / (GRID[1] - GRID[0])
        i = np.minimum(pos.astype(np.int64), len(GRID) - 2)
        w = pos - i
        cols = np.arange(self.offsets.shape[1])
        return (1 - w) * self.offsets[i, cols] + w * self.offsets[i + 1, cols]

    def quantile(self, point: np.ndarray, prob: float, steps: np.ndarray | int = 1) -> np.ndarray:
        """(D, P) demand quantile at ``prob`` around forecasts ``point``; demand is never below 0, and a
        product that has never sold has every quantile at 0 (see :meth:`refreshed` for one that starts)."""
        point = np.asarray(point, dtype=np.float64)
        return self._demand(point, self.offset(prob), self.spread(point, steps))

    def median(self, point: np.ndarray, steps: np.ndarray | int = 1) -> np.ndarray:
        """(D, P) the median demand around forecasts ``point``. For demand in whole units it is a whole
        number: the residuals of whole units about a continuous forecast spread each unit over about
        +/- 0.5, so the nearest whole number to the continuous median is the median of the units (on the
        shared sets it lowered the median's MAE by 2-3 % where a product sells a few a day, and changed
        nothing where it sells dozens). Where that whole number lies outside the quantiles 0.25 to 0.75 (a
        band narrower than a unit) the continuous median is kept, so every central range a user may pick
        (50 % and wider) holds the median."""
        q = self.quantile(point, 0.5, steps)
        if not self.integer:
            return q
        whole = np.floor(q + 0.5)
        inside = (self.quantile(point, 0.25, steps) <= whole) & (whole <= self.quantile(point, 0.75, steps))
        return np.where(inside, whole, q)

    def _demand(self, point: np.ndarray, offset: np.ndarray, spread: np.ndarray) -> np.ndarray:
        """Demand at normalised ``offset`` around ``point``: 0 where the calibrated miss reaches below 0 (the
        share of days without a sale), else moved by :attr:`shift` and never below 0."""
        raw = point + offset * spread
        q = np.clip(raw, 0, None) if self.shift is None else np.where(raw <= 0, 0.0,
                                                                      np.clip(raw + self.shift * spread, 0, None))
        return q if self.dormant is None else np.where(self.dormant, 0.0, q)

    def sample(self, point: np.ndarray, probs: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """(S, D, P) demand at per-draw probabilities ``probs`` (S, D, P) around forecasts ``point`` (D, P)
        made ``steps`` (D,) days ahead: the quantile function of :meth:`quantile`, vectorised over draws."""
        return self._demand(point, self.offset(probs), self.spread(point, steps))

    def mean(self, point: np.ndarray, steps: np.ndarray | int = 1) -> np.ndarray:
        """(D, P) the expected demand of the calibrated distribution around ``point``: the mean of its
        quantiles over the grid (never below 0). This, not the network's own output, is the forecast that
        sits with the quantiles: the calibration days say by how much the network misses each product's
        level, and the mean moves with the quantiles, so a total and its range agree."""
        point = np.asarray(point, dtype=np.float64)
        spread = self.spread(point, steps)
        total = np.zeros(np.broadcast_shapes(point.shape, spread.shape))
        for row in self.offsets:  # one vectorised pass per grid probability, no copy of the whole grid
            total += self._demand(point, row, spread)
        return total / len(self.offsets)

    def bounds(self, point: np.ndarray, level: float, steps: np.ndarray | int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bound of the central ``level`` interval (0.8: quantiles 0.1 and 0.9)."""
        check_level(level)
        return self.quantile(point, (1 - level) / 2, steps), self.quantile(point, (1 + level) / 2, steps)

    def order_quantity(self, point: np.ndarray, service_level: float, steps: np.ndarray | int = 1,
                       median: np.ndarray | None = None) -> np.ndarray:
        """Stock that covers a day's demand with probability ``service_level`` (whole units for counts:
        :func:`whole_units_covering`; ``median``: :meth:`median` of the same forecasts, where the caller has it)."""
        check_level(service_level, "service level", SERVICE_LEVELS)
        q = self.quantile(point, service_level, steps)
        if not self.integer:
            return q
        return whole_units_covering(q, self.median(point, steps) if median is None else median)

    def to_dict(self) -> dict[str, Any]:
        return {"offsets": self.offsets.tolist(), "scale": self.scale.tolist(), "level": self.level.tolist(),
                "level_power": self.level_power, "growth": self.growth.tolist(), "days": self.days,
                "method": self.method, "integer": self.integer,
                "dormant": None if self.dormant is None else self.dormant.tolist(),
                "pooled": None if self.pooled is None else self.pooled.tolist(), "widened": self.widened,
                "correlation": self.correlation, "shift": None if self.shift is None else self.shift.tolist(),
                "total_spread": self.total_spread}

    @classmethod
    def from_dict(cls, data: dict[str, Any], n_products: int) -> "Calibration":
        """Rebuild from :meth:`to_dict`, refusing anything of the wrong shape or not finite (ValueError)."""
        offsets = np.asarray(data["offsets"], dtype=np.float64)
        scale = np.asarray(data["scale"], dtype=np.float64)
        level = np.asarray(data["level"], dtype=np.float64)
        growth = np.asarray(data["growth"], dtype=np.float64)
        dormant = None if data.get("dormant") is None else np.asarray(data["dormant"])
        pooled = None if data.get("pooled") is None else np.asarray(data["pooled"], dtype=np.float64)
        days, power = data["days"], float(data["level_power"])
        widened = float(data.get("widened", 1.0))
        correlation = float(data.get("correlation", 0.0))  # runs saved before totals existed: independent days
        shift = None if data.get("shift") is None else np.asarray(data["shift"], dtype=np.float64)
        total_spread = float(data.get("total_spread", 1.0))
        ok = (MIN_TOTAL_SPREAD <= total_spread <= MAX_TOTAL_SPREAD and offsets.shape == (len(GRID), n_products) and scale.shape == level.shape == (n_products,)
              and growth.shape == (MAX_HORIZON,) and all(np.isfinite(a).all() for a in (offsets, scale, level, growth))
              # in range: a damaged run must not forecast 1e300 units (quantities above 1e9 are refused at ingest)
              and (np.abs(offsets) <= MAX_OFFSET).all() and ((scale > 0) & (scale <= MAX_UNITS)).all()
              and ((level >= 0) & (level <= MAX_UNITS)).all() and ((growth >= 1) & (growth <= MAX_GROWTH)).all()
              and (np.diff(offsets, axis=0) >= -1e-6).all() and 0 <= power <= 1
              and isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= 100_000
              and 1 <= widened <= MAX_CALM and 0 <= correlation <= MAX_CORRELATION
              and (shift is None or (shift.shape == (n_products,) and np.isfinite(shift).all()
                                     and (np.abs(shift) <= MAX_OFFSET).all()))
              and (dormant is None or (dormant.shape == (n_products,) and dormant.dtype == bool))
              and (pooled is None or (pooled.shape == (len(GRID),) and np.isfinite(pooled).all()
                                      and (np.abs(pooled) <= MAX_OFFSET).all())))
        if not ok:
            raise ValueError("calibration arrays of the wrong shape or values out of range")
        return cls(offsets, scale, level, power, growth, days, str(data.get("method", "conformal")),
                   bool(data.get("integer", False)), dormant, pooled, widened, correlation, shift, total_spread)

    def total_quantiles(self, point: np.ndarray, open_: np.ndarray, steps: np.ndarray,
                        probs: tuple[float, ...]) -> np.ndarray:
        """(P, len(probs)) quantiles of each product's total over the days of ``point`` (D, P) (``open_``:
        which days trade; a closed one adds 0), from sampled paths: each day drawn from its own calibrated
        distribution, the days of one product tied by :attr:`correlation` (a Gaussian copula, one common
        draw per product and path); then spread about the median by :attr:`total_spread`. TOTAL_DRAWS paths
        (fewer, down to MIN_DRAWS, beyond TOTAL_CELLS draws x days x products in all; products in chunks of
        at most DRAW_CELLS cells at once)."""
        from scipy.stats import norm  # 0.6 s to import: only a total needs it

        rng = np.random.default_rng(TOTAL_SEED)
        rho = self.correlation
        D, P = point.shape
        draws = int(np.clip(TOTAL_CELLS // (D * P), MIN_DRAWS, TOTAL_DRAWS))
        chunk = max(1, DRAW_CELLS // (draws * D))
        probs_all = np.array(sorted({0.5, *probs}))
        out = np.empty((P, len(probs_all)))
        for start in range(0, P, chunk):  # a handful of chunks, each one vectorised over draws, days and products
            cols = slice(start, min(start + chunk, P))
            width = cols.stop - cols.start
            common = rng.standard_normal((draws, 1, width))
            z = np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.standard_normal((draws, D, width))
            sub = dataclasses.replace(self, offsets=self.offsets[:, cols], scale=self.scale[cols],
                                      level=self.level[cols], dormant=None if self.dormant is None else self.dormant[cols],
                                      shift=None if self.shift is None else self.shift[cols])
            paths = sub.sample(point[:, cols], norm.cdf(z), steps) * open_[:, cols]
            out[cols] = np.quantile(paths.sum(axis=1), probs_all, axis=0).T
        median = out[:, [int(np.searchsorted(probs_all, 0.5))]]
        out = np.clip(median + self.total_spread * (out - median), 0, None)
        return out[:, np.searchsorted(probs_all, probs)]


TOTAL_DRAWS = 1000  # sampled paths a total's quantiles are read from ...
MIN_DRAWS = 200  # ... fewer for a large catalog, down to this many, so a total stays a few seconds' work
TOTAL_CELLS = 20_000_000  # draws x days x products drawn in all, at most (above MIN_DRAWS)
DRAW_CELLS = 4_000_000  # draws x days x products held at once: products go in chunks, memory stays bounded
TOTAL_SEED = 0  # the paths are drawn the same way every time: the same model and data give the same totals
MIN_TOTAL_SPREAD, MAX_TOTAL_SPREAD = 0.5, 4.0  # a total's range is narrowed or widened at most this much


def total_widening(calibration: Calibration, actual: np.ndarray, point: np.ndarray, open_: np.ndarray,
                   level: float = DEFAULT_LEVEL) -> float:
    """How much to spread a total's quantiles about its median so that the central ``level`` range of the
    held-out totals covers them as often as it should (split-conformal on totals): ``actual``, ``point``
    (runs, days, P) are held-out days and the recursive forecasts made for them from each run's start,
    ``open_`` (runs, days) which of them trade. For each product-run the miss of its total beyond the
    median, over the range's half on that side; the factor is that score's ``level`` quantile (with the
    finite-sample correction), pooled over the product-runs where anything sold or was forecast, within
    MIN_TOTAL_SPREAD .. MAX_TOTAL_SPREAD; 1 with fewer than 10 of them."""
    probs = ((1 - level) / 2, 0.5, (1 + level) / 2)
    base = dataclasses.replace(calibration, total_spread=1.0)
    steps = np.arange(1, actual.shape[1] + 1)
    scores = []
    for sold, path, trading in zip(actual, point, open_):  # a handful of held-out runs
        lower, median, upper = base.total_quantiles(path, np.broadcast_to(trading[:, None], path.shape), steps,
                                                     probs).T
        total = (sold * trading[:, None]).sum(axis=0)
        # a total of whole units is judged to half a unit: a range of 0.41-0.52 missed by a week of no sales
        # is no reason to widen every product's range fourfold (a planner's trial: five stopped products did)
        half = np.maximum(np.where(total >= median, upper - median, median - lower), 0.5 if calibration.integer else 0.0)
        informative = (total > 0) | (median > 0) | (upper > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(half > 0, np.abs(total - median) / half, np.where(total == median, 0.0, np.inf))
        scores.append(score[informative])
    scores = np.concatenate(scores) if scores else np.empty(0)
    if len(scores) < 10:
        return 1.0
    rank = min(1.0, math.ceil((len(scores) + 1) * level) / len(scores))
    return float(np.clip(np.quantile(scores, rank, method="higher"), MIN_TOTAL_SPREAD, MAX_TOTAL_SPREAD))


def whole_units_covering(quantile: np.ndarray, median: np.ndarray) -> np.ndarray:
    """The stock in whole units that covers whole-unit demand as often as the calibrated ``quantile`` does:
    demand of whole units is at most q exactly when it is at most floor(q), so the whole number at or below
    the quantile keeps its service level with less stock; but never less than the median rounded up (a
    slow seller whose continuous median is 0.3 orders 1, not 0: the page shows both). Rounding every
    quantile up covered more days than asked: see the README's days 1-14 benchmark."""
    whole = np.floor(np.asarray(quantile, dtype=np.float64) + 1e-9)
    return np.maximum(whole, np.ceil(np.asarray(median, dtype=np.float64) - 1e-9)) + 0.0  # + 0.0: never -0


def unit_floor(integer: bool, scale: np.ndarray) -> float:
    """The smallest scale and level a product gets: half a unit for whole-unit demand (a count never moves
    by less), else a thousandth of the smallest positive scale in the catalog."""
    if integer:
        return 0.5
    positive = scale[scale > 0]
    return max(1e-3 * float(positive.min()), 1e-9) if len(positive) else 1e-6


def product_scale(history: np.ndarray, floor: float | None = None) -> np.ndarray:
    """(P,) each product's mean absolute week-on-week change (one-day changes on histories under two
    weeks), at least ``floor`` (default: :func:`unit_floor`), so that normalised residuals stay finite."""
    lag = 7 if len(history) > 14 else 1
    if len(history) <= lag:
        scale = np.zeros(history.shape[1])
    else:
        scale = np.abs(history[lag:] - history[:-lag]).mean(axis=0)
    if floor is None:
        floor = unit_floor(_is_integer(history), scale)
    return np.maximum(scale, floor)


def horizon_growth(history: np.ndarray, horizons: int = MAX_HORIZON) -> np.ndarray:
    """(horizons,) how much wider a forecast ``h`` days ahead should be than one for tomorrow.

    For each ``h``: the mean absolute error of the better of "the last day carried forward" and "the same
    weekday carried forward" ``h`` days ahead, each product's errors divided by its scale, pooled; then
    divided by the same at ``h = 1`` and made non-decreasing (a later day is never more certain)."""
    values = history[-GROWTH_DAYS:]
    if values.shape[1] > GROWTH_PRODUCTS:
        values = values[:, np.linspace(0, values.shape[1] - 1, GROWTH_PRODUCTS).astype(int)]
    values = values / product_scale(values)
    errors = np.full(horizons, np.nan)
    for h in range(1, horizons + 1):  # one vectorised difference per horizon, not a loop over days
        season = 7 * math.ceil(h / 7)
        naive = np.abs(values[h:] - values[:-h]).mean() if len(values) > h + 7 else np.nan
        seasonal = np.abs(values[season:] - values[:-season]).mean() if len(values) > season + 7 else np.nan
        errors[h - 1] = np.nanmin([naive, seasonal]) if not (np.isnan(naive) and np.isnan(seasonal)) else np.nan
    if not np.isfinite(errors[0]) or errors[0] <= 0:
        # too short or flat to measure: the random-walk rule, the widest a sensible forecast gets
        return np.sqrt(np.arange(1, horizons + 1, dtype=np.float64))
    errors = np.where(np.isfinite(errors), errors, np.nan)
    # horizons beyond what the history can measure keep growing like a random walk from the last measured one
    last = int(np.flatnonzero(np.isfinite(errors))[-1])
    h = np.arange(1, horizons + 1)
    errors[last + 1:] = errors[last] * np.sqrt(h[last + 1:] / h[last])
    return np.maximum.accumulate(np.maximum(errors / errors[0], 1.0))


def calm_factor(history: np.ndarray, n: int) -> float:
    """How much to widen a calibration on the last ``n`` days of ``history``: ``(past / now) ** CALM_POWER``
    where ``now`` is the mean absolute week-on-week change on those days and ``past`` the same over the
    CALM_YEAR days before them, pooled over the products that sold on those days; 1 when they were not calmer
    (or too little history to compare), at most MAX_CALM."""
    if len(history) < n + 7 + 28:  # four weeks of past changes at least
        return 1.0
    # a product without a sale on those days (stopped, or not launched yet) says nothing of how calm they were:
    # measured, five stopped products beside one steady seller widened its every range twofold
    selling = (history[-n:] > 0).any(axis=0)
    if not selling.any():
        return 1.0
    changes = np.abs(history[7:, selling] - history[:-7, selling])  # row i: day i + 7 against day i
    now, past = changes[-n:].mean(), changes[-n - CALM_YEAR:-n].mean()
    if not past > 0:
        return 1.0
    if not now > 0:
        return MAX_CALM
    return float(np.clip((past / now) ** CALM_POWER, 1.0, MAX_CALM))


def _quantiles(residuals: np.ndarray) -> np.ndarray:
    """(len(GRID), P) per-product empirical quantiles (linear interpolation) of (n, P) residuals, NaN ones
    left out (0 for a product without any): ``np.nanquantile(residuals, GRID, axis=0)``'s numbers, computed
    for every product at once (numpy's nanquantile loops over the products in Python: 9 s of an evaluation
    at 10,000 products)."""
    ordered = np.sort(residuals, axis=0)  # NaN sorts last
    count = (~np.isnan(residuals)).sum(axis=0)  # (P,)
    virtual = (count - 1)[None, :] * GRID[:, None]  # numpy's "linear" method: (n - 1) q
    below = np.floor(virtual)
    gamma = virtual - below
    below = np.clip(below, 0, None).astype(np.intp)
    above = np.minimum(below + 1, np.maximum(count - 1, 0)[None, :])
    a = np.take_along_axis(ordered, below, axis=0)
    b = np.take_along_axis(ordered, above, axis=0)
    diff = b - a  # numpy's _lerp: from the nearer end, so that the ends are exact
    out = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return np.nan_to_num(np.where(count[None, :] > 0, out, 0.0))


def calibrate(actual: np.ndarray, point: np.ndarray, history: np.ndarray, method: str = "conformal",
              where: np.ndarray | bool = True) -> Calibration:
    """Calibrate on held-out days: ``actual`` and ``point`` are (n, P) demand and one-step forecasts of days
    the model never trained on; ``history`` (T, P) is every day before them (for scales and growth);
    ``where`` (n, P) the product-days whose errors count (a product's days before its first sale do not)."""
    actual, point = np.asarray(actual, dtype=np.float64), np.asarray(point, dtype=np.float64)
    if actual.shape != point.shape or actual.ndim != 2 or len(actual) < 1:
        raise ValueError("calibrate needs (n, P) actuals and forecasts of the same shape, n >= 1")
    seen = np.vstack([history, actual])  # every day up to the end of the calibration days
    integer = _is_integer(seen)
    scale = product_scale(seen)
    floor = unit_floor(integer, scale)
    level = np.maximum(seen[-365:].mean(axis=0), floor)
    partial = Calibration(np.zeros((len(GRID), actual.shape[1])), scale, level, LEVEL_POWER,
                          np.ones(MAX_HORIZON), len(actual))
    normalised = (actual - point) / partial.spread(point)
    scored = np.broadcast_to(where, normalised.shape)
    counted = np.where(scored, normalised, np.nan)
    own = _quantiles(counted)
    pooled = np.quantile(normalised[scored] if scored.any() else normalised, GRID)
    # a product's own quantiles count by the days that say something about it (it sold, or was forecast to)
    informative = (((actual > 0) | (point > 0)) & scored).sum(axis=0)
    normalised = np.where(scored, normalised, 0.0)  # below, a masked day adds nothing to how days err together
    w = informative / (informative + SHRINK_DAYS)
    widened = calm_factor(seen, len(actual))
    offsets = (w * own + (1 - w) * pooled[:, None]) * widened
    # the calibration days' mean miss moves the distribution only part of the way: a level that moved on
    # those days (a product taking off) need not keep moving, and the whole of it overshoots
    shift = -(1 - LOCATION_SHARE) * offsets.mean(axis=0)
    dormant = (seen <= 0).all(axis=0)  # never sold (at most returns): no range and nothing to stock, until it sells
    # what a product that starts selling later borrows: the shape of the products that sold on these days (those
    # that had stopped miss by nothing, and gave a launch a range of zero width in a planner's trial)
    selling = scored & (actual > 0).any(axis=0)
    borrowed = np.quantile(normalised[selling], GRID) if selling.any() else pooled
    return Calibration(offsets, scale, level, LEVEL_POWER, horizon_growth(seen), len(actual), method, integer,
                       dormant, borrowed * widened, widened, day_correlation(normalised), shift)


def correlation_of_totals(errors: np.ndarray) -> float:
    """The correlation ``rho`` between two days' errors of one product that makes the totals of ``errors``
    (runs x days x products, normalised) as large as they were: E[total^2] = days * E[e^2] * (1 + (days - 1)
    * rho), pooled; 0 when the errors say nothing."""
    days = errors.shape[1]
    daily = float(np.mean(errors ** 2))
    if days < 2 or not daily > 0:
        return 0.0
    ratio = float(np.mean(errors.sum(axis=1) ** 2)) / (days * daily)
    return float(np.clip((ratio - 1) / (days - 1), 0.0, MAX_CORRELATION))


def day_correlation(normalised: np.ndarray, days: int = SUM_DAYS) -> float:
    """The correlation ``rho`` between two days' errors of one product that makes totals over ``days`` days
    vary as much as they did: var(total) = days * var(day) * (1 + (days - 1) * rho), pooled over products,
    each product's errors taken about its own mean (its offsets already hold that); 0 with too few days."""
    n = len(normalised)
    if n < 2 * days:
        return 0.0
    r = normalised - normalised.mean(axis=0)
    runs = np.lib.stride_tricks.sliding_window_view(r, days, axis=0)  # (n - days + 1, P, days), a view
    return correlation_of_totals(runs.transpose(0, 2, 1))


def residual_calibration(values: np.ndarray, predict: Callable[[np.ndarray, np.ndarray], np.ndarray], end: int,
                         first: int = 7, growth: np.ndarray | None = None) -> Calibration:
    """A baseline's own interval: each product's residual quantiles of ``predict`` (a baseline of
    :mod:`forecaster.model.baselines`) over target days ``first .. end-1`` (every day before the test span).
    ``growth`` is ``horizon_growth(values[:end])``, passed in when several baselines share one history."""
    days = np.arange(min(first, end - 1), end)
    days = days[days >= 1]
    if len(days) == 0:
        raise ValueError("no days to calibrate a baseline on")
    # a product's days before its first sale are no residual (the rule's 0 there would be right for free)
    residuals = np.where(since_first_sale(values)[days], values[days] - predict(values, days), np.nan)
    P = values.shape[1]
    growth = horizon_growth(values[:end]) if growth is None else growth
    return Calibration(_quantiles(residuals), np.ones(P), np.ones(P), 0.0, growth, len(days),
                       "residual quantiles", _is_integer(values[:end]))


def _is_integer(history: np.ndarray) -> bool:
    return bool(len(history)) and bool(np.all(np.mod(history, 1) == 0))
