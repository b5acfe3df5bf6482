"""Evaluate: the network next to the baselines on the test days, per product and for one product, with
prediction intervals (coverage, interval score, pinball loss) and a rolling backtest."""
import numpy as np
import streamlit as st

from forecaster import ForecasterError
from forecaster.data.catalog import display_names
from forecaster.data.holidays import calendar_name
from forecaster.io import charts
from forecaster.results.backtest import DEFAULT_ORIGINS as BACKTEST_DEFAULT
from forecaster.results.backtest import summary as backtest_summary
from forecaster.text import markdown
from forecaster.labels import NETWORK, SEASONAL_NAIVE, label, trained_label
from ui import jobs, results, router, runs, state, widgets

router.ensure_frame()

st.title("Evaluate")

job, trained = jobs.require_trained()

try:
    evaluation = results.evaluation(job.job_id, trained, job.panel, job.meta.get("evaluation"))
except ForecasterError as exc:
    st.error(markdown(exc))
    st.stop()

overall = evaluation.overall
model_name = trained_label(trained)
catalog = jobs.catalog_of(job)
names = display_names(evaluation.products, catalog)  # "NAME (code)" where the file names its products
span = (evaluation.dates[-1] - evaluation.dates[0]).days + 1
closed = span - len(evaluation.dates)  # closed days inside the test span are not scored
st.caption(f"{markdown(job.label)}: the last {len(evaluation.dates)} trading days ({evaluation.dates[0]:%d %b %Y} – "
           f"{evaluation.dates[-1]:%d %b %Y}" + (f"; {closed} closed day{'s' if closed > 1 else ''} in between not "
                                                  "scored" if closed > 0 else "")
           + "), each predicted from the history before it. Units per product per day.")
if trained.cancelled:
    st.warning("Training was cancelled: these are the scores of the best model found before that.")

HELP = {"MAE": "Mean absolute error of the median (the typical day): units off per product per day. A forecast "
               "of zero can win it on products that sell on few days, so read it with RMSE and Bias.",
        "RMSE": "Root mean squared error of the expected demand (the forecast): big misses count more. Forecasting "
                "less never wins it.",
        "Bias": "Forecast total against what sold: -30% means the forecasts added up to 30% too little.",
        "WAPE": "All errors of the median added up, as a share of everything sold.",
        "RMSSE": "RMSE of each product relative to its own day-to-day change, averaged over products.",
        "MASE": "MAE relative to copying last week's same weekday. Below 1 beats that rule."}
FORMAT = {"MAE": "{:.2f}", "RMSE": "{:.2f}", "Bias": "{:+.1%}", "WAPE": "{:.1%}", "RMSSE": "{:.3f}",
          "MASE": "{:.2f}"}
CARDS = ("MAE", "RMSE", "Bias", "WAPE")
methods = list(overall.index)
cols = st.columns(len(methods))
for col, method in zip(cols, methods):
    with col.container(border=True):
        st.markdown(f"**{model_name if method == NETWORK else label(method)}**")
        for metric in CARDS:
            value = overall.loc[method, metric]
            delta = None
            if method == NETWORK and metric != "Bias":  # a bias is judged by its distance from 0, not a difference
                ref = overall.loc[SEASONAL_NAIVE, metric]
                delta = FORMAT[metric].format(value - ref)  # against seasonal naive (the caption says so)
            shown_value = "-100%" if metric == "Bias" and value <= -0.9995 else FORMAT[metric].format(value)
            st.metric(metric, shown_value, delta=delta, delta_color="inverse", help=HELP[metric])
st.caption("The arrows under the model's figures: its difference from seasonal naive (green is better).")
(st.warning if evaluation.shortfalls(NETWORK) else st.success)(charts.verdict(evaluation, model_name))
with st.expander("Every measure, every method", expanded=False):
    st.dataframe(results.overall_table(overall, model_name), hide_index=True)

APART_COLUMNS = {"days": "Test days", "method": "Method",
                 "MAE": st.column_config.NumberColumn("Error, units per day", format="%.2f"),
                 "RMSE": st.column_config.NumberColumn("RMSE", format="%.2f"),
                 # in %, one decimal for every row ("percent" showed 10.86% beside -5.9%)
                 "Bias": st.column_config.NumberColumn("Forecast vs sold", format="%+.1f%%")}
