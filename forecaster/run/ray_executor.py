"""Training tasks as Ray tasks, for a team whose training outgrows one machine.

Used when a cluster is named (``RAY_ADDRESS``, or ``local`` for a Ray instance started on this machine).
The tasks are the same :class:`~forecaster.model.tasks.TrainTask` objects the worker pool runs, trained by the
same function with the same seeds, so the forecast is the local pool's. Each task asks Ray for one CPU and,
on a cluster with GPUs, one GPU (the network then trains on CUDA there). Progress comes back through a Ray
queue (an actor); Cancel sets a flag in a small actor that the training loop polls between batches, so a
cancelled run keeps its best weights as it does locally; a task whose worker or node dies fails the run
with the same readable :class:`~forecaster.errors.WorkerError` as a dead local worker.

Ray is an optional dependency (``requirements-ray.txt``), imported only when a cluster is named; this
project's ``forecaster`` and ``models`` packages travel to the workers with the job (``py_modules``).
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .. import REPRODUCIBLE_BLAS
from ..errors import ForecasterError, WorkerError
from ..model.tasks import Progress, ProgressCallback, TrainTask
from .executor import POLL_SECONDS, WORKER_DIED, _Packed, _run_task, _unpack

if TYPE_CHECKING:
    from ..model.trained import CancelFlag, TrainedForecaster

LOCAL = "local"  # the address that starts a Ray instance on this machine instead of joining a cluster
CANCEL_POLL_SECONDS = 0.2  # how often a task asks the stop actor (a round trip to another process)
PACKAGES = (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "models")  # forecaster/, models/


GCS_TRIES_ENV, GCS_TRIES = "RAY_gcs_server_port_wait_time_s", 10  # Ray's own setting: tries a second apart


def unreachable(address: str, exc: BaseException) -> str:
    """Why a cluster could not be joined, with what to check: the address, and the token a cluster started with
    token authentication (Ray 2.52 and later; the default for new clusters from 2.61) asks of every client."""
    auth = os.environ.get("RAY_AUTH_MODE", "")
    token = ("this process gives none (set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH, to the "
             "cluster's token)" if auth != "token" else "the token this process gives (RAY_AUTH_TOKEN or "
             "RAY_AUTH_TOKEN_PATH) may not be the cluster's")
    return (f"Could not join the Ray cluster at {address!r} ({exc}). Check RAY_ADDRESS, that the cluster is up, "
            f"and its token: a cluster with token authentication refuses a client without the same token, and "
            f"{token}. Or unset RAY_ADDRESS to train on this machine.")


class RayExecutor:
    """Runs training tasks as Ray tasks on the cluster at ``address`` (:data:`LOCAL`: a new local instance
    with ``local_cpus`` CPUs). ``gpus`` per task: None asks for one where the cluster has GPUs."""

    def __init__(self, address: str, gpus: float | None = None, local_cpus: int | None = None) -> None:
        self.address, self.gpus, self.local_cpus = address, gpus, local_cpus
        self.slots = 1
        self._ray: Any = None
        self._started_here = False

    def start(self) -> "RayExecutor":
        """Connect to the cluster (or start the local instance) and size the slots from its CPUs."""
        if self._ray is not None:
            return self
        try:
            import ray
        except ImportError:
            raise ForecasterError("A Ray cluster is named (RAY_ADDRESS), but Ray is not installed here: "
                                  "pip install -r requirements-ray.txt, or unset RAY_ADDRESS.") from None
        if not ray.is_initialized():
            local = self.address == LOCAL
            if not local:  # a refused client (a wrong or missing token) gives up after 10 tries, not Ray's 20
                os.environ.setdefault(GCS_TRIES_ENV, str(GCS_TRIES))
            try:
                ray.init(address=None if local else self.address, num_cpus=self.local_cpus if local else None,
                         include_dashboard=False, log_to_driver=False, configure_logging=False,
                         # the workers' BLAS in this process's mode: a network trains to the same weights there
                         runtime_env={"py_modules": [str(p) for p in PACKAGES],
                                      "env_vars": {"MKL_CBWR": os.environ.get("MKL_CBWR", REPRODUCIBLE_BLAS)}})
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ForecasterError(unreachable(self.address, exc)) from None
            self._started_here = True
        resources = ray.cluster_resources()
        if self.gpus is None:  # GPU workers where the cluster has them
            self.gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        self.slots = max(1, int(resources.get("CPU", 1)))
        self._ray = ray
        return self

    def shutdown(self, wait: bool = True) -> None:
        """Leave the cluster (a local instance started here ends with it)."""
        if self._ray is not None and self._started_here:
            self._ray.shutdown()
        self._ray, self._started_here = None, False

    def run(self, tasks: Sequence[TrainTask], callback: ProgressCallback | None = None,
            cancel: "CancelFlag | None" = None) -> "list[TrainedForecaster]":
        if not tasks:
            return []
        ray = self.start()._ray
        from ray.util.queue import Queue

        records, stop = Queue(), _StopActor.remote_class(ray).remote()
        train_task = ray.remote(_ray_task).options(num_cpus=1, num_gpus=self.gpus, max_retries=0)
        refs = [train_task.remote(task, i, records, stop) for i, task in enumerate(tasks)]
        progress = Progress(tasks, callback)
        try:
            packed = self._follow(ray, refs, records, stop, progress, cancel)
        finally:
            stop.set.remote()  # whatever happened, no task of this run goes on training
            ray.kill(records.actor)
        return [_unpack(_for_here(p), task) for p, task in zip(packed, tasks)]

    @staticmethod
    def _follow(ray: Any, refs: list, records: Any, stop: Any, progress: Progress,
                cancel: "CancelFlag | None") -> list[_Packed]:
        """Relay progress in this thread until every task has ended, forwarding a cancel to the tasks."""
        pending = dict(enumerate(refs))
        stopping = False
        while pending:
            _drain(records, progress)
            if cancel is not None and cancel.is_set() and not stopping:
                stop.set.remote()
                stopping = True
            ready, _ = ray.wait(list(pending.values()), num_returns=len(pending), timeout=POLL_SECONDS)
            for i, ref in list(pending.items()):
                if ref not in ready:
                    continue
                try:
                    ray.get(ref)
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                        ray.exceptions.OutOfMemoryError, ray.exceptions.TaskCancelledError):
                    stop.set.remote()
                    raise WorkerError(WORKER_DIED) from None
                except ray.exceptions.RayTaskError as exc:  # the task's own error, raised here as itself
                    stop.set.remote()
                    raise exc.as_instanceof_cause() from None
                _drain(records, progress)  # its last records were queued before it returned
                progress.finish(i)
                del pending[i]
        return ray.get(refs)


def _drain(records: Any, progress: Progress) -> None:
    """Relay the tasks' epoch records (the process id a task announces on starting is not needed here:
    Ray fails only the task whose worker died)."""
    for task, message in records.get_nowait_batch(records.qsize()):
        if not isinstance(message, int):
            progress.record(task, message)


class _StopActor:
    """The run's cancel flag, held by a Ray actor that every task of the run can ask."""

    def __init__(self) -> None:
        self.flag = False

    def set(self) -> None:
        self.flag = True

    def is_set(self) -> bool:
        return self.flag

    @classmethod
    def remote_class(cls, ray: Any) -> Any:
        return ray.remote(num_cpus=0)(cls)


class _ActorFlag:
    """The stop actor as the training loop polls it between batches: asked at most every
    CANCEL_POLL_SECONDS, and once set it stays set."""

    def __init__(self, actor: Any) -> None:
        self.actor, self.seen, self.asked = actor, False, 0.0

    def is_set(self) -> bool:
        import ray

        now = time.monotonic()
        if not self.seen and now - self.asked >= CANCEL_POLL_SECONDS:
            self.asked, self.seen = now, bool(ray.get(self.actor.is_set.remote()))
        return self.seen


def _ray_task(task: TrainTask, index: int, records: Any, stop: Any) -> _Packed:
    """On a Ray worker: the local worker's training, with as many torch threads as the CPUs Ray gave the
    task (Ray places other tasks on the node's other CPUs)."""
    import ray

    from ..model import threads

    threads.use(threads.FixedShare(int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
    return _run_task(task, index, records, _ActorFlag(stop))


def _for_here(packed: _Packed) -> _Packed:
    """Weights trained on a GPU worker are used on this machine's CPU when it has no GPU of its own."""
    import torch

    if packed.trained.device.startswith("cuda") and not torch.cuda.is_available():
        return dataclasses.replace(packed, trained=dataclasses.replace(packed.trained, device="cpu"))
    return packed
