"""Data: upload a CSV, check how it was read, override the column choices, look at it."""
import dataclasses

import streamlit as st

from forecaster import DataError
from forecaster.config import parse_driver
from forecaster.data.catalog import display_names
from forecaster.io import charts
from forecaster.text import markdown
from ui import cached, router, state, widgets

router.ensure_frame()

TABLE_COLUMNS = 50  # products (or file columns) a table shows: 10,000 columns took seconds to draw

st.title("Data")
limit_mb = st.get_option("server.maxUploadSize")
st.caption(f"CSV or gzip-compressed CSV (.csv.gz), up to {limit_mb} MB. Long (date, product, quantity), "
           "wide (one column per product) and transaction logs are recognised.")

if state.bound() or not st.get_option("server.enableXsrfProtection"):
    upload = st.file_uploader("Purchase history (CSV)", type=["csv", "gz"],
                              help=f"Up to {limit_mb} MB. Delimiters , ; tab and | are recognised.")
    if upload is not None and upload.file_id != state.get(state.LAST_UPLOAD):
        data = upload.getvalue()
        state.put(state.LAST_UPLOAD, upload.file_id)
        state.set_dataset(state.Dataset(upload.name, cached.digest(data), data))
        st.rerun()  # so the sidebar (drawn before this page) shows the new dataset
else:  # Streamlit refuses an upload whose XSRF cookie is missing (the browser saw "AxiosError ... 403")
    st.warning(state.UPLOAD_NEEDS_COOKIE)
    with st.form("paste_form", border=False):
        pasted = st.text_area("The CSV's text", key="w_paste", height=160, max_chars=limit_mb * 2**20,
                              placeholder="date,product,quantity\n2025-01-01,Coffee,3")
        if st.form_submit_button("Read the pasted text", icon=":material/content_paste:") and pasted.strip():
            data = pasted.encode("utf-8")
            state.set_dataset(state.Dataset("Pasted text", cached.digest(data), data))
            st.rerun()

ds = state.dataset()
if ds is None:
    st.info("No data yet: upload a CSV above, or use the generated demo data.")
    if st.button("Use demo data", icon=":material/science:", help="20 made-up products over 3 years; not real sales."):
        state.set_dataset(cached.demo_dataset())
        st.rerun()
    st.stop()

st.subheader(markdown(ds.name))
if ds.demo:
    st.caption("Generated demo data, not real sales.")

options = state.ingest_options()
try:
    raw = cached.table(ds.digest, ds.data, options.encoding)
except DataError as exc:
    st.error(f"This file cannot be read: {markdown(exc)}")
    chosen = widgets.encoding_choice(options)  # an encoding the detection could not tell may be chosen here
    if chosen != options:
        state.set_ingest_options(chosen)
        st.rerun()
    st.stop()

absent = [d for d in options.drivers if parse_driver(d).name.lower() not in {str(c).strip().lower() for c in raw.columns}]
if absent:  # drivers chosen for another file: this one has no such column
    options = dataclasses.replace(options, drivers=tuple(d for d in options.drivers if d not in absent))
    state.set_ingest_options(options)
    state.put(state.DRIVERS_LEFT_OUT, (ds.digest, tuple(parse_driver(d).name for d in absent)))

try:
    detected = cached.mapping(ds.digest, ds.data, options)
except DataError as exc:
    detected = None
    st.error(markdown(exc))

with st.expander("How the file was read (change if wrong)", expanded=detected is None):
    new_options = widgets.ingest_overrides(list(raw.columns), detected, options)
if new_options != options:
    state.set_ingest_options(new_options)
    st.rerun()
if detected is None:
    st.stop()

try:
    result = cached.ingest(ds.digest, ds.data, options)
except DataError as exc:
    st.error(markdown(exc))
    st.caption("Change the column choices above, or fix the file and upload it again.")
    if options.drivers and st.button("Read the file without drivers", key="drop_drivers"):
        state.set_ingest_options(dataclasses.replace(options, drivers=()))
        st.rerun()
    st.stop()

report, panel = result.report, result.panel
named = panel.rename(columns=display_names(panel.columns, result.catalog))  # "NAME (code)" where the file names them
st.success(f"Read as {markdown(report.mapping.describe())}.")
if report.mapping.doubt:
    st.warning(markdown(report.mapping.doubt))
c = st.columns(4)
c[0].metric("Products", f"{report.products:,}")
c[1].metric("Days", f"{report.days:,}", help=f"{report.start:%d %b %Y} to {report.end:%d %b %Y}")
c[2].metric("Days with no sale", f"{report.zero_share:.0%}", help="Share of product-days with zero units.")
returned = report.returns_kept or report.returns_dropped
c[3].metric("Units returned" + (" (kept)" if report.returns_kept else " (left out)" if returned else ""),
            f"{abs(report.returns_units):,.0f}", help=f"Negative quantities (returns, cancellations) in {returned:,} "
            "row(s): left out unless you keep them.")