apart_display = lambda table: table.assign(  # noqa: E731
    method=table["method"].map(lambda m: model_name if m == NETWORK else label(m)), Bias=100 * table["Bias"])
if trained.config.holidays:
    around = evaluation.holiday_table(trained.config.holidays)
    with st.expander(f"Around public holidays of {calendar_name(trained.config.holidays)}", expanded=False):
        st.caption("Around a holiday: the holiday itself, the three days before it (shoppers buy ahead), the day "
                   "after it and the days of a long weekend, as the model's holiday features mark them; closed "
                   "days are not scored.")
        if around is None:
            st.caption("No test day falls on a public holiday or the days around one.")
        else:
            st.dataframe(apart_display(around), hide_index=True, column_config=APART_COLUMNS)

if trained.drivers is not None and trained.driver_spec.known.any():
    driven = evaluation.driver_table(trained.drivers)
    with st.expander("On days a driver was set (promotions, price changes, events)", expanded=False):
        st.caption("A day counts as set for a product when its driver differs from the product's usual value "
                   "(a promotion on, a price changed, an event).")
        if driven is None:
            st.caption("No test day had a driver set.")
        else:
            st.dataframe(apart_display(driven), hide_index=True, column_config=APART_COLUMNS)

if trained.selection is not None:
    with st.expander("Recommended model: why this one", expanded=False):
        st.write(markdown(charts.selection_sentence(trained.selection, widgets.validation_days(trained))))
        widgets.selection_table(trained.selection)
        st.caption(markdown(trained.selection_reason))

st.subheader("Error per product")
n_products = len(evaluation.products)
top_n = n_products
if n_products > 5:
    top_n = st.slider("Products to show (worst first)", 5, n_products,
                      min(state.get(state.TOP_N), n_products), key="w_top_n",
                      help="For large catalogs: show only the products whose error is the largest share of their "
                           "sales.")
    state.put(state.TOP_N, top_n)
named_errors = evaluation.per_product.assign(product=lambda t: t["product"].map(names))
st.plotly_chart(charts.per_product_mae_bar(named_errors, top_n, model_name), key="mae_chart")

st.subheader("How far to trust each number: prediction intervals")
options = widgets.interval_controls(state.get(state.INTERVALS), service_level=False)
state.put(state.INTERVALS, options)
level = options.level
if trained.calibration is None:
    st.warning("This model has no prediction intervals: it was trained without validation days (or saved before "
               "intervals existed). The baselines' own intervals are shown below; train again with validation days "
               "to compare.")
intervals = evaluation.interval_overall(level)
if NETWORK in intervals.index:
    cov = float(intervals.loc[NETWORK, "coverage"])
    ratio = float(intervals.loc[NETWORK, "interval_score_ratio"])
    good = abs(cov - level) <= 0.05
    versus = (f" Its interval score is {ratio:.2f} times seasonal naive's (below 1 is better: narrower, or missing "
              "less)." if np.isfinite(ratio) else " Seasonal naive's interval was exact on every test day (no "
              "demand to miss), so there is no ratio to show.")
    (st.success if good else st.warning)(
        f"The {model_name.lower()}'s {level:.0%} interval held the actual demand on {cov:.0%} of the product-days of "
        f"the test span ({'close to' if good else 'off from'} the {level:.0%} it promises).{versus}")
    if trained.calibration.widened > 1:
        st.caption(f"Ranges widened {trained.calibration.widened:.2f}×: demand changed less from week to week on the "
                   "validation days than over the year before them, and a calm month is no promise of a calm one.")
    if level > trained.calibration.reliable_level:
        st.info(f"{trained.calibration.days} calibration days support ranges up to about "
                f"{trained.calibration.reliable_level:.0%}; a {level:.0%} range is extrapolated beyond the most "
                "extreme errors seen.")
INTERVAL_LABELS = {"coverage": "Coverage", "interval_score": "Interval score", "pinball": "Pinball loss (0.1/0.5/0.9)",
                   "interval_score_ratio": "Interval score vs seasonal naive", "pinball_ratio": "Pinball vs seasonal naive"}
shown = intervals.rename(index=lambda m: model_name if m == NETWORK else label(m), columns=INTERVAL_LABELS)
st.dataframe(shown, column_config={"Coverage": st.column_config.NumberColumn(format="percent")})
st.caption("Coverage should be near the level; a lower interval score (the band's width plus a penalty for each "
           "miss) and pinball loss are better. Baselines: each product's own past errors around the rule.")
