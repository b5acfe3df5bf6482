"""Test-span predictions and metric tables: the network next to the baselines, on exactly the same days."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError
from ..labels import NETWORK, SEASONAL_NAIVE, label
from ..model.baselines import BASELINES, REFERENCES
from ..model.intervals import DEFAULT_LEVEL, Calibration, check_level, horizon_growth, residual_calibration
from ..model.trained import TrainedForecaster
from ..model.windows import trading_split
from ..data.drivers import DriverPanel, driver_days
from ..data.holidays import holiday_days
from ..model.scores import bias, naive_scale, rmsse, since_first_sale
from .metrics import (INTERVAL_METRICS, METRIC_NAMES, PINBALL_PROBS, coverage, interval_score, per_product_mae,
                      pinball_loss, pooled_metrics)


BIAS_OK = 0.1  # a forecast total within 10 % of what sold is not called biased


@dataclass(frozen=True)
class Evaluation:
    """Every test day predicted one step ahead from the actual history before it.

    ``predictions`` are each method's expected demand (the mean, what totals, RMSE and bias judge);
    ``medians`` its median (what MAE judges): the network's from its calibrated distribution, a
    baseline's its own rule (a rule of thumb is read as a typical day)."""

    dates: pd.DatetimeIndex
    products: list[str]
    actual: np.ndarray  # (D, P)
    predictions: dict[str, np.ndarray]  # method -> (D, P) mean, "network" first
    overall: pd.DataFrame  # one row per method: METRIC_NAMES, ratio_to_seasonal_naive (MAE), rmse_ratio
    per_product: pd.DataFrame  # one row per product: mae_<method>, beats_<baseline>, the first method's error
    # method -> its interval calibration (the model's on its validation days, each baseline's on every day
    # before the test span); a method missing here has no interval (a model saved before intervals existed)
    calibrations: dict[str, Calibration] = field(default_factory=dict)
    medians: dict[str, np.ndarray] = field(default_factory=dict)  # method -> (D, P); missing: the mean
    # method -> (D, P) the point its calibration is drawn around (the network's own output); missing: the mean
    points: dict[str, np.ndarray] = field(default_factory=dict)
    # (D, P) the product-days scored: a product's days before its first sale are not demand of zero
    scored: np.ndarray | bool = True

    def point(self, method: str) -> np.ndarray:
        return self.points.get(method, self.predictions[method])

    def shortfalls(self, method: str = NETWORK) -> list[str]:
        """Why ``method`` does not beat every other row, in a planner's words (empty: it beats them all on
        the median's MAE, the mean's RMSE, and with a total within BIAS_OK of what sold, or no further off
        than the least biased other row)."""
        overall = self.overall
        others = overall.drop(index=method)
        row, found = overall.loc[method], []
        for metric, what in (("MAE", "its typical day (median) is further off than with"),
                             ("RMSE", "its expected demand (mean) has a larger squared error than with")):
            best = others[metric].idxmin()
            if not row[metric] < others.loc[best, metric]:
                mine, theirs = _alike(row[metric], others.loc[best, metric])
                found.append(f"{what} {label(best)} ({metric} {mine} against {theirs})")
        allowed = max(BIAS_OK, float(others["Bias"].abs().min()))
        if np.isfinite(row["Bias"]) and abs(row["Bias"]) > allowed:
            found.append(f"its forecasts add up to {abs(row['Bias']):.0%} {'more' if row['Bias'] > 0 else 'less'} "
                         "than what sold")
        return found

    def bounds(self, method: str, level: float = DEFAULT_LEVEL) -> tuple[np.ndarray, np.ndarray] | None:
        """(D, P) lower and upper bounds of ``method``'s central ``level`` interval, or None without one."""
        cal = self.calibrations.get(method)
        return None if cal is None else cal.bounds(self.point(method), check_level(level))

    def quantiles(self, method: str, probs: tuple[float, ...] = PINBALL_PROBS) -> dict[float, np.ndarray] | None:
        cal = self.calibrations.get(method)
        if cal is None:
            return None
        point = self.point(method)
        return {p: cal.median(point) if p == 0.5 else cal.quantile(point, p) for p in probs}

    def interval_overall(self, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
        """One row per method with an interval: coverage of the central ``level`` interval on the test days,
        its interval score (mean Winkler score at alpha = 1 - level), the mean pinball loss over quantiles
        0.1/0.5/0.9, and both scores as a ratio to seasonal naive's own interval (lower is better)."""
        rows = {}
        for method in self.predictions:
            bounds = self.bounds(method, level)
            if bounds is None:
                continue
            rows[method] = {"coverage": coverage(self.actual, *bounds, where=self.scored),
                            "interval_score": interval_score(self.actual, *bounds, alpha=1 - level, where=self.scored),
                            "pinball": pinball_loss(self.actual, self.quantiles(method), where=self.scored)}
        table = pd.DataFrame.from_dict(rows, orient="index", columns=list(INTERVAL_METRICS), dtype=float)
        table.index.name = "method"
        if SEASONAL_NAIVE in table.index:
            for metric in ("interval_score", "pinball"):
                base = table.loc[SEASONAL_NAIVE, metric]  # 0 on an all-zero test span: no ratio, not inf
                table[f"{metric}_ratio"] = table[metric] / base if base > 0 else np.nan
        return table

    def interval_per_product(self, level: float = DEFAULT_LEVEL, method: str = NETWORK) -> pd.DataFrame | None:
        """One row per product: coverage and interval score of ``method``'s interval, the products whose
        coverage is furthest from ``level`` first; None without an interval."""
        bounds = self.bounds(method, level)
        if bounds is None:
            return None
        where = self.scored
        table = pd.DataFrame({"product": self.products,
                              "coverage": coverage(self.actual, *bounds, axis=0, where=where),
                              "interval_score": interval_score(self.actual, *bounds, alpha=1 - level, axis=0,
                                                               where=where),
                              "mae": per_product_mae(self.actual, self.predictions[method], where=where)})
        table["off_by"] = (table["coverage"] - level).abs()
        return table.sort_values("off_by", ascending=False, kind="stable").reset_index(drop=True)

    def holiday_table(self, calendar: str, methods: tuple[str, ...] = (NETWORK, SEASONAL_NAIVE)) -> pd.DataFrame | None:
        """MAE of the median, RMSE and bias of the mean of ``methods`` on the test days around the
        ``calendar``'s holidays (the days its features mark) apart from the other days, so the gain of
        holiday features shows where it should; None when no test day is near a holiday."""
        near = holiday_days(self.dates, calendar)
        if not near.any():
            return None
        return self._apart(np.broadcast_to(near[:, None], self.actual.shape), f"around holidays ({int(near.sum())} days)",
                           f"other days ({int((~near).sum())} days)", methods)

    def driver_table(self, drivers: DriverPanel, methods: tuple[str, ...] = (NETWORK, SEASONAL_NAIVE)) -> pd.DataFrame | None:
        """The same scores on the product-days a known-ahead driver was set (a value other than the
        product's usual one: a promotion, a price change, an event) apart from the rest, per driver; None
        when no test day had one."""
        parts = [t for t in (self._apart(on, f"{name} set ({int(on.sum()):,} product-days)",
                                         f"{name} not set ({int((~on).sum()):,} product-days)", methods)
                             for name, on in driver_days(drivers.aligned(self.products), self.dates).items()
                             if on.any()) if t is not None]
        return pd.concat(parts, ignore_index=True) if parts else None

    def _apart(self, where: np.ndarray, inside: str, outside: str, methods: tuple[str, ...]) -> pd.DataFrame:
        rows, no_history = [], self.actual[:0]
        for days, mask in ((inside, where), (outside, ~where)):
            scored = np.broadcast_to(self.scored, self.actual.shape) & mask
            for method in (m for m in methods if m in self.predictions):
                scores = pooled_metrics(self.actual, self.predictions[method], no_history, self.medians.get(method),
                                        scored)
                rows.append({"days": days, "method": method, **{k: scores[k] for k in ("MAE", "RMSE", "Bias")}})
        return pd.DataFrame(rows)

    def predictions_table(self, method: str = NETWORK, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
        """Long table date, product, actual, predicted (and lower, upper with an interval) for one method."""
        D, P = self.actual.shape
        table = pd.DataFrame({
            "date": np.repeat(self.dates.to_numpy(), P),
            "product": np.tile(np.asarray(self.products, dtype=object), D),
            "actual": self.actual.ravel(),
            "predicted": self.predictions[method].ravel(),
        })
        bounds = self.bounds(method, level)
        if bounds is not None:
            table["lower"], table["upper"] = bounds[0].ravel(), bounds[1].ravel()
        return table


def _alike(a: float, b: float) -> tuple[str, str]:
    """Two figures with the same decimals, three significant digits of the larger ("0.620 against 0.609",
    not "0.62 against 0.609")."""
    big = max(abs(a), abs(b))
    decimals = max(0, 2 - math.floor(math.log10(big))) if big > 0 and math.isfinite(big) else 3
    return f"{a:.{decimals}f}", f"{b:.{decimals}f}"


def compare(panel: pd.DataFrame, predictions: dict[str, np.ndarray], days: np.ndarray,
            calibrations: dict[str, Calibration | None] | None = None, counted: np.ndarray | None = None) -> Evaluation:
    """Score any set of (D, P) predictions for target days ``days`` against the baselines and the reference
    rows; ``calibrations`` gives the predictions' distributions around them: a method with one is scored by
    its distribution's mean and median (:meth:`Calibration.mean`), one without by its prediction as both
    (the baselines get their own intervals from the days before ``days``). ``counted`` (T, P): the product-days
    that are demand (default: from each product's first sale on)."""
    values = panel.to_numpy(dtype=np.float64)
    actual = values[days]
    history = values[:days[0]]
    scored = (since_first_sale(values) if counted is None else counted)[days]
    points = dict(predictions)
    for name, rule in {**BASELINES, **REFERENCES}.items():
        points.setdefault(name, rule(values, days))
    cals = {name: cal for name, cal in (calibrations or {}).items() if cal is not None}
    all_preds = {name: _scored_as(cals.get(name), point, cals[name].mean(point) if name in cals else point)
                 for name, point in points.items()}
    medians = {name: _scored_as(cals.get(name), point, cals[name].median(point) if name in cals else point)
               for name, point in points.items()}
    rows = {name: pooled_metrics(actual, pred, history, medians[name], scored) for name, pred in all_preds.items()}
    overall = pd.DataFrame.from_dict(rows, orient="index", columns=list(METRIC_NAMES))
    overall.index.name = "method"
    overall["ratio_to_seasonal_naive"] = overall["MAE"] / overall.loc[SEASONAL_NAIVE, "MAE"]
    overall["rmse_ratio"] = overall["RMSE"] / overall.loc[SEASONAL_NAIVE, "RMSE"]
    per_product = _per_product(panel, actual, history, all_preds, medians, next(iter(predictions), None), scored)
    growth = horizon_growth(history)  # one history, shared by every baseline's interval
    for name, rule in {**BASELINES, **REFERENCES}.items():
        if name not in predictions:
            cals[name] = residual_calibration(values, rule, int(days[0]), growth=growth)
    return Evaluation(panel.index[days], list(per_product["product"]), actual, all_preds, overall, per_product, cals,
                      medians, {name: points[name] for name in cals if name in predictions}, scored)


def _scored_as(cal: Calibration | None, point: np.ndarray, calibrated: np.ndarray) -> np.ndarray:
    """The calibrated mean or median, but a product that had never sold when the calibration was made (its
    range [0, 0]) is scored on its one-step point forecast: one that starts selling in the test span is
    forecast from its own days as it sells (the Forecast page refreshes its range from the days before;
    here that would read the test span)."""
    if cal is None or cal.dormant is None or not cal.dormant.any():
        return calibrated
    return np.where(cal.dormant, point, calibrated)


def _per_product(panel: pd.DataFrame, actual: np.ndarray, history: np.ndarray, means: dict[str, np.ndarray],
                 medians: dict[str, np.ndarray], first: str | None, scored: np.ndarray) -> pd.DataFrame:
    """One row per product: each method's MAE (of its median); for the first method also its error as a
    share of the product's sales, its bias and RMSSE, and whether it beats each baseline's MAE. Only the
    ``scored`` days count (NaN for a product without one)."""
    table = pd.DataFrame({"product": [str(c) for c in panel.columns]})
    for name, median in medians.items():
        table[f"mae_{name}"] = per_product_mae(actual, median, where=scored)
    if first is not None:
        sold = actual.sum(axis=0, where=scored)
        with np.errstate(divide="ignore", invalid="ignore"):
            table["error_pct"] = np.where(sold > 0, np.abs(actual - medians[first]).sum(axis=0, where=scored) / sold,
                                          np.nan)
        table["bias"] = bias(actual, means[first], axis=0, where=scored)
        table["rmsse"] = rmsse(actual, means[first], naive_scale(history), per_product=True, where=scored)
        for name in BASELINES:
            if name != first:  # a product with no scored day neither beats nor loses (missing)
                beats = pd.array(table[f"mae_{first}"] < table[f"mae_{name}"], dtype="boolean")
                beats[table[f"mae_{first}"].isna().to_numpy()] = pd.NA
                table[f"beats_{name}"] = beats
    return table


def evaluate(trained: TrainedForecaster, panel: pd.DataFrame) -> Evaluation:
    """Score the trained network on the test span of ``panel`` (its last ``test_days`` days)."""
    panel = trained.align(panel)
    days = trading_split(panel, trained.config).test
    if not len(days):
        raise DataError(f"Every one of the last {trained.config.test_days} days is a closed day (nothing sold): there "
                        "is nothing to score. Give the test span more days, or set the closed days yourself.")
    return compare(panel, {NETWORK: trained.predict(panel, days)}, days, {NETWORK: trained.calibration},
                   trained.counted(panel))
