"""forecaster.run.jobs: the training thread, cancel, errors, owners and reuse of finished results."""
from __future__ import annotations

import dataclasses
import math
import threading
import time

import pandas as pd
import pytest

from forecaster import DataError, ForecastConfig, ForecasterError
from forecaster.data.demo import demo_panel
from forecaster.run.jobs import (CANCELLED, DONE, FAILED, JobRegistry, JobSnapshot, TrainingJob,
                             panel_fingerprint, training_key)
from conftest import TINY as SHARED_TINY
from forecaster import fit
from forecaster.model.trained import EpochRecord

TINY = SHARED_TINY.replace(batch_size=64)  # the shared tiny settings
WAIT = 120  # generous: other CPU-heavy jobs may share this machine


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return demo_panel(n_products=4, days=160)


def fit_after(release: threading.Event):
    """The real fit, started only once ``release`` is set (to hold jobs in the running state)."""
    def waits(panel, config, callback=None, cancel=None):
        release.wait(WAIT)
        return fit(panel, config, callback=callback, cancel=cancel)
    return waits


class CountingFit:
    """The real fit, counting calls (to prove a result was reused, not retrained)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, panel, config, callback=None, cancel=None):
        self.calls += 1
        return fit(panel, config, callback=callback, cancel=cancel)


def test_job_trains_in_a_thread_and_records_every_epoch(panel):
    job = TrainingJob(panel, TINY).start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == DONE and snap.error is None
    assert [r.done_epochs for r in snap.history] == [1, 2, 3]
    assert snap.fraction == 1.0 and snap.seconds_left == 0.0
    assert job.result is not None and job.result.products == list(panel.columns)


def test_cancel_keeps_the_best_model_so_far(panel):
    def cancel_after_two(panel, config, callback=None, cancel=None):
        def on_epoch(record):
            callback(record)
            if record.done_epochs == 2:
                cancel.set()
        return fit(panel, config, callback=on_epoch, cancel=cancel)

    job = TrainingJob(panel, TINY.replace(epochs=50), fit_fn=cancel_after_two).start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == CANCELLED
    assert snap.done_epochs == 2
    assert job.result is not None and job.result.cancelled and len(job.result.networks) == 1


def test_cancel_from_outside_stops_a_running_job(panel):
    started = threading.Event()

    def slow(panel, config, callback=None, cancel=None):
        def on_epoch(record):
            callback(record)
            started.set()
            time.sleep(0.05)
        return fit(panel, config, callback=on_epoch, cancel=cancel)

    job = TrainingJob(panel, TINY.replace(epochs=1000), fit_fn=slow).start()
    assert started.wait(WAIT)
    assert job.snapshot().running
    job.cancel()
    assert job.wait(WAIT)
    assert job.status == CANCELLED and job.snapshot().done_epochs < 1000


def test_cancel_before_the_first_epoch_says_there_is_no_model(panel):
    def cancelled_at_once(panel, config, callback=None, cancel=None):
        cancel.set()
        return fit(panel, config, callback=callback, cancel=cancel)

    job = TrainingJob(panel, TINY, fit_fn=cancelled_at_once).start()
    assert job.wait(WAIT)
    assert job.status == CANCELLED and job.result is None
    assert "no model" in job.snapshot().error


def test_user_error_in_the_thread_is_reported_with_its_message(panel):
    def bad_data(*args, **kwargs):
        raise DataError("Column 'date' has 3 cells that are not dates.")

    job = TrainingJob(panel, TINY, fit_fn=bad_data).start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FAILED and snap.error == "Column 'date' has 3 cells that are not dates."
    assert snap.error_detail is None and job.result is None


def test_unexpected_exception_in_the_thread_is_reported_with_a_traceback(panel):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    job = TrainingJob(panel, TINY, fit_fn=bug).start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FAILED
    assert "ZeroDivisionError" in snap.error and "Traceback" in snap.error_detail


def test_registry_reuses_the_result_of_the_same_data_and_settings(panel):
    counting = CountingFit()
    reg = JobRegistry(fit_fn=counting)
    first = reg.submit("alice", panel, TINY)
    assert first.wait(WAIT) and first.status == DONE
    again = reg.submit("alice", panel.copy(), TINY)  # equal content, another object
    assert again.wait(1) and again.status == DONE
    assert counting.calls == 1
    assert again.snapshot().reused and again.result is first.result
    other_settings = reg.submit("alice", panel, TINY.replace(seed=1))
    assert other_settings.wait(WAIT)
    assert counting.calls == 2


def test_another_session_training_the_same_data_trains_its_own_and_learns_nothing_of_the_first(panel):
    """Reusing alice's result for bob told bob that someone had trained the same file (issue 24)."""
    counting = CountingFit()
    reg = JobRegistry(fit_fn=counting)
    first = reg.submit("alice", panel, TINY)
    assert first.wait(WAIT) and first.status == DONE
    bobs = reg.submit("bob", panel.copy(), TINY)
    assert bobs.wait(WAIT) and bobs.status == DONE
    assert counting.calls == 2 and not bobs.snapshot().reused and bobs.result is not first.result


