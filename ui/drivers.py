"""The Forecast page's driver controls: the future values of known-ahead drivers (an upload, kept across page
switches, and a template to fill in), and the "what if" of one product's driver on chosen days."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from forecaster.config import IntervalOptions
from forecaster.data.drivers import DriverPanel, future_template, outside_history
from forecaster.errors import ForecasterError
from forecaster.io import charts, export
from forecaster.model.intervals import Calibration
from forecaster.model.trained import TrainedForecaster
from forecaster.results.forecasting import what_if
from forecaster.run.jobs import TrainingJob
from forecaster.text import markdown

from . import cached, jobs, state

TEMPLATE_DAYS = 28  # days after the history the template lists


def future_drivers(job: TrainingJob, trained: TrainedForecaster, key: str) -> tuple[TrainedForecaster, str]:
    """The expander that takes the future values of ``trained``'s known-ahead drivers; returns the forecaster
    reading them (as it was without an upload) and the cache key of its forecasts. An upload that cannot be
    used stops the page with the reason (the forecast would only say that values are missing)."""
    spec, mapping = trained.driver_spec, jobs.mapping_of(job)
    known = [c for c in spec.choices if c.role == "known"]
    kept = state.get(state.FUTURE)
    upload_ds = kept[1] if kept is not None and kept[0] == job.job_id else None
    needed = [c.name for c in known if c.default is None]
    future, notes, error = None, (), None
    if upload_ds is not None:
        try:
            future, notes = cached.future_drivers(f"{job.job_id}-{upload_ds.digest}", upload_ds.data, trained.drivers,
                                                  mapping, job.panel.index[-1], job.meta.get("ingest") or state.ingest_options(),
                                                  jobs.dayfirst_of(job))
        except ForecasterError as exc:
            error = str(exc)
    title = "Future values of the drivers" + (f": {upload_ds.name}" if upload_ds else "")
    # open where the user must act or read: values still needed, a refusal, or rows of the file left out
    with st.expander(markdown(title), expanded=(upload_ds is None and bool(needed)) or error is not None or bool(notes)):
        _future_controls(job, trained, spec, mapping, known, needed, upload_ds)
        for note in notes:
            st.warning(markdown(note))
        if future is not None:
            st.caption(f"Read {len(future.dates)} day(s), {future.dates[0]:%a %d %b} to {future.dates[-1]:%a %d %b %Y}.")
    if error is not None:
        st.error(f"The future values in {markdown(upload_ds.name)} cannot be used: {markdown(error)} Fix the file and "
                 "upload it again, or forget it.")
        st.stop()
    if future is None and needed:  # nothing to forecast from yet: what to do, not an error to train again
        st.info(f"This run forecasts from the future values of {markdown(', '.join(map(repr, needed)))}: upload them above "
                "(a template to fill in is there) to see its forecasts.")
        st.stop()
    if future is None:
        return trained, key
    return trained.with_drivers(trained.drivers.combined(future)), f"{key}-{upload_ds.digest}"


@st.cache_data(max_entries=8, show_spinner=False)
def _template_csv(key: str, _drivers: DriverPanel, date_col: str, product_cols: tuple[str, ...], last: pd.Timestamp,
                  _catalog: pd.DataFrame | None) -> bytes:
    """The template's CSV, built once per run (every product times TEMPLATE_DAYS rows: not on every rerun)."""
    days = pd.date_range(last + pd.Timedelta(days=1), periods=TEMPLATE_DAYS, freq="D")
    return export.to_csv_bytes(future_template(_drivers, date_col, product_cols, days, _catalog))


def _future_controls(job: TrainingJob, trained: TrainedForecaster, spec, mapping, known: list, needed: list[str],
                     upload_ds: state.Dataset | None) -> None:
    """What the future file holds, its uploader (a new file is kept for this run and the page redrawn), a
    button to forget it, and a template to fill in."""
    columns = [mapping.date_col, *mapping.product_cols, *(c.name for c in known)]
    st.caption(markdown(
        f"The model reads {spec.describe()} on the day it forecasts, so each forecast day needs their values: "
        f"a CSV with the columns {', '.join(columns)}, one row per product and day after "
        f"{job.panel.index[-1]:%d %b %Y}. "
        + ("" if upload_ds is not None else f"Without one, {', '.join(needed)} cannot be forecast. " if needed
           else "")
        + ("Days the file leaves out take the default the run was trained with ("
           + ", ".join(f"{c.name} {c.default}" for c in known if c.default is not None) + ")."
           if len(needed) < len(known) else "")))
    # a new key after "Forget": the uploader starts empty (a file it still held would be taken again)
    upload = st.file_uploader("Future driver values (CSV)", type=["csv", "gz"],
                              key=f"w_future_upload_{state.get(state.FUTURE_UPLOADS)}")
    if upload is not None and (upload_ds is None or upload_ds.digest != cached.digest(upload.getvalue())):
        data = upload.getvalue()
        state.put(state.FUTURE, (job.job_id, state.Dataset(upload.name, cached.digest(data), data)))
        st.rerun()  # the title, the read and the forecast all follow the new file
    if upload_ds is not None and st.button("Forget the future values", key="forget_future"):
        state.put(state.FUTURE, None)
        state.put(state.FUTURE_UPLOADS, state.get(state.FUTURE_UPLOADS) + 1)
        st.rerun()
    st.download_button("Download a template to fill in",
                       _template_csv(job.job_id, trained.drivers, mapping.date_col, mapping.product_cols,
                                     job.panel.index[-1], jobs.catalog_of(job)),
                       file_name="future_drivers_template.csv", mime="text/csv", key="dl_future_template",
                       icon=":material/download:", help=f"Every product for the next {TEMPLATE_DAYS} days, "
                                                        "with the driver columns to fill in.")