coverage_table = evaluation.interval_per_product(level)
if coverage_table is not None:
    named_coverage = coverage_table.assign(product=lambda t: t["product"].map(names))  # codes stay in the table
    st.plotly_chart(charts.coverage_per_product(named_coverage, level, top_n=min(top_n, len(coverage_table))),
                    key="coverage_chart")

st.subheader("Actual vs predicted for one product")
products = evaluation.products
chosen = state.get(state.PRODUCT)
if chosen not in products:  # the chart opens on the worst product (as a share of its sales)
    chosen = charts.worst_first(evaluation.per_product)["product"].iloc[0]
c1, c2 = st.columns([2, 1])
product = c1.selectbox("Product", products, index=products.index(chosen) if chosen in products else 0,
                       key="w_eval_product", format_func=names.get, help="Any product of the catalog: type a name or "
                                                                         "a code to search.")
state.put(state.PRODUCT, product)
baselines = c2.multiselect("Compare with", [m for m in methods if m != NETWORK], default=[SEASONAL_NAIVE],
                           format_func=label, key="w_eval_baselines")
st.plotly_chart(charts.actual_vs_predicted(evaluation, product, [NETWORK, *baselines], model_name, level,
                                           shown_as=names[product]), key="avp_chart")

with st.expander("Error and coverage per product as a table"):
    display = charts.per_product_display(evaluation, coverage_table)
    display["Product"] = display["Product"].map(names)
    pct = st.column_config.NumberColumn(format="percent")
    st.dataframe(display, hide_index=True, column_config={
        "Error, share of sales": pct, "Forecast vs sold": pct, "Range held the demand": pct,
        "Sold on the test days": st.column_config.NumberColumn(format="%.0f"),
        "Error, units per day": st.column_config.NumberColumn(format="%.2f"),
        "Seasonal naive, units per day": st.column_config.NumberColumn(format="%.2f")})
    st.caption("Worst first by the error as a share of what the product sold. The accuracy CSV (Forecast page) "
               "has every method's figures.")

st.subheader("Rolling backtest: is one month deciding?")
backtest_job = jobs.backtest_of(job)
table = trained.backtest if trained.backtest is not None else (
    backtest_job.result.backtest if backtest_job is not None and backtest_job.result is not None else None)
if table is not None:
    done = table["origin"].nunique()
    asked = (backtest_job.config if trained.backtest is None else job.config).backtest_origins
    st.caption(f"The model trained again at {done} cut-offs a week apart, each scored one step ahead on its own "
               f"test days; the baselines on the same days. Coverage is that of the "
               f"{table['level'].iloc[0]:.0%} interval." + (
                   f" Only {done} of the {asked} cut-offs asked for fit the history (or the run was cancelled)."
                   if done < asked else ""))
    b1, b2 = st.columns(2)
    b1.plotly_chart(charts.backtest_chart(table, "MAE", model_name), key="backtest_mae")
    b2.plotly_chart(charts.backtest_chart(table, "coverage", model_name), key="backtest_coverage")
    st.dataframe(backtest_summary(table).rename(index=lambda m: model_name if m == NETWORK else label(m)),
                 column_config={"mean coverage": st.column_config.NumberColumn(format="percent")})
elif backtest_job is not None and not backtest_job.snapshot().finished:
    jobs.backtest_progress(backtest_job.job_id)
elif runs.read_only():
    st.caption("No rolling backtest was run for this shared run.")
else:
    origins = BACKTEST_DEFAULT
    if backtest_job is not None and backtest_job.snapshot().status == "failed":
        st.error(markdown(backtest_job.snapshot().error or "The backtest failed."))
    st.caption(f"Train the same model again at {origins} cut-offs a week apart (the latest is this test span) and "
               f"score each: about {origins - 1} times this training's time, in the background, beside this model "
               "(Evaluate and Forecast stay as they are meanwhile).")
    if st.button(f"Run a rolling backtest ({origins} weekly cut-offs)", key="run_backtest", icon=":material/history:"):
        try:
            jobs.start_backtest(job, origins)
        except ForecasterError as exc:
            st.error(markdown(exc))
        else:
            st.rerun()
st.page_link("pages/forecast.py", label="Next: forecasts and downloads", icon=":material/arrow_forward:")