st.caption(f"From {report.start:%A %d %B %Y} to {report.end:%A %d %B %Y}. {report.rows_read:,} rows read, "
           f"{report.rows_used:,} used." + (" Dates read day-first." if report.dayfirst else ""))
for note in report.notes:
    st.warning(markdown(note))
calendar = widgets.holiday_choice(report.country, state.config().holidays, fresh=state.holidays_for() != ds.digest)
state.set_holidays_for(ds.digest)
if calendar != state.config().holidays:
    state.set_config(state.config().replace(holidays=calendar))
if report.driver_candidates or options.drivers or state.get(state.DRIVERS_LEFT_OUT):
    with st.expander("Drivers: prices, promotions, events" + (f" (using {len(options.drivers)})" if options.drivers
                                                              else f" ({len(report.driver_candidates)} offered)"),
                     expanded=bool(options.drivers)):
        left_out = state.get(state.DRIVERS_LEFT_OUT)
        if left_out is not None and left_out[0] == ds.digest:
            st.warning(markdown(f"Chosen for the previous file, left out here (this file has no such column): "
                                f"{', '.join(left_out[1])}."))
        driven = widgets.driver_choice(report.driver_candidates, options)
        if result.drivers is not None:
            st.caption(markdown(f"The model will read {result.drivers.spec.describe()}."))
    if driven != options:
        state.set_ingest_options(driven)
        st.rerun()
if report.excluded is not None:
    what = "kept as you asked" if report.non_sales_kept else "left out"
    with st.expander(f"Lines that are not sales, {what}: {len(report.excluded):,} code(s), "
                     f"{int(report.excluded['rows'].sum()):,} line(s)", expanded=True):
        ex = report.excluded
        codes = ", ".join(display_names(ex["product"].head(10), ex.set_index("product")).values())
        st.caption(markdown(f"{codes}{' …' if len(ex) > 10 else ''}: postage, fees, manual and discount lines and "
                            "lines at price 0 (stock adjustments) are not demand for a product. Keep them with "
                            "'Keep lines that are not sales' under how the file was read."))
        st.dataframe(report.excluded.head(500), hide_index=True,
                     column_config={"product": st.column_config.TextColumn("Code"),
                                    "name": st.column_config.TextColumn("Name"),
                                    "rows": st.column_config.NumberColumn("Lines", format="%d"),
                                    "units": st.column_config.NumberColumn("Units", format="%.0f"),
                                    "reason": st.column_config.TextColumn("Why")})
if report.extremes is not None and not report.extremes.empty:
    with st.expander(f"Extreme days ({len(report.extremes):,})", expanded=len(report.extremes) <= 5):
        st.dataframe(report.extremes.sort_values("value", ascending=False).head(200).assign(
            date=lambda t: t["date"].dt.strftime("%a %d %b %Y")), hide_index=True,
            column_config={"value": st.column_config.NumberColumn("In the file", format="%.0f"),
                           "replaced_by": st.column_config.NumberColumn("Used for training", format="%.1f")})

left, right = st.columns([3, 2])
with left:
    st.plotly_chart(charts.total_daily_demand(panel), key="total_demand")
with right:
    n_top = report.products  # a slider needs a range: with 3 products or fewer every one is shown
    if report.products > 3:
        n_top = st.slider("Products to show", 3, min(30, report.products), min(10, report.products),
                          key="w_data_top_n", help="How many of the best-selling products the chart shows.")
    st.plotly_chart(charts.top_products(named, n_top), key="top_products")

tab1, tab2 = st.tabs(["Daily table (what the model learns from)", "File preview (first 100 rows)"])
with tab1:
    recent = named.tail(60).iloc[::-1]
    shown = recent[recent.sum().nlargest(TABLE_COLUMNS).index] if recent.shape[1] > TABLE_COLUMNS else recent
    st.dataframe(shown.set_axis(shown.index.strftime("%a %d %b %Y"), axis=0), height=320)
    st.caption("The most recent 60 days; one column per product, missing days are 0." + (
        f" The {TABLE_COLUMNS} best-selling of the {recent.shape[1]:,} products over those days." if shown is not recent
        else ""))
with tab2:
    st.dataframe(raw.head(100).iloc[:, :TABLE_COLUMNS], height=320)
    if raw.shape[1] > TABLE_COLUMNS:
        st.caption(f"The first {TABLE_COLUMNS} of the file's {raw.shape[1]:,} columns.")

st.page_link("pages/train.py", label="Next: train a model", icon=":material/arrow_forward:")
