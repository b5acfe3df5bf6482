"""Next-day (and recursive multi-day) forecasts from the latest actual history, with their intervals."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ForecasterError
from ..model.intervals import (DEFAULT_LEVEL, DEFAULT_SERVICE_LEVEL, MAX_HORIZON, RECENT_DAYS, SERVICE_LEVELS,
                               Calibration, check_level)
from ..model.trained import TrainedForecaster

__all__ = ["MAX_HORIZON", "current_calibration", "forecast", "point_forecast", "with_intervals"]


def point_forecast(trained: TrainedForecaster, panel: pd.DataFrame, horizon: int = 1) -> pd.DataFrame:
    """Demand per product for the ``horizon`` days after the panel's last date, clipped at zero.

    Beyond the first day the forecast is recursive: each day's forecast is fed back as the next day's
    lag. Returns a long table: date, product, step (days ahead), forecast.
    """
    if not 1 <= horizon <= MAX_HORIZON:
        raise ForecasterError(f"The horizon must be between 1 and {MAX_HORIZON} days, not {horizon}.")
    history = trained.align(panel)
    need = trained.history_days + 1
    if len(history) < need:
        raise ForecasterError(f"Forecasting needs at least {need} days of history; the data has {len(history)}.")
    tail = history.iloc[-need:]
    rows = []
    for _ in range(horizon):  # one step per forecast day: each step needs the previous one
        pred = trained.predict(tail, np.array([len(tail)]))[0]
        day = tail.index[-1] + pd.Timedelta(days=1)
        rows.append(pd.Series(pred, index=tail.columns, name=day))
        tail = pd.concat([tail.iloc[1:], rows[-1].to_frame().T])
        tail.index.freq = "D"
    wide = pd.DataFrame(rows)
    wide.index.name = "date"
    long = wide.rename_axis(columns="product").stack().rename("forecast").reset_index()
    long.insert(2, "step", np.repeat(np.arange(1, horizon + 1), len(history.columns)))
    return long


def with_intervals(points: pd.DataFrame, calibration: Calibration | None, level: float = DEFAULT_LEVEL,
                   service_level: float = DEFAULT_SERVICE_LEVEL) -> pd.DataFrame:
    """The point forecast with lower, median and upper bounds of the central ``level`` interval and the
    order quantity that covers a day's demand with probability ``service_level``; each day's band is
    that of its horizon step. Without a calibration the table is returned as it is (no intervals).

    Cheap (no network call): a page redraws it for another level without forecasting again.
    """
    check_level(level)
    check_level(service_level, "service level", SERVICE_LEVELS)
    if calibration is None:
        return points
    horizon = int(points["step"].max())
    point = points["forecast"].to_numpy(dtype=np.float64).reshape(horizon, -1)  # (step, product)
    steps = np.arange(1, horizon + 1)
    lower, upper = calibration.bounds(point, level, steps)
    out = points.assign(lower=lower.ravel(), median=calibration.quantile(point, 0.5, steps).ravel(),
                        upper=upper.ravel(),
                        order_quantity=calibration.order_quantity(point, service_level, steps).ravel())
    out.attrs.update(level=level, service_level=service_level)
    return out


def current_calibration(trained: TrainedForecaster, panel: pd.DataFrame) -> Calibration | None:
    """The model's interval calibration for forecasting after ``panel``: products that had never sold when
    it was calibrated but have sold since borrow the catalog's spread (see Calibration.refreshed)."""
    if trained.calibration is None:
        return None
    recent = trained.align(panel).iloc[-RECENT_DAYS:]  # all refreshed() reads: not a copy of the whole panel
    return trained.calibration.refreshed(recent.to_numpy(dtype=np.float64))


def forecast(trained: TrainedForecaster, panel: pd.DataFrame, horizon: int = 1, level: float = DEFAULT_LEVEL,
             service_level: float = DEFAULT_SERVICE_LEVEL) -> pd.DataFrame:
    """Forecast the ``horizon`` days after the panel's last date: date, product, step, forecast and, for a
    model with a calibration, lower, median, upper and order_quantity (see :func:`with_intervals`, which
    checks the levels)."""
    return with_intervals(point_forecast(trained, panel, horizon), current_calibration(trained, panel), level,
                          service_level)
