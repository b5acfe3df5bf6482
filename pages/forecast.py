"""Forecast: next days per product with their range and order quantity, one product's history with its
forecast band, CSV downloads."""
import dataclasses
import math

import streamlit as st

from forecaster import ForecasterError
from forecaster.config import IntervalOptions, help_text
from forecaster.data.catalog import display_names
from forecaster.data.holidays import calendar_name, holiday_names
from forecaster.labels import NETWORK
from forecaster.io import charts
from forecaster.results import forecasting
from forecaster.results.forecasting import MAX_HORIZON, with_intervals
from forecaster.text import markdown
from ui import drivers, jobs, results, router, state, widgets

router.ensure_frame()

st.title("Forecast")

job, trained = jobs.require_trained()

panel = job.panel
catalog = jobs.catalog_of(job)
names = display_names(trained.products, catalog)  # "NAME (code)" where the file names its products
key = job.job_id  # what the cached forecasts are for: the job, and any future driver values
if trained.driver_spec is not None and trained.driver_spec.known.any():
    trained, key = drivers.future_drivers(job, trained, key)
top = st.columns([1, 3])
horizon = top[0].number_input("Days to forecast", 1, MAX_HORIZON, int(state.get(state.HORIZON)), key="w_horizon",
                              help="1 = tomorrow only. Further days feed each day's forecast back in, so their "
                                   "ranges widen the further out they are.")
state.put(state.HORIZON, int(horizon))
with top[1]:
    options = widgets.interval_controls(state.get(state.INTERVALS))
state.put(state.INTERVALS, options)
try:
    # computed as the run ended, so the first view need not wait (for the job's own model: not with future values)
    prepared = job.meta.get("prepared") if key == job.job_id else None
    points = results.forecast_for(key, trained, panel, int(horizon), prepared)
    calibration = results.calibration_for(key, trained, panel, prepared)
    fc = with_intervals(points, calibration, options.level, options.service_level, options.order_stopped)
    evaluation = results.evaluation(job.job_id, trained, panel, job.meta.get("evaluation"))
except ForecasterError as exc:
    st.error(markdown(exc))
    st.stop()

first, last = fc["date"].min(), fc["date"].max()
span = f"{first:%A %d %B %Y}" + (f" to {last:%A %d %B %Y}" if last != first else "")
st.caption(f"{markdown(job.label)}: forecast for {span}, from history up to {panel.index[-1]:%d %B %Y}. Units per day; "
           "the forecast is the expected demand, the median a typical day. " + trained.forecast_source)
closed_reasons = forecasting.closed_reasons(points)
skipped = [d for d in closed_reasons if d < first]
if skipped:
    st.info(f"**{first:%A %d %B}** is the next trading day: "
            + "; ".join(f"{d:%A %d %B} is closed ({closed_reasons[d]})" for d in skipped) + ".")
later = [d for d in closed_reasons if d >= first]
if later:
    st.caption("Closed days in this forecast (forecast 0, nothing to order): "
               + ", ".join(f"{d:%a %d %b}" for d in later) + ".")
doubts = forecasting.closed_doubts(points)
if doubts:
    st.caption("Forecast as trading days, though closed last year: "
               + "; ".join(f"{d:%a %d %b} ({why})" for d, why in doubts.items())
               + ". One year is not taken as a rule; with the country's public holidays chosen on the Data page, "
                 "a holiday closed last year is closed ahead.")
unsold = points.attrs.get("unsold_weekdays", {})  # a product's own weekday without a sale in the last year
if unsold:
    listed = "; ".join(f"{markdown(names.get(p, p))} on {', '.join(d + 's' for d in days)}"
                       for p, days in list(unsold.items())[:10])
    listed += f" and {len(unsold) - 10:,} more" if len(unsold) > 10 else ""
    st.caption(f"Not sold on these weekdays in the last year, while the shop traded (forecast 0, nothing to "
               f"order): {listed}.")
planned = forecasting.planned_closures(fc)  # one product's closure: its open flag
if len(planned):
    listed = "; ".join(f"{markdown(names.get(p, p))} on {d:%a %d %b}" for d, p in zip(planned["date"][:10],
                                                                                 planned["product"][:10]))
    listed += f" and {len(planned) - 10:,} more" if len(planned) > 10 else ""
    st.caption(f"Planned closures (the open flag in the driver values; forecast 0, nothing to order): {listed}.")
