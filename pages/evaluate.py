"""Evaluate: the network next to the baselines on the test days, per product, and for one product."""
import streamlit as st

from forecaster import ForecasterError, charts
from forecaster.text import markdown
from forecaster.labels import NETWORK, SEASONAL_NAIVE, label, trained_label
from ui import jobs, results, router, state

router.ensure_frame()

st.title("Evaluate")

job, trained = jobs.require_trained()

try:
    evaluation = results.evaluation(job.job_id, trained, job.panel)
except ForecasterError as exc:
    st.error(markdown(exc))
    st.stop()

overall = evaluation.overall
model_name = trained_label(trained)
st.caption(f"{markdown(job.label)}: the last {len(evaluation.dates)} days ({evaluation.dates[0]:%d %b %Y} – "
           f"{evaluation.dates[-1]:%d %b %Y}), each predicted from the history before it. Units per product per day.")
if trained.cancelled:
    st.warning("Training was cancelled: these are the scores of the best model found before that.")

HELP = {"MAE": "Mean absolute error: how many units off per product per day, on average.",
        "RMSE": "Like MAE, but big misses count more.",
        "WAPE": "All errors added up, as a share of everything sold. 25% means errors equal a quarter of sales.",
        "MASE": "Error relative to copying last week's same weekday. Below 1 beats that rule."}
FORMAT = {"MAE": "{:.2f}", "RMSE": "{:.2f}", "WAPE": "{:.1%}", "MASE": "{:.2f}"}
methods = list(overall.index)
cols = st.columns(len(methods))
for col, method in zip(cols, methods):
    with col.container(border=True):
        st.markdown(f"**{model_name if method == NETWORK else label(method)}**")
        for metric in ("MAE", "RMSE", "WAPE", "MASE"):
            value = overall.loc[method, metric]
            delta = None
            if method == NETWORK:
                ref = overall.loc[SEASONAL_NAIVE, metric]
                delta = FORMAT[metric].format(value - ref) + " vs seasonal naive"
            st.metric(metric, FORMAT[metric].format(value), delta=delta, delta_color="inverse",
                      help=HELP[metric])
(st.success if overall["MAE"].idxmin() == NETWORK else st.warning)(charts.verdict(evaluation, model_name))

if trained.selection is not None:
    with st.expander("Recommended model: why this one", expanded=False):
        st.write(markdown(trained.selection_reason))
        st.dataframe(trained.selection, hide_index=True)

st.subheader("Error per product")
n_products = len(evaluation.products)
top_n = n_products
if n_products > 5:
    top_n = st.slider("Products to show (largest errors first)", 5, n_products,
                      min(state.get(state.TOP_N), n_products), key="w_top_n",
                      help="For large catalogs: show only the products with the largest errors.")
    state.put(state.TOP_N, top_n)
st.plotly_chart(charts.per_product_mae_bar(evaluation.per_product, top_n, model_name), key="mae_chart")

st.subheader("Actual vs predicted for one product")
products = evaluation.products
chosen = state.get(state.PRODUCT)
c1, c2 = st.columns([2, 1])
product = c1.selectbox("Product", products, index=products.index(chosen) if chosen in products else 0,
                       key="w_eval_product", help="Any product of the catalog.")
state.put(state.PRODUCT, product)
baselines = c2.multiselect("Compare with", [m for m in methods if m != NETWORK], default=[SEASONAL_NAIVE],
                           format_func=label, key="w_eval_baselines")
st.plotly_chart(charts.actual_vs_predicted(evaluation, product, [NETWORK, *baselines], model_name), key="avp_chart")

with st.expander("Error per product as a table"):
    st.dataframe(evaluation.per_product, hide_index=True)
st.page_link("pages/forecast.py", label="Next: forecasts and downloads", icon=":material/arrow_forward:")
