"""The run store in the dashboard: one opener per server process (st.cache_resource), every finished training
kept in it (from the training thread, through the library), a kept run reopened as this session's job, and
the read-only view a share link opens."""
from __future__ import annotations

import logging

import streamlit as st

from forecaster.errors import ForecasterError
from forecaster.io.store import RunStore, StoreOpener, StoredRun

from . import state

log = logging.getLogger(__name__)

SHARE_PARAM = "share"  # query parameter of a read-only share link
SHARED_TOKEN = "shared_token"  # session key: the token of the link this session came through (read-only then)
BROWSER = "browser"  # a job's meta: the key of the browser that trained it (the run's owner in the store)
NO_LINK = "This share link does not open a run: it was revoked, the run was deleted, or the link is wrong."


@st.cache_resource(show_spinner=False)
def opener() -> StoreOpener:
    """The server's run store opener (FORECASTER_HOME, FORECASTER_DB_URL), shared with the training threads."""
    return StoreOpener()


def store() -> RunStore:
    """The open run store, or a ForecasterError saying why not (tried again on the next call)."""
    return opener().get()


def keeper(run_opener: StoreOpener):
    """What the job registry calls when a training ends done, on the training thread: keeps the run (scores,
    forecast, files, the upload) for the browser that trained it, through the library; never calls Streamlit.
    A store that cannot keep it says why in the job (the sidebar shows it); the results stay on the pages."""
    def keep(job) -> None:
        from forecaster.io.store import forecast_to_keep

        trained, dataset = job.result, job.meta.get("dataset")
        scored = prepare_pages(job)
        try:
            run = run_opener.get().add(
                trained, job.panel, scored, dataset=job.label,
                forecast=forecast_to_keep(trained, job.panel, job.meta.get("prepared")), catalog=job.meta.get("catalog"),
                upload=getattr(dataset, "data", None), ingest=job.meta.get("ingest"), source="dashboard",
                owner=job.meta.get(BROWSER) or None,
                extra={"demo": bool(getattr(dataset, "demo", False)),
                       "holidays_chosen": bool(job.meta.get("holidays_chosen"))})
        except ForecasterError as exc:  # a full or read-only disk, a database down
            log.error("%s", exc)
            job.meta["keep_error"] = f"{exc} The results stay on this session's pages."
            return
        job.meta["run_id"] = run.id
    return keep


def prepare_pages(job) -> "Evaluation":
    """What Evaluate and Forecast show first, computed on the training thread as the run ends (through the
    library; at 10,000 products the Forecast page's first view waited 11 s for it): the test-span scores, and
    the forecast pieces at the page's default horizon and lead time (and the run store's four weeks)."""
    from forecaster.errors import ForecasterError
    from forecaster.io.store import FORECAST_DAYS
    from forecaster.results.evaluation import evaluate
    from forecaster.results.forecasting import prepare

    scored = job.meta["evaluation"] = evaluate(job.result, job.panel)  # Evaluate shows these, not computed again
    try:
        job.meta["prepared"] = prepare(job.result, job.panel, (state.DEFAULT_HORIZON, FORECAST_DAYS),
                                       (state.DEFAULT_TOTAL_DAYS,))
    except ForecasterError:  # a forecast that needs the user (known-ahead drivers' future values): on the page
        pass
    return scored


def own_runs() -> list[StoredRun]:
    """The runs this browser trained and those of the command line, newest first (a browser without a key
    lists the command line's only)."""
    return store().list(owner=state.browser_key() or "")


def job_of_run(run: StoredRun):
    """A finished job holding a kept run (its Evaluate and Forecast as when it finished), their scores and
    forecast pieces computed here."""
    from forecaster.run.jobs import TrainingJob, training_key

    from . import cached

    files = store().files(run.id)
    meta = {"run_id": run.id, "opened": run.id, "catalog": files.catalog, "ingest": files.ingest,
            "holidays_chosen": bool(run.extra.get("holidays_chosen", False))}
    if files.upload is not None:
        meta["dataset"] = state.Dataset(run.dataset, cached.digest(files.upload), files.upload,
                                        demo=bool(run.extra.get("demo", False)))
    trained = files.trained
    job = TrainingJob.finished_with(trained, files.panel, trained.config,
                                    key=training_key(files.panel, trained.config, files.drivers), label=run.dataset,
                                    meta=meta, drivers=files.drivers)
    prepare_pages(job)  # its Evaluate and Forecast then draw at once, as after a training
    return job


def open_in_session(run: StoredRun, registry) -> None:
    """Reopen a kept run as this session's job and make its data, settings and calendar the session's."""
    job = registry.adopt(state.owner(), job_of_run(run))
    state.set_job_id(job.job_id)
    state.put(state.BACKTEST_JOB, None)
    ds = job.meta.get("dataset")
    if ds is not None:
        state.set_dataset(ds)
        state.set_holidays_for(ds.digest)  # the run's calendar stands: not a new suggestion
        if job.meta.get("ingest") is not None:
            state.set_ingest_options(job.meta["ingest"])
    state.set_config(job.config)
    state.set_holidays_chosen(bool(job.meta.get("holidays_chosen", False)))


@st.cache_resource(max_entries=8, ttl=3600, show_spinner="Opening the shared run…")
def _shared_job(run_id: str):
    """One loaded job per shared run for every viewer of its link (not in any session's registry: a viewer
    neither owns nor can resume it, and twenty viewers hold one copy)."""
    return job_of_run(store().get(run_id))


def read_only() -> bool:
    """Whether this session came through a share link: it sees that run and nothing else."""
    return st.session_state.get(SHARED_TOKEN) is not None


def shared_run() -> StoredRun | None:
    """The run this session's link opens, checked on every rerun (a revoked link stops at once)."""
    try:
        return store().by_token(st.session_state.get(SHARED_TOKEN) or "")
    except ForecasterError as exc:
        log.error("%s", exc)
        return None


def shared_job():
    """The job a share link's session shows, or None once the link no longer opens a run."""
    run = shared_run()
    return _shared_job(run.id) if run is not None else None


def adopt_share_link() -> str | None:
    """A ``?share=TOKEN`` link makes this a read-only session of that run. Returns the text to show instead
    of any page when the link opens nothing (unknown, revoked, a deleted or damaged run), else None."""
    token = st.query_params.get(SHARE_PARAM)
    if token and not read_only():
        st.session_state[SHARED_TOKEN] = token
    if not read_only():
        return None
    try:
        return None if shared_job() is not None else NO_LINK
    except ForecasterError as exc:  # its files were changed or removed: the details are the owner's
        log.error("shared run cannot be opened: %s", exc)
        return "The run behind this share link cannot be opened. Ask whoever shared it for a new link."
