"""The process-wide job registry (st.cache_resource) and the live-progress fragment.

The registry outlives reruns, page switches and browser refreshes; each browser session asks it with
its own owner id (ui.state.OWNER), so it only ever sees its own jobs. It owns the server's training
worker processes and its queue (FORECASTER_WORKERS, FORECASTER_MAX_JOBS: forecaster.config.ServerSettings).
The training thread never calls Streamlit: the fragment below polls ``job.snapshot()`` every half second
and redraws.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from forecaster.io import charts
from forecaster.config import ForecastConfig
from forecaster.data.drivers import DriverPanel
from forecaster.data.ingest import ColumnMapping, IngestResult
from forecaster.errors import ForecasterError
from forecaster.run.jobs import BACKTEST, CANCELLED, DONE, FAILED, JobRegistry, JobSnapshot, TrainingJob

from forecaster.text import markdown

from . import runs, state

POLL_SECONDS = 0.5
QUEUED_POLL_SECONDS = 2.0
SIDEBAR_POLL_SECONDS = 5.0
STATUS_TEXT = {"queued": "Starting…", "running": "Training…", DONE: "Finished", CANCELLED: "Cancelled",
               FAILED: "Failed"}


@st.cache_resource(show_spinner=False)
def registry() -> JobRegistry:
    """The server's registry; every training that ends done is kept in the run store (ui.runs)."""
    return JobRegistry.for_server(on_finished=runs.keeper(runs.opener()))


def warm_up() -> None:
    """Start the training workers while the user fills in the form (a no-op once they run)."""
    registry().warm_up()


def adopt_owner() -> None:
    """Once per browser session: resume the session named in the URL if the registry issued that id to this
    very browser, else get a new id. A link with a chosen or someone else's id opens an empty session."""
    if state.OWNER in st.session_state:
        return
    browser = state.browser_key()
    from_url = st.query_params.get(state.OWNER_PARAM, "")
    reg = registry()
    st.session_state[state.OWNER] = from_url if reg.resume_owner(from_url, browser) else reg.issue_owner(browser)


def start(panel: pd.DataFrame, config: ForecastConfig, label: str, meta: dict | None = None,
          drivers: DriverPanel | None = None) -> TrainingJob:
    """Submit a run for this session (raises ForecasterError for settings the data cannot take)."""
    meta = {**(meta or {}), runs.BROWSER: state.browser_key()}  # the kept run's owner: this browser
    job = registry().submit(state.owner(), panel, config, label=label, meta=meta, drivers=drivers)
    state.set_job_id(job.job_id)
    return job


def start_on_current(ingested: IngestResult, config: ForecastConfig) -> TrainingJob:
    """A run on the session's current dataset (its panel, catalog and drivers as read with the current
    choices), with what a refresh and the results pages need to know about that data."""
    ds = state.dataset()
    return start(ingested.panel, config, label=ds.name,
                 meta={"dataset": ds, "ingest": state.ingest_options(), "catalog": ingested.catalog,
                       "holidays_chosen": state.holidays_chosen()}, drivers=ingested.drivers)


def start_backtest(job: TrainingJob, origins: int) -> TrainingJob:
    """A rolling backtest of ``job``'s model as a job of its own, beside it: the model, Evaluate's scores and
    Forecast stay as they are while it runs (a backtest never replaces the session's model)."""
    backtest = registry().submit(state.owner(), job.panel, job.config.replace(backtest_origins=origins),
                                 label=job.label, meta={**job.meta, "for_job": job.job_id}, kind=BACKTEST,
                                 drivers=job.drivers)
    state.put(state.BACKTEST_JOB, backtest.job_id)
    return backtest


def backtest_of(job: TrainingJob) -> TrainingJob | None:
    """The session's backtest job of ``job``'s model, if one was started (running or finished)."""
    backtest = registry().get(state.owner(), state.get(state.BACKTEST_JOB))
    return backtest if backtest is not None and backtest.meta.get("for_job") == job.job_id else None


def current() -> TrainingJob | None:
    """The job this session is looking at, if it still exists and is this session's (a share link's session:
    the shared run, while the link is live)."""
    if runs.read_only():
        return runs.shared_job()
    return registry().get(state.owner(), state.job_id())


def keep_working_data() -> None:
    """Tell the registry what this session works on (its current dataset and how it is read, the results
    pages' settings), for a refresh. Pages call it again after a setting changes: a refresh comes unannounced."""
    ds = state.dataset()
    if ds is not None and state.bound():
        view = state.view()
        future = view.get(state.FUTURE)  # (job id, Dataset) of uploaded future values: its bytes count too
        registry().keep_working_data(state.owner(), (ds, state.ingest_options(), state.holidays_chosen(), view),
                                     len(ds.data) + (len(future[1].data) if future else 0))


