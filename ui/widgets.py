"""Config widgets. Every default comes from forecaster.config (through the session's last settings).

The pattern for a setting that must survive a page switch: the widget has its own key (``w_*``), seeded
from the persistent value in ui.state when missing, and the page stores what the widget returns.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from forecaster.config import (DEFAULT_CANDIDATES, FORMATS, MODEL_CHOICES, NETWORK_CHOICES, ForecastConfig, IngestOptions, IntervalOptions, bounds,
                               default_text, format_lags, help_text, parse_lags)
from forecaster.errors import ForecasterError
from forecaster.data.ingest import ColumnMapping
from forecaster.io import charts
from forecaster.labels import AUTO, label

FORMAT_LABELS = {"auto": "Detect automatically", "long": "Long: one row per date and product",
                 "wide": "Wide: one column per product", "transactions": "Transactions: one row per sale"}
DETECT = "__detect__"
NO_NAME = "__none__"  # the name column chosen as none (codes only)
DAYFIRST = {"Detect automatically": None, "Day first (31/01/2024)": True, "Month first (01/31/2024)": False}


def setting_help(name: str) -> str:
    """A training setting's tooltip: its help text and default, both from forecaster.config."""
    f = next(f for f in dataclasses.fields(ForecastConfig) if f.name == name)
    return f"{f.metadata['help']} Default: {default_text(f.default, f.metadata.get('parse'))}."


def limits(name: str) -> tuple:
    """A training setting's allowed range from forecaster.config, as a number_input's min and max."""
    return bounds(ForecastConfig, name)


def ingest_help(name: str) -> str:
    return help_text(IngestOptions, name)


def _seed(key: str, value) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def training_form(current: ForecastConfig) -> ForecastConfig | None:
    """The Train page form, prefilled with ``current``. Returns the new config when Train is pressed.

    Raises ForecasterError for settings that are invalid whatever the data (the page shows it).
    """
    seeds = {"w_model": current.model, "w_candidates": list(current.candidates), "w_lags": format_lags(current.lags), "w_seq_len": current.seq_len,
             "w_epochs": current.epochs, "w_batch": current.batch_size, "w_lr": current.learning_rate,
             "w_conv": current.conv_channels, "w_hidden": current.hidden_size, "w_test_days": current.test_days,
             "w_val_days": current.val_days, "w_seed": current.seed, "w_retrain": current.retrain_for_forecast}
    for key, value in seeds.items():
        _seed(key, value)
    with st.form("training_form", border=True):
        st.selectbox("Model", MODEL_CHOICES, format_func=label, key="w_model", help=setting_help("model"))
        st.multiselect("Networks the recommended model chooses among", NETWORK_CHOICES, format_func=label,
                       key="w_candidates", help=setting_help("candidates"))
        c1, c2, c3 = st.columns(3)
        with c1:
            st.text_input("Past days the model looks at (lags)", key="w_lags", help=setting_help("lags"))
            st.number_input("Sequence length (days)", *limits("seq_len"), key="w_seq_len", help=setting_help("seq_len"))
            st.number_input("Test days", *limits("test_days"), key="w_test_days", help=setting_help("test_days"))
        with c2:
            st.number_input("Epochs (passes over the history)", *limits("epochs"), key="w_epochs", help=setting_help("epochs"))
            st.number_input("Batch size", *limits("batch_size"), key="w_batch", help=setting_help("batch_size"))
            st.number_input("Validation days", *limits("val_days"), key="w_val_days", help=setting_help("val_days"))
        with c3:
            st.number_input("Learning rate", *limits("learning_rate"), key="w_lr", format="%.5f", step=1e-4,
                            help=setting_help("learning_rate"))
            st.number_input("Convolution channels", *limits("conv_channels"), key="w_conv", help=setting_help("conv_channels"))
            st.number_input("LSTM units", *limits("hidden_size"), key="w_hidden", help=setting_help("hidden_size"))
        st.number_input("Random seed", *limits("seed"), key="w_seed",
                        help=setting_help("seed") + " An identical earlier run is reused, not retrained.")
        st.checkbox("Forecast with a model that learnt the latest days too (after a change in level)", key="w_retrain",
                    help=setting_help("retrain_for_forecast"))
        submitted = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:")
    if not submitted:
        return None
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
                           retrain_for_forecast=bool(s.w_retrain))


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
                         max_products=current.max_products, encoding=encoding)


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
    return IntervalOptions(level=level / 100, service_level=chosen)


def selection_table(selection: pd.DataFrame) -> None:
    """The recommendation's candidates, readable (:func:`forecaster.io.charts.selection_display`)."""
    st.dataframe(charts.selection_display(selection), hide_index=True, column_config={
        "Error on the validation days": st.column_config.NumberColumn(
            format="%.3f", help="Squared error relative to each product's day-to-day change (RMSSE); lower is better."),
        "Forecast vs sold there": st.column_config.NumberColumn(format="percent")})
