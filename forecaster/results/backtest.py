"""Rolling-origin backtest: the same model trained and scored at several cut-offs a week apart.

One test span can be lucky or unlucky (a holiday, a quiet month). Cut-off ``k`` (0 = the real one) drops
the last ``7 k`` days, trains the model again on what is left with the same settings and seed, and scores
its own last ``test_days`` one step ahead, exactly as the main evaluation does, the baselines on the same
days with their own intervals. Each cut-off's model sees nothing after its cut-off.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import pandas as pd

from ..config import ForecastConfig
from ..errors import DataError
from ..model.intervals import DEFAULT_LEVEL
from ..model.trained import CancelFlag, EpochRecord, TrainedForecaster
from .evaluation import Evaluation, evaluate

STEP_DAYS = 7
DEFAULT_ORIGINS = 4  # what the dashboard offers: the test span and three earlier weekly cut-offs
COLUMNS = ("origin", "test_start", "test_end", "method", "MAE", "level", "coverage", "interval_score")

# trains one model on a panel: (panel, config, progress callback or None, cancel flag or None) -> model
FitOnce = Callable[[pd.DataFrame, ForecastConfig, Optional[Callable[[EpochRecord], None]], Optional[CancelFlag]],
                   TrainedForecaster]


def origin_rows(origin: int, evaluation: Evaluation, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """One row per method of one cut-off: its MAE and the coverage and interval score of its interval."""
    intervals = evaluation.interval_overall(level)
    table = evaluation.overall[["MAE"]].join(intervals[["coverage", "interval_score"]], how="left").reset_index()
    table.insert(0, "origin", origin)
    table["level"] = level
    table.insert(1, "test_start", evaluation.dates[0])
    table.insert(2, "test_end", evaluation.dates[-1])
    return table[list(COLUMNS)]


def backtest(panel: pd.DataFrame, config: ForecastConfig, origins: int, latest: TrainedForecaster,
             fit_once: FitOnce, callback: Callable[[EpochRecord], None] | None = None,
             cancel: CancelFlag | None = None, epochs_per_run: int = 0) -> pd.DataFrame:
    """The backtest table of ``origins`` cut-offs; ``latest`` is the model of cut-off 0 (the real test span),
    already trained with ``config``; ``fit_once`` trains the others. A cancel keeps the cut-offs that finished,
    and so does a history too short for the next earlier one."""
    tables = [origin_rows(0, evaluate(latest, panel))]
    for k in range(1, origins):
        if cancel is not None and cancel.is_set():
            break
        cut = panel.iloc[:len(panel) - STEP_DAYS * k]
        offset = k * epochs_per_run
        relay = None if callback is None else (
            lambda r, o=offset: callback(dataclasses.replace(r, total_epochs=epochs_per_run * origins,
                                                             done_epochs=o + r.done_epochs)))
        try:
            trained = fit_once(cut, config, relay, cancel)
        except DataError:  # too short a history for this cut-off: the backtest ends at the later ones
            break
        if trained.cancelled or not trained.networks:
            break
        tables.append(origin_rows(k, evaluate(trained, cut)))
    return pd.concat(tables, ignore_index=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per method over the cut-offs: mean MAE and coverage, and the worst cut-off's MAE."""
    grouped = table.groupby("method", sort=False)
    return pd.DataFrame({"cut-offs": grouped["origin"].nunique(), "mean MAE": grouped["MAE"].mean(),
                         "worst MAE": grouped["MAE"].max(), "mean coverage": grouped["coverage"].mean()})
