"""Rolling-origin backtest: the same model trained and scored at several cut-offs a week apart.

One test span can be lucky or unlucky (a holiday, a quiet month). Cut-off ``k`` (0 = the real one) drops
the last ``7 k`` days, trains the model again on what is left with the same settings and seed, and scores
its own last ``test_days`` one step ahead, exactly as the main evaluation does, the baselines on the same
days with their own intervals. Each cut-off's model sees nothing after its cut-off.
"""
from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
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
             cancel: CancelFlag | None = None, epochs_per_run: int = 0, parallel: int = 1) -> pd.DataFrame:
    """The backtest table of ``origins`` cut-offs; ``latest`` is the model of cut-off 0 (the real test span),
    already trained with ``config``; ``fit_once`` trains the others, ``parallel`` of them at once (each is an
    independent training: on a worker pool they fill each other's idle time; the same seeds give the same
    table either way). A cancel keeps the cut-offs that finished, and so does a history too short for an
    earlier one (the table ends at the later ones)."""
    progress = _OriginProgress(callback, epochs_per_run, origins)

    def one(k: int) -> pd.DataFrame | None:
        if cancel is not None and cancel.is_set():
            return None
        cut = panel.iloc[:len(panel) - STEP_DAYS * k]
        try:
            trained = fit_once(cut, config, progress.relay(k), cancel)
        except DataError:  # too short a history for this cut-off
            return None
        if trained.cancelled or not trained.networks:
            return None
        return origin_rows(k, evaluate(trained, cut))

    tables = [origin_rows(0, evaluate(latest, panel))]
    if parallel > 1 and origins > 2:
        with ThreadPoolExecutor(max_workers=min(parallel, origins - 1), thread_name_prefix="backtest") as pool:
            earlier = list(pool.map(one, range(1, origins)))
    else:
        earlier = []
        for k in range(1, origins):
            earlier.append(one(k))
            if earlier[-1] is None:
                break
    for table in earlier:  # the cut-offs in order, up to the first that did not finish
        if table is None:
            break
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


class _OriginProgress:
    """One progress bar over every cut-off, whichever order they train in: cut-off 0 is done, each other adds
    the epochs it has trained so far."""

    def __init__(self, callback: Callable[[EpochRecord], None] | None, epochs_per_run: int, origins: int) -> None:
        self.callback, self.per_run, self.origins = callback, epochs_per_run, origins
        self._done: dict[int, int] = {}
        self._lock = threading.Lock()

    def relay(self, origin: int) -> Callable[[EpochRecord], None] | None:
        if self.callback is None:
            return None

        def on_epoch(record: EpochRecord) -> None:
            with self._lock:
                self._done[origin] = record.done_epochs
                done = self.per_run + sum(self._done.values())
                self.callback(dataclasses.replace(record, total_epochs=self.per_run * self.origins, done_epochs=done,
                                                  origin=origin))
        return on_epoch


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per method over the cut-offs: mean MAE and coverage, and the worst cut-off's MAE."""
    grouped = table.groupby("method", sort=False)
    return pd.DataFrame({"cut-offs": grouped["origin"].nunique(), "mean MAE": grouped["MAE"].mean(),
                         "worst MAE": grouped["MAE"].max(), "mean coverage": grouped["coverage"].mean()})
