"""Config widgets. Every default comes from forecaster.config (through the session's last settings).

The pattern for a setting that must survive a page switch: the widget has its own key (``w_*``), seeded
from the persistent value in ui.state when missing, and the page stores what the widget returns.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from forecaster.config import (DEFAULT_CANDIDATES, FORMATS, MODEL_CHOICES, NETWORK_CHOICES, DriverChoice,
                               ForecastConfig, IngestOptions, IntervalOptions, bounds, country_names, format_lags,
                               help_text, parse_calendar, parse_driver, parse_lags, shown_default)
from forecaster.data.drivers import DriverCandidate
from forecaster.data.holidays import region_names
from forecaster.errors import ForecasterError
from forecaster.data.ingest import ColumnMapping
from forecaster.io import charts
from forecaster.labels import AUTO, label
from forecaster.text import markdown
from ui import state

if TYPE_CHECKING:  # torch loads only on the pages that train or read a model
    from forecaster.model.trained import TrainedForecaster

FORMAT_LABELS = {"auto": "Detect automatically", "long": "Long: one row per date and product",
                 "wide": "Wide: one column per product", "transactions": "Transactions: one row per sale"}
DETECT = "__detect__"
NO_NAME = "__none__"  # the name column chosen as none (codes only)
DAYFIRST = {"Detect automatically": None, "Day first (31/01/2024)": True, "Month first (01/31/2024)": False}


def _default_of(name: str) -> str:
    """A training setting's default as a user would type it (forecaster.config's)."""
    return shown_default(next(f for f in dataclasses.fields(ForecastConfig) if f.name == name))


def setting_help(name: str) -> str:
    """A training setting's tooltip: its help text and default, both from forecaster.config."""
    return f"{help_text(ForecastConfig, name)} Default: {_default_of(name)}."


def limits(name: str) -> tuple:
    """A training setting's allowed range from forecaster.config, as a number_input's min and max."""
    return bounds(ForecastConfig, name)


def ingest_help(name: str) -> str:
    return help_text(IngestOptions, name)


def _seed(key: str, value) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


# the planner's choices: how much history to learn from, and how long to spend (networks averaged per candidate)
HISTORY_CHOICES = {0: "All of it", 730: "The last 2 years", 365: "The last year", 182: "The last 6 months"}
EFFORT = {"Quick": 1, "Standard": 3, "Thorough": 5}  # networks trained with different seeds and averaged
EFFORT_HELP = ("Quick trains one network of each kind (about a third of the time), Standard three and averages "
               "them, Thorough five: steadier forecasts on short, noisy histories, for more time.")
# the form's help in a planner's words (forecaster.config's texts speak to the command line)
PLAIN_HELP = {
    "model": "Leave it on the recommended model: it trains the networks, compares them with simple rules of "
             "thumb on the days just before the test days, and keeps the best (or a blend).",
    "candidates": "The networks the recommended model compares.",
    "lags": "How many past days each day's inputs show the network: 7 means each of the last 7 days, or list "
            "days such as 1,7,14.",
    "seq_len": "How many consecutive days the network reads at once.",
    "epochs": "At most this many passes over the history; training stops sooner when it stops improving.",
    "batch_size": "How many days the network learns from at once; larger is faster per pass, smaller can learn "
                  "finer detail.",
    "learning_rate": "How big each learning step is; lower it if the loss curve jumps about or training fails.",
    "conv_channels": "How many patterns the network's first layer looks for.",
    "hidden_size": "How much the network's memory layer can hold.",
    "val_days": "The days just before the test days: training stops and the recommended model is chosen on them.",
    "seed": "The same number, data and settings give the same model again. An identical earlier run is reused.",
    "retrain_for_forecast": "After the accuracy check, train again on every day but the last, so forecasts know "
                            "the latest weeks (helps after a change in level; costs a second training).",
}


def plain_help(name: str) -> str:
    """A form field's help in plain words, and its default (forecaster.config's)."""
    return f"{PLAIN_HELP[name]} Default: {_default_of(name)}."


