"""The library's entry point, :func:`fit`: the model a configuration asks for, trained on an executor, and
with ``backtest_origins`` the rolling backtest's earlier cut-offs trained and scored too."""
from __future__ import annotations

import dataclasses
import functools

import pandas as pd

from ..config import ForecastConfig
from ..model.recommend import cutoff_epochs, fit_once, planned_epochs, retrain_latest
from ..data.drivers import DriverPanel
from ..model.tasks import DriverTasks, Executor, InlineExecutor, ProgressCallback
from ..model.trained import CancelFlag, TrainedForecaster
from ..results.backtest import backtest


def fit(panel: pd.DataFrame, config: ForecastConfig = ForecastConfig(), callback: ProgressCallback | None = None,
        cancel: CancelFlag | None = None, executor: Executor | None = None,
        drivers: DriverPanel | None = None) -> TrainedForecaster:
    """Train on the daily panel (dates x products), its last ``config.history_days`` only where that is set;
    the last ``config.test_days`` are held out.

    ``config.model == "auto"`` (the default) recommends a model among candidates by their error on the
    validation span; any other model trains that one registry network. Either way the forecaster carries
    its intervals, calibrated on the validation span; with ``config.backtest_origins`` N > 0 it also carries
    the rolling backtest of N cut-offs (:mod:`forecaster.results.backtest`), each earlier one trained again.
    ``executor`` trains the networks (:mod:`forecaster.run.executor`; default: here, one after another): the
    same seeds give the same model with any executor, only the time differs. ``drivers`` (values by date,
    :mod:`forecaster.data.drivers`) are read by every network trained, beside each product's lags.
    """
    if config.history_days and len(panel) > config.history_days:  # the history to learn from, and nothing older
        panel = panel.iloc[-config.history_days:]
    executor = executor or InlineExecutor()
    if drivers is not None:
        executor = DriverTasks(executor, drivers)
    train_once = functools.partial(fit_once, executor=executor)
    # each cut-off trains ``once``; only the model that ships is retrained for its forecasts
    origins, once = config.backtest_origins, config.replace(backtest_origins=0, retrain_for_forecast=False)
    # the epochs the candidates this catalog trains plan (recommend() leaves the same ones out, and says so)
    per_run, total = cutoff_epochs(once.for_catalog(panel.shape[1])), planned_epochs(config.for_catalog(panel.shape[1]))
    relay = callback
    if callback is not None and total != per_run:  # the progress bar spans every cut-off and the retraining
        relay = lambda r: callback(dataclasses.replace(r, total_epochs=total))  # noqa: E731
    trained = train_once(panel, once, relay, cancel)
    if origins and trained.networks and not trained.cancelled:
        slots = getattr(executor, "slots", 1)  # a pool's workers: cut-offs train side by side on them
        trained.backtest = backtest(panel, once, origins, trained, train_once, relay, cancel, per_run,
                                    parallel=slots if slots > 1 else 1)
    if config.retrain_for_forecast:
        trained = retrain_latest(panel, trained, config, executor, relay, cancel, per_run * max(1, origins))
        if callback is not None and trained.history and trained.history[-1].done_epochs < total \
                and not trained.cancelled and not (cancel is not None and cancel.is_set()):
            callback(dataclasses.replace(trained.history[-1], total_epochs=total, done_epochs=total))
    return trained
