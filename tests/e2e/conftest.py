"""A real `streamlit run app.py` on a free localhost port, driven by Debian's Chromium through Playwright."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
# Generous: the machine has 2 cores and other CPU-heavy jobs may run beside these tests.
STARTUP_S = 90
STEP_MS = 60_000
TRAIN_MS = 240_000
MENU_LINK = '[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]'  # app.py's own menu (st.page_link)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):  # CI installs chromium (scripts/test.sh): a missing browser there is a failure
            pytest.fail(f"{CHROMIUM} is missing on CI; scripts/test.sh should have installed it")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); scripts/test.sh installs it")


@contextmanager
def streamlit_server(log_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app.py` on a free localhost port (``env`` added to this process's environment); yields
    its URL once its health check answers."""
    port = _free_port()
    log_path = log_dir / f"server-{port}.log"
    # two jobs at once: test_two_sessions_training_at_once_... trains two sessions side by side (the queue a
    # smaller server would put the second in is tested in tests/test_executor.py and tests/app)
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONUNBUFFERED": "1",
           "FORECASTER_MAX_JOBS": "2", **(env or {})}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + STARTUP_S
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("streamlit did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> Iterator[str]:
    require_chromium()
    with streamlit_server(tmp_path_factory.mktemp("streamlit")) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def new_page(browser, server_url):
    """Factory: a page in its own browser context (its own cookies, so its own Streamlit session)."""
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1440, "height": 1400}, accept_downloads=True)
        context.set_default_timeout(STEP_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(server_url)
        page.locator("h1", has_text="Purchase Forecaster").wait_for()
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