def test_registry_does_not_reuse_a_cancelled_run(panel):
    counting = CountingFit()
    reg = JobRegistry(fit_fn=counting)
    job = reg.submit("alice", panel, TINY.replace(epochs=200))
    job.cancel()
    assert job.wait(WAIT) and job.status == CANCELLED
    again = reg.submit("alice", panel, TINY.replace(epochs=200))
    assert again is not job and not again.snapshot().reused
    again.cancel()
    assert again.wait(WAIT) and counting.calls == 2


def test_pressing_train_twice_while_running_does_not_start_a_second_thread(panel):
    release = threading.Event()
    reg = JobRegistry(fit_fn=fit_after(release))
    first = reg.submit("alice", panel, TINY)
    second = reg.submit("alice", panel, TINY)
    release.set()
    assert second is first
    assert first.wait(WAIT)


def test_two_owners_never_see_each_others_jobs(panel):
    reg = JobRegistry()
    a = reg.submit("alice", panel, TINY)
    b = reg.submit("bob", panel, TINY.replace(seed=3))
    assert reg.get("alice", a.job_id) is a
    assert reg.get("bob", a.job_id) is None
    assert reg.get("alice", b.job_id) is None
    assert reg.latest("bob") is b and reg.jobs("alice") == [a]
    assert reg.get("alice", None) is None
    a.wait(WAIT), b.wait(WAIT)


def test_registry_evicts_the_oldest_finished_jobs_of_an_owner(panel):
    reg = JobRegistry(max_jobs_per_owner=2)
    jobs = []
    for seed in range(3):
        job = reg.submit("alice", panel, TINY.replace(epochs=1, seed=seed))
        job.wait(WAIT)
        jobs.append(job)
    assert reg.get("alice", jobs[0].job_id) is None
    assert [j.job_id for j in reg.jobs("alice")] == [jobs[1].job_id, jobs[2].job_id]


def test_a_new_run_cancels_the_owners_running_one_but_not_another_owners(panel):
    release = threading.Event()
    reg = JobRegistry(fit_fn=fit_after(release))
    first = reg.submit("alice", panel, TINY)
    bobs = reg.submit("bob", panel, TINY)
    second = reg.submit("alice", panel, TINY.replace(seed=1))
    release.set()
    assert first.wait(WAIT) and second.wait(WAIT) and bobs.wait(WAIT)
    assert first.status == CANCELLED and second.status == DONE and bobs.status == DONE


def test_a_backtest_runs_beside_the_owners_model_and_a_refresh_reopens_the_model(panel):
    """Issue 25: a backtest replaced (cancelled) the session's model; now only a run of the same kind does."""
    release = threading.Event()
    reg = JobRegistry(fit_fn=fit_after(release), max_running=2)
    model = reg.submit("alice", panel, TINY)
    backtest = reg.submit("alice", panel, TINY.replace(backtest_origins=2), kind="backtest")
    assert reg.latest("alice") is model and reg.latest("alice", "backtest") is backtest
    again = reg.submit("alice", panel, TINY.replace(backtest_origins=2, seed=3), kind="backtest")
    release.set()
    assert model.wait(WAIT) and backtest.wait(WAIT) and again.wait(WAIT)
    assert model.status == DONE and backtest.status == CANCELLED and again.status == DONE
    assert again.result.backtest is not None and model.result.backtest is None
    reg.shutdown()


