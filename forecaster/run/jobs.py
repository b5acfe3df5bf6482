"""Background training: a job object that owns one thread, and a registry of jobs per owner with a
server-wide queue.

The training thread writes only to its own :class:`TrainingJob` (progress behind a lock, result, error);
readers take :meth:`TrainingJob.snapshot`, an immutable copy. Nothing here knows about Streamlit: the
dashboard keeps one :class:`JobRegistry` per server process and passes each browser session's own
owner id, so two sessions never see each other's jobs. The registry trains at most ``max_running`` jobs
at once, on its executor's worker processes (:mod:`forecaster.run.executor`); later jobs wait, first come
first served, and a snapshot says their place in the line. Finished results are remembered by
:func:`training_key` (panel content + settings), so the same data and settings are not trained twice.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import importlib
import json
import logging
import math
import sys
import threading
import time
import traceback
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from ..config import DEFAULT_SERVER, ForecastConfig, ServerSettings
from ..data.panel import panel_fingerprint  # noqa: F401  (re-exported: a job's key reads it)
from ..errors import OUT_OF_MEMORY, ForecasterError, out_of_memory

if TYPE_CHECKING:  # torch-free at import: the dashboard's sidebar and Home page read jobs before any training
    from ..data.drivers import DriverPanel
    from ..model.tasks import Executor
    from ..model.trained import EpochRecord, TrainedForecaster

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, CANCELLED, FAILED = "queued", "running", "done", "cancelled", "failed"
FINISHED = (DONE, CANCELLED, FAILED)
TRAINING, BACKTEST = "training", "backtest"  # a session's model, and a rolling backtest of it beside it

FitFn = Callable[..., "TrainedForecaster"]


def default_fit(*args: Any, **kwargs: Any) -> "TrainedForecaster":
    """forecaster.run.fit, imported when the first job trains (it brings torch), not when a page lists jobs."""
    from .fit import fit

    return fit(*args, **kwargs)


TRAINING_CODE = f"{__package__}.fit"  # what the first job imports: torch, scikit-learn, the models


def fit_with(executor: "Executor") -> FitFn:
    """forecaster.run.fit training its networks on ``executor`` (a registry's worker pool)."""
    def fit_on_executor(*args: Any, **kwargs: Any) -> "TrainedForecaster":
        return default_fit(*args, executor=executor, **kwargs)
    return fit_on_executor


def training_key(panel: pd.DataFrame, config: ForecastConfig, drivers: DriverPanel | None = None) -> str:
    """Same panel content, drivers and settings give the same key (and so reuse a finished model)."""
    settings = json.dumps(config.to_dict(), sort_keys=True, default=str)
    driven = ""
    if drivers is not None:  # hashed in place: a (days, products, channels) array can be gigabytes
        digest = hashlib.sha256(memoryview(np.ascontiguousarray(drivers.values)).cast("B"))
        digest.update(drivers.dates.asi8.tobytes())
        driven = json.dumps(drivers.spec.to_dict()) + digest.hexdigest()
    return hashlib.sha256((panel_fingerprint(panel) + settings + driven).encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class NetworkProgress:
    """One network of a run: epochs trained, the epoch it is expected to stop at, whether it has stopped."""

    epochs: int
    expected: int
    stopped: bool

    @classmethod
    def of(cls, records: list[EpochRecord], patience: int, min_improvement: float) -> "NetworkProgress":
        best, best_epoch, stale = math.inf, 0, 0
        for r in records:  # the training loop's early stopping, replayed
            watched = r.val_loss if r.val_loss is not None else r.train_loss
            if best_epoch == 0 or watched < best * (1 - min_improvement):
                best, best_epoch, stale = watched, r.epoch, 0
            else:
                stale += 1
        last, planned = records[-1].epoch, records[-1].epochs
        patience = patience if records[-1].val_loss is not None else 0  # no validation days: it never stops early
        early = bool(patience) and stale >= patience
        stopped = last >= planned or early
        expected = last if stopped else (min(planned, best_epoch + patience) if patience else planned)
        return cls(last, max(expected, last + (0 if stopped else 1)), stopped)


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's progress, safe to read from any thread."""

    job_id: str
    status: str
    history: tuple[EpochRecord, ...]
    total_epochs: int
    elapsed: float
    error: str | None = None
    error_detail: str | None = None
    reused: bool = False
    label: str = ""
    queue_position: int = 0  # 1 = next to start; 0 when not waiting
    queue_length: int = 0  # jobs waiting, this one included
    # the run's early stopping, to count networks and estimate what is left (0: unknown, planned epochs only)
    epochs_per_network: int = 0
    patience: int = 0
    min_improvement: float = 0.0
    first_epoch_at: float = 0.0  # seconds from the start to the first epoch's record (start-up, not training)
    # each planned network's relative epoch time, in the run's order (recommend.network_costs); () unknown
    network_costs: tuple[float, ...] = ()

    @property
    def queued(self) -> bool:
        """Waiting in the server's queue for a free training slot."""
        return self.status == QUEUED and self.queue_position > 0

    @property
    def done_epochs(self) -> int:
        return self.history[-1].done_epochs if self.history else 0

    @property
    def epochs_run(self) -> int:
        """Epochs actually trained (done_epochs also counts the planned epochs early stopping skipped)."""
        return len(self.history)

    @property
    def epoch(self) -> int:
        return self.history[-1].epoch if self.history else 0

    def networks(self) -> list[NetworkProgress]:
        """Each network whose epochs have been reported, in the run's order, with its epochs and whether it has
        stopped. Records arrive one network after another (networks training side by side hold theirs back
        until the earlier ones are done), so a network starts where the epoch count starts again; its early
        stopping is replayed from its losses (the training loop's own rule)."""
        groups: list[list[EpochRecord]] = []
        for r in self.history:
            if not groups or r.epoch <= groups[-1][-1].epoch:
                groups.append([])
            groups[-1].append(r)
        nets = [NetworkProgress.of(g, self.patience, self.min_improvement) for g in groups]
        return [dataclasses.replace(n, stopped=True) if i < len(nets) - 1 else n for i, n in enumerate(nets)]

    @property
    def networks_planned(self) -> int:
        """Networks the run trains at most (every candidate, ensemble member and cut-off)."""
        if not self.epochs_per_network:
            return 0
        return max(-(-self.total_epochs // self.epochs_per_network), len(self.networks()))

    def epochs_left(self) -> float:
        """Epochs still to come, estimated: a running network ends where its early stopping would (patience
        epochs after its best so far) or at its planned last epoch; a network not yet started runs as long as
        the finished ones did (or as the running ones are expected to)."""
        nets = self.networks()
        if not self.epochs_per_network:
            return float(max(self.total_epochs - self.done_epochs, 0))
        running = sum(n.expected - n.epochs for n in nets if not n.stopped)
        lengths = [n.epochs for n in nets if n.stopped] or [n.expected for n in nets] or [self.epochs_per_network]
        return running + max(self.networks_planned - len(nets), 0) * float(np.mean(lengths))

    @property
    def fraction(self) -> float:
        """Share of the run done, by epochs run against epochs run plus those expected (never a jump to the end)."""
        if self.status in FINISHED:
            return 1.0
        run = self.epochs_run
        return min(0.99, run / max(run + self.epochs_left(), 1.0))

    @property
    def seconds_left(self) -> float | None:
        """Estimated from the run's pace since its first epoch (start-up excluded) and what is left: the
        planned epochs not yet counted (done_epochs also counts epochs trained by networks whose records
        still wait, and the epochs early stopping skipped), scaled by the share of their planned epochs the
        networks seen so far train or are expected to (:meth:`_expected_share`), and by how long the epochs
        still to come take against those seen (:meth:`_cost_left_ratio`). None before the first epoch."""
        if self.status in FINISHED:
            return 0.0
        if not self.history:
            return None
        training = max(self.elapsed - self.first_epoch_at, 1e-3)
        pace = training / max(self.done_epochs, 1)  # seconds per planned epoch counted so far
        planned_left = max(self.total_epochs - self.done_epochs, 0)
        nets = self.networks()
        if self.epochs_per_network and nets:
            planned_left *= self._expected_share(nets)
        return pace * planned_left * self._cost_left_ratio(nets)

    def _expected_share(self, nets: list[NetworkProgress]) -> float:
        """The share of its planned epochs a network of this run trains: the finished ones' own; a running one
        at least as long as they ran, and before any finished, between the least its early stopping allows
        and all its epochs (their geometric mean: off by at most the root of their ratio either way;
        measured, the least alone made a 40-epoch network of 37 look like 11)."""
        planned = self.history[-1].epochs
        done = [n.epochs for n in nets if n.stopped]
        running = [max(n.expected, float(np.mean(done))) if done else math.sqrt(n.expected * planned)
                   for n in nets if not n.stopped]
        return min(1.0, (sum(done) + sum(running)) / (len(nets) * planned))

    def _cost_left_ratio(self, nets: list[NetworkProgress]) -> float:
        """How long an epoch of the networks still to finish takes against one of those seen so far (the
        pace was measured on them): 1 without :attr:`network_costs`."""
        costs = self.network_costs
        if not costs or not nets or len(nets) > len(costs):
            return 1.0
        finished = sum(n.stopped for n in nets)
        return float(np.mean(costs[finished:]) / np.mean(costs[:len(nets)])) if finished < len(costs) else 1.0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def running(self) -> bool:
        return self.status in (QUEUED, RUNNING)


class _StopFlag:
    """What the training loop polls between batches: the job's Cancel, or nobody looking at the job."""

    def __init__(self, job: "TrainingJob") -> None:
        self._job = job

    def is_set(self) -> bool:
        return self._job.cancelled_by_user or self._job.abandoned

    def set(self) -> None:
        self._job.cancel()


class TrainingJob:
    """One training run on its own daemon thread; cancel keeps the best model found so far."""

    def __init__(self, panel: pd.DataFrame, config: ForecastConfig, *, key: str | None = None,
                 label: str = "", meta: dict[str, Any] | None = None, fit_fn: FitFn = default_fit,
                 abandon_after: float | None = None, kind: str = TRAINING,
                 drivers: DriverPanel | None = None) -> None:
        self.job_id = uuid.uuid4().hex[:12]
        self.kind = kind  # TRAINING (the session's model) or BACKTEST (beside it, never replacing it)
        self.panel = panel
        self.config = config
        self.drivers = drivers  # the chosen drivers by date (forecaster.data.drivers), if any
        self.key = key or training_key(panel, config, drivers)
        self.label = label
        self.meta = dict(meta or {})
        self._fit = fit_fn
        # seconds without anyone asking for this job (see seen()) after which it stops by itself; None: never
        self.abandon_after = abandon_after
        self.last_seen = time.time()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._status = QUEUED
        self._history: list[EpochRecord] = []
        self._first_epoch_at = 0.0  # seconds from the start to the first epoch's record (imports, workers)
        self._costs: tuple[float, ...] | None = None  # network_costs, computed on the first snapshot
        self._started: float | None = None
        self._ended: float | None = None
        self._result: TrainedForecaster | None = None
        self._error: str | None = None
        self._error_detail: str | None = None
        self._reused = False
        self._thread: threading.Thread | None = None
        # set by a registry that queues this job: its place in the line, and whom to tell when it ends
        self.queue_place: Callable[["TrainingJob"], tuple[int, int]] | None = None
        self.on_end: Callable[["TrainingJob"], None] | None = None

    @classmethod
    def finished_with(cls, trained: TrainedForecaster, panel: pd.DataFrame, config: ForecastConfig, *,
                      key: str, label: str = "", meta: dict[str, Any] | None = None,
                      kind: str = TRAINING, drivers: DriverPanel | None = None) -> "TrainingJob":
        """A job that is already done, holding a result trained earlier on the same data and settings."""
        job = cls(panel, config, key=key, label=label, meta=meta, kind=kind, drivers=drivers)
        job._history = list(trained.history)
        job._result = trained
        job._status = DONE
        job._reused = True
        job._started = job._ended = time.time()
        job._done.set()
        return job

    # --- control -------------------------------------------------------------------------------
    def start(self) -> "TrainingJob":
        """Start the training thread (once; a job cancelled while waiting never starts)."""
        with self._lock:
            if self._thread is not None or self._status != QUEUED:
                return self
            self._thread = threading.Thread(target=self._run, name=f"training-{self.job_id}", daemon=True)
            self._status, self._started = RUNNING, time.time()  # running from now on, for every reader
        self._thread.start()
        return self

    @property
    def started(self) -> bool:
        with self._lock:
            return self._thread is not None

    def cancel(self, why: str = "") -> None:
        """Ask the thread to stop after the current batch; the best weights so far are kept. A job still
        waiting for its turn ends at once, having trained nothing."""
        self._cancel.set()
        with self._lock:
            waiting = self._thread is None and self._status == QUEUED
            if waiting:
                self._status, self._ended = CANCELLED, time.time()
                self._started = self._ended
                self._error = why + "Cancelled before it started: nothing was trained. Train again."
        if waiting:
            self._done.set()

    @property
    def cancelled_by_user(self) -> bool:
        return self._cancel.is_set()

    def seen(self) -> None:
        """Someone is still looking at this job (its page, or the sidebar of its session)."""
        self.last_seen = time.time()

    @property
    def abandoned(self) -> bool:
        """Nobody asked for this job for longer than ``abandon_after`` (its browser tab is gone)."""
        return self.abandon_after is not None and time.time() - self.last_seen > self.abandon_after

    @property
    def nbytes(self) -> int:
        """Memory this job holds for its owner: the daily panel and the uploaded file it came from."""
        dataset = self.meta.get("dataset")
        return int(self.panel.memory_usage(index=True).sum()) + len(getattr(dataset, "data", b""))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (True) or the timeout passed (False)."""
        return self._done.wait(timeout)

    # --- what readers see ----------------------------------------------------------------------
    @property
    def result(self) -> TrainedForecaster | None:
        with self._lock:
            return self._result

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    def snapshot(self) -> JobSnapshot:
        place = self.queue_place(self) if self.queue_place is not None else (0, 0)  # before our lock: the registry's
        with self._lock:
            if self._started is None:
                elapsed = 0.0
            else:
                elapsed = (self._ended or time.time()) - self._started
            total = self._history[-1].total_epochs if self._history else self._planned_epochs()
            if self._status != QUEUED or self._thread is not None:
                place = (0, 0)
            return JobSnapshot(self.job_id, self._status, tuple(self._history), total, elapsed, self._error,
                               self._error_detail, self._reused, self.label, *place, self.config.epochs,
                               self.config.patience, self.config.min_improvement, self._first_epoch_at,
                               self._network_costs())

    def _network_costs(self) -> tuple[float, ...]:
        from ..model.recommend import network_costs  # the model layer, loaded with the first training
        if self._costs is None:
            try:
                self._costs = network_costs(self.config.resolved(len(self.panel)).for_catalog(self.panel.shape[1]),
                                             *self.panel.shape)
            except ForecasterError:  # settings this panel cannot train with: the job says so itself
                self._costs = ()
        return self._costs

    def _planned_epochs(self) -> int:
        from ..model.recommend import planned_epochs

        return planned_epochs(self.config.for_catalog(self.panel.shape[1]))

    # --- the thread ----------------------------------------------------------------------------
    def _on_epoch(self, record: EpochRecord) -> None:
        with self._lock:
            if not self._history and self._started is not None:  # the workers' start-up ends here
                self._first_epoch_at = time.time() - self._started
            self._history.append(record)

    def _run(self) -> None:
        try:
            driven = {} if self.drivers is None else {"drivers": self.drivers}
            trained = self._fit(self.panel, self.config, callback=self._on_epoch, cancel=_StopFlag(self), **driven)
        except ForecasterError as exc:  # a message meant for the user
            self._finish(FAILED, error=str(exc))
        except Exception as exc:
            if out_of_memory(exc):  # the machine, not a bug: say what to lower (the estimate let it through)
                log.warning("training job %s ran out of memory: %s", self.job_id, exc)
                self._finish(FAILED, error=OUT_OF_MEMORY)
                return
            # a bug: a short message on the page, the traceback in the server's log
            log.exception("training job %s failed", self.job_id)
            self._finish(FAILED, error=f"Training failed unexpectedly ({type(exc).__name__}). The details are in "
                                       "the server's log.", detail=traceback.format_exc())
        else:
            if trained.cancelled:
                why = (f"Stopped: nobody looked at this training for {self.abandon_after:.0f} s (its browser tab "
                       "was closed). " if self.abandoned and not self.cancelled_by_user else "")
                if trained.networks:
                    self._finish(CANCELLED, result=trained, error=why or None)
                else:
                    self._finish(CANCELLED, error=why + "Cancelled before the first epoch finished: there is no "
                                                        "model to keep. Train again.")
            else:
                self._finish(DONE, result=trained)

    def _finish(self, status: str, *, result: TrainedForecaster | None = None, error: str | None = None,
                detail: str | None = None) -> None:
        with self._lock:
            self._status, self._result, self._error, self._error_detail = status, result, error, detail
            if result is not None and result.history and len(result.history) >= len(self._history):
                self._history = list(result.history)
            self._ended = time.time()
        self._done.set()
        if self.on_end is not None:  # the registry starts the next job in line
            self.on_end(self)


@dataclass
class _Entry:
    owner: str
    job: TrainingJob
    last_seen: float = field(default_factory=time.time)


class JobRegistry:
    """Jobs by id, each tagged with its owner (one browser session); finished results by training key.

    Owners are ids the registry issued (:meth:`issue_owner`), each bound to the browser that got it: only
    that browser may resume it (:meth:`resume_owner`), so a chosen or shared id never opens someone else's
    session. ``get`` and ``latest`` only return jobs of the owner who asks. At most ``max_running`` jobs
    train at once, on ``executor`` (default: each in its own thread, in this process); the others wait in
    a first-come, first-served queue. A new run cancels the owner's running or waiting one; a job nobody
    asked for during ``abandon_after`` seconds stops by itself (a waiting one never starts). Old
    finished jobs are evicted: at most ``max_jobs_per_owner`` per owner, none idle longer than
    ``max_idle_seconds``, and the oldest first while all finished jobs hold more than ``max_bytes`` of
    panels and uploads; at most ``max_results`` finished models are kept for reuse.
    """

    def __init__(self, max_jobs_per_owner: int = 5, max_results: int = 8, fit_fn: FitFn | None = None,
                 max_idle_seconds: float = 12 * 3600, abandon_after: float | None = 120.0,
                 max_bytes: int = 1 << 30, max_running: int = DEFAULT_SERVER.max_jobs,
                 executor: "Executor | None" = None, workers: int = DEFAULT_SERVER.workers,
                 memory_gib: float = DEFAULT_SERVER.memory_gib,
                 on_finished: Callable[[TrainingJob], None] | None = None) -> None:
        self._lock = threading.Lock()
        # told of every training that ends done (on its own thread, after the pages can see it): the run store
        self.on_finished = on_finished
        self.workers, self.memory_gib = workers, memory_gib  # a run's memory is checked against these
        self.max_running = max(1, max_running)
        self.executor = executor  # owned: shutdown() ends its worker processes
        self._waiting: deque[TrainingJob] = deque()  # first come, first served
        self._active: dict[str, TrainingJob] = {}  # started and not yet ended
        self.max_idle_seconds = max_idle_seconds  # finished jobs nobody asked for this long are dropped
        self.abandon_after = abandon_after
        self.max_bytes = max_bytes
        self._jobs: OrderedDict[str, _Entry] = OrderedDict()
        self._results: OrderedDict[tuple[str, str], TrainedForecaster] = OrderedDict()  # (owner, training key)
        self._owners: dict[str, str] = {}  # owner id -> the browser key it was issued to
        # owner id -> (what the owner works on: the current upload and how it is read, its size, when kept)
        self._working: OrderedDict[str, tuple[Any, int, float]] = OrderedDict()
        self.max_jobs_per_owner = max_jobs_per_owner
        self.max_results = max_results
        self._fit = fit_fn or (default_fit if executor is None else fit_with(executor))

    @classmethod
    def for_server(cls, settings: ServerSettings | None = None, **kwargs: Any) -> "JobRegistry":
        """The dashboard's registry: ``settings.max_jobs`` at once, on worker processes when it has several
        workers (started on the first job, or by :meth:`warm_up`)."""
        from .backends import make_executor

        settings = settings or ServerSettings.from_env()
        workers = 1 if settings.ray_address else settings.workers  # a Ray node trains one network at a time
        return cls(max_running=settings.max_jobs, executor=make_executor(settings), workers=workers,
                   memory_gib=settings.memory_gib, **kwargs)

    def warm_up(self) -> None:
        """Start the worker processes now (importing torch takes seconds), and import the training code
        in this process too, in the background: so the first job need not wait, and so that import,
        which holds the interpreter for seconds, happens while the user fills in the form, not while
        jobs run and other sessions' pages draw. Returns at once."""
        if self.executor is not None:
            self.executor.start()
        if TRAINING_CODE not in sys.modules:
            threading.Thread(target=importlib.import_module, args=(TRAINING_CODE,), name="import-training-code",
                             daemon=True).start()

    def shutdown(self) -> None:
        """Cancel every job and end the worker processes."""
        with self._lock:
            jobs = [e.job for e in self._jobs.values()]
        for job in jobs:
            job.cancel()
        if self.executor is not None:
            self.executor.shutdown()

    def issue_owner(self, browser: str) -> str:
        """A new owner id for the browser with this key (a hash of a cookie only that browser holds)."""
        owner = uuid.uuid4().hex
        with self._lock:
            self._owners[owner] = browser
        return owner

    def resume_owner(self, owner: str, browser: str) -> bool:
        """True only for an id this registry issued, asked for by the browser it was issued to. A browser
        without a key (cookies blocked, or XSRF protection off) never resumes: every such browser would
        match every other."""
        if not browser:
            return False
        with self._lock:
            issued = self._owners.get(owner)
        return issued is not None and hmac.compare_digest(issued, browser)

    def submit(self, owner: str, panel: pd.DataFrame, config: ForecastConfig, *, label: str = "",
               meta: dict[str, Any] | None = None, kind: str = TRAINING,
               drivers: DriverPanel | None = None) -> TrainingJob:
        """Start training for ``owner``, or hand back a finished (or this owner's running) identical run. A new
        run replaces the owner's running run of the same ``kind`` only: a backtest runs beside the model."""
        config.check_trainable(*panel.shape)  # the user-facing refusal, before any thread or queue place
        from ..model.memory import check_training_memory  # torch: loaded by the time anyone trains

        check_training_memory(*panel.shape, config, self.workers, self.memory_gib,  # before anything is allocated
                              len(drivers.spec.channels) if drivers is not None else 0)
        key = training_key(panel, config, drivers)
        with self._lock:
            self._collect_results()
            for entry in reversed(self._jobs.values()):  # pressing Train twice does not train twice
                if entry.owner == owner and entry.job.key == key and entry.job.status in (QUEUED, RUNNING) \
                        and entry.job.kind == kind:
                    return entry.job
            for entry in self._jobs.values():  # one run of a kind per owner: a new run replaces a running one
                if entry.owner == owner and entry.job.status in (QUEUED, RUNNING) and entry.job.kind == kind:
                    entry.job.cancel()
            cached = self._results.get((owner, key))  # this session's own earlier run only: reusing another
            if cached is not None:  # session's would tell one user what another trained
                self._results.move_to_end((owner, key))
                job = TrainingJob.finished_with(cached, panel, config, key=key, label=label, meta=meta, kind=kind,
                                                drivers=drivers)
            else:
                job = TrainingJob(panel, config, key=key, label=label, meta=meta, fit_fn=self._fit,
                                  abandon_after=self.abandon_after, kind=kind, drivers=drivers)
                job.queue_place, job.on_end = self._place, self._ended
                self._waiting.append(job)
            self._jobs[job.job_id] = _Entry(owner, job)
            self._evict(owner)
            self._schedule()
        return job

    # --- the queue -------------------------------------------------------------------------------
    def _schedule(self) -> None:
        """Start waiting jobs, oldest first, while fewer than max_running train. Caller holds the lock."""
        for jid in [jid for jid, job in self._active.items() if job.status in FINISHED]:
            del self._active[jid]
        while self._waiting and len(self._active) < self.max_running:
            job = self._waiting.popleft()
            if job.abandoned and not job.cancelled_by_user:
                job.cancel(f"Stopped: nobody looked at this training for {self.abandon_after:.0f} s (its browser "
                           "tab was closed). ")
            if job.status in FINISHED:  # cancelled while it waited
                continue
            self._active[job.job_id] = job.start()

    def _ended(self, job: TrainingJob) -> None:
        """A job's thread ended: its slot goes to the next job in line."""
        with self._lock:
            self._active.pop(job.job_id, None)
            self._schedule()
        if self.on_finished is not None and job.kind == TRAINING and job.status == DONE:
            try:
                self.on_finished(job)
            except Exception:  # keeping the run failed: the model is still there for this session; say so in the log
                log.exception("training job %s finished but could not be kept", job.job_id)

    def keep_working_data(self, owner: str, data: Any, nbytes: int) -> None:
        """Remember what ``owner`` works on (the current upload and its reading), so that a browser refresh
        brings it back even when nothing was trained on it yet: the newest per owner, dropped after
        ``max_idle_seconds`` and, the least recently kept first, beyond ``max_bytes`` in all."""
        with self._lock:
            now = time.time()
            self._working[owner] = (data, nbytes, now)
            self._working.move_to_end(owner)
            for stale in [o for o, (_, _, t) in self._working.items() if t < now - self.max_idle_seconds]:
                del self._working[stale]
            while len(self._working) > 1 and sum(n for _, n, _ in self._working.values()) > self.max_bytes:
                self._working.popitem(last=False)

    def working_data(self, owner: str) -> Any:
        """What :meth:`keep_working_data` kept for ``owner`` (None: nothing, or dropped)."""
        with self._lock:
            kept = self._working.get(owner)
        return kept[0] if kept is not None else None

    def adopt(self, owner: str, job: TrainingJob) -> TrainingJob:
        """Hand ``owner`` a finished job made elsewhere (a run reopened from the store): the pages show it as
        the session's own, and nobody else's session sees it."""
        with self._lock:
            self._jobs[job.job_id] = _Entry(owner, job)
            self._evict(owner)
        return job

    def _place(self, job: TrainingJob) -> tuple[int, int]:
        """(position, jobs waiting) of a waiting job, 1 = next to start; (0, n) when it is not waiting."""
        line = self.waiting()
        position = next((i + 1 for i, j in enumerate(line) if j is job), 0)
        return position, len(line)

    def waiting(self) -> list[TrainingJob]:
        """Jobs waiting for a free slot, server-wide, next to start first."""
        with self._lock:
            return [j for j in self._waiting if j.status not in FINISHED]

    def get(self, owner: str, job_id: str | None) -> TrainingJob | None:
        """The job with this id if it belongs to ``owner``; None otherwise (or when evicted)."""
        if not job_id:
            return None
        with self._lock:
            self._collect_results()
            entry = self._jobs.get(job_id)
            if entry is None or entry.owner != owner:
                return None
            entry.last_seen = time.time()
            entry.job.seen()
            return entry.job

    def latest(self, owner: str, kind: str = TRAINING) -> TrainingJob | None:
        """The owner's newest job of this kind (a refresh reopens the newest model, not a backtest)."""
        with self._lock:
            for entry in reversed(self._jobs.values()):
                if entry.owner == owner and entry.job.kind == kind:
                    return entry.job
        return None

    def jobs(self, owner: str) -> list[TrainingJob]:
        with self._lock:
            return [e.job for e in self._jobs.values() if e.owner == owner]

    def _collect_results(self) -> None:
        """Move models of fully finished (not cancelled) jobs into the result cache. Caller holds the lock."""
        for entry in self._jobs.values():
            job = entry.job
            if (entry.owner, job.key) not in self._results and job.status == DONE and job.result is not None:
                self._results[(entry.owner, job.key)] = job.result
        while len(self._results) > self.max_results:
            self._results.popitem(last=False)

    def _evict(self, owner: str) -> None:
        """Drop finished jobs idle for max_idle_seconds (abandoned sessions hold panels and uploads), then the
        oldest finished jobs of ``owner`` beyond the limit. Caller holds the lock."""
        stale = time.time() - self.max_idle_seconds
        for jid in [jid for jid, e in self._jobs.items() if e.job.status in FINISHED and e.last_seen < stale]:
            del self._jobs[jid]
        mine = [jid for jid, e in self._jobs.items() if e.owner == owner and e.job.status in FINISHED]
        total = sum(1 for e in self._jobs.values() if e.owner == owner)
        for jid in mine:
            if total <= self.max_jobs_per_owner:
                break
            del self._jobs[jid]
            total -= 1
        finished = [(jid, e.job.nbytes) for jid, e in self._jobs.items() if e.job.status in FINISHED]
        held = sum(n for _, n in finished)
        for jid, n in finished[:-1]:  # oldest first; the newest finished job always stays
            if held <= self.max_bytes:
                break
            del self._jobs[jid]
            held -= n
