"""Plotly figure builders: tables in, figures out. No Streamlit, no model code, no metric computation.

Product names are user text: every one that reaches a title, tick, legend or hover goes through
:func:`forecaster.text.plotly`, so "<a href=...>" or "<b>" in a name shows as typed, never as markup.

Every builder returns a ``plotly.graph_objects.Figure`` with a title, axis labels a merchandiser reads
("Units sold per day") and a legend only where there is more than one thing to tell apart.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from ..labels import NETWORK, SEASONAL_NAIVE, label
from ..model.intervals import DEFAULT_LEVEL
from ..text import plotly

if TYPE_CHECKING:  # charts stay torch-free: the Data page draws them before any model is imported
    from ..model.trained import EpochRecord
    from ..results.evaluation import Evaluation

BEAT, NOT_BEAT = "Beats seasonal naive", "Does not beat seasonal naive"
COLOURS = {BEAT: "#2a9d8f", NOT_BEAT: "#e76f51", "actual": "#264653", NETWORK: "#e76f51",
           SEASONAL_NAIVE: "#8d99ae", "forecast": "#e76f51"}
BAND_COLOUR = "rgba(231, 111, 81, 0.22)"
LOSS_LABELS = {"train_loss": "Training days", "val_loss": "Validation days", "test_loss": "Test days"}
LOSS_COLOURS = {"train_loss": "#1d3557", "val_loss": "#457b9d", "test_loss": "#e76f51"}
# plotly express draws a line chart of more than 1,000 rows with WebGL, which a browser without a graphics
# card (and a headless one) emulates on its CPU: the Data page's demand chart (2 x 1,095 points) took seconds
# to appear while the workers trained. Drawn as SVG, charts of a few thousand points show at once.
SVG = "svg"
_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=60, b=10),
               legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0, title_text=""))


def _style(fig: go.Figure, title: str, height: int | None = None, hovermode: str = "x unified") -> go.Figure:
    """Title, template, legend and hover for every figure; bar charts hover on the bar ("closest")."""
    fig.update_layout(title=dict(text=title, y=0.98, yanchor="top"), hovermode=hovermode, **_LAYOUT)
    if height:
        fig.update_layout(height=height)
    return fig


# --- training ----------------------------------------------------------------------------------------
def loss_curve(history: Sequence[EpochRecord], total_epochs: int | None = None,
               best_epoch: int | None = None) -> go.Figure:
    """Loss per epoch on training, validation and test days (lower is better).

    Built with graph_objects rather than plotly express: the Train page redraws it twice a second.
    """
    # x counts the epochs actually run, one after another: early stopping leaves planned epochs unused,
    # and a run of several networks should not show those as gaps
    epochs = list(range(1, len(history) + 1))
    # a new network (another ensemble member, or the next candidate of the "auto" choice) starts at epoch 1:
    # break the lines there and mark it
    starts = [i for i, r in enumerate(history) if i and r.epoch == 1]
    fig = go.Figure()
    samples = {r.test_sample for r in history}
    for attr, name in LOSS_LABELS.items():
        values = [getattr(r, attr) for r in history]
        if history and all(v is None for v in values):
            continue
        if attr == "test_loss" and max(samples, default=0):  # a large catalog's global network: a sample
            partly = "partly " if 0 in samples else ""  # the multi-output candidate's part is every test day
            name = f"{name} ({partly}a sample of {max(samples):,} product-days)"
        x, y = list(epochs), list(values)
        for i in reversed(starts):
            x.insert(i, None)
            y.insert(i, None)
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines+markers" if len(epochs) <= 60 else "lines",
                                 line=dict(color=LOSS_COLOURS[attr])))
    for i in starts:
        fig.add_vline(x=epochs[i] - 0.5, line_dash="dash", line_color="#adb5bd")
    fig.update_xaxes(title_text="Epochs run" + (" (a dashed line: the next network starts)" if starts else ""))
    fig.update_yaxes(title_text="Loss (scaled units, lower is better)")
    if total_epochs:  # room to grow, without squeezing a short run into a long planned one
        shown = max(epochs, default=0)
        fig.update_xaxes(range=[0.5, min(total_epochs, max(10, math.ceil(shown * 1.25))) + 0.5])
    if best_epoch:
        fig.add_vline(x=best_epoch, line_dash="dot", line_color="grey",
                      annotation_text="kept (best validation)", annotation_position="top left")
    if not history:
        fig.add_annotation(text="Waiting for the first epoch…", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    return _style(fig, "Learning curve: error per epoch", height=360)


# --- evaluation --------------------------------------------------------------------------------------
def worst_first(per_product: pd.DataFrame) -> pd.DataFrame:
    """The evaluation's per-product table, the products with the largest error as a share of their sales
    first (the biggest sellers no longer top the list by their size alone); products that sold nothing on
    the test days (no share to take) last, largest error in units first."""
    key = per_product["error_pct"] if "error_pct" in per_product else per_product[f"mae_{NETWORK}"]
    order = np.lexsort((-per_product[f"mae_{NETWORK}"].to_numpy(), -key.fillna(-1).to_numpy()))
    return per_product.iloc[order]


def per_product_mae_bar(per_product: pd.DataFrame, top_n: int | None = None,
                        network_label: str = label(NETWORK)) -> go.Figure:
    """Each product's error as a share of what it sold (all absolute errors of the median over its sales on
    the test days), worst first, coloured by whether the model beat seasonal naive on it; seasonal naive's
    share as a marker. ``top_n`` keeps the worst (for large catalogs). Hover: the errors in units per day.
    """
    table = worst_first(per_product)
    table = table[table[f"mae_{NETWORK}"].notna()]  # a product with no scored day (never on sale) has no bar
    if top_n:
        table = table.head(top_n)
    with np.errstate(divide="ignore", invalid="ignore"):  # seasonal naive's share, on the same days and sales
        naive_pct = table["error_pct"] * table[f"mae_{SEASONAL_NAIVE}"] / table[f"mae_{NETWORK}"]
    table = table.assign(result=table[f"beats_{SEASONAL_NAIVE}"].map({True: BEAT, False: NOT_BEAT}),
                         product=table["product"].map(plotly), naive_pct=naive_pct.where(table["error_pct"].notna()))
    n = len(table)
    fig = px.bar(table, x="error_pct", y="product", color="result", orientation="h",
                 color_discrete_map={BEAT: COLOURS[BEAT], NOT_BEAT: COLOURS[NOT_BEAT]},
                 category_orders={"product": list(table["product"]), "result": [BEAT, NOT_BEAT]},
                 labels={"error_pct": "Error as a share of the product's sales", "product": "", "result": "",
                         f"mae_{NETWORK}": "Error, units per day", f"mae_{SEASONAL_NAIVE}": "Seasonal naive, units per day",
                         "bias": "Forecast total vs sold"},
                 hover_data={f"mae_{NETWORK}": ":.2f", f"mae_{SEASONAL_NAIVE}": ":.2f", "error_pct": ":.0%",
                             **({"bias": ":+.0%"} if "bias" in table else {})})
    fig.add_scatter(x=table["naive_pct"], y=table["product"], mode="markers", name=label(SEASONAL_NAIVE),
                    marker=dict(symbol="line-ns-open", size=14, color="#264653", line=dict(width=2)))
    fig.update_xaxes(tickformat=".0%", rangemode="tozero")
    title = (f"Error per product as a share of its sales ({network_label.lower()}), worst first"
             + (f": the {n} worst" if top_n and n < len(per_product) else ""))
    return _style(fig, title, height=max(320, 90 + 24 * n), hovermode="closest")


def actual_vs_predicted(evaluation: Evaluation, product: str,
                        methods: Iterable[str] = (NETWORK, SEASONAL_NAIVE),
                        network_label: str = label(NETWORK), level: float = DEFAULT_LEVEL,
                        shown_as: str | None = None) -> go.Figure:
    """Actual daily demand of one product (titled ``shown_as``, its name and code, or the code) over the test
    span next to each method's prediction, with the
    model's central ``level`` interval as a band when it has one."""
    methods = list(methods)
    col = evaluation.products.index(product)
    def name(m: str) -> str:
        return network_label if m == NETWORK else label(m)

    frame = pd.DataFrame({"date": evaluation.dates, "Actual": evaluation.actual[:, col]})
    for m in methods:
        frame[name(m)] = evaluation.predictions[m][:, col]
    long = frame.melt(id_vars="date", var_name="series", value_name="units")
    colours = {"Actual": COLOURS["actual"], **{name(m): COLOURS.get(m, None) for m in methods}}
    fig = px.line(long, render_mode=SVG, x="date", y="units", color="series", markers=True,
                  color_discrete_map={k: v for k, v in colours.items() if v},
                  labels={"date": "", "units": "Units sold per day", "series": ""})
    for trace in fig.data:
        if trace.name != "Actual":
            trace.line.dash = "dash"
    bounds = evaluation.bounds(NETWORK, level) if NETWORK in methods else None
    if bounds is not None:
        _band(fig, evaluation.dates, bounds[0][:, col], bounds[1][:, col], f"{level:.0%} interval ({network_label})")
    return _style(fig, f"{plotly(shown_as or product)}: actual vs predicted on the test days", height=380)