sold_ever = panel.reindex(columns=trained.products).gt(0).any()  # a product that never sold is not "new"
new = [p for p, is_new in zip(trained.products, trained.new_products) if is_new and sold_ever[p]]
never = [p for p in trained.products if not sold_ever[p]]
listing = lambda items: ", ".join(markdown(names.get(p, p)) for p in items[:5]) + (  # noqa: E731
    f" and {len(items) - 5:,} more" if len(items) > 5 else "")
if new:
    networks = not trained.blend or trained.blend.get(NETWORK, 0) > 0
    how = ("the networks never learnt their level, so their part of the forecast is the mean of the products' "
           "last 7 days on sale" + (", blended with the chosen rules, which read the days before a launch as "
                                    "days without a sale" if trained.blend.get(NETWORK, 1) < 1 else "")
           if networks else "the chosen rules read the days before a launch as days without a sale, so their "
                            "forecast is low until they have sold for a few weeks")
    st.caption(f"New products, first sold as the training days ended or since ({listing(new)}): {how}.")
if never:
    st.caption(f"Never sold in the history ({listing(never)}): forecast 0, nothing to order.")
if trained.calibration is None:
    st.warning("This model has no prediction intervals: it was trained without validation days (or saved before "
               "intervals existed), so there were no held-out days to calibrate a range on. Train it again with "
               "validation days for lower and upper bounds and order quantities.")
else:
    held = evaluation.interval_overall(options.level)
    coverage = float(held.loc[NETWORK, "coverage"]) if NETWORK in held.index else None
    coverage = coverage if coverage is not None and math.isfinite(coverage) else None  # no scored test day: none
    st.info(f"**Lower – upper** is the range a day's demand falls in {options.level:.0%} of the time; the **order "
            f"quantity** covers a day's demand on {options.service_level:.0%} of days. Calibrated on the "
            f"{trained.calibration.days} validation days the model never trained on; later days get wider ranges."
            + (f" On the test days such a range held {coverage:.0%} of the product-days (Evaluate)."
               if coverage is not None else ""))
    if coverage is not None and abs(coverage - options.level) > 0.05:  # the promise and the measure disagree
        st.warning(f"Measured on the test days, the {options.level:.0%} range held {coverage:.0%} of the time, not "
                   f"{options.level:.0%}: read the ranges and order quantities as "
                   + ("narrower than they claim (order more, or train longer)." if coverage < options.level else
                      "wider than they need be."))
    if options.service_level > calibration.reliable_level:
        st.warning(f"A {options.service_level:.0%} service level asks for a day rarer than the "
                   f"{trained.calibration.days} calibration days can show (they support about "
                   f"{calibration.reliable_level:.0%}): its order quantity is extrapolated, and stock grows fast for "
                   "the last few points. Evaluate measures how often such orders held.")
    if options.level > calibration.reliable_level:
        st.warning(f"{trained.calibration.days} calibration days support ranges up to about "
                   f"{calibration.reliable_level:.0%}: a {options.level:.0%} range lies beyond the most extreme "
                   "errors seen, so it is extrapolated and may hold less often than it says (Evaluate measures it).")

stopped = list(fc.loc[fc["stopped"], "product"].unique()) if "stopped" in fc else []
if stopped:
    listed = ", ".join(names[p] for p in stopped[:8]) + (" …" if len(stopped) > 8 else "")
    st.warning(markdown(f"{len(stopped):,} product(s) sold nothing in the last {points.attrs['stopped_days']} days "
                        f"although they sold before: {listed}. ")
               + ("They are ordered for, as you asked." if options.order_stopped else
                  "Their order quantity is 0 (discontinued, or out of stock for two months?)."))
    order_stopped = st.checkbox("Order for products that stopped selling", value=options.order_stopped,
                                key="w_order_stopped", help=help_text(IntervalOptions, "order_stopped"))
    if order_stopped != options.order_stopped:
        state.put(state.INTERVALS, dataclasses.replace(options, order_stopped=order_stopped))
        st.rerun()

d1, d2, _ = st.columns([1, 1, 2])
d1.download_button("Download forecast CSV",
                   results.forecast_csv(f"{key}-{horizon}-{options}", fc, catalog),
                   file_name=results.download_name("forecast", job.label, f"{first:%Y-%m-%d}_{int(horizon)}d"),
                   mime="text/csv",
                   icon=":material/download:", type="primary", key="dl_forecast",
                   help="Columns: date, product (and its name and key columns where the file has them), forecast, "
                        "lower, median, upper, order_quantity, closed, level, service_level (one row per product "
                        "and day).")
