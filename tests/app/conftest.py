"""AppTest helpers: a fresh app, tiny data, and a tiny model trained through the Train page's form."""
from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from forecaster.data.demo import demo_csv_bytes
from ui.jobs import registry
from ui.state import Dataset

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120  # generous: other engineers' CPU-heavy jobs share this 2-core machine
TINY_FORM = {"w_model": "cnn_lstm", "w_epochs": 3, "w_conv": 8, "w_hidden": 8, "w_test_days": 14, "w_val_days": 14, "w_batch": 64}


@pytest.fixture(autouse=True)
def browser_cookie(monkeypatch):
    """AppTest sends no cookies; a real browser holds Streamlit's XSRF cookie, which binds a session to it.
    Tests of a cookie-less browser set ``ui.state.browser_key`` back to ""."""
    from ui import state as ui_state

    monkeypatch.setattr(ui_state, "browser_key", lambda: "this test's browser")


@pytest.fixture(scope="session")
def tiny_csv() -> bytes:
    return demo_csv_bytes(n_products=6, days=150, seed=3)


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT).run()


def with_data(data: bytes, name: str = "tiny.csv") -> AppTest:
    at = new_app()
    at.session_state["dataset"] = Dataset(name, hashlib.sha256(data).hexdigest(), data)
    return at.run()


def job_of(at: AppTest):
    return registry().get(at.session_state["owner_id"], at.session_state["job_id"])


def train(at: AppTest, **form) -> AppTest:
    """Fill the Train form (tiny sizes by default), press Train, wait for the thread, rerun."""
    at.switch_page("pages/train.py").run()
    for key, value in {**TINY_FORM, **form}.items():
        widget = at.text_input(key=key) if key == "w_lags" else (
            at.selectbox(key=key) if key == "w_model" else at.checkbox(key=key) if key == "w_retrain"
            else at.number_input(key=key))
        widget.set_value(value)
    at.button(key="FormSubmitter:training_form-Train").click().run()
    job = job_of(at)
    assert job is not None, [e.value for e in at.error]
    assert job.wait(TIMEOUT)
    return at.run()


def shown(markdown: str) -> str:
    """What a reader sees of Markdown that ui escapes with forecaster.text.markdown: the backslashes go."""
    return re.sub(r"\\(.)", r"\1", str(markdown))


def sidebar_text(at: AppTest) -> str:
    return shown("\n".join(str(getattr(el, "value", "")) for el in at.sidebar.children.values()))


def all_text(at: AppTest) -> str:
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "success", "warning", "error"):
        parts += [str(el.value) for el in getattr(at, kind)]
    return shown("\n".join(parts))


_SEEDS = itertools.count(1000)


@pytest.fixture()
def trained_app(tiny_csv) -> AppTest:
    """A tiny model trained for this test alone (its own seed, so no earlier result is reused)."""
    at = train(with_data(tiny_csv), w_seed=next(_SEEDS))
    assert not at.exception
    return at
