"""forecaster.run.executor: worker processes train the same networks as the calling process, progress and
cancel cross the process boundary, a killed worker fails its job with a readable message and the next
job trains; the registry's queue starts jobs first come, first served. Tiny panels, a few epochs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, make_panel
from forecaster import fit
from forecaster.config import ServerSettings, cpu_cores
from forecaster.errors import ForecasterError
from forecaster.model.tasks import InlineExecutor, Progress, TrainTask, member_tasks, train_models
from forecaster.run.executor import WORKER_DIED, ProcessExecutor
from forecaster.run.backends import make_executor
from forecaster.run.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobRegistry
from forecaster.model.trained import EpochRecord

WAIT = 180  # generous: other CPU-heavy jobs may share this machine
AUTO = TINY.replace(model="auto", ensemble=2, epochs=2, patience=0, seed=5)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel(days=110, products=4)


@pytest.fixture(scope="module")
def pool():
    """Two spawned workers, shared by this module's tests (spawning and importing torch takes seconds)."""
    executor = ProcessExecutor(workers=2).start()
    yield executor
    executor.shutdown()


def test_worker_processes_train_the_same_recommended_model_as_the_calling_process(panel, pool):
    inline = fit(panel, AUTO)
    parallel = fit(panel, AUTO, executor=pool)
    days = np.arange(len(panel) - 14, len(panel) + 1)
    a, b = inline.predict(panel, days), parallel.predict(panel, days)
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    pd.testing.assert_frame_equal(parallel.selection, inline.selection, rtol=1e-4)
    assert parallel.best_epochs == inline.best_epochs and len(parallel.networks) == AUTO.ensemble
    # the shipped history reads as one serial run: same records in the same order, same numbering
    assert [(h.member, h.epoch, h.done_epochs, h.total_epochs) for h in parallel.history] == \
           [(h.member, h.epoch, h.done_epochs, h.total_epochs) for h in inline.history]


def test_the_backtests_cut_offs_train_side_by_side_on_the_pool_with_the_same_table(panel, pool):
    """On a pool the earlier cut-offs train at once (each an independent training); the table is the one the
    cut-offs give one after another here, and the progress bar only moves forward, to its end."""
    config = TINY.replace(backtest_origins=3)
    here = fit(panel, config)
    seen = []
    on_pool = fit(panel, config, executor=pool,
                  callback=lambda r: seen.append((r.done_epochs, r.total_epochs, r.origin)))
    pd.testing.assert_frame_equal(on_pool.backtest, here.backtest, rtol=1e-4)
    assert list(on_pool.backtest["origin"].unique()) == [0, 1, 2]
    done = [d for d, _, _ in seen]
    assert done == sorted(done) and {t for _, t, _ in seen} == {seen[-1][1]} and done[-1] <= seen[-1][1]
    assert {o for _, _, o in seen} == {0, 1, 2}  # each record says which cut-off it trained for


def test_progress_records_arrive_from_the_workers_in_the_calling_thread(panel, pool, monkeypatch):
    import forecaster.model.training

    def not_here(*args, **kwargs):
        raise AssertionError("trained in the calling process")

    monkeypatch.setattr(forecaster.model.training, "train", not_here)  # the spawned workers import their own
    threads, records = set(), []

    def on_epoch(record: EpochRecord) -> None:
        threads.add(threading.get_ident())
        records.append(record)

    config = TINY.replace(ensemble=3, epochs=2, seed=8)
    [trained] = train_models(pool, panel, [config], on_epoch)
    assert threads == {threading.get_ident()}
    assert len(records) == 6 and {r.total_epochs for r in records} == {6}
    done = [r.done_epochs for r in records]
    assert done == sorted(done) and done[-1] == 6
    # relayed member after member (the loss chart draws one network after another), whatever ran first
    assert [(r.member, r.epoch) for r in records] == [(m, e) for m in range(3) for e in (1, 2)]
    assert len(trained.networks) == 3 and [h.done_epochs for h in trained.history] == [1, 2, 3, 4, 5, 6]