EXPERT_SETTINGS = "Expert settings (the defaults suit most data)"  # the expander's title (browser tests open it)


def _expert_settings() -> None:
    """Every expert setting of the Train form, in one expander (inside the form)."""
    with st.expander(EXPERT_SETTINGS):
        st.selectbox("Model", MODEL_CHOICES, format_func=label, key="w_model", help=plain_help("model"))
        st.multiselect("Networks the recommended model chooses among", NETWORK_CHOICES, format_func=label,
                       key="w_candidates", help=plain_help("candidates"))
        e1, e2, e3 = st.columns(3)
        with e1:
            st.text_input("Past days the model looks at", key="w_lags", help=plain_help("lags"))
            st.number_input("Days read at once", *limits("seq_len"), key="w_seq_len", help=plain_help("seq_len"))
            st.number_input("Validation days", *limits("val_days"), key="w_val_days", help=plain_help("val_days"))
        with e2:
            st.number_input("Epochs (passes over the history)", *limits("epochs"), key="w_epochs",
                            help=plain_help("epochs"))
            st.number_input("Batch size", *limits("batch_size"), key="w_batch", help=plain_help("batch_size"))
            st.number_input("Random seed", *limits("seed"), key="w_seed", help=plain_help("seed"))
        with e3:
            st.number_input("Learning rate", *limits("learning_rate"), key="w_lr", format="%.5f", step=1e-4,
                            help=plain_help("learning_rate"))
            st.number_input("Pattern detectors (convolution channels)", *limits("conv_channels"), key="w_conv",
                            help=plain_help("conv_channels"))
            st.number_input("Memory size (LSTM units)", *limits("hidden_size"), key="w_hidden",
                            help=plain_help("hidden_size"))
        st.checkbox("Forecast with a model that learnt the latest days too (after a change in level)",
                    key="w_retrain", help=plain_help("retrain_for_forecast"))


def training_form(current: ForecastConfig) -> ForecastConfig | None:
    """The Train page form, prefilled with ``current``: the planner's choices first (history to learn from,
    days to test on, quick or thorough), every expert setting under one expander with the same defaults.
    Returns the new config when Train is pressed.

    Raises ForecasterError for settings that are invalid whatever the data (the page shows it).
    """
    effort = next((k for k, v in EFFORT.items() if v == current.ensemble), "Standard")
    seeds = {"w_model": current.model, "w_candidates": list(current.candidates), "w_lags": format_lags(current.lags),
             "w_seq_len": current.seq_len, "w_epochs": current.epochs, "w_batch": current.batch_size,
             "w_lr": current.learning_rate, "w_conv": current.conv_channels, "w_hidden": current.hidden_size,
             "w_test_days": current.test_days, "w_val_days": current.val_days, "w_seed": current.seed,
             "w_retrain": current.retrain_for_forecast, "w_effort": effort,
             "w_history": current.history_days if current.history_days in HISTORY_CHOICES else 0}
    for key, value in seeds.items():
        _seed(key, value)
    with st.form("training_form", border=True):
        c1, c2, c3 = st.columns(3)
        c1.selectbox("History to learn from", list(HISTORY_CHOICES), format_func=HISTORY_CHOICES.get,
                     key="w_history", help="Older sales can mislead when the shop or its range has changed since.")
        c2.number_input("Days to test on", *limits("test_days"), key="w_test_days",
                        help="The last days of the history are held back and forecast as if they were the "
                             "future, to measure how far the numbers can be trusted. Nothing learns from them.")
        c3.radio("Quick or thorough", list(EFFORT), key="w_effort", horizontal=True, help=EFFORT_HELP)
        _expert_settings()
        submitted = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:")
    return _submitted_config(current) if submitted else None


