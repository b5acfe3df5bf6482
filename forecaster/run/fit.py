"""The library's entry point, :func:`fit`: the model a configuration asks for, trained on an executor, and
with ``backtest_origins`` the rolling backtest's earlier cut-offs trained and scored too."""
from __future__ import annotations

import dataclasses
import functools

import pandas as pd

from ..config import ForecastConfig
from ..model.recommend import fit_once, planned_epochs
from ..model.tasks import Executor, InlineExecutor, ProgressCallback
from ..model.trained import CancelFlag, TrainedForecaster
from ..results.backtest import backtest


def fit(panel: pd.DataFrame, config: ForecastConfig = ForecastConfig(), callback: ProgressCallback | None = None,
        cancel: CancelFlag | None = None, executor: Executor | None = None) -> TrainedForecaster:
    """Train on the daily panel (dates x products); the last ``config.test_days`` are held out.

    ``config.model == "auto"`` (the default) recommends a model among candidates by their error on the
    validation span; any other model trains that one registry network. Either way the forecaster carries
    its intervals, calibrated on the validation span; with ``config.backtest_origins`` N > 0 it also carries
    the rolling backtest of N cut-offs (:mod:`forecaster.results.backtest`), each earlier one trained again.
    ``executor`` trains the networks (:mod:`forecaster.run.executor`; default: here, one after another): the
    same seeds give the same model with any executor, only the time differs.
    """
    train_once = functools.partial(fit_once, executor=executor or InlineExecutor())
    origins, once = config.backtest_origins, config.replace(backtest_origins=0)  # each cut-off trains ``once``
    per_run = planned_epochs(once)
    relay = callback
    if callback is not None and origins > 1:  # the progress bar spans every cut-off's training
        relay = lambda r: callback(dataclasses.replace(r, total_epochs=per_run * origins))  # noqa: E731
    trained = train_once(panel, once, relay, cancel)
    if origins and trained.networks and not trained.cancelled:
        trained.backtest = backtest(panel, once, origins, trained, train_once, callback, cancel, per_run)
    return trained
