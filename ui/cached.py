"""st.cache_data wrappers around the library's data calls, keyed by content hash, never by bytes.

Arguments starting with ``_`` are not hashed by Streamlit: the digest next to them stands for their
content, so a 100 MB upload is hashed once (when it arrives), not on every rerun. Nothing here imports
torch: the frame, Home and Data pages draw before any model code is loaded (see ui/results.py for the
model side).
"""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from forecaster import demo
from forecaster.config import IngestOptions
from forecaster.ingest import ColumnMapping, IngestResult, build_panel, detect_mapping, read_table

from . import state


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_data(max_entries=1, show_spinner=False)
def demo_dataset() -> state.Dataset:
    data = demo.demo_csv_bytes()
    return state.Dataset(demo.DEMO_NAME, digest(data), data, demo=True)


@st.cache_data(max_entries=8, show_spinner="Reading the file…")
def table(key: str, _data: bytes) -> pd.DataFrame:
    """The raw table as read from the CSV (encoding and delimiter detected)."""
    return read_table(_data)


@st.cache_data(max_entries=16, show_spinner=False)
def mapping(key: str, _data: bytes, options: IngestOptions) -> ColumnMapping:
    return detect_mapping(table(key, _data), options)


@st.cache_data(max_entries=16, show_spinner="Building the daily table…")
def ingest(key: str, _data: bytes, options: IngestOptions) -> IngestResult:
    """The daily panel and the ingest report for this file and these column choices."""
    return build_panel(table(key, _data), mapping(key, _data, options), options)


def current_ingest() -> IngestResult | None:
    """Panel of the session's dataset with its column choices; raises DataError if it cannot be read."""
    ds = state.dataset()
    if ds is None:
        return None
    return ingest(ds.digest, ds.data, state.ingest_options())
