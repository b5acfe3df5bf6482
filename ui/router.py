"""Keeps every page inside app.py's frame, even on the first request after the server starts.

Streamlit decides once per server process, before app.py has ever run, whether a ``pages/`` folder means
its legacy folder scan. If the first request after a (re)start is a page's own URL (a bookmark of
``/train``, say), that page script would run alone: no sidebar, no session defaults. Each page therefore
calls :func:`ensure_frame` first; when app.py is not running it, it runs app.py instead, whose
``st.navigation`` ends the legacy mode and runs the same page (same URL path) inside the frame.
"""
from __future__ import annotations

import runpy
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

import streamlit as st

APP = Path(__file__).resolve().parents[1] / "app.py"
_routed: ContextVar[bool] = ContextVar("routed_by_app", default=False)


@contextmanager
def routed() -> Iterator[None]:
    """app.py wraps ``nav.run()`` in this: pages run inside it are in the frame."""
    token = _routed.set(True)
    try:
        yield
    finally:
        _routed.reset(token)


def ensure_frame() -> None:
    """First line of every page: hand over to app.py when Streamlit ran this page without it."""
    if _routed.get():
        return
    runpy.run_path(str(APP), run_name="__main__")
    st.stop()