def test_cancel_stops_the_worker_processes_and_keeps_the_best_model_so_far(panel, pool):
    cancel = threading.Event()
    records = []

    def on_epoch(record):
        records.append(record)
        cancel.set()  # after the first epoch that comes back

    config = TINY.replace(ensemble=2, epochs=2000, patience=0, seed=9)
    t0 = time.perf_counter()
    [trained] = train_models(pool, panel, [config], on_epoch, cancel)
    assert trained.cancelled and trained.networks  # the weights learned so far are kept
    assert len(trained.history) < 2 * config.epochs and time.perf_counter() - t0 < WAIT
    assert len(trained.networks) == len(trained.best_epochs) >= 1


def test_a_killed_worker_fails_its_job_with_a_readable_message_and_the_next_job_trains(panel):
    executor = ProcessExecutor(workers=2)
    registry = JobRegistry(executor=executor, max_running=1)
    try:
        long = registry.submit("alice", panel, TINY.replace(ensemble=2, epochs=5000, patience=0, seed=11))
        deadline = time.time() + WAIT
        while long.snapshot().done_epochs < 1 and time.time() < deadline:
            registry.get("alice", long.job_id)
            time.sleep(0.05)
        pids = executor.worker_pids
        assert pids
        os.kill(pids[0], signal.SIGKILL)
        assert long.wait(WAIT)
        snap = long.snapshot()
        assert snap.status == FAILED and snap.error == WORKER_DIED and "stopped unexpectedly" in snap.error
        assert snap.error_detail is None  # a message for the user, not a traceback
        nxt = registry.submit("alice", panel, TINY.replace(ensemble=2, epochs=1, seed=12))
        assert nxt.wait(WAIT) and nxt.status == DONE and len(nxt.result.networks) == 2
        assert pids[0] not in executor.worker_pids  # a new pool
    finally:
        registry.shutdown()


def _cpu_ticks(pid: int) -> int:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _busy_worker(executor: ProcessExecutor) -> int:
    """The one worker using the CPU (the other is idle): found from /proc, the test's only view into it."""
    pids = executor.worker_pids
    before = {pid: _cpu_ticks(pid) for pid in pids}
    time.sleep(0.5)
    used = {pid: _cpu_ticks(pid) - before[pid] for pid in pids}
    busy = max(used, key=used.get)
    assert used[busy] > 0 and sorted(used.values())[0] < used[busy], used
    return busy


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="finds the busy worker through /proc")
def test_a_killed_worker_fails_only_the_job_it_was_training_and_the_other_job_finishes_unchanged(panel):
    """Two jobs share the pool, one task each; the worker of one is killed. concurrent.futures breaks the
    whole pool; the other job's task trains again on a new pool and gives the same networks."""
    executor = ProcessExecutor(workers=2)
    registry = JobRegistry(executor=executor, max_running=2)
    try:
        bob_config = TINY.replace(ensemble=1, epochs=150, patience=0, seed=16)
        alice = registry.submit("alice", panel, TINY.replace(ensemble=1, epochs=5000, patience=0, seed=15))
        deadline = time.time() + WAIT
        while alice.snapshot().done_epochs < 1 and time.time() < deadline:
            time.sleep(0.05)
        alices_worker = _busy_worker(executor)  # only alice trains yet
        bob = registry.submit("bob", panel, bob_config)
        while bob.snapshot().done_epochs < 1 and time.time() < deadline:
            time.sleep(0.05)
        assert not bob.wait(0), "bob finished before the kill: make his training longer"
        os.kill(alices_worker, signal.SIGKILL)
        assert alice.wait(WAIT) and bob.wait(WAIT)
        assert alice.snapshot().status == FAILED and alice.snapshot().error == WORKER_DIED
        assert bob.snapshot().status == DONE, bob.snapshot().error
        alone = fit(panel, bob_config)
        days = np.arange(len(panel) - 14, len(panel) + 1)
        np.testing.assert_allclose(bob.result.predict(panel, days), alone.predict(panel, days), rtol=1e-6)
        assert [h.epoch for h in bob.result.history] == list(range(1, 151))  # no epoch shown twice
    finally:
        registry.shutdown()


def test_a_run_on_a_shut_down_pool_starts_a_new_one(panel):
    executor = ProcessExecutor(workers=2)
    executor.shutdown()  # nothing started: nothing to end
    [trained] = train_models(executor, panel, [TINY.replace(ensemble=2, epochs=1, seed=13)])
    assert len(trained.networks) == 2
    executor.shutdown()
    assert executor.worker_pids == []


