"""st.cache_data wrappers around the model side of the library (evaluation, forecasts, their CSVs), keyed by
job id, and the training device. Imported by the Train, Evaluate and Forecast pages only: it brings torch."""
from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from forecaster.io import export
from forecaster.labels import NETWORK, label
from forecaster.device import device_label, resolve_device
from forecaster.results.evaluation import Evaluation, evaluate
from forecaster.model.intervals import Calibration
from forecaster.results.forecasting import Prepared, current_calibration, point_forecast, totals
from forecaster.model.trained import TrainedForecaster


@st.cache_data(max_entries=16, show_spinner="Scoring the test days…")
def evaluation(key: str, _trained: TrainedForecaster, _panel: pd.DataFrame, _scored: Evaluation | None = None
               ) -> Evaluation:
    """The test-span scores; ``_scored``: the ones the run store's keeper already computed for this job (on
    its thread, as the training ended), not computed again."""
    return _scored if _scored is not None else evaluate(_trained, _panel)


@st.cache_data(max_entries=32, show_spinner="Forecasting…")
def forecast_for(key: str, _trained: TrainedForecaster, _panel: pd.DataFrame, horizon: int,
                 _prepared: Prepared | None = None) -> pd.DataFrame:
    """The point forecast (the network runs here, unless ``_prepared`` as the run ended holds it); intervals
    are added per level by the page, cheaply."""
    if _prepared is not None and horizon in _prepared.points:
        return _prepared.points[horizon]
    return point_forecast(_trained, _panel, horizon)


@st.cache_data(max_entries=16, show_spinner="Reading the latest days…")
def calibration_for(key: str, _trained: TrainedForecaster, _panel: pd.DataFrame,
                    _prepared: Prepared | None = None) -> Calibration | None:
    """The calibration a forecast after the panel uses (it predicts the last 28 days once, not per rerun)."""
    return _prepared.calibration if _prepared is not None else current_calibration(_trained, _panel)


@st.cache_data(max_entries=32, show_spinner="Adding up the days…")
def totals_for(key: str, _trained: TrainedForecaster, _panel: pd.DataFrame, days: int, level: float,
               service_level: float, order_stopped: bool = False, _prepared: Prepared | None = None) -> pd.DataFrame:
    """Each product's total over the next ``days`` days, its range and order-up-to quantity."""
    ready = _prepared.totals.get((days, level, service_level, order_stopped)) if _prepared is not None else None
    if ready is not None:
        return ready
    return totals(forecast_for(key, _trained, _panel, days, _prepared), calibration_for(key, _trained, _panel, _prepared),
                  days, level, service_level, order_stopped)


@st.cache_data(max_entries=32, show_spinner=False)
def totals_csv(key: str, _totals: pd.DataFrame, _catalog: pd.DataFrame | None = None) -> bytes:
    return export.to_csv_bytes(export.totals_table(_totals, _catalog))


@st.cache_data(max_entries=32, show_spinner=False)
def forecast_csv(key: str, _forecast: pd.DataFrame, _catalog: pd.DataFrame | None = None) -> bytes:
    return export.to_csv_bytes(export.forecast_table(_forecast, _catalog))


@st.cache_data(max_entries=16, show_spinner=False)
def metrics_csv(key: str, _evaluation: Evaluation, level: float, _catalog: pd.DataFrame | None = None) -> bytes:
    return export.to_csv_bytes(export.metrics_table(_evaluation, level, _catalog))


def download_name(kind: str, dataset: str, suffix: str = "") -> str:
    """A download's file name that says what it holds and from which data: letters, digits, - and _ only
    (a dataset's name is user text; it never becomes a path, here or in the browser)."""
    stem = re.sub(r"(?i)\.(csv|txt|tsv)(\.gz)?$|\.gz$", "", dataset)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:40]
    return "_".join(p for p in (kind, stem or "data", suffix) if p) + ".csv"


def overall_table(overall: pd.DataFrame, model_name: str) -> pd.DataFrame:
    """The evaluation's methods x measures, each method under the name a user reads."""
    named = overall.rename(index=lambda m: model_name if m == NETWORK else label(m))
    named = named.assign(Bias=named["Bias"] * 100, WAPE=named["WAPE"] * 100).round(3)
    return named.rename(columns={"Bias": "Bias (%)", "WAPE": "WAPE (%)", "ratio_to_seasonal_naive":
                                 "MAE vs seasonal naive", "rmse_ratio": "RMSE vs seasonal naive"}
                        ).rename_axis("method").reset_index()


@st.cache_resource(show_spinner=False)
def training_device(name: str = "auto") -> str:
    """What training will run on, in words (resolved once per server process)."""
    return device_label(resolve_device(name))
