"""The run store in the dashboard: one store per server process (st.cache_resource), every finished training
kept in it (from the training thread, through the library only), a kept run reopened as this session's job,
and the read-only view a share link opens."""
from __future__ import annotations

import logging

import streamlit as st

from forecaster.errors import ForecasterError
from forecaster.io.store import RunStore, StoredRun

from . import state

log = logging.getLogger(__name__)

SHARE_PARAM = "share"  # query parameter of a read-only share link
SHARED_RUN = "shared_run_id"  # session key: the run a share link opened (the session is read-only then)
STORE_ERROR = "The run store cannot be opened"


@st.cache_resource(show_spinner=False)
def store() -> RunStore | None:
    """The server's run store (FORECASTER_HOME, FORECASTER_DB_URL); None when it cannot be opened (the reason
    goes to the log and the Runs page says so): training still works, runs are just not kept."""
    try:
        return RunStore()
    except Exception as exc:  # noqa: BLE001 - a bad URL or an unreachable server must not stop the dashboard
        log.error("%s: %s", STORE_ERROR, exc)
        return None


def keeper(run_store: RunStore | None):
    """What the job registry calls when a training ends done, on the training thread: keeps the run (scores,
    forecast, files, the upload) through the library; never calls Streamlit."""
    def keep(job) -> None:
        if run_store is None:
            return
        from forecaster.io.store import forecast_to_keep
        from forecaster.results.evaluation import evaluate

        trained, dataset = job.result, job.meta.get("dataset")
        try:
            run = run_store.add(trained, job.panel, evaluate(trained, job.panel), dataset=job.label,
                                forecast=forecast_to_keep(trained, job.panel), catalog=job.meta.get("catalog"),
                                upload=getattr(dataset, "data", None), ingest=job.meta.get("ingest"),
                                source="dashboard", extra={"demo": bool(getattr(dataset, "demo", False)),
                                                           "holidays_chosen": bool(job.meta.get("holidays_chosen"))})
        except ForecasterError as exc:  # a full or read-only disk, a database down: said in the sidebar
            log.error("%s", exc)
            job.meta["keep_error"] = str(exc)
            return
        job.meta["run_id"] = run.id
    return keep


def open_run(run: StoredRun, registry, owner: str):
    """Reopen a kept run as ``owner``'s finished job in ``registry`` (its Evaluate and Forecast as when it
    finished); returns the job."""
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
    registry.adopt(owner, job)
    return job


def show_in_session(job) -> None:
    """Make ``job`` (a reopened run) what this session's pages show, with its data and settings."""
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


def shared_run() -> StoredRun | None:
    """The run this session's share link opened, if it is still shared (a revoked link shows nothing)."""
    token = st.session_state.get(SHARED_RUN)
    if token is None or store() is None:
        return None
    return store().by_token(token)


def read_only() -> bool:
    """Whether this session came through a share link: it sees that run and nothing else."""
    return st.session_state.get(SHARED_RUN) is not None


def adopt_share_link(registry) -> str | None:
    """Once per session: a ``?share=TOKEN`` link makes this a read-only session of that run (checked again on
    every rerun: a revoked link stops showing it). Returns an error text for a link that opens nothing
    (unknown, revoked, or the store is down), else None."""
    token = st.query_params.get(SHARE_PARAM)
    if not token and not read_only():
        return None
    if not read_only():
        st.session_state[SHARED_RUN] = token
    run = shared_run()
    if run is None:
        state.set_job_id(None)
        return "This share link does not open a run: it was revoked, the run was deleted, or the link is wrong."
    job = registry.get(state.owner(), state.job_id())
    if job is None or job.meta.get("run_id") != run.id:
        try:
            show_in_session(open_run(run, registry, state.owner()))
        except ForecasterError as exc:
            return str(exc)
    return None
