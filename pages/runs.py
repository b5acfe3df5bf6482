"""Runs: every training this server finished, newest first; open one, compare several, share or delete one, and
see a run's forecast against what sold once a later upload covers its days."""
import pandas as pd
import streamlit as st

from forecaster import DataError, ForecasterError
from forecaster.data.catalog import display_names
from forecaster.io import charts
from forecaster.io.store import compare_runs
from forecaster.results.tracking import track
from forecaster.text import markdown
from ui import cached, jobs, router, runs, state

router.ensure_frame()

st.title("Runs")
try:
    store = runs.store()
    kept = runs.own_runs()
except ForecasterError as exc:
    st.error(f"{markdown(exc)} Trainings still work, but they are not kept.")
    st.stop()

st.caption("Every training this browser finishes is kept here (and those trained on the command line), newest "
           "first: its data, settings, errors on the test days and the forecast it made. Another browser's runs "
           "show only through a share link. Pick runs below to open, compare, share or delete them.")
if not kept:
    st.info("No runs kept yet: train a model and it appears here.")
    st.page_link("pages/train.py", label="Go to the Train page", icon=":material/model_training:")
    st.stop()


def _listing(listed) -> pd.DataFrame:
    return pd.DataFrame([{
        "kept": r.created_at.strftime("%Y-%m-%d %H:%M"), "data": r.dataset,
        "days": f"{r.first_date:%d %b %Y} – {r.last_date:%d %b %Y}", "products": r.n_products, "model": r.model,
        "RMSE vs seasonal naive": r.headline.get("RMSE vs seasonal naive"),
        "forecast vs sold on the test days (%)": 100 * r.headline.get("Bias", float("nan")),
        "80% range coverage": r.headline.get("80% range coverage"), "from": r.source, "id": r.id} for r in listed])


st.dataframe(_listing(kept), hide_index=True, key="runs_table", column_config={
    "RMSE vs seasonal naive": st.column_config.NumberColumn(format="%.3f"),
    "forecast vs sold on the test days (%)": st.column_config.NumberColumn(format="%+.1f"),
    "80% range coverage": st.column_config.NumberColumn(format="%.2f")})
by_id = {r.id: r for r in kept}
picked = st.multiselect("Runs to open, share or delete (one), or to compare (several)", list(by_id), key="w_runs",
                        format_func=lambda i: f"{i[:8]} · {by_id[i].created_at:%d %b %H:%M} · {by_id[i].dataset}")
chosen = [by_id[i] for i in picked]
current = jobs.current()
if current is not None and current.meta.get("run_id"):
    st.caption(f"The pages now show run **{current.meta['run_id'][:8]}**.")

def share_url(token: str) -> str:
    """The link to this server's page with the token (as the browser reached it: scheme, host, base path)."""
    base = (st.context.url or "").split("?")[0]
    for page in ("runs", "evaluate", "forecast", "data", "train"):  # the page's own path off the app's root
        base = base.removesuffix("/" + page)
    return f"{base.rstrip('/')}/?{runs.SHARE_PARAM}={token}"


def actions(run) -> None:
    """Open, share (and revoke), delete: one run's buttons."""
    open_col, share_col, delete_col = st.columns(3)
    if open_col.button("Open", type="primary", icon=":material/open_in_new:", key="open_run",
                       help="Its Evaluate and Forecast pages, as when it finished; its data becomes the current data"):
        runs.open_in_session(run, jobs.registry())
        st.switch_page("pages/evaluate.py")
    if share_col.button("Share", icon=":material/share:", key="share_run",
                        help="A read-only link to this run's Evaluate and Forecast: nothing else of yours"):
        st.session_state["shared_link"] = (run.id, store.share(run.id))
    link = st.session_state.get("shared_link")
    if link and link[0] == run.id:
        share_col.code(share_url(link[1]), language=None)
        share_col.caption("Anyone with this link sees this run read-only until you revoke it.")
    live = store.live_links(run.id)
    if live and share_col.button(f"Revoke {live} link{'s' if live > 1 else ''}", key="revoke_links"):
        store.revoke_all(run.id)
        st.session_state.pop("shared_link", None)
        st.rerun()
    if run.owner is None:  # every browser lists a command-line run: none of them may delete it for the others
        delete_col.caption(f"Trained on the command line: delete it there (`runs delete {run.id}`).")
        return
    sure = delete_col.checkbox("Yes, delete it", key="delete_sure")
    if delete_col.button("Delete", icon=":material/delete:", key="delete_run", disabled=not sure):
        store.delete(run.id)
        st.rerun()