def _band(fig: go.Figure, dates, lower, upper, name: str) -> None:
    """A filled range between ``lower`` and ``upper``, drawn under the lines already in ``fig``."""
    x, upper = list(dates), list(upper)
    fig.add_trace(go.Scatter(x=x, y=upper, mode="lines", line=dict(width=0), showlegend=False,
                             hoverinfo="skip", name=name))
    fig.add_trace(go.Scatter(x=x, y=list(lower), mode="lines", line=dict(width=0), fill="tonexty",
                             fillcolor=BAND_COLOUR, name=name, customdata=upper,
                             hovertemplate="%{y:.1f} – %{customdata:.1f}"))
    fig.data = fig.data[-2:] + fig.data[:-2]  # under the lines


def verdict(evaluation: Evaluation, network_label: str = label(NETWORK)) -> str:
    """One sentence on whether the model beats every baseline and reference row: on the median's MAE, the
    mean's RMSE and its bias together (MAE alone rewards forecasting less)."""
    overall = evaluation.overall
    beats = evaluation.per_product.get(f"beats_{SEASONAL_NAIVE}")
    unscored = int(beats.isna().sum()) if beats is not None else 0
    beats = beats.dropna() if beats is not None else None  # products with no scored day are not counted
    share = f" It beats seasonal naive on {int(beats.sum())} of {len(beats)} products" if beats is not None else ""
    share += (f" ({unscored:,} more had no day to score: never sold, or shut on every test day)." if unscored
              else ".") if share else ""
    shortfalls = evaluation.shortfalls(NETWORK)
    if shortfalls:
        return (f"The {network_label.lower()} does NOT beat every baseline on the test days: "
                + "; ".join(shortfalls) + ". Check these before ordering from it, or try other settings." + share)
    others = overall.drop(index=NETWORK)
    best = str(others["RMSE"].idxmin())
    change = 1 - overall.loc[NETWORK, "RMSE"] / others.loc[best, "RMSE"]
    return (f"The {network_label.lower()} beats every baseline on the test days: its expected demand's squared "
            f"error is {change:.0%} lower than the best baseline's ({label(best)}), its typical day is closer too, "
            f"and its forecasts add up to within {abs(overall.loc[NETWORK, 'Bias']):.1%} of what sold.{share}")


