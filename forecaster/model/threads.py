"""How many torch threads a training on the CPU uses: the cores no other training is using.

A training asks its process's :class:`CoreShare` for its thread count when it starts and again between
batches (at most every ADJUST_SECONDS), so a network left training alone (``--ensemble 1``, or the last
network of a run once the others are done) takes the cores the finished ones freed, and gives them back
when another training starts. The shares: :class:`ProcessShare` counts the trainings in this process (the
default: the command line's ``--workers 0``, the dashboard's in-process jobs, the tests);
:class:`PoolShare` counts those of every worker of one pool through a shared counter
(:mod:`forecaster.run.executor` installs it in each worker); :class:`FixedShare` is a Ray task's CPUs.

Why a seed still gives the same networks: torch's CPU matrix products are Intel MKL's, and MKL in its
strict conditional-numerical-reproducibility mode (``MKL_CBWR=AUTO,STRICT``, which importing
:mod:`forecaster` sets unless the environment names another mode) gives bit-identical products whatever the
thread count; the registry's networks then train to identical weights at 1 or 2 threads (a test keeps it
so). The mode is read when MKL computes for the first time in a process, so a process that used torch
before importing forecaster, or a torch without MKL (macOS, ARM), or another ``MKL_CBWR`` the user set, is
not in it: :func:`blas_reproducible` says so, and there every training keeps to one thread, as every
training did before, so that its networks still do not depend on timing.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import torch

from ..config import cpu_cores

ADJUST_SECONDS = 0.5  # how often a training asks its share again (between batches)
_MKL_CBWR_STRICT = 0x10000  # MKL's MKL_CBWR_STRICT bit, as mkl_cbwr_get reports the mode in force
_MKL_CBWR_ALL = -1  # mkl_cbwr_get's argument for "the whole mode"


@functools.lru_cache(maxsize=1)
def blas_reproducible() -> bool:
    """Whether this process's torch does its matrix products in MKL's strict reproducible mode, so that
    the thread count cannot change a training's numbers. Asked of MKL itself (its service function is
    exported by torch's CPU library); False where torch has no MKL or the mode is another."""
    if not torch.backends.mkl.is_available():
        return False
    try:
        library = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        get = library.mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return False
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    torch.ones(2, 2) @ torch.ones(2, 2)  # MKL reads its mode on its first call: make this not be it
    return bool(get(_MKL_CBWR_ALL) & _MKL_CBWR_STRICT)


class CoreShare:
    """Threads for one training: the usable cores split evenly between the trainings running (at least
    one each). Subclasses keep the count of trainings running."""

    def __init__(self, cores: int | None = None) -> None:
        self.cores = cores or cpu_cores()

    def running(self) -> int:
        raise NotImplementedError

    def _add(self, n: int) -> None:
        raise NotImplementedError

    def threads(self) -> int:
        return max(1, self.cores // max(1, self.running()))

    @contextlib.contextmanager
    def training(self) -> Iterator[None]:
        """Counted as running while the block runs."""
        self._add(1)
        try:
            yield
        finally:
            self._add(-1)


class ProcessShare(CoreShare):
    """The trainings running in this process's threads."""

    def __init__(self, cores: int | None = None) -> None:
        super().__init__(cores)
        self._lock, self._running = threading.Lock(), 0

    def running(self) -> int:
        return self._running

    def _add(self, n: int) -> None:
        with self._lock:
            self._running += n


class PoolShare(CoreShare):
    """The trainings running in a pool's worker processes, counted in a ``multiprocessing`` Value that
    every worker of the pool was given when it started."""

    def __init__(self, counter: Any, cores: int | None = None) -> None:
        super().__init__(cores)
        self.counter = counter

    def running(self) -> int:
        return self.counter.value

    def _add(self, n: int) -> None:
        with self.counter.get_lock():
            self.counter.value += n


class FixedShare(CoreShare):
    """Always ``threads`` (a Ray task's CPUs: Ray decides who else runs there)."""

    def __init__(self, threads: int) -> None:
        super().__init__(max(1, threads))

    def running(self) -> int:
        return 1

    def _add(self, n: int) -> None:
        pass


_share: CoreShare = ProcessShare()
_leases = threading.local()  # the calling thread's training in progress, if any


def use(share: CoreShare) -> CoreShare:
    """This process's trainings share ``share`` from now on (a pool's worker, a Ray task); returns the
    share they used until now."""
    global _share
    before, _share = _share, share
    return before


class _Lease:
    """One training's hold on its share: sets the calling thread's torch threads, and again when asked
    after ADJUST_SECONDS."""

    def __init__(self, share: CoreShare | None) -> None:
        self.share, self.asked, self.threads = share, 0.0, 0

    def adjust(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if now - self.asked < ADJUST_SECONDS and self.threads:
            return
        self.asked = now
        threads = self.share.threads() if self.share is not None else 1
        if threads != self.threads:
            torch.set_num_threads(threads)
            self.threads = threads


@contextlib.contextmanager
def cpu_threads(device: torch.device) -> Iterator[None]:
    """While the calling thread trains on the CPU: its torch threads from this process's share (one, where
    the thread count could change the numbers: :func:`blas_reproducible`), kept up to date by
    :func:`adjust`; the count it had is put back after. With torch's OpenMP build the count is the calling
    thread's own, so trainings in several threads of one process each get theirs."""
    if device.type != "cpu":
        yield
        return
    share = _share if blas_reproducible() else None
    before, lease = torch.get_num_threads(), _Lease(share)
    with share.training() if share is not None else contextlib.nullcontext():
        _leases.lease = lease
        try:
            lease.adjust()
            yield
        finally:
            _leases.lease = None
            torch.set_num_threads(before)


def adjust() -> None:
    """Between batches: the calling thread's training takes the threads its share now gives it."""
    lease = getattr(_leases, "lease", None)
    if lease is not None:
        lease.adjust()

