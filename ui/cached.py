"""st.cache_data wrappers around the library's data calls, keyed by content hash, never by bytes.

Arguments starting with ``_`` are not hashed by Streamlit: the digest next to them stands for their
content, so a 100 MB upload is hashed once (when it arrives), not on every rerun. Parsed uploads are held
in a cache bounded in bytes (:class:`BytesBoundedCache`), not only in entries. Nothing here imports
torch: the frame, Home and Data pages draw before any model code is loaded (see ui/results.py for the
model side).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable, TypeVar

import pandas as pd
import streamlit as st

from forecaster.data import demo
from forecaster.config import IngestOptions
from forecaster.data.drivers import DriverPanel
from forecaster.data.ingest import (ColumnMapping, IngestResult, build_panel, detect_mapping, load_future_drivers,
                                    read_table)

from . import state

T = TypeVar("T")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_data(max_entries=1, show_spinner=False)
def demo_dataset() -> state.Dataset:
    data = demo.demo_csv_bytes()
    return state.Dataset(demo.DEMO_NAME, digest(data), data, demo=True)


class BytesBoundedCache:
    """Least recently used values, evicted oldest first once they hold more than ``max_bytes`` together.

    st.cache_data bounds entries, not bytes: eight 200 MB uploads would keep gigabytes after their tabs
    closed. Tables and panels parsed from uploads live here instead, shared by every session."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: tuple, make: Callable[[], T], size: Callable[[T], int]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]  # type: ignore[return-value]
        value = make()  # outside the lock: another session's file is not kept waiting
        nbytes = size(value)
        if nbytes > self.max_bytes:  # larger than the whole bound alone: used, never kept
            return value
        with self._lock:
            self._items[key] = (value, nbytes)
            self._items.move_to_end(key)
            while sum(n for _, n in self._items.values()) > self.max_bytes:
                self._items.popitem(last=False)
        return value

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(n for _, n in self._items.values())


UPLOAD_CACHE_BYTES = 1 << 30  # parsed tables and daily panels of every session together


@st.cache_resource(show_spinner=False)
def uploads() -> BytesBoundedCache:
    return BytesBoundedCache(UPLOAD_CACHE_BYTES)


def _frame_bytes(df: pd.DataFrame) -> int:
    return int(df.memory_usage(index=True, deep=True).sum())


def table(key: str, data: bytes, encoding: str | None = None) -> pd.DataFrame:
    """The raw table as read from the CSV (the delimiter detected, the encoding too unless chosen)."""
    def read() -> pd.DataFrame:
        with st.spinner("Reading the file…"):  # only while it is parsed, not on every rerun
            return read_table(data, encoding)

    return uploads().get_or_make(("table", key, encoding), read, _frame_bytes)


@st.cache_data(max_entries=16, show_spinner=False)
def mapping(key: str, _data: bytes, options: IngestOptions) -> ColumnMapping:
    return detect_mapping(table(key, _data, options.encoding), options)


def ingest(key: str, data: bytes, options: IngestOptions) -> IngestResult:
    """The daily panel and the ingest report for this file and these column choices."""
    return uploads().get_or_make(("panel", key, options),
                                 lambda: build_panel(table(key, data, options.encoding), mapping(key, data, options),
                                                     options),
                                 lambda result: _frame_bytes(result.panel))


def future_drivers(key: str, data: bytes, drivers: DriverPanel, mapping: ColumnMapping, after: pd.Timestamp,
                   options: IngestOptions, dayfirst: bool | None) -> tuple[DriverPanel, tuple[str, ...]]:
    """The future driver values of an upload (``key``: its digest and the job's), read once."""
    return uploads().get_or_make(("future", key),
                                 lambda: load_future_drivers(data, drivers, mapping, after, options, dayfirst),
                                 lambda result: int(result[0].values.nbytes))


def current_ingest() -> IngestResult | None:
    """Panel of the session's dataset with its column choices; raises DataError if it cannot be read."""
    ds = state.dataset()
    if ds is None:
        return None
    return ingest(ds.digest, ds.data, state.ingest_options())


@st.cache_resource
def app_icon() -> "Image.Image":
    """The browser tab's icon, drawn here and served by this server (a Material icon name would make every
    visitor's browser fetch it from an outside font server, which also fails offline): a rising line."""
    from PIL import Image, ImageDraw

    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((0, 0, 63, 63), radius=12, fill=(31, 119, 180, 255))
    draw.line([(10, 48), (24, 34), (34, 42), (54, 16)], fill=(255, 255, 255, 255), width=6, joint="curve")
    return icon