def test_finished_jobs_nobody_asked_for_are_dropped_after_the_idle_limit(panel):
    reg = JobRegistry(max_idle_seconds=60)
    old = reg.submit("alice", panel, TINY.replace(epochs=1))
    assert old.wait(WAIT)
    reg._jobs[old.job_id].last_seen -= 120  # two minutes without a look
    fresh = reg.submit("bob", panel, TINY.replace(epochs=1, seed=2))
    assert fresh.wait(WAIT)
    assert reg.get("alice", old.job_id) is None and reg.get("bob", fresh.job_id) is fresh


def test_settings_the_data_cannot_take_are_rejected_before_a_thread_starts(panel):
    reg = JobRegistry()
    with pytest.raises(DataError, match="need at least"):
        reg.submit("alice", panel, TINY.replace(test_days=150))
    assert reg.jobs("alice") == []
    with pytest.raises(DataError, match="need at least"):
        reg.submit("alice", panel, TINY.replace(val_days=200))
    with pytest.raises(ForecasterError, match="validation days"):  # the recommended model chooses on them
        reg.submit("alice", panel, TINY.replace(model="auto", val_days=0))
    assert reg.jobs("alice") == []


def test_training_key_follows_content_and_settings(panel):
    assert panel_fingerprint(panel) == panel_fingerprint(panel.copy())
    changed = panel.copy()
    changed.iloc[5, 1] += 1
    assert panel_fingerprint(changed) != panel_fingerprint(panel)
    renamed = panel.rename(columns={panel.columns[0]: "Something else"})
    assert panel_fingerprint(renamed) != panel_fingerprint(panel)
    assert training_key(panel, TINY) == training_key(panel.copy(), ForecastConfig(**TINY.to_dict() | {"lags": (1, 2, 3, 4, 5, 6, 7)}))
    assert training_key(panel, TINY) != training_key(panel, TINY.replace(learning_rate=0.01))


def test_the_recommended_model_reports_progress_over_all_candidates(panel):
    config = TINY.replace(model="auto", epochs=2)
    job = TrainingJob(panel, config).start()
    assert job.snapshot().total_epochs >= 2 * 2  # planned before the first epoch: every candidate network
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == DONE and snap.fraction == 1.0
    assert snap.done_epochs == snap.total_epochs == snap.history[-1].total_epochs
    assert job.result.selection is not None and job.result.selection_reason


def test_snapshot_estimates_time_left_from_the_mean_epoch_time():
    records = tuple(EpochRecord(member=0, epoch=e, epochs=10, train_loss=1.0, val_loss=1.0, test_loss=1.0,
                                elapsed=2.0 * e, total_epochs=10, done_epochs=e) for e in (1, 2))
    snap = JobSnapshot("j", "running", records, total_epochs=10, elapsed=4.0)
    assert snap.fraction == pytest.approx(0.2)
    assert snap.seconds_left == pytest.approx(16.0)  # 2 s per epoch run, 8 planned epochs left
    assert JobSnapshot("j", "running", (), 10, 0.0).seconds_left is None


def test_time_left_counts_the_epochs_early_stopping_skipped_as_done_and_leaves_out_the_start_up():
    # the first network stopped after 2 of 10 epochs (the run counts all 10 as done); the second ran 1
    first = [EpochRecord(0, e, 10, 1.0, 1.0, 1.0, 2.0 * e, 20, e) for e in (1, 2)]
    second = [EpochRecord(0, 1, 10, 1.0, 1.0, 1.0, 2.0, 20, 11)]
    snap = JobSnapshot("j", "running", tuple(first + second), total_epochs=20, elapsed=6.0, first_epoch_at=2.0)
    assert snap.epochs_run == 3
    # 4 s of training for 11 planned epochs counted, 9 left: the next networks are expected to stop early too
    assert snap.seconds_left == pytest.approx(4.0 / 11 * 9)


