"""The executor seam: what the recommendation asks to have trained, and the executor that trains it here.

A :class:`TrainTask` is one registry network's config and which of its ensemble members to train; the
recommended model's candidates, their members and a refit's members are all independent tasks. An
:class:`Executor` runs a list of them and returns one :class:`~forecaster.model.trained.TrainedForecaster`
per task, in task order, relaying every epoch's record to the caller's callback and stopping at its cancel.
:class:`InlineExecutor` trains in the calling thread, one task after another; the worker pool and Ray
(:mod:`forecaster.run`) implement the same protocol, so the model layer never imports where it runs.
Torch- and pandas-free at import, like the pool: the training loop is imported when a task trains.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from ..config import ForecastConfig

if TYPE_CHECKING:
    import pandas as pd

    from ..data.drivers import DriverPanel

    from .trained import CancelFlag, EpochRecord, TrainedForecaster

ProgressCallback = Callable[["EpochRecord"], None]


@dataclass(frozen=True)
class TrainTask:
    """One registry network's settings and the ensemble members of it to train (their seeds are
    ``config.seed + member``, wherever they train)."""

    panel: pd.DataFrame
    config: ForecastConfig
    members: tuple[int, ...]
    drivers: DriverPanel | None = None  # the chosen drivers by date (forecaster.data.drivers), if any

    @property
    def planned_epochs(self) -> int:
        return self.config.epochs * len(self.members)


class Executor(Protocol):
    """Runs independent training tasks; ``slots`` is how many it trains at once (1: one after another)."""

    slots: int

    def run(self, tasks: Sequence[TrainTask], callback: ProgressCallback | None = None,
            cancel: CancelFlag | None = None) -> list[TrainedForecaster]: ...

    def start(self) -> "Executor": ...

    def shutdown(self, wait: bool = True) -> None: ...


def member_tasks(panel: pd.DataFrame, config: ForecastConfig, slots: int) -> list[TrainTask]:
    """The tasks that train ``config``'s ensemble: one per member when several train at once, else one for
    all (built once, the features shared by the members)."""
    if slots > 1 and config.ensemble > 1:
        return [TrainTask(panel, config, (m,)) for m in range(config.ensemble)]
    return [TrainTask(panel, config, tuple(range(config.ensemble)))]


def train_models(executor: Executor, panel: pd.DataFrame, configs: Sequence[ForecastConfig],
                 callback: ProgressCallback | None = None, cancel: CancelFlag | None = None
                 ) -> list[TrainedForecaster]:
    """Each config's ensemble trained by ``executor`` (all of them at once where it can), one forecaster per
    config in order, histories numbered as if each had trained alone; the progress callback counts every
    epoch of the whole list."""
    from .training import merge_members

    per_config = [member_tasks(panel, c, executor.slots) for c in configs]
    results = iter(executor.run([t for tasks in per_config for t in tasks], callback, cancel))
    return [merge_members([next(results) for _ in tasks]) for tasks in per_config]


class Progress:
    """Relays the tasks' epoch records to one callback as if the tasks had run one after another.

    Records leave in task order (a later task's records wait until every earlier task has finished, so
    the loss chart draws one network after another, as a serial run does), each with ``done_epochs``
    counting every task's progress so far (a finished task counts all its planned epochs, as a serial
    run counts the epochs early stopping skipped) and ``total_epochs`` the whole list's: the progress bar
    moves with all the tasks at once."""

    def __init__(self, tasks: Sequence[TrainTask], callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.planned = [t.planned_epochs for t in tasks]
        self.total = sum(self.planned)
        self.done = [0] * len(tasks)
        self.finished = [False] * len(tasks)
        self.waiting: list[list[EpochRecord]] = [[] for _ in tasks]
        self.next = 0  # the first task not finished yet: its records leave at once
        self.sent = [0] * len(tasks)  # records of each task passed on so far
        self.skip = [0] * len(tasks)  # records of a restarted task still to drop

    def record(self, task: int, record: EpochRecord) -> None:
        self.done[task] = record.done_epochs
        if self.skip[task]:
            self.skip[task] -= 1
            return
        self.waiting[task].append(record)
        self._flush()

    def restart(self, task: int) -> None:
        """The task trains again from its start (its worker was lost): the records it sends again that
        were passed on already (the same seed gives the same epochs) are not passed on twice."""
        self.waiting[task].clear()
        self.skip[task], self.done[task], self.finished[task] = self.sent[task], 0, False

    def finish(self, task: int) -> None:
        if not self.finished[task]:
            self.finished[task], self.done[task] = True, self.planned[task]
            self._flush()

    def _flush(self) -> None:
        while self.next < len(self.planned):
            for record in self.waiting[self.next]:
                self.sent[self.next] += 1
                if self.callback is not None:
                    self.callback(dataclasses.replace(record, total_epochs=self.total, done_epochs=sum(self.done)))
            self.waiting[self.next].clear()
            if not self.finished[self.next]:
                return
            self.next += 1


@dataclass
class DriverTasks:
    """An executor whose every task reads ``drivers``: how one fit's drivers reach each network it trains
    (candidates, refits, backtest cut-offs) without every step between passing them on."""

    executor: Executor
    drivers: DriverPanel

    @property
    def slots(self) -> int:
        return self.executor.slots

    def run(self, tasks: Sequence[TrainTask], callback: ProgressCallback | None = None,
            cancel: CancelFlag | None = None) -> list[TrainedForecaster]:
        return self.executor.run([dataclasses.replace(t, drivers=self.drivers) for t in tasks], callback, cancel)

    def start(self) -> "DriverTasks":
        self.executor.start()
        return self

    def shutdown(self, wait: bool = True) -> None:
        self.executor.shutdown(wait)


class InlineExecutor:
    """Trains every task in the calling thread, one after another (today's behaviour and the fallback)."""

    slots = 1

    def run(self, tasks: Sequence[TrainTask], callback: ProgressCallback | None = None,
            cancel: CancelFlag | None = None) -> list[TrainedForecaster]:
        from .training import train

        progress, results = Progress(tasks, callback), []
        for i, task in enumerate(tasks):
            results.append(train(task.panel, task.config, lambda r, i=i: progress.record(i, r), cancel,
                                 members=task.members, drivers=task.drivers))
            progress.finish(i)
        return results

    def start(self) -> "InlineExecutor":
        """Nothing to start: no processes."""
        return self

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to end: no processes."""