# --- data --------------------------------------------------------------------------------------------
def total_daily_demand(panel: pd.DataFrame, height: int = 340) -> go.Figure:
    """Units sold per day over all products, with a 7-day average to show the trend."""
    total = panel.sum(axis=1)
    frame = pd.DataFrame({"date": panel.index, "Units per day": total.to_numpy(),
                          "7-day average": total.rolling(7, min_periods=1).mean().to_numpy()})
    long = frame.melt(id_vars="date", var_name="series", value_name="units")
    fig = px.line(long, render_mode=SVG, x="date", y="units", color="series",
                  color_discrete_map={"Units per day": "#a8dadc", "7-day average": "#1d3557"},
                  labels={"date": "", "units": "Units sold (all products)", "series": ""})
    return _style(fig, "Total daily demand", height=height)


def top_products(panel: pd.DataFrame, n: int = 10) -> go.Figure:
    """The ``n`` products with the most units sold over the whole history."""
    totals = panel.sum(axis=0).sort_values(ascending=False).head(n)
    frame = pd.DataFrame({"product": totals.index.astype(str).map(plotly), "units": totals.to_numpy()})
    fig = px.bar(frame, x="units", y="product", orientation="h",
                 category_orders={"product": list(frame["product"])},
                 labels={"units": "Units sold in total", "product": ""}, color_discrete_sequence=["#457b9d"])
    return _style(fig, f"Top {len(frame)} products by units sold", height=max(300, 90 + 26 * len(frame)),
                  hovermode="closest")