# --- owners, abandoned jobs and the memory the registry holds --------------------------------------------
def test_only_an_issued_id_resumes_and_only_in_the_browser_it_was_issued_to():
    reg = JobRegistry()
    owner = reg.issue_owner("browser-a")
    assert reg.resume_owner(owner, "browser-a")
    assert not reg.resume_owner(owner, "browser-b")  # a shared link, opened in another browser
    assert not reg.resume_owner("0" * 32, "browser-a")  # an id chosen by whoever wrote the link
    assert reg.issue_owner("browser-a") != owner
    cookieless = reg.issue_owner("")  # a browser that holds no cookie: nothing binds the id to it
    assert not reg.resume_owner(cookieless, "")  # so no browser, cookie-less or not, gets it back


def test_a_job_nobody_looks_at_stops_by_itself_and_says_why(panel):
    reg = JobRegistry(abandon_after=0.5)
    job = reg.submit("alice", panel, TINY.replace(epochs=500, patience=0, seed=31))
    deadline = time.time() + WAIT
    while job.snapshot().done_epochs < 1 and time.time() < deadline:
        reg.get("alice", job.job_id)  # the page polls while the tab is open
        time.sleep(0.05)
    assert job.wait(WAIT)  # then nobody asks any more
    snap = job.snapshot()
    assert snap.status == CANCELLED and snap.done_epochs < 500 and "nobody looked" in snap.error
    assert job.result is not None and job.result.networks  # what it learned is kept