d2.download_button("Download accuracy CSV", results.metrics_csv(job.job_id, evaluation, options.level, catalog),
                   file_name=results.download_name("accuracy", job.label), mime="text/csv",
                   icon=":material/download:",
                   key="dl_metrics", help="One row per product: the model's and each baseline's error, interval "
                                          "coverage and interval score on the test days.")

days = list(fc["date"].drop_duplicates())
holidays = holiday_names(days, trained.config.holidays)  # public holidays, where the run knows a calendar
day = days[0]
if len(days) > 1:
    day = st.select_slider("Day shown in the table and bars", days, key="w_fc_day",
                           format_func=lambda d: f"{d:%a %d %b}" + (" (closed)" if d in closed_reasons else
                                                                   " (holiday)" if d in holidays else ""))
if day in closed_reasons:
    st.info(f"**Closed**: {day:%A %d %B} is not a trading day ({closed_reasons[day]}): forecast 0, nothing to order.")
elif day in holidays:
    st.info(f"**Public holiday**: {day:%A %d %B} is {markdown(holidays[day])}, a public holiday of "
            f"{markdown(calendar_name(trained.config.holidays))}. The forecast expects what such days sold in the "
            "history.")
table = charts.forecast_day_table(fc, day)  # full width: names as long as a product's description fit
table["product"] = table["product"].map(names)
st.dataframe(table, hide_index=True, height=min(38 + 35 * len(table), 560),
             column_config={"product": st.column_config.TextColumn("Product", width="large"),
                            **{c: st.column_config.NumberColumn(c.replace("_", " ").capitalize(), format="%.1f")
                               for c in table.columns[1:]}})
st.plotly_chart(charts.forecast_bar(fc[fc["date"] == day].assign(product=lambda t: t["product"].map(names)),
                                    top_n=30), key="forecast_bar")

st.subheader("Totals for a lead time")
total_days = st.number_input("Days to cover (lead time plus review period)", 1, MAX_HORIZON,
                             min(int(state.get(state.TOTAL_DAYS)), MAX_HORIZON), key="w_total_days",
                             help="Each product's total demand over this many days from the next trading day, with "
                                  "its range and the order-up-to quantity that covers the total at the service level.")
state.put(state.TOTAL_DAYS, int(total_days))
try:
    total = results.totals_for(key, trained, panel, int(total_days), options.level, options.service_level,
                               options.order_stopped, prepared)
except ForecasterError as exc:
    st.error(markdown(exc))
    st.stop()
period = f"{total['first_day'].iloc[0]:%a %d %b} to {total['last_day'].iloc[0]:%a %d %b}"
if "lower" in total:
    st.caption(f"Totals for {period}. The range holds the total {options.level:.0%} of the time and the order-up-to "
               f"quantity covers it with {options.service_level:.0%} probability: read from sampled paths of the "
               "daily forecasts, not by adding up daily ranges (which would overstate them).")
else:
    st.caption(f"Totals for {period} (no range: this model has no calibration).")
shown = charts.totals_display(total.assign(product=total["product"].map(names)))
st.dataframe(shown, hide_index=True, height=min(38 + 35 * len(total), 420),
             column_config={"product": st.column_config.TextColumn("Product"),
                            **{c: st.column_config.NumberColumn(c, format="%.1f") for c in shown.columns[1:]}})
st.download_button("Download totals CSV",
                   results.totals_csv(f"{key}-{total_days}-{options}", total,
                                      catalog),
                   file_name=results.download_name("totals", job.label, f"{int(total_days)}d"), mime="text/csv",
                   icon=":material/download:",
                   key="dl_totals", help="Columns: product, first_day, last_day, days, forecast, lower, median, upper, "
                                         "order_quantity, level, service_level.")

if trained.driver_spec is not None and trained.driver_spec.known.any():
    drivers.what_if_section(trained, panel, key, [d for d in days if d not in closed_reasons], int(horizon),
                            calibration, options, names)

st.subheader("One product: history and forecast")
products = trained.products
chosen = state.get(state.PRODUCT)
c1, c2 = st.columns([2, 1])
product = c1.selectbox("Product", products, index=products.index(chosen) if chosen in products else 0,
                       key="w_fc_product", format_func=names.get, help="Type a name or a code to search.")
state.put(state.PRODUCT, product)
shown = c2.slider("Days of history to show", 14, min(365, len(panel)), min(90, len(panel)), key="w_fc_days")
st.plotly_chart(charts.history_and_forecast(panel, fc, product, shown, shown_as=names[product]), key="history_forecast")
