"""Forecast: next days per product, one product's history with its forecast, CSV downloads."""
import streamlit as st

from forecaster import ForecasterError, charts
from forecaster.forecasting import MAX_HORIZON
from forecaster.text import markdown
from ui import jobs, results, router, state

router.ensure_frame()

st.title("Forecast")

job, trained = jobs.require_trained()

panel = job.panel
horizon = st.columns([1, 3])[0].number_input("Days to forecast", 1, MAX_HORIZON, int(state.get(state.HORIZON)), key="w_horizon",
                          help="1 = tomorrow only. Further days feed each day's forecast back in, so they get "
                               "less certain the further out they are.")
state.put(state.HORIZON, int(horizon))
try:
    fc = results.forecast_for(job.job_id, trained, panel, int(horizon))
    evaluation = results.evaluation(job.job_id, trained, panel)
except ForecasterError as exc:
    st.error(markdown(exc))
    st.stop()

first, last = fc["date"].min(), fc["date"].max()
span = f"{first:%A %d %B %Y}" + (f" to {last:%A %d %B %Y}" if last != first else "")
st.caption(f"{markdown(job.label)}: forecast for {span}, from history up to {panel.index[-1]:%d %B %Y}. Units per day.")

d1, d2, _ = st.columns([1, 1, 2])
d1.download_button("Download forecast CSV", results.forecast_csv(f"{job.job_id}-{horizon}", fc),
                   file_name=f"forecast_{first:%Y-%m-%d}_{int(horizon)}d.csv", mime="text/csv",
                   icon=":material/download:", type="primary", key="dl_forecast",
                   help="Columns: date, product, forecast (one row per product and day).")
d2.download_button("Download accuracy CSV", results.metrics_csv(job.job_id, evaluation),
                   file_name="accuracy_per_product.csv", mime="text/csv", icon=":material/download:",
                   key="dl_metrics", help="One row per product: the network's and each baseline's error on the test days.")

left, right = st.columns([2, 3])
with left:
    table = charts.forecast_wide(fc)
    st.dataframe(table, hide_index=True, height=min(38 + 35 * len(table), 560),
                 column_config={"product": st.column_config.TextColumn("Product"),
                                **{c: st.column_config.NumberColumn(c, format="%.1f") for c in table.columns[1:]}})
with right:
    st.plotly_chart(charts.forecast_bar(fc, top_n=30), key="forecast_bar")

st.subheader("One product: history and forecast")
products = trained.products
chosen = state.get(state.PRODUCT)
c1, c2 = st.columns([2, 1])
product = c1.selectbox("Product", products, index=products.index(chosen) if chosen in products else 0,
                       key="w_fc_product")
state.put(state.PRODUCT, product)
days = c2.slider("Days of history to show", 14, min(365, len(panel)), min(90, len(panel)), key="w_fc_days")
st.plotly_chart(charts.history_and_forecast(panel, fc, product, days), key="history_forecast")