def test_finished_jobs_are_evicted_oldest_first_beyond_the_byte_budget(panel):
    one = int(panel.memory_usage(index=True).sum())
    reg = JobRegistry(fit_fn=CountingFit(), max_bytes=2 * one + one // 2)
    jobs = []
    for seed in range(4):
        jobs.append(reg.submit(f"owner{seed}", panel, TINY.replace(epochs=1, seed=40 + seed)))
        assert jobs[-1].wait(WAIT)
    assert reg.submit("owner9", panel, TINY.replace(epochs=1, seed=40)).wait(WAIT)
    reg.submit("owner9", panel, TINY.replace(epochs=1, seed=99)).cancel()  # any submit evicts
    kept = [seed for seed, job in enumerate(jobs) if reg.get(f"owner{seed}", job.job_id) is not None]
    assert kept == [3]  # the two newest of all (owner9's and owner3's) fit in 2.5 panels


@pytest.mark.parametrize("allocate", [lambda: __import__("torch").empty(10**14),  # torch's CPU allocator
                                      lambda: __import__("numpy").empty(10**15)])  # numpy's MemoryError
def test_a_training_that_runs_out_of_memory_fails_readably_and_the_next_one_trains(panel, allocate):
    """Issue 24: a run the estimate let through but the machine could not hold fails its job with a sentence
    naming what to lower (not "Training failed unexpectedly (RuntimeError)"), and the server goes on."""
    calls = []

    def greedy_then_fine(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            allocate()  # a real allocation the machine refuses (nothing is held)
        return fit(*args, **kwargs)

    registry = JobRegistry(fit_fn=greedy_then_fine)
    try:
        job = registry.submit("alice", panel, TINY)
        assert job.wait(WAIT)
        snap = job.snapshot()
        assert snap.status == FAILED and snap.error.startswith("Training ran out of memory")
        assert "batch size" in snap.error and snap.error_detail is None
        nxt = registry.submit("alice", panel, TINY.replace(seed=5))
        assert nxt.wait(WAIT) and nxt.status == DONE
    finally:
        registry.shutdown()


def _record(done_offset: int, epoch: int, val: float, epochs: int = 40, total: int = 240) -> EpochRecord:
    return EpochRecord(0, epoch, epochs, 1.0, val, 1.0, 0.0, total, done_offset + epoch)


def test_progress_counts_networks_and_expects_early_stopping_not_the_planned_maximum():
    """Issue 25: 'epoch 1 of at most 240' with 40 in the box; 212 of 240 then 'Finished after 162 epochs';
    '10 min 30 s left at most' for a 37 s job. Records arrive one network after another (a network starts
    where the epoch count starts again), and each network's early stopping is replayed from its losses."""
    first = [_record(0, e, 1.0 / e if e <= 10 else 0.1) for e in range(1, 19)]  # best at 10, stopped at 18
    second = [_record(40, e, 1.0 / e) for e in range(1, 6)]  # still improving at epoch 5
    history = first + second
    history = [dataclasses.replace(r, done_epochs=18 + r.epoch) if r in second else r for r in history]
    snap = JobSnapshot("j", "running", tuple(history), 240, elapsed=25.0, epochs_per_network=40, patience=8,
                       min_improvement=0.005, first_epoch_at=2.0)
    nets = snap.networks()
    assert [(n.epochs, n.stopped) for n in nets] == [(18, True), (5, False)]
    assert nets[1].expected == 13  # its best so far (5) plus patience
    assert snap.networks_planned == 6
    # 8 more epochs for the running one, 4 networks not started at the finished one's 18 each
    assert snap.epochs_left() == 8 + 4 * 18
    # 23 s of training (start-up left out) for 23 planned epochs counted; 217 planned epochs left, of which
    # the networks seen so far are expected to train (18 + 18) / (2 x 40): the running one at least as long
    # as the finished one ran
    assert snap.seconds_left == pytest.approx(23.0 / 23 * 217 * 36 / 80)
    assert 0.2 < snap.fraction < 0.3  # 23 of about 103 epochs, not 45 of 240
    done = JobSnapshot("j", DONE, tuple(history), 240, 30.0, epochs_per_network=40, patience=8)
    assert done.fraction == 1.0 and done.seconds_left == 0.0


def test_a_network_without_validation_days_is_expected_to_run_to_its_last_epoch():
    """Review: with no validation loss the loop never stops early; the estimate assumed it would."""
    flat = [EpochRecord(0, e, 100, 1.0, None, 1.0, 0.0, 100, e) for e in range(1, 30)]
    snap = JobSnapshot("j", "running", tuple(flat), 100, elapsed=29.0, epochs_per_network=100, patience=8)
    assert snap.networks()[0].expected == 100 and snap.epochs_left() == 71


def test_time_left_hedges_before_any_network_stopped_and_paces_each_kind_of_network():
    """Measured (bench/progress.py): the least a running network's early stopping allows made a 40-epoch
    favorita network of 37 look like 11 epochs, and the first candidate's slow epochs priced the fast
    multi-output networks' (5-25 times shorter) as its own. Before any network stopped a running one is
    expected at the geometric mean of that least and all its epochs; the epochs to come are priced by each
    planned network's steps per epoch against those seen."""
    running = [_record(0, e, 1.0 / e) for e in range(1, 4)]  # still improving at epoch 3: at least 3 + 8
    snap = JobSnapshot("j", "running", tuple(running), 240, elapsed=5.0, epochs_per_network=40, patience=8,
                       min_improvement=0.005, first_epoch_at=2.0)
    assert snap.seconds_left == pytest.approx(3.0 / 3 * 237 * math.sqrt(11 * 40) / 40)
    priced = dataclasses.replace(snap, network_costs=(60.0, 60.0, 60.0, 2.0, 2.0, 2.0))
    assert priced.seconds_left == pytest.approx(snap.seconds_left * 31 / 60)  # mean of all six over the one seen
    plain = dataclasses.replace(snap, network_costs=(5.0,) * 6)
    assert plain.seconds_left == pytest.approx(snap.seconds_left)


def test_a_run_prices_each_planned_network_by_its_steps_per_epoch():
    from forecaster.model.recommend import network_costs

    costs = network_costs(ForecastConfig(), 374, 25)  # 2 candidates x 3 members: global, then multi-output
    assert len(costs) == 6 and costs[:3] == (costs[0],) * 3 and costs[3:] == (costs[3],) * 3
    assert costs[0] > 10 * costs[3]  # a global epoch holds products times more samples
    assert len(network_costs(ForecastConfig(refit=True), 374, 25)) == 2 + 3