@st.cache_data(max_entries=16, show_spinner="Forecasting the what-if…")
def _what_if(key: str, _trained: TrainedForecaster, _panel: pd.DataFrame, product: str, driver: str, value: str,
             days: tuple[pd.Timestamp, ...], horizon: int, _calibration: Calibration | None,
             options: IntervalOptions) -> pd.DataFrame:
    return what_if(_trained, _panel, product, driver, value, list(days), horizon, _calibration, options.level,
                   options.service_level, options.order_stopped)


def _usual_setting(trained: TrainedForecaster, product: str, driver: str, last: pd.Timestamp) -> str:
    """The what-if box's first value: 1 for a 0/1 flag (a promotion), else the product's last value in the
    history (a price as it stands: a new one is typed over it, and nothing is flagged as unusual before)."""
    p = trained.products.index(product)
    block = next(ch for c, _, ch in trained.driver_spec.blocks() if c.name == driver)
    seen = trained.drivers.values[trained.drivers.dates <= last, p, block.start]  # the history's, not the plan's
    seen = seen[np.isfinite(seen)]
    if not len(seen) or np.isin(seen, (0.0, 1.0)).all():
        return "1"
    return f"{float(seen[-1]):g}"


def what_if_section(trained: TrainedForecaster, panel: pd.DataFrame, key: str, days: list[pd.Timestamp],
                    horizon: int, calibration: Calibration | None, options: IntervalOptions,
                    names: dict[str, str]) -> None:
    """"What if": one product's known-ahead driver set on chosen forecast days, its forecast, range and order
    quantity next to the plan's (the drivers as given)."""
    known = [(c, lv) for c, lv in zip(trained.driver_spec.choices, trained.driver_spec.levels) if c.role == "known"]
    st.subheader("What if")
    st.caption("Set a promotion, a price or an event for one product on some of the forecast days and see its "
               "forecast, range and order quantity change, next to the plan.")
    c1, c2, c3 = st.columns([2, 1, 1])
    product = c1.selectbox("Product", trained.products, key="w_whatif_product", format_func=names.get)
    driver = c2.selectbox("Driver", [c.name for c, _ in known], key="w_whatif_driver")
    levels = dict((c.name, lv) for c, lv in known)[driver]
    if levels:
        value = c3.selectbox("Set to", ["none", *levels], key=f"w_whatif_level_{driver}")
    else:
        value = c3.text_input("Set to", _usual_setting(trained, product, driver, panel.index[-1]),
                              key=f"w_whatif_value_{driver}_{trained.products.index(product)}",
                              help="A number, such as 1 for a promotion or a new price.")
    chosen = st.multiselect("On these days", days, default=days[:1], key="w_whatif_days",
                            format_func=lambda d: f"{d:%a %d %b}")
    if not chosen or not str(value).strip():
        return
    try:
        table = _what_if(key, trained, panel, product, driver, str(value).strip(), tuple(sorted(chosen)), horizon,
                         calibration, options)
    except ForecasterError as exc:
        st.error(markdown(exc))
        return
    for note in outside_history(trained.drivers, trained.drivers.with_value(product, driver, str(value).strip(),
                                                                            pd.DatetimeIndex(sorted(chosen)))):
        st.warning(markdown(note))
    st.plotly_chart(charts.what_if_chart(table, names[product], f"{driver} = {value}"), key="what_if_chart")
    shown = table.assign(date=table["date"].dt.strftime("%a %d %b"))
    st.dataframe(shown, hide_index=True, column_config={
        "changed": st.column_config.CheckboxColumn("Set on this day"),
        **{c: st.column_config.NumberColumn(c.replace("what_if", "what-if").replace("_", " ").capitalize(),
                                            format="%.1f") for c in shown.columns[2:]}})
    plan, scenario = table["plan_forecast"].sum(), table["what_if_forecast"].sum()
    on = table["changed"].to_numpy(dtype=bool)
    lift = float((table["what_if_forecast"] - table["plan_forecast"])[on].sum())
    st.caption(f"Over {'these ' + str(len(table)) + ' days' if len(table) != 1 else 'this day'}: {scenario:,.1f} units expected against "
               f"{plan:,.1f} in the plan ({scenario - plan:+,.1f}): {lift:+,.1f} on the days set, "
               f"{scenario - plan - lift:+,.1f} on the others. The forecast feeds each day back as the next days' "
               "history, so a change carries on to later days whether or not the product's demand would; read the "
               "days set as the change's own effect.")
