"""Next-day (and recursive multi-day) forecasts from the latest actual history."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ForecasterError
from .trained import TrainedForecaster

MAX_HORIZON = 90


def forecast(trained: TrainedForecaster, panel: pd.DataFrame, horizon: int = 1) -> pd.DataFrame:
    """Demand per product for the ``horizon`` days after the panel's last date, clipped at zero.

    Beyond the first day the forecast is recursive: each day's forecast is fed back as the next day's
    lag. Returns a long table: date, product, forecast.
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
    return wide.rename_axis(columns="product").stack().rename("forecast").reset_index()
