"""Home: what the tool does, one click to demo data, and where to go next."""
import streamlit as st

from forecaster import DataError
import forecaster.io.charts as charts
from forecaster.text import markdown
from ui import cached, jobs, router, state

router.ensure_frame()

st.title("Purchase Forecaster")
st.markdown(
    "- **How much of each product will we sell tomorrow?** Upload your daily sales or transaction export.\n"
    "- A neural network learns each product's weekly rhythm and trends; it is checked against simple "
    "rules of thumb on the last weeks of **your own** history.\n"
    "- **How far can I trust that number?** Every forecast comes with a range (80% of days fall inside it, "
    "measured on days the network never trained on) and an order quantity for the service level you pick.\n"
    "- Download next-day (or next-weeks) forecasts per product as a CSV for ordering.")

ds = state.dataset()
col1, col2 = st.columns([1, 2], vertical_alignment="center")
with col1:
    if st.button("Use demo data", type="primary", icon=":material/science:",
                 help="Loads a generated example: 20 made-up products over 3 years. Not real sales."):
        state.set_dataset(cached.demo_dataset())
        st.rerun()
with col2:
    st.caption("The demo data is **generated**, not real sales: 20 made-up café and shop products over "
               "three years, with weekly rhythm, seasons, promotions and slow sellers.")

st.subheader("Your next step")
job = jobs.current()
if ds is None:
    st.info("No data yet. Use the demo data above, or upload your own CSV.")
    st.page_link("pages/data.py", label="Upload a CSV on the Data page", icon=":material/upload_file:")
elif job is None:
    st.success(f"Data loaded: **{markdown(ds.name)}**.")
    st.page_link("pages/data.py", label="Check the data", icon=":material/upload_file:")
    st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
else:
    st.success(f"Data loaded: **{markdown(ds.name)}**. Training job on **{markdown(job.label)}**: "
               f"{jobs.status_line(job.snapshot())}.")
    jobs.stale_notice(job)
    st.page_link("pages/train.py", label="Training progress", icon=":material/model_training:")
    st.page_link("pages/evaluate.py", label="How accurate is it?", icon=":material/fact_check:")
    st.page_link("pages/forecast.py", label="Forecasts and downloads", icon=":material/online_prediction:")

if ds is not None:
    # the loaded data at a glance; it is also the session's first chart, so the browser loads the charting
    # library here, while the user reads, rather than on the first click to Data, Evaluate or Forecast
    try:
        result = cached.current_ingest()
    except DataError:
        result = None  # the Data page says why
    if result is not None:
        st.plotly_chart(charts.total_daily_demand(result.panel, height=260), key="home_total_demand")