def restore_after_refresh() -> None:
    """After a browser refresh (new session, same owner id from the URL): the data the session last worked on
    (an upload not trained on yet included), and its latest job."""
    kept = registry().working_data(state.owner()) if state.dataset() is None else None
    if kept is not None:
        ds, options, chosen, view = kept
        state.set_view(view)
        state.set_dataset(ds)
        state.set_ingest_options(options)
        state.set_holidays_for(ds.digest)  # the calendar as it stood: not a new suggestion
        state.set_holidays_chosen(chosen)
    if state.job_id() is None:
        job = registry().latest(state.owner())
        if job is not None:
            state.set_job_id(job.job_id)
            state.set_config(job.config)  # the run's settings, its holiday calendar among them
            if kept is None and job.meta.get("dataset") is not None:
                state.set_dataset(job.meta["dataset"])
                if job.meta.get("ingest") is not None:
                    state.set_ingest_options(job.meta["ingest"])
                state.set_holidays_for(job.meta["dataset"].digest)  # chosen for this file: not a new suggestion
                state.set_holidays_chosen(bool(job.meta.get("holidays_chosen", False)))


def status_line(snap: JobSnapshot) -> str:
    """The run's progress in plain numbers: networks done of those planned, the current one's epoch, the time
    left (estimated with early stopping, not the planned maximum); or how it ended."""
    if snap.queued:
        return (f"Queued, position {snap.queue_position} of {snap.queue_length}: it starts when a training "
                "slot of this server is free.")
    text = STATUS_TEXT.get(snap.status, snap.status)
    nets, planned = snap.networks(), snap.networks_planned
    if snap.running and not snap.history:
        text += " the first network's first epoch is under way" + (f" ({planned} networks planned)" if planned else "")
    elif snap.running:
        done = sum(n.stopped for n in nets)
        current = snap.history[-1]  # the network whose curve is drawn
        text += (f" {done} of {planned} networks done; the current one is at epoch {current.epoch} of at most "
                 f"{current.epochs}" if planned else f" epoch {snap.done_epochs} of at most {snap.total_epochs}")
        left = snap.seconds_left
        if left is not None:
            text += f"; about {format_seconds(left)} left"
    elif snap.status in (DONE, CANCELLED) and snap.history:
        text += f" after {len(nets)} networks ({snap.epochs_run} epochs) in {format_seconds(snap.elapsed)}"
        if snap.reused:
            text = "Finished (reused an identical earlier run, nothing retrained)"
    return text


def origin_progress(history, origins: int) -> str:
    """Each cut-off of a running backtest in words: the epochs its networks trained so far, of the most they
    may (early stopping ends most sooner); cut-offs train side by side on a worker pool."""
    per_run = history[-1].total_epochs // origins if history else 0
    trained = {k: sum(r.origin == k for r in history) for k in range(origins)}
    def one(k: int) -> str:
        weeks = f"{k} week{'s' if k > 1 else ''} earlier" if k else "this test span"
        return f"cut-off {k + 1} ({weeks}): " + (f"{trained[k]} of at most {per_run} epochs" if trained[k] or k == 0
                                                 else "waiting")
    return " · ".join(one(k) for k in range(origins))


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def render_progress(job: TrainingJob) -> JobSnapshot:
    """Progress bar, status text and loss curve for the job's current state."""
    snap = job.snapshot()
    st.progress(snap.fraction, text=status_line(snap))
    best = None
    result = job.result
    if (result is not None and len(result.best_epochs) == 1 and result.best_epochs[0]
            and result.selection is None):  # with candidates the x axis is shared
        best = result.best_epochs[0]
    figure = _loss_figure(job.job_id, snap.done_epochs, snap.status, best, snap.total_epochs, snap.history)
    st.plotly_chart(figure, key=f"loss_{job.job_id}", width="stretch")
    return snap


@st.cache_resource(max_entries=32, show_spinner=False)
def _loss_figure(job_id: str, done_epochs: int, status: str, best: int | None, total: int,
                 _history: tuple) -> go.Figure:
    """Built once per new epoch, not on every poll (the figure only changes when an epoch ends)."""
    return charts.loss_curve(_history, total, best)


def _progress(job_id: str, waiting: bool) -> None:
    job = registry().get(state.owner(), job_id)
    if job is None:
        st.rerun()
    if waiting:  # its place in the line, and nothing to chart yet
        snap = job.snapshot()
        st.progress(0.0, text=status_line(snap))
    else:
        snap = render_progress(job)
    if st.button("Cancel training", help="Stops after the current batch and keeps the best model so far; a "
                 "queued training never starts.", key="cancel_training", icon=":material/stop_circle:"):
        job.cancel()
        st.toast("Cancelled before it started." if snap.queued else "Cancelling: the best model so far is kept.")
    if snap.finished or (waiting and not snap.queued):  # ended, or its turn came: the page redraws once
        st.rerun()


@st.fragment(run_every=POLL_SECONDS)
def live_progress(job_id: str) -> None:
    """Redraws by itself while the job runs; one full rerun when it ends, then it is no longer called."""
    _progress(job_id, waiting=False)


@st.fragment(run_every=QUEUED_POLL_SECONDS)
def queued_progress(job_id: str) -> None:
    """A waiting job's place in the line, redrawn less often than a running job's progress (several
    waiting pages must not take the server's time from the pages people are using); one full rerun when
    its turn comes."""
    _progress(job_id, waiting=True)