# --- forecast ----------------------------------------------------------------------------------------
def forecast_day_table(forecast: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """One forecast day, one row per product: forecast and, with intervals, lower, median, upper and the
    order quantity (largest forecast first)."""
    columns = ["product", "forecast"] + [c for c in ("lower", "median", "upper", "order_quantity") if c in forecast]
    table = forecast.loc[forecast["date"] == day, columns]
    return table.sort_values("forecast", ascending=False, kind="stable").reset_index(drop=True)


def per_product_display(evaluation: Evaluation, coverage: pd.DataFrame | None = None) -> pd.DataFrame:
    """The per-product errors as a planner reads them, worst (as a share of sales) first: what sold on the test
    days, the error as a share of that, the forecast total against it, the error in units per day next to
    seasonal naive's, whether the model beat it, and (``coverage``: :meth:`Evaluation.interval_per_product`)
    how often the range held the day's demand. Products not on sale yet on any test day are left out."""
    table = worst_first(evaluation.per_product)
    table = table[table[f"mae_{NETWORK}"].notna()]  # not on sale yet on the test days: nothing to show
    sold = pd.Series(evaluation.actual.sum(axis=0), index=[str(p) for p in evaluation.products])
    out = pd.DataFrame({"Product": table["product"].to_numpy(),
                        "Sold on the test days": sold.reindex(table["product"]).to_numpy(),
                        "Error, share of sales": table.get("error_pct"), "Forecast vs sold": table.get("bias"),
                        "Error, units per day": table[f"mae_{NETWORK}"],
                        "Seasonal naive, units per day": table[f"mae_{SEASONAL_NAIVE}"],
                        "Beats seasonal naive": table[f"beats_{SEASONAL_NAIVE}"]})
    if coverage is not None:
        out["Range held the demand"] = coverage.set_index("product")["coverage"].reindex(table["product"]).to_numpy()
    return out.reset_index(drop=True)


def selection_display(selection: pd.DataFrame) -> pd.DataFrame:
    """The recommendation's candidates in readable words, best first: what each is, its error on the validation
    days (relative to each product's day-to-day change; lower is better), its bias there, the one chosen."""
    table = selection.sort_values("validation_rmsse", kind="stable")
    return pd.DataFrame({"Candidate": table["description"].to_numpy(),
                         "Error on the validation days": table["validation_rmsse"].to_numpy(),
                         "Forecast vs sold there": table["validation_bias"].to_numpy(),
                         "Chosen": table["chosen"].map({True: "✓", False: ""}).to_numpy()})


def selection_sentence(selection: pd.DataFrame, validation_days: int) -> str:
    """One short sentence: what was recommended and why (the long reason stays for who asks)."""
    chosen = selection[selection["chosen"]].iloc[0]
    bias = float(chosen["validation_bias"])
    total = ("matched what sold" if round(abs(bias), 2) == 0 else
             f"was {abs(bias):.0%} {'above' if bias > 0 else 'below'} what sold")
    return (f"Recommended: {chosen['description']}. Of the {len(selection)} candidates it had the smallest error "
            f"on the {validation_days} trading days before the test days, and its forecasts' total there {total}.")


def totals_display(totals: pd.DataFrame) -> pd.DataFrame:
    """The lead-time totals as a planner reads them: one row per product, largest total first, units rounded
    to one decimal, the order-up-to quantity named as such."""
    columns = ["product", "forecast"] + [c for c in ("lower", "median", "upper", "order_quantity") if c in totals]
    table = totals[columns].sort_values("forecast", ascending=False, kind="stable").round(1)
    return table.rename(columns={"forecast": "Expected total", "lower": "Lower", "median": "Median",
                                 "upper": "Upper", "order_quantity": "Order up to"}).reset_index(drop=True)


def forecast_bar(forecast: pd.DataFrame, top_n: int | None = None) -> go.Figure:
    """Forecast units per product for the first forecast day, largest first, with its range as a whisker and
    the value written beyond the whisker's end (a label at the bar's end was struck through by it), so a
    small bar next to a wide range still reads."""
    first = forecast["date"].min()
    day = forecast[forecast["date"] == first].sort_values("forecast", ascending=False)
    n_products = len(day)
    if top_n:
        day = day.head(top_n)
    day = day.assign(product=day["product"].astype(str).map(plotly))
    fig = px.bar(day, x="forecast", y="product", orientation="h",
                 category_orders={"product": list(day["product"])},
                 labels={"forecast": "Forecast units", "product": ""}, color_discrete_sequence=[COLOURS["forecast"]])
    end = day["forecast"]
    if "lower" in day.columns:  # the range each bar may land in
        fig.update_traces(error_x=dict(type="data", symmetric=False, array=(day["upper"] - day["forecast"]).clip(lower=0),
                                       arrayminus=(day["forecast"] - day["lower"]).clip(lower=0), color="#264653"))
        end = day[["forecast", "upper"]].max(axis=1)
    fig.add_scatter(x=end, y=day["product"], mode="text", text=[f" {v:.1f}" for v in day["forecast"]],
                    textposition="middle right", showlegend=False, hoverinfo="skip", cliponaxis=False)
    fig.update_xaxes(range=[0, max(float(end.max()) * 1.18, 1.0)])  # room for the labels past the longest whisker
    title = f"Forecast for {pd.Timestamp(first):%a %d %b %Y}" + (
        f": top {len(day)} of {n_products:,}" if len(day) < n_products else "")
    return _style(fig, title, height=max(300, 90 + 26 * len(day)), hovermode="closest")


def history_and_forecast(panel: pd.DataFrame, forecast: pd.DataFrame, product: str,
                         history_days: int = 90, shown_as: str | None = None) -> go.Figure:
    """One product's recent daily demand and its forecast in one chart (titled ``shown_as``, its name and
    code, or the code)."""
    hist = panel[product].iloc[-history_days:]
    fc = forecast[forecast["product"] == product].sort_values("date")
    frame = pd.concat([
        pd.DataFrame({"date": hist.index, "units": hist.to_numpy(), "series": "Actual sales"}),
        # the forecast line starts at the last actual day so the two lines join
        pd.DataFrame({"date": [hist.index[-1], *fc["date"]], "units": [hist.iloc[-1], *fc["forecast"]],
                      "series": "Forecast"}),
    ])
    fig = px.line(frame, render_mode=SVG, x="date", y="units", color="series", markers=True,
                  color_discrete_map={"Actual sales": COLOURS["actual"], "Forecast": COLOURS["forecast"]},
                  labels={"date": "", "units": "Units sold per day", "series": ""})
    for trace in fig.data:
        if trace.name == "Forecast":
            trace.line.dash = "dash"
            trace.marker.size = 9
        else:
            trace.marker.size = 4
    if "lower" in fc.columns:
        level = forecast.attrs.get("level", DEFAULT_LEVEL)
        _band(fig, fc["date"], fc["lower"], fc["upper"], f"{level:.0%} interval")
        fig.add_scatter(x=fc["date"], y=fc["order_quantity"], mode="markers", name="Order quantity "
                        f"({forecast.attrs.get('service_level', 0.9):.0%} service level)",
                        marker=dict(symbol="line-ew-open", size=16, color="#1d3557", line=dict(width=2)))
    fig.add_vline(x=hist.index[-1], line_dash="dot", line_color="grey")
    _keep_the_forecast_readable(fig, hist, fc)
    return _style(fig, f"{plotly(shown_as or product)}: last {len(hist)} days and the forecast", height=380)


def what_if_chart(table: pd.DataFrame, shown_as: str, change: str) -> go.Figure:
    """A product's forecast under the plan and under a what-if (:func:`forecaster.results.forecasting.what_if`),
    with the what-if's range and order quantities; the days the change applies to are shaded."""
    fig = go.Figure()
    if "what_if_lower" in table:
        _band(fig, table["date"], table["what_if_lower"], table["what_if_upper"], "What-if range")
    fig.add_scatter(x=table["date"], y=table["plan_forecast"], mode="lines+markers", name="Plan",
                    line=dict(color=COLOURS["forecast"], dash="dash"))
    fig.add_scatter(x=table["date"], y=table["what_if_forecast"], mode="lines+markers", name=f"What if {plotly(change)}",
                    line=dict(color=COLOURS["actual"]))
    if "what_if_order_quantity" in table:
        fig.add_scatter(x=table["date"], y=table["what_if_order_quantity"], mode="markers", name="What-if order quantity",
                        marker=dict(symbol="line-ew-open", size=16, color="#1d3557", line=dict(width=2)))
    for day in table.loc[table["changed"], "date"]:
        fig.add_vrect(x0=day - pd.Timedelta(hours=12), x1=day + pd.Timedelta(hours=12), fillcolor="#e9c46a",
                      opacity=0.25, line_width=0)
    fig.update_yaxes(title_text="Units per day", rangemode="tozero")
    return _style(fig, f"{plotly(shown_as)}: what if {plotly(change)}", height=340)


SPIKE_HEADROOM = 1.5  # the y axis reaches this far past the usual days (95 %) and the forecast's range


def _keep_the_forecast_readable(fig: go.Figure, hist: pd.Series, fc: pd.DataFrame) -> None:
    """One spike in the history (a day of 500 where 5 is usual) would squeeze the forecast into a flat line
    at the bottom: the axis then stops past the usual days and the forecast's range and order quantity, and
    says which days go off the chart (hover still gives their value)."""
    reach = [float(np.nanquantile(hist.to_numpy(dtype=np.float64), 0.95)) if len(hist) else 0.0]
    reach += [float(fc[c].max()) for c in ("forecast", "upper", "order_quantity") if c in fc and len(fc)]
    top = max(max(reach) * SPIKE_HEADROOM, 1.0)
    above = hist[hist > top]
    if len(above) and above.max() > 2 * top:  # a few days far beyond the rest: a moderate peak stays drawn
        fig.update_yaxes(range=[0, top])
        fig.add_annotation(x=above.index[0], y=top, yanchor="top", showarrow=False, font=dict(size=11),
                           text=f"{len(above)} day(s) off the chart, up to {above.max():,.0f}")


COVERAGE_TOLERANCE = 0.1  # a product's coverage this far from the level is off (28 test days: about 1.3 sd)
TOO_NARROW, NEAR_LEVEL, TOO_WIDE = "Too narrow: misses often", "Close to the level", "Wider than it needs to be"
COVERAGE_COLOURS = {TOO_NARROW: COLOURS[NOT_BEAT], NEAR_LEVEL: COLOURS[BEAT], TOO_WIDE: "#e9c46a"}


def coverage_per_product(per_product: pd.DataFrame, level: float, top_n: int | None = None) -> go.Figure:
    """Share of test days inside the interval, per product, the products furthest from ``level`` first,
    coloured by that distance: too narrow (it misses more often than it says) or wider than it needs to be
    (an order from it holds too much stock) are both off; the level is a dashed line labelled above the bars."""
    per_product = per_product[per_product["coverage"].notna()]  # no scored day: no coverage to colour
    table = per_product.head(top_n) if top_n else per_product
    verdict = np.where(table["coverage"] < level - COVERAGE_TOLERANCE, TOO_NARROW,
                       np.where(table["coverage"] > level + COVERAGE_TOLERANCE, TOO_WIDE, NEAR_LEVEL))
    table = table.assign(product=table["product"].astype(str).map(plotly), result=verdict)
    fig = px.bar(table, x="coverage", y="product", color="result", orientation="h",
                 color_discrete_map=COVERAGE_COLOURS, category_orders={"product": list(table["product"]),
                                                                       "result": list(COVERAGE_COLOURS)},
                 labels={"coverage": "Share of test days inside the interval", "product": "", "result": "",
                         "interval_score": "Interval score"},
                 hover_data={"interval_score": ":.2f", "coverage": ":.0%"})
    fig.add_vline(x=level, line_dash="dash", line_color="#264653")
    fig.add_annotation(x=level, y=1.0, yref="paper", yanchor="bottom", text=f"level {level:.0%}", showarrow=False,
                       font=dict(size=11, color="#264653"))
    fig.update_xaxes(range=[0, 1.02], tickformat=".0%")
    n = len(table)
    title = "Interval coverage per product" + (f", the {n} furthest from {level:.0%}" if n < len(per_product) else "")
    fig = _style(fig, title, height=max(340, 110 + 24 * n), hovermode="closest")
    fig.update_layout(margin=dict(t=90), legend=dict(y=1.06))
    return fig


BACKTEST_PALETTE = ("#1d3557", "#2a9d8f", "#e9c46a", "#6a4c93", "#8ab17d")  # far from each other and the two above


def backtest_chart(table: pd.DataFrame, metric: str = "MAE", network_label: str = label(NETWORK)) -> go.Figure:
    """``metric`` per cut-off (test span start) for the model and each baseline: is one month deciding?"""
    frame = table.assign(method=table["method"].map(lambda m: network_label if m == NETWORK else label(m)))
    frame = frame.sort_values("test_start")
    methods = [m for m in frame["method"].unique() if m not in (network_label, label(SEASONAL_NAIVE))]
    others = dict(zip(methods, BACKTEST_PALETTE))  # each baseline its own, clearly different colour
    fig = px.line(frame, render_mode=SVG, x="test_start", y=metric, color="method", markers=True,
                  color_discrete_map={network_label: COLOURS[NETWORK], label(SEASONAL_NAIVE): COLOURS[SEASONAL_NAIVE],
                                      **others},
                  labels={"test_start": "First test day of the cut-off", metric: BACKTEST_AXES.get(metric, metric),
                          "method": ""})
    if metric == "coverage":
        fig.update_yaxes(tickformat=".0%")
    return _style(fig, f"Rolling backtest: {BACKTEST_AXES.get(metric, metric).lower()} per cut-off", height=340)


BACKTEST_AXES = {"MAE": "Mean absolute error (units per day)", "coverage": "Share of test days inside the interval"}


def tracking_chart(days: pd.DataFrame, product: str, shown_as: str | None = None) -> go.Figure:
    """What a kept run forecast for one product (the forecast, its range and the order quantity) against what
    sold on the days that have happened since (``days``: :class:`~forecaster.results.tracking.Tracking`'s)."""
    one = days[days["product"] == product].sort_values("date")
    cols = {"actual": "Sold", "forecast": "Forecast", **({"order_quantity": "Order quantity"}
                                                          if "order_quantity" in one else {})}
    long = one.rename(columns=cols).melt(id_vars="date", value_vars=list(cols.values()), var_name="series",
                                         value_name="units")
    fig = px.line(long, render_mode=SVG, x="date", y="units", color="series", markers=True,
                  color_discrete_map={"Sold": COLOURS["actual"], "Forecast": COLOURS[NETWORK]},
                  labels={"date": "", "units": "Units per day", "series": ""})
    for trace in fig.data:
        if trace.name != "Sold":
            trace.line.dash = "dash" if trace.name == "Forecast" else "dot"
    if {"lower", "upper"} <= set(one):
        _band(fig, one["date"], one["lower"], one["upper"], "range")
    return _style(fig, f"{plotly(shown_as or product)}: the run's forecast against what sold", height=380)
