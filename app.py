"""Purchase Forecaster dashboard: the frame and the router.

Run with ``streamlit run app.py``. This script runs on every interaction: it sets up the page, the
session's defaults and the sidebar (menu and status), then hands over to the page the user is on. Nothing
it or the Home page imports loads torch, so the first visit after a server start renders at once.
"""
import streamlit as st

from forecaster import DataError, ForecasterError
from forecaster.text import markdown
from ui import cached, jobs, router, runs, state

st.set_page_config(page_title="Purchase Forecaster", page_icon=cached.app_icon(), layout="wide")

# The session id also lives in the URL, so a browser refresh (a new Streamlit session) finds its jobs again;
# only an id the server issued to this browser resumes a session (ui.jobs.adopt_owner).
jobs.adopt_owner()
state.init()
# A share link (?share=TOKEN) makes a read-only session: that run's Evaluate and Forecast, nothing else, and no
# session id in the URL (nothing of it can be resumed once the link is revoked).
share_error = runs.adopt_share_link()
if share_error:
    st.error(markdown(share_error))
    st.markdown("[Open the dashboard for your own data](/)")
    st.stop()
if runs.read_only():  # the link's token stays in the address on every page, so a reload keeps the shared view
    st.query_params.pop(state.OWNER_PARAM, None)
    if st.query_params.get(runs.SHARE_PARAM) != st.session_state[runs.SHARED_TOKEN]:
        st.query_params[runs.SHARE_PARAM] = st.session_state[runs.SHARED_TOKEN]
elif not state.bound():  # an id in the URL could bring nothing back: none is put there
    st.query_params.pop(state.OWNER_PARAM, None)
elif st.query_params.get(state.OWNER_PARAM) != state.owner():
    st.query_params[state.OWNER_PARAM] = state.owner()
if not runs.read_only():
    jobs.restore_after_refresh()
    jobs.keep_working_data()

evaluate = st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:", default=runs.read_only())
forecast = st.Page("pages/forecast.py", title="Forecast", icon=":material/online_prediction:")
pages = [evaluate, forecast] if runs.read_only() else [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    evaluate, forecast,
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
]
# Our own sidebar menu (page links) instead of Streamlit's: .streamlit/config.toml turns Streamlit's page list
# off, so a first visitor on a fresh server never sees its legacy list of the pages/ folder's files.
nav = st.navigation(pages, position="hidden")

def sidebar_of_a_session() -> None:
    """The current dataset and training job (and the kept run the pages show) of a normal session."""
    st.markdown("**Current dataset**")
    ds = state.dataset()
    if ds is None:
        st.caption("None yet: upload a CSV on the Data page or use the demo data on Home.")
    else:
        try:
            report = cached.current_ingest().report
            st.caption(f"{markdown(ds.name)}  \n{report.products:,} products × {report.days:,} days "
                       f"({report.start:%d %b %Y} – {report.end:%d %b %Y})")
        except DataError:
            st.caption(f"{markdown(ds.name)}  \n:red[cannot be read with the current column choices]")
    st.markdown("**Training job**")
    job = jobs.current()
    if job is None:
        st.caption("None yet: start one on the Train page.")
    elif job.snapshot().running:
        jobs.sidebar_progress(job.job_id)  # polls: also tells the registry this tab is still open
    else:
        jobs.sidebar_status(job)
        if job.meta.get("run_id") and not job.meta.get("opened"):
            st.caption(f"Kept as run {job.meta['run_id'][:8]} (Runs page)")
        elif job.meta.get("keep_error"):
            st.warning(markdown(job.meta["keep_error"]))
    backtest = jobs.registry().get(state.owner(), state.get(state.BACKTEST_JOB))
    if backtest is not None and not backtest.snapshot().finished:
        jobs.sidebar_backtest(backtest.job_id)


def sidebar_of_a_shared_run() -> None:
    shared = runs.shared_run()
    st.markdown("**Shared run** (read-only)")
    st.caption(f"{markdown(shared.dataset)}  \n{shared.n_products:,} products, {shared.first_date:%d %b %Y} – "
               f"{shared.last_date:%d %b %Y}  \nrun {shared.id[:8]}")


with st.sidebar:
    for page in pages:
        st.page_link(page)
    st.divider()
    if runs.read_only():
        sidebar_of_a_shared_run()
    else:
        if not state.bound():
            st.warning(state.NO_COOKIE)
        sidebar_of_a_session()

try:
    with router.routed():
        nav.run()
except ForecasterError as exc:  # a page that forgot to catch a user error still shows it readably
    st.error(markdown(exc))
finally:  # the settings the page just changed (days to forecast, levels, product), for a refresh straight after
    if not runs.read_only():
        jobs.keep_working_data()