def sidebar_status(job: TrainingJob) -> JobSnapshot:
    snap = job.snapshot()
    line = f"Run {job.meta['opened'][:8]}, opened from the Runs page" if job.meta.get("opened") else status_line(snap)
    st.caption(f"{line}  \non {markdown(job.label or 'this data')}")
    if snap.running:
        st.progress(snap.fraction)
    return snap


@st.fragment(run_every=POLL_SECONDS)
def backtest_progress(job_id: str) -> None:
    """Evaluate's view of a running backtest: its progress and a cancel button; one full rerun when it ends."""
    job = registry().get(state.owner(), job_id)
    if job is None:
        st.rerun()
    snap = job.snapshot()
    st.progress(snap.fraction, text=f"Rolling backtest: {status_line(snap)}")
    origins = job.config.backtest_origins
    if snap.running and origins > 1:
        st.caption(origin_progress(snap.history, origins))
    st.caption("It trains the model again at each cut-off, beside this model: Evaluate and Forecast stay usable.")
    if st.button("Cancel the backtest", key="cancel_backtest", icon=":material/stop_circle:"):
        job.cancel()
    if snap.finished:
        st.rerun()


@st.fragment(run_every=SIDEBAR_POLL_SECONDS)
def sidebar_backtest(job_id: str) -> None:
    """A running backtest in the sidebar, on every page: its polls keep it alive while the tab is open."""
    job = registry().get(state.owner(), job_id)
    if job is None:
        return
    snap = job.snapshot()
    st.caption(f"Rolling backtest: {status_line(snap)}")
    if snap.running:
        st.progress(snap.fraction)
    elif snap.finished:
        st.rerun()


@st.fragment(run_every=SIDEBAR_POLL_SECONDS)
def sidebar_progress(job_id: str) -> None:
    """The sidebar's job status while it trains, on every page: each poll also marks the job as seen, so it
    keeps running while its tab is open and stops by itself once the tab has been gone for a while."""
    job = registry().get(state.owner(), job_id)
    if job is None or sidebar_status(job).finished:
        st.rerun()


def mapping_of(job: TrainingJob) -> ColumnMapping:
    """How the file ``job`` trained on was read (its date and product columns name a future file's)."""
    from . import cached

    ds, options = job.meta.get("dataset"), job.meta.get("ingest")
    if ds is None or options is None:
        return ColumnMapping("long", "date", ("product",))
    return cached.mapping(ds.digest, ds.data, options)


def dayfirst_of(job: TrainingJob) -> bool | None:
    """Whether the file ``job`` trained on was read day-first (a future file's dates are read the same way)."""
    from . import cached

    ds, options = job.meta.get("dataset"), job.meta.get("ingest")
    return None if ds is None or options is None else cached.ingest(ds.digest, ds.data, options).report.dayfirst


def catalog_of(job: TrainingJob) -> pd.DataFrame | None:
    """The product names and key columns of the data ``job`` trained on (None: the file had neither)."""
    return job.meta.get("catalog")


def for_other_data(job: TrainingJob) -> bool:
    """Whether ``job`` trained on other data (another file, or other column choices) than the session's
    current dataset: its results are then not the current data's."""
    ds, trained_on = state.dataset(), job.meta.get("dataset")
    if ds is None or trained_on is None:
        return False
    return ds.digest != trained_on.digest or job.meta.get("ingest") != state.ingest_options()


def stale_notice(job: TrainingJob) -> None:
    """At the top of a results page: say when its results are another file's, with one button that trains on
    the current data (the current settings) and goes to the Train page."""
    if not for_other_data(job):
        return
    ds = state.dataset()
    same_file = job.meta["dataset"].digest == ds.digest
    before = job.meta.get("ingest")
    only_drivers = before is not None and dataclasses.replace(before, drivers=()) == \
        dataclasses.replace(state.ingest_options(), drivers=())
    changed = "the drivers" if only_drivers else "the column choices"
    st.warning(f"These results are for **{markdown(job.label)}**" + (
        f" as it was read before you changed {changed}" if same_file else "") +
        f", not for the current data, **{markdown(ds.name)}**. Train on the current data to see its results.")
    if st.button(f"Train on {markdown(ds.name)}", type="primary", icon=":material/model_training:",
                 key="train_current"):
        from . import cached

        try:
            ingested = cached.current_ingest()
            start_on_current(ingested, state.config())
        except ForecasterError as exc:
            st.error(markdown(exc))
        else:
            st.switch_page("pages/train.py")


def require_trained():
    """The session's current job and its trained model, or stop the page with a pointer to what fixes it."""
    job = current()
    trained = job.result if job is not None else None
    if trained is None:
        if state.dataset() is None:
            st.info("No data and no trained model yet.")
            st.page_link("pages/home.py", label="Start with the demo data on Home", icon=":material/home:")
        elif job is not None and job.snapshot().running:
            st.info("Training is still running.")
        else:
            st.info("No trained model yet.")
        st.page_link("pages/train.py", label="Go to the Train page", icon=":material/model_training:")
        st.stop()
    stale_notice(job)
    return job, trained
