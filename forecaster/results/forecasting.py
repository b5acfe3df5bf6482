"""Next-day (and recursive multi-day) forecasts from the latest actual history, with their intervals."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..data.calendar import WEEKDAY_NAMES, TradingCalendar, trading_calendar
from ..data.drivers import DriverPanel, closed_cells, opened_cells
from ..errors import DataError, ForecasterError
from ..model.intervals import (DEFAULT_LEVEL, DEFAULT_SERVICE_LEVEL, MAX_HORIZON, RECENT_DAYS, SERVICE_LEVELS,
                               Calibration, check_level, whole_units_covering)
from ..model.horizon import PROFILE_WEEKS
from ..model.trained import TrainedForecaster

__all__ = ["MAX_HORIZON", "current_calibration", "forecast", "lead_time_total", "point_forecast", "totals", "what_if",
           "with_intervals"]


STOPPED_DAYS = 56  # a product that sold before but nothing in this many last days has stopped selling


def stopped_selling(history: pd.DataFrame, days: int = STOPPED_DAYS) -> np.ndarray:
    """(P,) products that sold before the last ``days`` days and nothing in them (discontinued, out of range,
    or out of stock for two months): flagged, and ordered for only when the user asks."""
    values = history.to_numpy(dtype=np.float64)
    if len(values) <= days:
        return np.zeros(values.shape[1], dtype=bool)
    return (values[:-days] > 0).any(axis=0) & ~(values[-days:] > 0).any(axis=0)


def with_future_drivers(trained: TrainedForecaster, dates: pd.DatetimeIndex, trading: np.ndarray) -> TrainedForecaster:
    """The forecaster with its known-ahead drivers' defaults put in on the forecast ``dates``; refused, naming
    the first product and day, where a trading day still has no value (never filled silently)."""
    if trained.driver_spec is None:
        return trained
    if trained.drivers is None:
        raise DataError(f"This model reads the drivers {trained.driver_spec.describe()}: read the data with them.")
    # the drivers' days a forecast reads (the networks' windows, with weeks to spare; the level anchor reads
    # demand, not drivers) and the days forecast: the rest of a long history is not copied for every forecast
    recent = dates[0] - pd.Timedelta(days=max(trained.history_days + 1, 7 * PROFILE_WEEKS) + 7)
    drivers = trained.drivers.since(recent).with_defaults(dates)
    message = drivers.missing(dates, trading)
    if message:
        raise DataError(message)
    return dataclasses.replace(trained, drivers=drivers)


def point_forecast(trained: TrainedForecaster, panel: pd.DataFrame, horizon: int = 1) -> pd.DataFrame:
    """Expected demand per product for ``horizon`` days from the next trading day after the panel's last
    date, clipped at zero.

    Beyond the first day the forecast is recursive: each day's forecast is fed back as the next day's lag.
    A day on a closed weekday (:mod:`forecaster.data.calendar`) is forecast 0 and fed back as 0, as such
    days stand in the history; closed days right after the last date are passed over, so the first row is
    the next trading day. So is a product's own weekday without a sale in the last year
    (:attr:`TradingCalendar.product_off_weekdays`, listed by product in ``attrs["unsold_weekdays"]``).
    Returns a long table: date, product, step (days after the last date), forecast, closed, stopped.
    """
    if not 1 <= horizon <= MAX_HORIZON:
        raise ForecasterError(f"The horizon must be between 1 and {MAX_HORIZON} days, not {horizon}.")
    trained = trained.for_forecasting()
    history = trained.align(panel)
    need = trained.history_days + 1
    if len(history) < need:
        raise ForecasterError(f"Forecasting needs at least {need} days of history; the data has {len(history)}.")
    calendar = trading_calendar(history, trained.config.closed_days, holidays=trained.config.holidays)
    dates, closed, skip = calendar.ahead(history.index[-1], horizon)  # skip: closed days before the first trading one
    refuse_opening_closed_days(trained.drivers, calendar, dates, closed)
    trained = with_future_drivers(trained, dates, ~closed)
    shut = closed_cells(trained.drivers, dates)  # product-days an open flag closes (a planned closure)
    unsold = calendar.product_off_weekdays  # (7, P): a product's weekday without a sale in the last year
    cells = (np.repeat(closed[:, None], history.shape[1], axis=1) | (False if shut is None else shut)
             | unsold[dates.day_of_week])
    path = trained.forecast_path(history, cells)
    wide = pd.DataFrame(path[skip:], index=pd.DatetimeIndex(dates[skip:], name="date"), columns=history.columns)
    long = wide.rename_axis(columns="product").stack().rename("forecast").reset_index()
    P = len(history.columns)
    long.insert(2, "step", np.repeat(np.arange(skip + 1, skip + horizon + 1), P))
    long["closed"] = cells[skip:].ravel()
    long["stopped"] = np.tile(stopped_selling(history), horizon)
    # ISO dates as keys: a frame's attrs travel with it into Arrow (Streamlit's tables), which takes only text keys
    long.attrs["closed_reasons"] = {f"{day:%Y-%m-%d}": calendar.reason(day) for day, shut in zip(dates, closed) if shut}
    long.attrs["closed_doubts"] = {f"{day:%Y-%m-%d}": why for day, shut in zip(dates[skip:], closed[skip:])
                                   if not shut and (why := calendar.doubt(day))}
    long.attrs["stopped_days"] = STOPPED_DAYS
    long.attrs["unsold_weekdays"] = {str(product): [WEEKDAY_NAMES[d] for d in np.flatnonzero(unsold[:, i])]
                                     for i, product in enumerate(history.columns) if unsold[:, i].any()}
    return long


def refuse_opening_closed_days(drivers: DriverPanel | None, calendar: TradingCalendar, dates: pd.DatetimeIndex,
                               closed: np.ndarray) -> None:
    """A future open flag the user set to open on a day the business does not trade is a conflict, named,
    never overruled in silence (a trial's file opened every Sunday; they came out closed without a word)."""
    opened = opened_cells(drivers, dates)
    clash = np.argwhere(opened & closed[:, None]) if opened is not None else np.empty((0, 2))
    if len(clash):
        day, product = dates[clash[0][0]], drivers.products[clash[0][1]]
        raise ForecasterError(
            f"The future values open {product!r} on {day:%A %d %B %Y}"
            + (f" ({len(clash) - 1:,} more product-days too)" if len(clash) > 1 else "")
            + f", a day the business does not trade ({calendar.reason(day)}): the model never saw it trade, so it "
            "cannot forecast it open. Set the open flag to 0 on such days in the file (on the command line, "
            "--closed-days can name the closed weekdays instead, and the days it leaves out trade).")


def closed_reasons(points: pd.DataFrame) -> dict[pd.Timestamp, str]:
    """The days of a :func:`point_forecast` (or a table made from it) that the business does not trade, the
    skipped ones before its first day included, each with its reason."""
    return {pd.Timestamp(day): why for day, why in points.attrs.get("closed_reasons", {}).items()}


def closed_doubts(points: pd.DataFrame) -> dict[pd.Timestamp, str]:
    """The days of a :func:`point_forecast` forecast as trading that were closed in the history's one earlier
    year (:meth:`TradingCalendar.doubt`), each with what was seen."""
    return {pd.Timestamp(day): why for day, why in points.attrs.get("closed_doubts", {}).items()}


def planned_closures(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a forecast table closed by a product's open flag alone: not a day the business does not
    trade, nor a product's own weekday without a sale (:attr:`TradingCalendar.product_off_weekdays`)."""
    unsold = table.attrs.get("unsold_weekdays", {})
    off_day = np.zeros(len(table), dtype=bool)
    if unsold:  # (weekday, product) pairs looked up at once, not row by row
        pairs = pd.MultiIndex.from_tuples([(d, p) for p, days in unsold.items() for d in days])
        off_day = pd.MultiIndex.from_arrays([table["date"].dt.day_name(), table["product"]]).isin(pairs)
    return table[table["closed"] & ~table["date"].isin(list(closed_reasons(table))) & ~off_day]


def with_intervals(points: pd.DataFrame, calibration: Calibration | None, level: float = DEFAULT_LEVEL,
                   service_level: float = DEFAULT_SERVICE_LEVEL, order_stopped: bool = False) -> pd.DataFrame:
    """The forecast as a distribution: ``forecast`` becomes the expected demand of the calibrated
    distribution around the network's point (:meth:`Calibration.mean`), with lower, median and upper bounds
    of its central ``level`` interval and the order quantity that covers a day's demand with probability
    ``service_level``; each day's band is that of its horizon step, and a closed day's is 0 with nothing to
    order. ``points`` must be :func:`point_forecast`'s table (the network's own points). Without a calibration the
    table is returned as it is (no intervals).

    Cheap (no network call): a page redraws it for another level without forecasting again.
    """
    check_level(level)
    check_level(service_level, "service level", SERVICE_LEVELS)
    if calibration is None:
        return points
    n_days = points["date"].nunique()
    point = points["forecast"].to_numpy(dtype=np.float64).reshape(n_days, -1)  # (day, product)
    steps = points["step"].to_numpy().reshape(n_days, -1)[:, 0]
    open_ = ~points["closed"].to_numpy(dtype=bool).reshape(n_days, -1) if "closed" in points else True
    lower, upper = calibration.bounds(point, level, steps)
    median = calibration.median(point, steps)
    columns = {"forecast": calibration.mean(point, steps), "lower": lower, "median": median, "upper": upper,
               "order_quantity": calibration.order_quantity(point, service_level, steps, median)}
    out = points.assign(**{name: np.where(open_, values, 0.0).ravel() for name, values in columns.items()})
    if "stopped" in out and not order_stopped:  # flagged: no order unless asked (IntervalOptions.order_stopped)
        out["order_quantity"] = np.where(out["stopped"], 0.0, out["order_quantity"])
    out.attrs.update(points.attrs, level=level, service_level=service_level)
    return out


def current_calibration(trained: TrainedForecaster, panel: pd.DataFrame) -> Calibration | None:
    """The model's calibration for forecasting after ``panel``: products that had never sold when it was
    calibrated but have sold since borrow the catalog's spread (Calibration.refreshed), and each product's
    distribution moves by its misses on the last RECENT_DAYS trading days (Calibration.relocated), which
    the calibration days, further back, could not see: a level that rose since is followed."""
    if trained.calibration is None:
        return None
    trained = trained.for_forecasting()  # the misses of the networks that forecast
    history = trained.align(panel)
    recent = history.iloc[-RECENT_DAYS:]  # all refreshed() reads: not a copy of the whole panel
    calibration = trained.calibration.refreshed(recent.to_numpy(dtype=np.float64))
    tail = history.iloc[-(RECENT_DAYS + trained.history_days + 7):]  # the days the last ones' lags read, and a week
    closed = trading_calendar(history, trained.config.closed_days).closed[-len(tail):]
    days = np.arange(max(trained.history_days, len(tail) - RECENT_DAYS), len(tail))
    days = days[~closed[days]]
    if not len(days):
        return calibration
    values, point = tail.to_numpy(dtype=np.float64), trained.predict(tail, days)
    # a product-day that was no demand (before its first sale, shut by an open flag) is no miss
    return calibration.relocated(np.where(trained.counted(tail)[days], values[days], point), point)


def forecast(trained: TrainedForecaster, panel: pd.DataFrame, horizon: int = 1, level: float = DEFAULT_LEVEL,
             service_level: float = DEFAULT_SERVICE_LEVEL, order_stopped: bool = False) -> pd.DataFrame:
    """Forecast the ``horizon`` days after the panel's last date: date, product, step, forecast and, for a
    model with a calibration, lower, median, upper and order_quantity (see :func:`with_intervals`, which
    checks the levels)."""
    return with_intervals(point_forecast(trained, panel, horizon), current_calibration(trained, panel), level,
                          service_level, order_stopped)


@dataclass
class Prepared:
    """Forecast pieces computed ahead, as a run ends (on its training thread), so that the first view of a
    forecast does not wait for them (at 10,000 products, seconds each): the calibration after the panel,
    point forecasts by horizon (a horizon is not the first days of a longer one: the level anchor rescales
    whole weeks) and totals by (days, level, service level, order_stopped)."""

    calibration: Calibration | None
    points: dict[int, pd.DataFrame] = field(default_factory=dict)
    totals: dict[tuple[int, float, float, bool], pd.DataFrame] = field(default_factory=dict)

    def forecast(self, horizon: int, level: float = DEFAULT_LEVEL,
                 service_level: float = DEFAULT_SERVICE_LEVEL) -> pd.DataFrame:
        return with_intervals(self.points[horizon], self.calibration, level, service_level)


def prepare(trained: TrainedForecaster, panel: pd.DataFrame, horizons: Sequence[int], total_days: Sequence[int] = ()
            ) -> Prepared:
    """The calibration, the point forecasts of each of ``horizons`` and the totals over each of ``total_days``
    at the default levels (a ForecasterError where a forecast needs the user: known-ahead drivers)."""
    prepared = Prepared(current_calibration(trained, panel))
    for horizon in sorted(set(horizons) | set(total_days)):
        prepared.points[horizon] = point_forecast(trained, panel, horizon)
    for days in total_days:
        key = (days, DEFAULT_LEVEL, DEFAULT_SERVICE_LEVEL, False)
        prepared.totals[key] = totals(prepared.points[days], prepared.calibration, *key)
    return prepared


def totals(points: pd.DataFrame, calibration: Calibration | None, days: int, level: float = DEFAULT_LEVEL,
           service_level: float = DEFAULT_SERVICE_LEVEL, order_stopped: bool = False) -> pd.DataFrame:
    """One row per product: the total of the first ``days`` forecast days of ``points`` (from
    :func:`point_forecast`, which starts on the next trading day): ``forecast`` (the sum of the daily
    expected demand) and, with a calibration, ``lower``, ``median``, ``upper`` and the order-up-to
    ``order_quantity`` that covers the total with probability ``service_level``.

    A total's quantiles are not the sums of daily quantiles: they are read from sampled paths, each day
    drawn from its own calibrated distribution, the days of one product tied together by the correlation
    the calibration days showed (a Gaussian copula, one common draw per product and path), and spread
    about their median as the held-out days' totals asked (:meth:`Calibration.total_quantiles`). Closed
    days add 0."""
    check_level(level)
    check_level(service_level, "service level", SERVICE_LEVELS)
    n_days = points["date"].nunique()
    if not 1 <= days <= n_days:
        raise ForecasterError(f"A total needs between 1 and {n_days} forecast days, not {days}.")
    first = points[points["step"] <= points["step"].min() + days - 1]
    products = list(first["product"].iloc[:first["product"].nunique()])
    point = first["forecast"].to_numpy(dtype=np.float64).reshape(days, -1)
    open_ = ~first["closed"].to_numpy(dtype=bool).reshape(days, -1) if "closed" in first else np.ones_like(point, bool)
    steps = first["step"].to_numpy().reshape(days, -1)[:, 0]
    mean = point if calibration is None else calibration.mean(point, steps)
    table = pd.DataFrame({"product": products, "first_day": first["date"].min(), "last_day": first["date"].max(),
                          "days": days, "forecast": (mean * open_).sum(axis=0)})
    if calibration is None:
        return table
    probs = (1 - level) / 2, 0.5, (1 + level) / 2, service_level
    table[["lower", "median", "upper", "order_quantity"]] = calibration.total_quantiles(point, open_, steps, probs)
    if calibration.integer:
        table["order_quantity"] = whole_units_covering(table["order_quantity"].to_numpy(), table["median"].to_numpy())
    if "stopped" in first and not order_stopped:  # flagged: no order unless asked
        table["order_quantity"] = np.where(first["stopped"].to_numpy()[:len(products)], 0.0, table["order_quantity"])
    table.attrs.update(level=level, service_level=service_level)
    return table


def lead_time_total(trained: TrainedForecaster, panel: pd.DataFrame, days: int = 7, level: float = DEFAULT_LEVEL,
                    service_level: float = DEFAULT_SERVICE_LEVEL, order_stopped: bool = False) -> pd.DataFrame:
    """The total demand per product over the next ``days`` days from the next trading day (a lead time
    plus review period) with its range and order-up-to quantity: :func:`totals` of a fresh forecast."""
    return totals(point_forecast(trained, panel, days), current_calibration(trained, panel), days, level,
                  service_level, order_stopped)


def what_if(trained: TrainedForecaster, panel: pd.DataFrame, product: str, driver: str, value: str,
            days: list[pd.Timestamp], horizon: int, calibration: Calibration | None, level: float = DEFAULT_LEVEL,
            service_level: float = DEFAULT_SERVICE_LEVEL, order_stopped: bool = False) -> pd.DataFrame:
    """One product's forecast with its known-ahead ``driver`` set to ``value`` on ``days`` (a promotion, a
    price), next to the plan (the drivers as given): per forecast day, ``plan_*`` and ``what_if_*`` columns of
    forecast, lower, upper and order_quantity, and whether the day was changed. Every other product and day
    as in the plan; the change reaches later days through the lags the recursion feeds back."""
    if trained.driver_spec is None or driver not in trained.driver_spec.names:
        raise ForecasterError(f"The model reads no driver {driver!r}.")
    if trained.driver_spec.choices[trained.driver_spec.names.index(driver)].role != "known":
        raise ForecasterError(f"{driver!r} is observed (only its past is read): set a known-ahead driver.")
    if product not in trained.products:
        raise ForecasterError(f"The model has no product {product!r}.")
    recent = panel.index[-1] - pd.Timedelta(days=max(trained.history_days + 1, 7 * PROFILE_WEEKS) + 7)
    changed = trained.with_drivers(trained.drivers.since(recent).with_value(product, driver, value,
                                                                            pd.DatetimeIndex(days)))
    runs = {}
    for name, model in (("plan", trained), ("what_if", changed)):
        table = with_intervals(point_forecast(model, panel, horizon), calibration, level, service_level, order_stopped)
        mine = table[table["product"] == product].set_index("date")
        runs[name] = mine[[c for c in ("forecast", "lower", "upper", "order_quantity") if c in mine]]
    out = pd.concat({k: v for k, v in runs.items()}, axis=1)
    out.columns = [f"{a}_{b}" for a, b in out.columns]
    out.insert(0, "changed", out.index.isin(pd.DatetimeIndex(days)))
    return out.reset_index()
