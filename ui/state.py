"""Every st.session_state key, named once with its default, and typed getters.

What lives here is small and picklable: which dataset (name, content hash, the bytes to re-read it with
other column choices) and which training job this browser session is looking at, and the settings that
must survive a page switch. Widgets on pages have their own keys (``w_*``) and copy into these.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import streamlit as st

from forecaster.config import TOTAL_DAYS as DEFAULT_TOTAL_DAYS
from forecaster.config import DEFAULT_CONFIG, DEFAULT_INGEST, DEFAULT_INTERVALS, ForecastConfig, IngestOptions

OWNER = "owner_id"  # this browser session's id in the job registry, issued by it (see ui.jobs.adopt_owner)
DATASET = "dataset"  # Dataset | None
INGEST = "ingest_options"  # IngestOptions chosen on the Data page
CONFIG = "train_config"  # ForecastConfig last used on the Train page
JOB_ID = "job_id"  # id of the job this session looks at
BACKTEST_JOB = "backtest_job_id"  # id of the rolling backtest running (or run) beside it
LAST_UPLOAD = "last_upload_id"  # file_id of the upload already adopted (so demo data is not overwritten)
HORIZON = "forecast_horizon"
DEFAULT_HORIZON = 1  # the Forecast page's days to forecast, until the user sets them
TOTAL_DAYS = "total_days"  # days the Forecast page's lead-time totals cover
TOP_N = "evaluate_top_n"
PRODUCT = "chosen_product"  # product picked on Evaluate / Forecast
HOLIDAYS_CHOSEN = "holidays_chosen"  # the user picked the calendar: suggestions no longer replace it
HOLIDAYS_FOR = "holidays_for"  # digest of the dataset whose holiday calendar the Data page last offered
INTERVALS = "interval_options"  # IntervalOptions: the level and service level on Evaluate and Forecast
FUTURE = "future_drivers"  # (job id, Dataset) of the future driver values uploaded on the Forecast page
FUTURE_UPLOADS = "future_uploads"  # how often the future values were forgotten: the uploader's key, so it starts empty
DRIVERS_LEFT_OUT = "drivers_left_out"  # (dataset digest, names): drivers chosen before that this file cannot give

# the results pages' settings a browser refresh brings back with the data (ui.jobs.keep_working_data)
VIEW = (HORIZON, TOTAL_DAYS, INTERVALS, TOP_N, PRODUCT, FUTURE)  # FUTURE: the run's uploaded future values

OWNER_PARAM = "session"  # query parameter that lets a browser refresh find this session's jobs again


@dataclass(frozen=True)
class Dataset:
    """The current dataset: where it came from and its raw bytes (re-read when a column choice changes)."""

    name: str
    digest: str
    data: bytes
    demo: bool = False


def _defaults() -> dict[str, Any]:
    return {DATASET: None, INGEST: DEFAULT_INGEST, CONFIG: DEFAULT_CONFIG,
            JOB_ID: None, BACKTEST_JOB: None, LAST_UPLOAD: None, HORIZON: DEFAULT_HORIZON, TOTAL_DAYS: DEFAULT_TOTAL_DAYS, TOP_N: 20, PRODUCT: None,
            INTERVALS: DEFAULT_INTERVALS, FUTURE: None, FUTURE_UPLOADS: 0, DRIVERS_LEFT_OUT: None}


def init() -> None:
    """Set every key that is missing to its default (called once per run by app.py)."""
    for key, value in _defaults().items():
        if key not in st.session_state:
            st.session_state[key] = value


def owner() -> str:
    return st.session_state[OWNER]


XSRF_COOKIE = "_streamlit_xsrf"  # Streamlit's own per-browser cookie (XSRF protection is on by default)


def browser_key() -> str:
    """A hash of a secret only this browser holds (Streamlit's XSRF cookie token), or "" without one.

    A session id in a URL resumes a session only together with this key, so a shared or guessed link
    opens a new, empty session in any other browser."""
    raw = st.context.cookies.get(XSRF_COOKIE, "") if st.context.cookies else ""
    try:  # the cookie's token is stable while its masked form may change from response to response
        from streamlit.web.server.starlette.starlette_app_utils import decode_xsrf_token_string

        token, _ = decode_xsrf_token_string(raw)
        raw = token.hex() if token else raw
    except ImportError:  # another Streamlit server: the cookie as sent
        pass
    return hashlib.sha256(raw.encode()).hexdigest() if raw else ""


NO_COOKIE = ("This browser keeps no cookie for this page (cookies blocked, or the server's XSRF protection off), so "
             "nothing tells it from another browser: a refresh or this page's link starts a new, empty session "
             "(your upload and training do not come back), and uploads may be refused. Allow cookies for this "
             "site to keep your work across refreshes.")


UPLOAD_NEEDS_COOKIE = ("Uploading a file needs this site's cookie, which this browser does not keep (Streamlit "
                       "refuses an upload without it). Allow cookies for this site and reload the page to upload, "
                       "or paste the file's text below.")


def bound() -> bool:
    """Whether this browser holds a key a session can be bound to (see :func:`browser_key`)."""
    return bool(browser_key())


def dataset() -> Dataset | None:
    return st.session_state.get(DATASET)


def set_dataset(ds: Dataset) -> None:
    """A new dataset starts with detected column choices."""
    st.session_state[DATASET] = ds
    st.session_state[INGEST] = DEFAULT_INGEST
    for key in [k for k in st.session_state if str(k).startswith("w_ingest_")]:
        del st.session_state[key]


def ingest_options() -> IngestOptions:
    return st.session_state[INGEST]


def set_ingest_options(options: IngestOptions) -> None:
    st.session_state[INGEST] = options


def config() -> ForecastConfig:
    return st.session_state[CONFIG]


def set_config(cfg: ForecastConfig) -> None:
    st.session_state[CONFIG] = cfg


def job_id() -> str | None:
    return st.session_state.get(JOB_ID)


def set_job_id(value: str | None) -> None:
    st.session_state[JOB_ID] = value


def holidays_for() -> str | None:
    """The dataset (digest) the holiday calendar was last chosen for: a new file gets its suggestion."""
    return st.session_state.get(HOLIDAYS_FOR)


def set_holidays_for(digest: str) -> None:
    st.session_state[HOLIDAYS_FOR] = digest


def holidays_chosen() -> bool:
    """Whether the user picked the holiday calendar (or region) themselves: a new file's suggestion then no
    longer replaces it."""
    return bool(st.session_state.get(HOLIDAYS_CHOSEN, False))


def set_holidays_chosen(chosen: bool = True) -> None:
    st.session_state[HOLIDAYS_CHOSEN] = chosen


def view() -> dict[str, Any]:
    """The results pages' settings (days to forecast, days to cover, levels, product, the future values
    uploaded for the run): kept for a refresh."""
    return {key: st.session_state.get(key) for key in VIEW}


def set_view(kept: dict[str, Any]) -> None:
    st.session_state.update({key: value for key, value in kept.items() if key in VIEW and value is not None})


def get(key: str) -> Any:
    return st.session_state[key]


def put(key: str, value: Any) -> None:
    st.session_state[key] = value
