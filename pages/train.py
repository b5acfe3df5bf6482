"""Train: settings form, device, background training with a live loss curve, cancel, errors."""
import streamlit as st

from forecaster import DataError, ForecasterError
from forecaster.data.holidays import calendar_name
from forecaster.io import charts
from forecaster.text import markdown
from ui import cached, jobs, results, router, state, widgets

router.ensure_frame()

st.title("Train")
st.caption(f"Training runs on: **{results.training_device()}**")

ds = state.dataset()
job = jobs.current()
if ds is None and job is None:
    st.info("No data yet. Load data first.")
    st.page_link("pages/data.py", label="Upload a CSV on the Data page", icon=":material/upload_file:")
    st.page_link("pages/home.py", label="Or use the demo data on Home", icon=":material/home:")
    st.stop()

panel = catalog = None
if ds is not None:
    try:
        ingested = cached.current_ingest()
        panel, catalog = ingested.panel, ingested.catalog
    except DataError as exc:
        st.error(f"The current data cannot be read: {markdown(exc)}")
        st.page_link("pages/data.py", label="Fix the column choices on the Data page", icon=":material/upload_file:")
    else:
        holidays = state.config().holidays
        st.caption(f"Data: {markdown(ds.name)}, {panel.shape[1]:,} products × {panel.shape[0]:,} days. "
                   + (f"Public holidays of {calendar_name(holidays)}, chosen on the Data page." if holidays
                      else "No public holidays (a country can be chosen on the Data page).")
                   + (f" Drivers: {markdown(ingested.drivers.spec.describe())}." if ingested.drivers is not None
                      else ""))

if panel is not None:
    jobs.warm_up()  # the training workers start while the form is filled in
    try:
        new_config = widgets.training_form(state.config())
    except ForecasterError as exc:
        new_config = None
        st.error(markdown(exc))
    if new_config is not None:
        state.set_config(new_config)
        try:
            job = jobs.start_on_current(ingested, new_config)
        except ForecasterError as exc:
            st.error(markdown(exc))
        else:
            st.rerun()  # so the sidebar (drawn before this page) shows the new job

if job is None:
    st.stop()

st.subheader("Training")
if jobs.for_other_data(job):
    st.info(f"The training below is for **{markdown(job.label)}**, not the current data: the form above trains on "
            "the current data.")
snap = job.snapshot()
if snap.queued:
    jobs.queued_progress(job.job_id)
    st.stop()
if snap.running:
    jobs.live_progress(job.job_id)
    st.stop()

if snap.status == "failed":
    st.error(markdown(snap.error or "Training failed."))  # a bug's traceback is in the server's log only
    st.stop()

trained = job.result
if trained is None:  # cancelled before the first epoch
    st.warning(markdown(snap.error or "Training was cancelled before a model was learned."))
    st.stop()
jobs.render_progress(job)
if snap.status == "cancelled":
    st.warning(markdown(snap.error or "") + f" Cancelled after {snap.epochs_run} epochs: the best model so far is "
               "kept and can be evaluated and used for forecasts.")
elif snap.reused:
    st.info("The same data and settings were trained before: that result is shown, nothing was retrained.")
else:
    kept = ("" if trained.selection is not None else
            f"; the weights of epoch {', '.join(map(str, trained.best_epochs))} were kept, the best on the "
            "validation days")
    st.success(f"Training finished in {jobs.format_seconds(snap.elapsed)}: {len(snap.networks())} networks, "
               f"{snap.epochs_run} epochs{kept}.")

if trained.config.yearly == "on" and job.config.yearly == "auto":
    st.caption(f"The history holds {len(job.panel):,} days, so the same weekday a year earlier (lag 364) was added "
               "to the lags (setting yearly: auto).")

if trained.selection is not None:
    st.subheader("Recommended model")
    st.info(markdown(charts.selection_sentence(trained.selection, widgets.validation_days(trained))))
    widgets.selection_table(trained.selection)
    with st.expander("Why, in detail"):
        st.write(markdown(trained.selection_reason))

st.page_link("pages/evaluate.py", label="Next: how accurate is it?", icon=":material/arrow_forward:")