def _submitted_config(current: ForecastConfig) -> ForecastConfig:
    """The settings the form was submitted with; a choice that would be ignored is refused naming it."""
    s = st.session_state
    candidates = tuple(s.w_candidates)
    if s.w_model != AUTO and candidates != DEFAULT_CANDIDATES:  # a choice the user made is never ignored
        raise ForecasterError(f"The networks to choose among apply to the recommended model only; with "
                              f"{label(s.w_model)} set them back to {', '.join(map(label, DEFAULT_CANDIDATES))}, "
                              "or pick the recommended model.")
    return current.replace(model=s.w_model, candidates=candidates,
                           lags=parse_lags(s.w_lags), seq_len=int(s.w_seq_len),
                           epochs=int(s.w_epochs), batch_size=int(s.w_batch), learning_rate=float(s.w_lr),
                           conv_channels=int(s.w_conv), hidden_size=int(s.w_hidden),
                           test_days=int(s.w_test_days), val_days=int(s.w_val_days), seed=int(s.w_seed),
                           retrain_for_forecast=bool(s.w_retrain), ensemble=EFFORT[s.w_effort],
                           history_days=int(s.w_history))


ENCODINGS = ("utf-8", "cp1252", "latin-1", "utf-16", "cp932", "gb18030", "big5", "euc_kr")  # the offered choices
ENCODING_LABELS = {"utf-8": "UTF-8", "cp1252": "Windows Western (cp1252)", "latin-1": "Latin-1",
                   "utf-16": "UTF-16 (Excel's Unicode text)", "cp932": "Japanese (Shift-JIS)",
                   "gb18030": "Chinese (GB18030)", "big5": "Chinese, traditional (Big5)", "euc_kr": "Korean (EUC-KR)"}


def encoding_choice(current: IngestOptions) -> IngestOptions:
    """The file's text encoding, detected unless chosen (the library names what it used when not UTF-8)."""
    _seed("w_ingest_encoding", current.encoding if current.encoding in ENCODINGS else DETECT)
    chosen = st.selectbox("Text encoding", [DETECT, *ENCODINGS], key="w_ingest_encoding",
                          format_func=lambda e: "Detect" if e == DETECT else ENCODING_LABELS[e],
                          help=ingest_help("encoding"))
    return dataclasses.replace(current, encoding=None if chosen == DETECT else chosen)


def ingest_overrides(columns: list[str], detected: ColumnMapping | None, current: IngestOptions) -> IngestOptions:
    """Select boxes for the shape and the column roles. Left on "detect", the library's guess is used.

    ``detected`` is None when detection failed with the current choices (the page shows why).
    """
    if detected is None:
        detected = ColumnMapping("?", "?", ("?",), "?")
    _seed("w_ingest_format", current.format)
    _seed("w_ingest_date", current.date_col if current.date_col in columns else DETECT)
    _seed("w_ingest_products", [c for c in current.product_cols if c in columns])
    _seed("w_ingest_quantity", current.quantity_col if current.quantity_col in columns else DETECT)
    _seed("w_ingest_name", NO_NAME if current.name_col == "" else current.name_col if current.name_col in columns
          else DETECT)
    _seed("w_ingest_dayfirst", next(k for k, v in DAYFIRST.items() if v == current.dayfirst))
    _seed("w_ingest_returns", current.keep_returns)
    _seed("w_ingest_extremes", current.keep_extremes)
    _seed("w_ingest_non_sales", current.keep_non_sales)
    detected_products = ", ".join(detected.product_cols[:3]) + (" …" if len(detected.product_cols) > 3 else "")
    c1, c2 = st.columns(2)
    with c1:
        fmt = st.selectbox("Shape of the file", list(FORMATS), key="w_ingest_format", format_func=lambda f: (
            FORMAT_LABELS[f] + (f" (now: {detected.format})" if f == "auto" else "")),
            help=ingest_help("format"))
        date_col = st.selectbox("Date column", [DETECT, *columns], key="w_ingest_date",
                                format_func=lambda c: f"Detect (now: {detected.date_col})" if c == DETECT else c,
                                help=ingest_help("date_col"))
        dayfirst = st.selectbox("Date order", list(DAYFIRST), key="w_ingest_dayfirst",
                                help=ingest_help("dayfirst") + " Only matters for dates like 03/04/2024.")
    with c2:
        product_cols = st.multiselect(
            "Product column(s)", columns, key="w_ingest_products",
            placeholder=f"Detect (now: {detected_products})",
            help=ingest_help("product_cols"))
        quantity = st.selectbox(
            "Quantity column", [DETECT, *columns], key="w_ingest_quantity",
            format_func=lambda c: (f"Detect (now: {detected.quantity_col or _no_quantity(detected)})"
                                   if c == DETECT else c),
            help=ingest_help("quantity_col"))
        name = st.selectbox(
            "Name column", [DETECT, NO_NAME, *columns], key="w_ingest_name",
            format_func=lambda c: (f"Detect (now: {detected.name_col or 'none'})" if c == DETECT
                                   else "None (codes only)" if c == NO_NAME else c),
            help=ingest_help("name_col"))
        keep_returns = st.checkbox("Keep returns (negative quantities)", key="w_ingest_returns",
                                   help=ingest_help("keep_returns"))
        keep_extremes = st.checkbox("Keep extreme days as they are", key="w_ingest_extremes",
                                    help=ingest_help("keep_extremes"))
        keep_non_sales = st.checkbox("Keep lines that are not sales", key="w_ingest_non_sales",
                                     help=ingest_help("keep_non_sales"))
    encoding = encoding_choice(current).encoding
    return IngestOptions(format=fmt, date_col=None if date_col == DETECT else date_col,
                         product_cols=tuple(product_cols), quantity_col=None if quantity == DETECT else quantity,
                         name_col=None if name == DETECT else "" if name == NO_NAME else name,
                         dayfirst=DAYFIRST[dayfirst], keep_returns=bool(keep_returns),
                         keep_extremes=bool(keep_extremes), keep_non_sales=bool(keep_non_sales),
                         max_products=current.max_products, encoding=encoding, drivers=current.drivers)