def test_an_error_in_a_worker_reaches_the_caller_as_itself(panel, pool):
    config = TINY.replace(ensemble=2, epochs=1, seed=14)
    bad = panel.copy()
    bad.iloc[5, 0] = np.inf  # refused by train() in the worker
    with pytest.raises(ForecasterError, match="missing or infinite"):
        train_models(pool, bad, [config])


def test_a_network_training_alone_in_the_pool_takes_the_cores_the_others_freed(panel, pool):
    """Two tasks start side by side with one thread each; the short one ends, and the long one's later
    epochs take every core (the workers share a count of the trainings running). The long one lasts seconds
    on any machine (80 epochs took 0.34 s on a fast one: over before its first recount, due after 0.5 s)."""
    short, long = (TrainTask(panel, TINY.replace(epochs=e, seed=s), (0,)) for e, s in ((6, 1), (500, 2)))
    first, second = pool.run([short, long])
    cores = cpu_cores()
    assert second.history[-1].threads == cores
    assert min(r.threads for r in first.history + second.history) == (1 if cores < 4 else cores // 2)
    alone = pool.run([TrainTask(panel, TINY.replace(epochs=2), (0,))])[0]
    assert {r.threads for r in alone.history} == {cores}


def test_progress_counts_every_task_and_releases_records_in_task_order():
    seen = []
    tasks = [TrainTask(pd.DataFrame(), TINY.replace(epochs=3), (m,)) for m in range(2)]
    progress = Progress(tasks, seen.append)
    rec = lambda m, e: EpochRecord(m, e, 3, 1.0, 1.0, 1.0, 0.1, 3, e)  # noqa: E731
    progress.record(1, rec(1, 1))  # the second task is ahead: held back
    progress.record(1, rec(1, 2))
    assert seen == []
    progress.record(0, rec(0, 1))  # the first task's record leaves, counting both tasks' epochs
    assert [(r.member, r.done_epochs, r.total_epochs) for r in seen] == [(0, 3, 6)]
    progress.finish(0)  # stopped early: its planned epochs count as done, the held records follow
    assert [(r.member, r.epoch, r.done_epochs) for r in seen[1:]] == [(1, 1, 5), (1, 2, 5)]
    progress.record(1, rec(1, 3))
    assert seen[-1].done_epochs == 6


def test_member_tasks_split_an_ensemble_only_for_an_executor_that_runs_several_at_once(panel):
    config = TINY.replace(ensemble=3)
    assert [t.members for t in member_tasks(panel, config, 1)] == [(0, 1, 2)]
    assert [t.members for t in member_tasks(panel, config, 2)] == [(0,), (1,), (2,)]
    assert [t.planned_epochs for t in member_tasks(panel, config, 2)] == [config.epochs] * 3


def test_server_settings_come_from_the_environment_and_pick_the_executor():
    assert isinstance(make_executor(ServerSettings(workers=0)), InlineExecutor)
    assert isinstance(make_executor(ServerSettings(workers=1)), InlineExecutor)  # one worker: no gain
    two = make_executor(ServerSettings.from_env({"FORECASTER_WORKERS": "2", "FORECASTER_MAX_JOBS": "3"}))
    assert isinstance(two, ProcessExecutor) and two.slots == 2
    assert ServerSettings.from_env({"FORECASTER_MAX_JOBS": "3"}).max_jobs == 3
    assert ServerSettings().workers <= os.cpu_count() and ServerSettings().max_jobs >= 1
    with pytest.raises(ForecasterError, match="FORECASTER_WORKERS"):
        ServerSettings.from_env({"FORECASTER_WORKERS": "many"})
    with pytest.raises(ForecasterError, match="workers must be between"):
        ServerSettings(workers=-1)


# --- the server-wide queue -----------------------------------------------------------------------------
class Gate:
    """A fit that records the order jobs start in (by seed) and waits until released."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.release = threading.Event()

    def __call__(self, panel, config, callback=None, cancel=None):
        self.started.append(config.seed)
        self.release.wait(WAIT)
        return fit(panel, config.replace(epochs=1), callback=callback, cancel=cancel)


def test_with_one_slot_later_jobs_wait_in_line_and_say_their_place(panel):
    gate = Gate()
    reg = JobRegistry(fit_fn=gate, max_running=1)
    first = reg.submit("alice", panel, TINY.replace(seed=21))
    second = reg.submit("bob", panel, TINY.replace(seed=22))
    third = reg.submit("carol", panel, TINY.replace(seed=23))
    assert first.started and first.snapshot().status == RUNNING
    s2, s3 = second.snapshot(), third.snapshot()
    assert (s2.status, s2.queue_position, s2.queue_length) == (QUEUED, 1, 2) and s2.queued
    assert (s3.status, s3.queue_position, s3.queue_length) == (QUEUED, 2, 2)
    assert first.snapshot().queue_position == 0 and not first.snapshot().queued
    assert not second.started and [j.job_id for j in reg.waiting()] == [second.job_id, third.job_id]
    gate.release.set()
    assert first.wait(WAIT) and second.wait(WAIT) and third.wait(WAIT)
    assert gate.started == [21, 22, 23]  # first come, first served
    assert [j.status for j in (first, second, third)] == [DONE, DONE, DONE]
    assert second.snapshot().queue_position == 0 and reg.waiting() == []


def test_a_queued_job_cancelled_never_starts_and_the_line_moves_up(panel):
    gate = Gate()
    reg = JobRegistry(fit_fn=gate, max_running=1)
    running = reg.submit("alice", panel, TINY.replace(seed=31))
    waiting = reg.submit("bob", panel, TINY.replace(seed=32))
    behind = reg.submit("carol", panel, TINY.replace(seed=33))
    waiting.cancel()
    assert waiting.wait(1)  # ends at once, without waiting for a slot
    snap = waiting.snapshot()
    assert snap.status == CANCELLED and waiting.result is None and "before it started" in snap.error
    assert (behind.snapshot().queue_position, behind.snapshot().queue_length) == (1, 1)
    gate.release.set()
    assert running.wait(WAIT) and behind.wait(WAIT)
    assert gate.started == [31, 33] and behind.status == DONE


def test_a_new_run_replaces_the_owners_queued_one(panel):
    gate = Gate()
    reg = JobRegistry(fit_fn=gate, max_running=1)
    other = reg.submit("alice", panel, TINY.replace(seed=41))
    old = reg.submit("bob", panel, TINY.replace(seed=42))
    new = reg.submit("bob", panel, TINY.replace(seed=43))
    assert old.wait(1) and old.status == CANCELLED
    assert new.snapshot().queue_position == 1
    gate.release.set()
    assert other.wait(WAIT) and new.wait(WAIT) and gate.started == [41, 43]


def test_two_slots_train_two_jobs_at_once(panel):
    gate = Gate()
    reg = JobRegistry(fit_fn=gate, max_running=2)
    a = reg.submit("alice", panel, TINY.replace(seed=51))
    b = reg.submit("bob", panel, TINY.replace(seed=52))
    c = reg.submit("carol", panel, TINY.replace(seed=53))
    assert a.started and b.started and not c.started and c.snapshot().queue_position == 1
    gate.release.set()
    assert a.wait(WAIT) and b.wait(WAIT) and c.wait(WAIT) and c.status == DONE


def test_a_registry_with_worker_processes_trains_the_same_model_as_one_without(panel):
    config = AUTO.replace(seed=61)
    reg = JobRegistry.for_server(ServerSettings(workers=2, max_jobs=1))
    try:
        assert isinstance(reg.executor, ProcessExecutor)
        job = reg.submit("alice", panel, config)
        assert job.wait(WAIT) and job.status == DONE
        snap = job.snapshot()
        assert snap.fraction == 1.0 and snap.done_epochs == snap.total_epochs
    finally:
        reg.shutdown()
    inline = fit(panel, config)
    days = np.arange(len(panel) - 14, len(panel))
    np.testing.assert_allclose(job.result.predict(panel, days), inline.predict(panel, days), rtol=1e-4, atol=1e-6)


def _niceness(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads niceness from /proc")
def test_workers_train_at_a_lower_priority_than_the_process_that_started_them(panel, pool):
    """The dashboard's pages must stay quick while every core trains: workers (and the fork server they
    come from) yield the CPU; the calling process keeps its priority."""
    from forecaster.run.executor import WORKER_NICENESS

    train_models(pool, panel, [TINY.replace(ensemble=2, epochs=1, seed=17)])  # the pool is up
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert pool.worker_pids and all(_niceness(pid) == max(mine, WORKER_NICENESS) for pid in pool.worker_pids)
    assert os.getpriority(os.PRIO_PROCESS, 0) == mine


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is Linux's")
def test_workers_come_from_a_fork_server_that_froze_the_collector_after_the_heavy_imports(panel, pool):
    """The fork server imports what every worker needs once, then freezes the garbage collector's view of
    it (fewer copied pages in the workers, no second collection of it all when it exits): a worker finds
    more objects frozen than importing torch alone creates (a freeze before the imports finds far fewer;
    a worker's own imports, in _init_worker, come after the fork and are not frozen)."""
    train_models(pool, panel, [TINY.replace(ensemble=2, epochs=1, seed=17)])  # the pool is up
    torch_alone = int(subprocess.run([sys.executable, "-c", "import gc, torch; print(len(gc.get_objects()))"],
                                     capture_output=True, text=True, check=True, timeout=WAIT).stdout)
    frozen = pool._pool.submit(eval, "__import__('gc').get_freeze_count()").result(timeout=WAIT)
    assert frozen > torch_alone


def test_where_there_is_no_fork_server_for_torch_the_workers_are_spawned_and_train_the_same(panel, monkeypatch):
    """macOS and Windows spawn the workers (each imports torch itself): the same networks come back."""
    import multiprocessing

    import forecaster.run.executor as executor_module

    monkeypatch.setattr(executor_module.sys, "platform", "darwin")
    assert executor_module._worker_context().get_start_method() == "spawn"
    monkeypatch.setattr(multiprocessing.context.ForkServerContext, "Process", None)  # never the fork server
    executor = ProcessExecutor(workers=2)
    try:
        config = TINY.replace(ensemble=2, epochs=2, seed=18)
        [spawned] = train_models(executor, panel, [config])
        assert executor.worker_pids
    finally:
        executor.shutdown()
    monkeypatch.undo()
    [inline] = train_models(InlineExecutor(), panel, [config])
    days = np.arange(len(panel) - 14, len(panel) + 1)
    np.testing.assert_allclose(spawned.predict(panel, days), inline.predict(panel, days), rtol=1e-6)


FORK_SERVER_CHILD = """
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
from forecaster.run.executor import ProcessExecutor
executor = ProcessExecutor(workers=2)
before = signal.getsignal(signal.SIGINT)  # Python's handler; SIG_IGN when started in a shell's background
executor.start_fork_server()  # as the command line does before it reads the CSV
pid = executor._fork_server
assert signal.getsignal(signal.SIGINT) is before  # put back in this process
with open(f"/proc/{pid}/status") as f:  # the fork server ignores Ctrl-C (bit 2 of its ignored set)
    assert int(next(line for line in f if line.startswith("SigIgn:")).split()[1], 16) & 1 << (signal.SIGINT - 1)
executor.shutdown(wait=False)  # the CSV was refused: no pool was made
_, status = os.waitpid(pid, 0)  # ended at once, not seconds later when its imports are done
print(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is Linux's")
def test_a_fork_server_started_ahead_ignores_ctrl_c_and_ends_with_a_shutdown_that_made_no_pool():
    """The command line starts the fork server before it reads the CSV: a refused CSV must not leave it
    importing torch (and holding the command's output open) after the command is done."""
    res = subprocess.run([sys.executable, "-c", FORK_SERVER_CHILD, str(Path(__file__).resolve().parents[2])],
                         capture_output=True, text=True, timeout=WAIT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "True"


def test_drivers_reach_the_worker_processes_and_give_the_same_model(pool):
    """A fit's drivers go with every task to the workers (DriverTasks) and come back with the forecaster,
    without the workers sending the driver values back."""
    from forecaster.config import IngestOptions
    from forecaster.data.demo import promotion_demo_long
    from forecaster.data.ingest import load_panel

    data = promotion_demo_long(n_products=3, days=150, seed=2).to_csv(index=False).encode("utf-8")
    ingested = load_panel(data, IngestOptions(drivers=("promo", "price")))
    inline = fit(ingested.panel, AUTO, drivers=ingested.drivers)
    parallel = fit(ingested.panel, AUTO, executor=pool, drivers=ingested.drivers)
    assert parallel.drivers is ingested.drivers and parallel.driver_spec == inline.driver_spec
    days = np.arange(len(ingested.panel) - 14, len(ingested.panel))
    np.testing.assert_allclose(parallel.predict(ingested.panel, days), inline.predict(ingested.panel, days),
                               rtol=1e-4, atol=1e-6)