if len(chosen) == 1:
    st.subheader(f"Run {chosen[0].id[:8]}: {markdown(chosen[0].dataset)}")
    try:
        actions(chosen[0])
    except ForecasterError as exc:  # a changed or missing file, a database that went away
        st.error(markdown(exc))
elif len(chosen) > 1:
    st.subheader(f"{len(chosen)} runs side by side")
    settings, metrics, products = compare_runs(store, [r.id for r in chosen])
    st.markdown("**Settings that differ**")
    if settings.empty:
        st.caption("None: the same data span, products and settings.")
    else:
        st.dataframe(settings.astype(str), width="stretch")
    st.markdown("**Errors on each run's test days**")
    st.dataframe(metrics.astype(str), width="stretch")
    st.markdown("**MAE per product** (the change is against the first run picked)")
    st.dataframe(products.round(3), width="stretch")

st.divider()
st.subheader("Forecast against what sold")
ds = state.dataset()
ingested = None
if ds is not None:
    try:
        ingested = cached.current_ingest()
    except DataError as exc:
        st.error(markdown(exc))
if ingested is None:
    st.info("Upload sales that cover days after a run's history on the Data page: this section then shows what "
            "that run forecast for those days against what sold.")
    st.stop()
panel = ingested.panel
products = set(map(str, panel.columns))
covering = [r for r in (chosen or kept) if r.last_date < panel.index[-1].date() and
            panel.index[0].date() <= r.last_date + pd.Timedelta(days=28) and products & set(r.products)]
if not covering:
    st.info(f"The current data, **{markdown(ds.name)}** ({panel.index[0]:%d %b %Y} – {panel.index[-1]:%d %b %Y}), "
            "covers no day after the history of " + ("the runs picked" if chosen else "any kept run") +
            " with a product in common.")
    st.stop()
run = st.selectbox("Run to check", covering, key="track_run", format_func=lambda r: (
    f"{r.id[:8]} · {r.created_at:%d %b %H:%M} · {r.dataset} (history to {r.last_date:%d %b %Y})"))
try:
    kept_forecast = store.forecast(run.id)
    result = track(kept_forecast, panel) if not kept_forecast.empty else None
except (DataError, ForecasterError) as exc:
    st.error(markdown(exc))
    st.stop()
if result is None:
    st.info(f"Run {run.id[:8]} kept no forecast (its drivers needed future values it was not given).")
    st.stop()
o = result.overall
st.caption(f"Run **{run.id[:8]}** ({markdown(run.dataset)}, history to {run.last_date:%d %b %Y}) against "
           f"**{markdown(ds.name)}**: {int(o['days'])} day(s) of its forecast have happened." +
           (f" {result.left_out:,} of its products are not in this file." if result.left_out else ""))
c1, c2, c3, c4 = st.columns(4)
c1.metric("Forecast vs sold", f"{o['bias']:+.1%}" if pd.notna(o["bias"]) else "n/a",
          help="The forecast's total against the total sold on those days")
c2.metric("Mean error a day", f"{o['MAE']:.2f}", help="Mean absolute error of the median forecast, units per "
          "product and day")
c3.metric("Range coverage", f"{o['coverage']:.0%}" if pd.notna(o["coverage"]) else "n/a",
          help="Share of product-days whose sales fell inside the 80% range")
c4.metric("Order quantity covered", f"{o['order_hit_rate']:.0%}" if pd.notna(o["order_hit_rate"]) else "n/a",
          help="Share of product-days whose sales the 90% order quantity covered")
products = list(result.per_product["product"])
shown_as = display_names(products, ingested.catalog)  # "NAME (code)" where the file names its products
names = [shown_as[p] for p in products]
shown = result.per_product.assign(product=names, bias=[f"{100 * b:+.1f}" if pd.notna(b) else "n/a (none sold)"
                                                        for b in result.per_product["bias"]],
                                  coverage=100 * result.per_product["coverage"],
                                  order_hit_rate=100 * result.per_product["order_hit_rate"])
st.markdown("**Per product, the largest miss first** (miss: the forecast's total less what sold)")
st.dataframe(shown.rename(columns={"bias": "forecast vs sold (%)", "coverage": "in the range (% of days)",
                                   "order_hit_rate": "order quantity covered (% of days)"}).round(2),
             hide_index=True, width="stretch")
pick = st.selectbox("Product", range(len(names)), format_func=lambda i: names[i], key="track_product")
st.plotly_chart(charts.tracking_chart(result.days, products[pick], names[pick]),
                width="stretch")