DRIVER_HELP = ("Columns that move demand beside the sales themselves: a price, a promotion flag, an event's name, "
               "a store's open flag. A known-ahead driver (price, promotion, event) is read on the day forecast, so a "
               "forecast needs its future values: a file on the Forecast page, or a value for days without one "
               "(such as 0, no promotion). An observed one (customers counted) is read from the day before only.")
ROLE_LABELS = {"known": "Known ahead (I plan it)", "observed": "Observed (only its past)"}


def driver_choice(candidates: tuple[DriverCandidate, ...], current: IngestOptions) -> IngestOptions:
    """The drivers the next training reads: chosen among the columns the file offers, each with its role and,
    for a known-ahead one, the value forecast days take where the future file gives none (empty: none)."""
    offered = {c.name: c for c in candidates}
    chosen = {d.name: d for d in map(parse_driver, current.drivers)}
    if [n for n in st.session_state.get("w_drivers", []) if n not in offered] or "w_drivers" not in st.session_state:
        st.session_state["w_drivers"] = [n for n in chosen if n in offered]  # another file: its own columns
    names = st.multiselect("Drivers (columns that move demand)", list(offered), key="w_drivers", help=DRIVER_HELP,
                           format_func=lambda n: offered[n].describe(), placeholder="None: the sales alone")
    out = []
    for i, name in enumerate(names):
        before = chosen.get(name)
        role_key, default_key = f"w_driver_role_{i}_{name}", f"w_driver_default_{i}_{name}"
        _seed(role_key, before.role if before else offered[name].role)
        _seed(default_key, (before.default if before else None) or "")
        c1, c2 = st.columns(2)
        role = c1.selectbox(f"{markdown(name)}: its future is", list(ROLE_LABELS), key=role_key,
                            format_func=ROLE_LABELS.get)
        default = ""
        if role == "known":
            default = c2.text_input(f"{markdown(name)} on forecast days without a value", key=default_key,
                                    placeholder="none: every forecast day needs one",
                                    help="Such as 0 for no promotion. Empty: the Forecast page asks for a file "
                                         "with every forecast day's value.").strip()
        out.append(DriverChoice(name, role, default or None).text)
    return dataclasses.replace(current, drivers=tuple(out))


