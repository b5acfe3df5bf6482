"""Train independent tasks at once in a pool of worker processes.

:class:`ProcessExecutor` implements the executor seam of :mod:`forecaster.model.tasks` (whose
:class:`~forecaster.model.tasks.InlineExecutor` trains here, one task after another, the tests' choice and
what runs with one core or ``--workers 0``): a bounded pool of worker processes, started once and reused
by every run (``shutdown`` ends it). The cores are used by training several networks side by side, one
per worker, and each worker's training takes as many torch threads as the cores divided by the trainings
running in the pool at that moment (:class:`forecaster.model.threads.PoolShare`, a counter the workers
share): a network left training alone takes the cores the others freed. The thread count does not change
the networks (:mod:`forecaster.model.threads`), so a seed gives the same ones on every backend.
:class:`forecaster.run.ray_executor.RayExecutor` runs the same tasks as Ray tasks on a cluster
(:func:`forecaster.run.backends.make_executor` picks one of the three from the server settings).

Progress and cancel cross the process boundary through a per-run queue and event (a
``multiprocessing`` manager's); the weights come back as state-dict bytes, loaded with
``weights_only=True``. A member's seed does not depend on where it trains, so both executors give the
same networks. A worker that dies (killed, out of memory) fails the run that had a task on it with a
:class:`WorkerError` the user can read; other runs on that pool train their unfinished tasks again on a
new one. The server process is never forked (forking a process that runs threads, Streamlit's server or
torch's pools, can deadlock the child): workers come from multiprocessing's fork server, a clean
single-threaded process that imports torch and the training code once and forks each worker from that
(the pool is ready in about half the time of spawning workers that each import torch); on Linux only:
elsewhere they are spawned.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import multiprocessing
import multiprocessing.forkserver
import os
import queue
import signal
import sys
import threading
import time
import types
import weakref
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from ..config import ServerSettings, cpu_cores
from ..errors import WorkerError
from ..model.tasks import Progress, ProgressCallback, TrainTask

if TYPE_CHECKING:  # torch- and pandas-free at import: the dashboard makes its executor before any page
    # trains, and the command line starts the fork server before it imports pandas to read the CSV

    from ..model.trained import CancelFlag, TrainedForecaster

WORKER_NICENESS = 10  # workers yield the CPU to the dashboard server (a page's rerun is short and urgent)
POLL_SECONDS = 0.05  # how often the parent relays progress and forwards a cancel
CANCEL_POLL_SECONDS = 0.1  # how often a worker asks whether its run was cancelled (between batches)
# what a worker imports before its first task (the fork server once, for all its workers): torch, the
# models and the loop, and torch._dynamo, which torch.optim imports on first use (1-2 s)
WORKER_IMPORTS = ("forecaster.model.training", "torch._dynamo")
REAP_SECONDS = 5.0  # how long a broken pool's workers may take to be ended before their exit codes are read
MAX_POOL_RESTARTS = 3  # a run whose tasks were cut short by other runs' dead workers starts them again
WORKER_DIED = ("The training process stopped unexpectedly (killed, perhaps out of memory), so this training "
               "ended without a model. Train again; if it happens again, try fewer products, a smaller model "
               "or fewer workers (FORECASTER_WORKERS).")


class ProcessExecutor:
    """A pool of ``workers`` processes (one training each at a time), reused by every run.

    The pool starts on the first run (or :meth:`start`, to start the workers ahead: importing torch takes
    seconds); several runs may share it at once, each keeping at most its even share of the workers busy.
    After a worker died the pool is broken: the run that had a task on that worker fails with
    :class:`WorkerError`, the others go on on a new pool."""

    def __init__(self, workers: int) -> None:
        self.slots = workers
        self._lock = threading.Lock()  # the state below; held briefly
        self._starting = threading.Lock()  # held while the pool starts (seconds)
        self._starter: threading.Thread | None = None  # start()'s background start
        self._pool: ProcessPoolExecutor | None = None
        self._manager: Any = None  # a multiprocessing manager: each run's progress queue and cancel event
        self._stops: set[Any] = set()  # the cancel events of the runs in progress
        self._workers: list[Any] = []  # the current pool's worker processes
        self._dead: dict[int, set[int]] = {}  # a broken pool's id -> the workers that died of their own
        self._fork_server: int | None = None  # pid of the fork server start_fork_server started, until a pool uses it
        _stop_runs_at_exit(self)

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> "ProcessExecutor":
        return cls(settings.workers)

    def start(self) -> "ProcessExecutor":
        """Start the workers now, in the background (this returns at once; the fork server imports torch
        for seconds), so the first run does not wait for all of it; a no-op while the pool is up or
        starting. A run waits for a start in progress; a start that failed is tried again by the run."""
        with self._lock:
            if self._pool is None and (self._starter is None or not self._starter.is_alive()):
                self._starter = threading.Thread(target=self._start_quietly, name="worker-pool-start", daemon=True)
                self._starter.start()
        return self

    def start_fork_server(self) -> None:
        """Start only the fork server (on Linux), which imports torch and the training code in its own
        process, and return at once: unlike :meth:`start` (whose manager and workers a shutdown waits
        for), a command whose CSV is then refused is not held up. The command line calls it first thing
        and :meth:`start` once the CSV is read.

        Called from the main thread, the fork server (and so its workers) ignores Ctrl-C: the command
        handles it and ends them, instead of their printing a traceback from the middle of an import. A
        ``shutdown`` before any pool used the server ends it too: it would otherwise go on importing (and
        hold the command's output open) for seconds after the command is done."""
        if not sys.platform.startswith("linux"):
            return
        _worker_context()  # the preload list
        main = threading.current_thread() is threading.main_thread()
        # a Python started with SIGINT ignored keeps ignoring it (the signal module's documented default)
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        # multiprocessing names no public handle on its fork server: its pid, to end an unused one that this
        # call started (one already running serves other executors of this process too: left alone)
        running = getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None)
        try:
            with _main_hidden():
                multiprocessing.forkserver.ensure_running()
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        started = getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None)
        with self._lock:
            self._fork_server = started if started != running else None

    def _start_quietly(self) -> None:
        try:
            self._acquire()
        except Exception:  # noqa: BLE001  the next run starts the pool itself and raises what goes wrong
            pass

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for a test that kills one)."""
        with self._lock:
            procs = getattr(self._pool, "_processes", None) or {}
            return [p.pid for p in procs.values() if p.is_alive()]

    def stop_runs(self) -> None:
        """Cancel every run in progress (they keep what they learned), e.g. when the server exits."""
        with self._lock:
            stops = list(self._stops)
        for stop in stops:
            try:
                stop.set()
            except (OSError, EOFError):  # the manager is gone already: so are the runs
                pass

    def shutdown(self, wait: bool = True) -> None:
        """End the workers and the manager (a run in progress fails). ``wait=False`` terminates workers
        still starting or training instead of waiting for them (a command that is done)."""
        with self._starting:  # a start in progress finishes first: what it makes is ended here too
            with self._lock:
                pool, manager, self._pool, self._manager = self._pool, self._manager, None, None
                unused, self._fork_server = self._fork_server, None
        if unused is not None:  # started ahead, and no pool ever used it
            with contextlib.suppress(ProcessLookupError):
                os.kill(unused, signal.SIGTERM)
        if pool is not None:
            if not wait:
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
        if manager is not None:
            manager.shutdown()

    def _acquire(self) -> tuple[ProcessPoolExecutor, Any]:
        """The pool (and the manager), made and every worker started on first use or after a break, one
        start at a time (a second caller waits for it); all starting happens here, where the parent's
        main module is hidden from the children."""
        with self._starting:
            with self._lock:
                if self._pool is not None:
                    return self._pool, self._manager
                manager = self._manager
            context = _worker_context()
            # main hidden anew for each process: a start can wait seconds for the fork server's imports, and
            # Streamlit installs a script run's main meanwhile; a child reads it at the start of its start
            with _main_hidden():
                manager = manager or context.Manager()
            running = context.Value("i", 0)  # the trainings in progress in this pool's workers
            pool = ProcessPoolExecutor(self.slots, mp_context=context, initializer=_init_worker,
                                       initargs=(running, cpu_cores()))
            for _ in range(self.slots):  # a submit finding no idle worker starts one: all of them now
                with _main_hidden():
                    pool.submit(_ready)
            with self._lock:
                self._pool, self._manager, self._fork_server = pool, manager, None
                self._workers = list(pool._processes.values())  # type: ignore[attr-defined]
            return pool, manager

    def _discard(self, pool: ProcessPoolExecutor) -> set[int]:
        """Drop a broken pool (whichever run saw it break first; the next run starts a new one) and return
        the process ids of the workers that died, found once, by that first run.

        concurrent.futures fails every task of a broken pool and terminates (SIGTERM) its other workers;
        a worker that died of its own (the kernel's out-of-memory kill, a kill -9) has another exit code,
        or is the only one dead yet. Only the runs that had a task on it fail; the others train their
        unfinished tasks again on a new pool."""
        with self._lock:
            first = self._pool is pool
            if first:
                self._pool = None
                self._dead[id(pool)] = _dead_workers(self._workers)
            dead = self._dead.get(id(pool), set())
        if first:
            pool.shutdown(wait=False, cancel_futures=True)
        return dead

    def run(self, tasks: Sequence[TrainTask], callback: ProgressCallback | None = None,
            cancel: CancelFlag | None = None) -> list[TrainedForecaster]:
        if not tasks:
            return []
        progress, done = Progress(tasks, callback), {}
        for attempt in range(MAX_POOL_RESTARTS + 1):
            pool, manager = self._acquire()
            records, stop = manager.Queue(), manager.Event()
            with self._lock:
                self._stops.add(stop)
            futures: dict[int, Future] = {}
            started: dict[int, int] = {}  # task -> the process id of the worker it started on
            try:
                self._follow(pool, tasks, done, futures, records, stop, progress, cancel, started)
                break
            except BrokenProcessPool:
                _drain(records, progress, started)  # which worker each task started on, up to the break
                dead = self._discard(pool)
                lost = [i for i, pid in started.items() if pid in dead and i not in done]
                if lost or not dead or attempt == MAX_POOL_RESTARTS:
                    raise WorkerError(WORKER_DIED) from None
                for i in range(len(tasks)):  # another run's worker died: train what is unfinished again
                    if i not in done:
                        progress.restart(i)
            finally:
                stop.set()  # whatever happened, no task of this run goes on training
                for f in futures.values():
                    f.cancel()
                with self._lock:
                    self._stops.discard(stop)
        return [_unpack(done[i], tasks[i]) for i in range(len(tasks))]

    def _share(self) -> int:
        """Tasks one run may have in the pool at once: the workers split evenly between the runs in
        progress, so two jobs at once both move (the pool itself is first come, first served)."""
        with self._lock:
            return max(1, self.slots // max(1, len(self._stops)))

    def _follow(self, pool: ProcessPoolExecutor, tasks: Sequence[TrainTask], done: dict[int, "_Packed"],
                futures: dict[int, Future], records: Any, stop: Any, progress: Progress,
                cancel: CancelFlag | None, started: dict[int, int]) -> None:
        """Submit the tasks not ``done`` yet, at most this run's share at a time, and relay progress in this
        thread until every task has ended, each result put in ``done``; forward a cancel to the workers
        (tasks not yet submitted then still run, and end at once, having trained nothing). The first
        task's error (in task order) is raised once every task has ended; a broken pool at once."""
        pending: dict[int, Future] = {}
        errors: dict[int, BaseException] = {}
        unsent = [i for i in range(len(tasks)) if i not in done]  # results and seeds do not depend on the order
        while True:
            while unsent and len(pending) < self._share():
                i = unsent.pop(0)
                try:
                    futures[i] = pending[i] = pool.submit(_run_task, tasks[i], i, records, stop)
                except RuntimeError:  # the pool was shut down under this run (the server is stopping)
                    raise BrokenProcessPool("the worker pool was shut down") from None
            _drain(records, progress, started)
            if cancel is not None and cancel.is_set() and not stop.is_set():
                stop.set()
            for i, f in list(pending.items()):
                if f.done():
                    error = f.exception()
                    if isinstance(error, BrokenProcessPool):
                        raise error
                    if error is None:
                        _drain(records, progress, started)  # its last records were queued before it returned
                        done[i] = f.result()
                        progress.finish(i)
                    else:  # the run fails: the other tasks need not go on
                        errors[i] = error
                        stop.set()
                        unsent.clear()
                    del pending[i]
            if not pending and not unsent:
                if errors:
                    raise errors[min(errors)]
                return
            wait(list(pending.values()), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)


def _worker_context() -> Any:
    """Where workers come from: on Linux the fork server, with torch and the training code imported in it
    once (see the module docstring); elsewhere spawn (macOS does not allow forking a process that has
    loaded Apple's frameworks, as torch does; Windows has no fork server)."""
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([f"{__package__}.forkserver_init"])  # which imports WORKER_IMPORTS
    return context


def _dead_workers(workers: Sequence[Any]) -> set[int]:
    """Process ids of the workers that died of their own: exited with another code than the SIGTERM a
    broken pool sends the rest; or, when all of them read SIGTERM (a plain ``kill``), every one dead."""
    deadline = time.monotonic() + REAP_SECONDS  # the pool ends (and reaps) the rest: exit codes come soon
    while any(p.exitcode is None for p in workers) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    gone = [p for p in workers if p.exitcode is not None]
    return {p.pid for p in gone if p.exitcode != -signal.SIGTERM} or {p.pid for p in gone}


def _drain(records: Any, progress: Progress, started: dict[int, int]) -> None:
    """Relay the queued messages: a task's epoch records, and the process id it announces on starting."""
    while True:
        try:
            task, message = records.get_nowait()
        except queue.Empty:
            return
        except (OSError, EOFError):  # the manager is gone (the server is stopping): nothing more to relay
            return
        if isinstance(message, int):
            started[task] = message
        else:
            progress.record(task, message)


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """A spawned child (and a worker of the fork server) imports the parent's ``__main__`` again (by path
    or module name) before its first task. Workers need nothing from it (their tasks are this module's
    functions), and under Streamlit it is the app script, which would run again, in bare mode, in every
    worker. While the workers start, the parent's main is a blank module, so the children leave theirs
    alone. Put back only if still blank: Streamlit installs each script run's own main, and one that
    started meanwhile keeps it."""
    main = sys.modules.get("__main__")
    blank = sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None and sys.modules.get("__main__") is blank:
            sys.modules["__main__"] = main


def _stop_runs_at_exit(executor: ProcessExecutor) -> None:
    """When the interpreter exits (the server stops), cancel the executor's runs first: the pool's own exit
    hook waits for the tasks in progress, which would otherwise train to the end. Registered with the
    hooks that run before threads are joined (concurrent.futures registers its own there, at import, and
    they run last registered first)."""
    ref = weakref.ref(executor)

    def stop() -> None:
        alive = ref()
        if alive is not None:
            alive.stop_runs()

    try:
        threading._register_atexit(stop)  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # another Python, or already exiting: the pool's hook still ends it
        pass


# --- in the worker processes ----------------------------------------------------------------------------
def _init_worker(running: Any, cores: int) -> None:
    """Each worker: a lower CPU priority than the server (pages stay quick while every core trains; from
    the fork server it has it already), WORKER_IMPORTS imported once, before the first task (from the
    fork server they are there already), and its trainings' threads shared with the pool's other workers
    through ``running``, over the parent's ``cores``."""
    lower_priority()
    for name in WORKER_IMPORTS:
        importlib.import_module(name)
    from ..model import threads

    threads.use(threads.PoolShare(running, cores))


def lower_priority() -> None:
    """This process at WORKER_NICENESS: a worker forked from the fork server is there already and stays
    there; where lowering is not allowed it keeps the usual priority."""
    try:
        os.nice(max(0, WORKER_NICENESS - os.nice(0)))
    except OSError:
        pass


def _ready() -> bool:
    return True


class _RemoteFlag:
    """The run's cancel event as the training loop polls it between batches: asked of the manager at most
    every CANCEL_POLL_SECONDS (a batch can take a millisecond), and once set it stays set."""

    def __init__(self, event: Any) -> None:
        self.event, self.seen, self.asked = event, False, 0.0

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self.seen and now - self.asked >= CANCEL_POLL_SECONDS:
            self.asked, self.seen = now, self.event.is_set()
        return self.seen


@dataclass(frozen=True)
class _Packed:
    """A trained forecaster on its way back from a worker: its networks as state-dict bytes (plain
    tensors, read back with weights_only=True), everything else as it was."""

    trained: TrainedForecaster  # networks left out
    weights: tuple[bytes, ...]


def _run_task(task: TrainTask, index: int, records: Any, stop: Any) -> _Packed:
    """A worker's job: train the task's members, sending each epoch's record back as it ends."""
    import torch

    from ..model.training import train

    records.put((index, os.getpid()))  # so the parent knows whose task a worker that dies was training
    trained = train(task.panel, task.config, lambda r: records.put((index, r)), _RemoteFlag(stop),
                    members=task.members, drivers=task.drivers)
    weights = []
    for net in trained.networks:
        buffer = io.BytesIO()
        torch.save(net.state_dict(), buffer)
        weights.append(buffer.getvalue())
    # the driver values are the task's: not sent back (the parent has them)
    return _Packed(dataclasses.replace(trained, networks=[], drivers=None), tuple(weights))


def _unpack(packed: _Packed, task: TrainTask) -> TrainedForecaster:
    """The forecaster a worker trained, its networks rebuilt here from their weights, the task's drivers
    put back."""
    import torch

    from models import REGISTRY

    from ..model.trained import build_network, feature_count

    trained = packed.trained
    config, n_products = trained.config, len(trained.products)
    n_features = feature_count(config, n_products, REGISTRY[config.model].layout, trained.driver_channels)
    networks = []
    for blob in packed.weights:
        net = build_network(config, n_features, n_products)
        net.load_state_dict(torch.load(io.BytesIO(blob), map_location=trained.device, weights_only=True))
        networks.append(net.to(trained.device).eval())
    drivers = task.drivers.aligned(trained.products) if task.drivers is not None else None
    return dataclasses.replace(trained, networks=networks, drivers=drivers)
