"""Config widgets. Every default comes from forecaster.config (through the session's last settings).

The pattern for a setting that must survive a page switch: the widget has its own key (``w_*``), seeded
from the persistent value in ui.state when missing, and the page stores what the widget returns.
"""
from __future__ import annotations

import streamlit as st

import forecaster.config as fconfig
from forecaster.config import FORMATS, ForecastConfig, IngestOptions, parse_lags
from forecaster.ingest import ColumnMapping
from models import REGISTRY

MODEL_LABELS = {
    "auto": "Recommended: try both networks and simple rules, keep the best on validation days",
    "cnn_lstm": "One network for all products together (CNN+LSTM)",
    "global_cnn_lstm": "One network shared product by product (global CNN+LSTM)",
}
FORMAT_LABELS = {"auto": "Detect automatically", "long": "Long: one row per date and product",
                 "wide": "Wide: one column per product", "transactions": "Transactions: one row per sale"}
DETECT = "__detect__"
DAYFIRST = {"Detect automatically": None, "Day first (31/01/2024)": True, "Month first (01/31/2024)": False}


def model_choices() -> list[str]:
    """The registry's models, plus "auto" once the library offers a recommended choice."""
    names = list(getattr(fconfig, "MODEL_CHOICES", ()) or REGISTRY)
    return names


def model_label(name: str) -> str:
    return MODEL_LABELS.get(name, name.replace("_", " "))


def _seed(key: str, value) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def _lags_text(lags: tuple[int, ...]) -> str:
    return str(lags[-1]) if lags == tuple(range(1, lags[-1] + 1)) else ",".join(map(str, lags))


def training_form(current: ForecastConfig) -> ForecastConfig | None:
    """The Train page form, prefilled with ``current``. Returns the new config when Train is pressed.

    Raises ForecasterError for settings that are invalid whatever the data (the page shows it).
    """
    defaults = fconfig.DEFAULT_CONFIG
    choices = model_choices()
    seeds = {"w_model": current.model if current.model in choices else choices[0],
             "w_lags": _lags_text(current.lags), "w_seq_len": current.seq_len, "w_epochs": current.epochs,
             "w_batch": current.batch_size, "w_lr": current.learning_rate, "w_conv": current.conv_channels,
             "w_hidden": current.hidden_size, "w_test_days": current.test_days,
             "w_val_days": current.val_days, "w_seed": current.seed}
    for key, value in seeds.items():
        _seed(key, value)
    with st.form("training_form", border=True):
        st.selectbox("Model", choices, format_func=model_label, key="w_model",
                     help="Which network to train. Every choice is compared with the simple baselines afterwards.")
        c1, c2, c3 = st.columns(3)
        with c1:
            st.text_input("Past days the model looks at (lags)", key="w_lags",
                          help=f"7 means each of the last 7 days; or a list such as 1,7,14. "
                               f"Default: {_lags_text(defaults.lags)}.")
            st.number_input("Sequence length (days)", 1, 60, key="w_seq_len",
                            help=f"How many consecutive days the network reads at once. Default {defaults.seq_len}.")
            st.number_input("Test days", 1, 365, key="w_test_days",
                            help=f"The last days of your history, held back to measure accuracy honestly. "
                                 f"Default {defaults.test_days}.")
        with c2:
            st.number_input("Epochs (passes over the history)", 1, 1000, key="w_epochs",
                            help=f"At most this many; training stops early when validation stops improving. "
                                 f"Default {defaults.epochs}.")
            st.number_input("Batch size", 1, 65536, key="w_batch",
                            help=f"Days learned from per step. Default {defaults.batch_size}.")
            st.number_input("Validation days", 0, 365, key="w_val_days",
                            help=f"The days before the test days that decide when to stop. Default {defaults.val_days}.")
        with c3:
            st.number_input("Learning rate", 1e-5, 1.0, key="w_lr", format="%.5f", step=1e-4,
                            help=f"Step size of learning; lower it if training fails. Default {defaults.learning_rate:g}.")
            st.number_input("Hidden size: convolution channels", 1, 1024, key="w_conv",
                            help=f"Size of the pattern detector layer. Default {defaults.conv_channels}.")
            st.number_input("Hidden size: LSTM units", 1, 1024, key="w_hidden",
                            help=f"Size of the memory layer. Default {defaults.hidden_size}.")
        st.number_input("Random seed", 0, 2**31 - 1, key="w_seed",
                        help="The same seed, data and settings give the same model (and reuse the earlier result).")
        submitted = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:")
    if not submitted:
        return None
    s = st.session_state
    return current.replace(model=s.w_model, lags=parse_lags(s.w_lags), seq_len=int(s.w_seq_len),
                           epochs=int(s.w_epochs), batch_size=int(s.w_batch), learning_rate=float(s.w_lr),
                           conv_channels=int(s.w_conv), hidden_size=int(s.w_hidden),
                           test_days=int(s.w_test_days), val_days=int(s.w_val_days), seed=int(s.w_seed))


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
    _seed("w_ingest_dayfirst", next(k for k, v in DAYFIRST.items() if v == current.dayfirst))
    _seed("w_ingest_returns", current.keep_returns)
    detected_products = ", ".join(detected.product_cols[:3]) + (" …" if len(detected.product_cols) > 3 else "")
    c1, c2 = st.columns(2)
    with c1:
        fmt = st.selectbox("Shape of the file", list(FORMATS), key="w_ingest_format", format_func=lambda f: (
            FORMAT_LABELS[f] + (f" (now: {detected.format})" if f == "auto" else "")),
            help="Long: date, product, quantity per row. Wide: one column per product. "
                 "Transactions: one row per sale line, with a time stamp.")
        date_col = st.selectbox("Date column", [DETECT, *columns], key="w_ingest_date",
                                format_func=lambda c: f"Detect (now: {detected.date_col})" if c == DETECT else c,
                                help="The column with the day of the sale.")
        dayfirst = st.selectbox("Date order", list(DAYFIRST), key="w_ingest_dayfirst",
                                help="Only matters for dates like 03/04/2024.")
    with c2:
        product_cols = st.multiselect(
            "Product column(s)", columns, key="w_ingest_products",
            placeholder=f"Detect (now: {detected_products})",
            help="The column naming the product; pick two (such as store and item) to forecast each pair. "
                 "For a wide file, the product columns. Leave empty to detect.")
        quantity = st.selectbox(
            "Quantity column", [DETECT, *columns], key="w_ingest_quantity",
            format_func=lambda c: (f"Detect (now: {detected.quantity_col or 'none, each row counts as one unit'})"
                                   if c == DETECT else c),
            help="Units sold per row. Without one, each row of a transaction log counts as one unit.")
        keep_returns = st.checkbox("Keep returns (negative quantities)", key="w_ingest_returns",
                                   help="By default returns and cancellations are dropped and counted.")
    return IngestOptions(format=fmt, date_col=None if date_col == DETECT else date_col,
                         product_cols=tuple(product_cols), quantity_col=None if quantity == DETECT else quantity,
                         dayfirst=DAYFIRST[dayfirst], keep_returns=bool(keep_returns),
                         max_products=current.max_products)