HOLIDAY_HELP = ("Public holidays move sales on the day and the days around it (shoppers buy ahead). With a country "
                "chosen, the model learns how its holidays moved your sales and expects the same around the next "
                "ones. The calendar is kept up to date by the holidays package.")


def holiday_choice(suggested: str, current: str, fresh: bool) -> str:
    """The public-holiday calendar the next training uses: none, a country, or a country's region. A new file
    (``fresh``) preselects the country its country column names (``suggested``, or none) until the user picks
    a calendar or a region themselves (None included); from then on their choice stays."""
    names = country_names()
    country, region = parse_calendar(current) if current else ("", None)
    if fresh and not state.holidays_chosen():
        country, region = suggested, None
    if fresh or "w_holidays" not in st.session_state:
        st.session_state["w_holidays"], st.session_state["w_holiday_region"] = country, region or ""
    codes = sorted(names, key=lambda c: names[c][0])
    c1, c2 = st.columns(2)
    chosen = c1.selectbox("Public holidays of", ["", *codes], key="w_holidays", help=HOLIDAY_HELP,
                          on_change=state.set_holidays_chosen, format_func=lambda c: (
        "None" if not c else f"{names[c][0]} ({c})" + (", as the file's country column says" if c == suggested else "")))
    regions = names[chosen][1] if chosen else ()
    previous = st.session_state.get("w_holiday_region_of")
    st.session_state["w_holiday_region_of"] = chosen
    if previous is not None and previous != chosen:  # another country's region (DE's BE) is not this one's
        st.session_state["w_holiday_region"] = ""
    if not regions:
        return chosen
    if st.session_state.get("w_holiday_region") not in ("", *regions):
        st.session_state["w_holiday_region"] = ""
    named = region_names(chosen)
    picked = c2.selectbox("Region", ["", *regions], key="w_holiday_region", on_change=state.set_holidays_chosen,
                          format_func=lambda r: "The whole country" if not r else named.get(r, r),
                          help="A region's own holidays on top of the country's. The whole country means the "
                               "holidays every region keeps: for the United Kingdom that leaves out England's "
                               "Easter Monday, so pick the region your shops are in.")
    return f"{chosen}-{picked}" if picked else chosen


def _no_quantity(detected: ColumnMapping) -> str:
    if detected.format == "wide":
        return "none, each product column holds its units"
    return "none, each row counts as one unit"


def interval_controls(current: IntervalOptions, service_level: bool = True) -> IntervalOptions:
    """The interval level slider (and the service level for order quantities), in percent, starting from
    ``current`` (the session's choice: a widget resets when its page is left); changing them redraws bands
    and order quantities without training again."""
    lo, hi = (round(100 * b) for b in bounds(IntervalOptions, "level"))
    c1, c2 = st.columns(2)
    level = c1.slider("Interval level (%)", lo, hi, round(100 * current.level), step=1, key="w_level",
                      help=help_text(IntervalOptions, "level"))
    chosen = current.service_level
    if service_level:
        lo, hi = (round(100 * b) for b in bounds(IntervalOptions, "service_level"))
        chosen = c2.number_input("Service level for the order quantity (%)", lo, hi, round(100 * current.service_level),
                                 step=1, key="w_service_level", help=help_text(IntervalOptions, "service_level")) / 100
    return IntervalOptions(level=level / 100, service_level=chosen, order_stopped=current.order_stopped)


def selection_table(selection: pd.DataFrame) -> None:
    """The recommendation's candidates, readable (:func:`forecaster.io.charts.selection_display`)."""
    st.dataframe(charts.selection_display(selection), hide_index=True, column_config={
        "Error on the validation days": st.column_config.NumberColumn(
            format="%.3f", help="Squared error relative to each product's day-to-day change (RMSSE); lower is better."),
        "Forecast vs sold there": st.column_config.NumberColumn(format="percent")})


def validation_days(trained: TrainedForecaster) -> int:
    """The trading days the recommendation was chosen on (closed days left out: 24 of 28 where Sundays close)."""
    return trained.calibration.days if trained.calibration is not None else trained.config.val_days
