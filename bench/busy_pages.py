"""Busy-server page benchmark: does the dashboard stay responsive for one user while another user's session
trains a large model (10,000 products) on the same server?

usage: python bench/busy_pages.py --data /tmp/scale/demo_10000x1095_wide.csv [--visits 6] [--limit 2.0]
                                  [--a-nice 10] [--gap 2.0] [--timeout 120] [--train-timeout 600]

What one run does and measures:

1. ``streamlit run app.py`` (the e2e tests' ``streamlit_server``) with this machine's default server settings
   (forecaster.config.ServerSettings: workers, max jobs; no Ray) and a temporary FORECASTER_HOME, so the run
   that training keeps goes to a throwaway run store. Debian's Chromium through Playwright (sync API): B's
   at the usual priority, A's a second Chromium at ``--a-nice`` (default 10), as bench/sessions.py runs its
   training sessions' browsers: A's user would run it on their own machine, where its live charts take
   nothing from B (``--a-nice 0``: one Chromium for both, competing for these 2 cores).
2. Session A (its own browser context): Home, then Data, uploads ``--data`` through the file input and waits
   until the Data page shows it read ("Read as ..."); then Train, presses Train with the default settings,
   and waits until its main area shows "Training…" (the job is running, not queued).
3. Session B (another browser context): Home, "Use demo data"; then, while A trains, clicks the menu's
   Data, Home, Train, Data, ... ``--visits`` times, ``--gap`` s apart. Each visit is timed from the click
   until the page is rendered, with bench/pages.py's check (title, Streamlit idle, nothing stale, no
   skeleton, charts drawn, counts steady for its quiet time; the quiet wait is not counted). Before the click
   and once rendered, A's main area is read: "A training" is yes when both readings show "Training…".
4. Then A is waited for ("Training finished in", at most ``--train-timeout`` s) and the time it shows kept.
5. A table of B's visits (page, seconds, A still training), the max, PASS/FAIL against ``--limit`` (every
   visit rendered, each within the limit, and A training during every one of them) and A's training time.
   Exit status 0 PASS, 1 FAIL, 2 a set-up error (no Chromium, the server, an upload or Train step failing).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pages import VIEWPORT, Visit, log, visit, wait_rendered  # noqa: E402
from bench.sessions import niced_chromium  # noqa: E402
from forecaster.config import ServerSettings  # noqa: E402  (torch-free)
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

ROTATION = ("Data", "Home", "Train")
MAIN = '[data-testid="stMain"]'
HOME_TITLE = "Purchase Forecaster"
RUNNING = "Training…"  # ui.jobs.STATUS_TEXT["running"]
FINISHED_RE = re.compile(r"Training finished in ([^:]+):")
FAILED_RE = re.compile(r"Training failed|Cancelled after|was cancelled")


@dataclass
class BusyVisit:
    """One of session B's visits while A trains."""
    page: str
    visit: Visit
    started: float  # seconds since A's job was seen running
    a_before: str
    a_after: str

    @property
    def a_training(self) -> bool:
        """A's page showed its job training before the click and once this page was rendered."""
        return self.a_before == self.a_after == "training"


@dataclass
class Training:
    """Session A's job: when it was seen running and finished, and the time its page showed."""
    read_s: float | None = None  # Data page: file input set -> "Read as"
    running_at: float | None = None  # monotonic
    finished_at: float | None = None
    shown: str | None = None  # "Training finished in X"
    end_state: str = "training"


def a_state(page) -> str:
    """What A's main area shows: "finished", "training", "failed" or "other"."""
    text = page.locator(MAIN).inner_text(timeout=30_000)
    if FINISHED_RE.search(text):
        return "finished"
    if RUNNING in text:
        return "training"
    return "failed" if FAILED_RE.search(text) else "other"


def new_session(browser, url: str, timeout: float):
    """A page in its own browser context (its own Streamlit session), on Home once rendered."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(timeout * 1000)
    page = context.new_page()
    page.goto(url)
    home = wait_rendered(page, HOME_TITLE, time.monotonic(), timeout)
    if home.error:
        raise RuntimeError(f"Home did not render: {home.error}")
    return page


def start_training(page, data: Path, timeout: float, train_timeout: float) -> Training:
    """Session A: Data, upload ``data``, wait for it read; Train, press Train, wait for "Training…"."""
    job = Training()
    if (err := visit(page, "Data", timeout).error):
        raise RuntimeError(f"A's Data page: {err}")
    start = time.monotonic()
    page.locator("input[type=file]").set_input_files(str(data))
    page.locator(MAIN).get_by_text("Read as").first.wait_for(timeout=train_timeout * 1000)
    job.read_s = time.monotonic() - start
    log(f"A: {data.name} read in {job.read_s:.1f} s")
    if (err := visit(page, "Train", timeout).error):
        raise RuntimeError(f"A's Train page: {err}")
    page.locator('[data-testid="stForm"]').get_by_role("button", name="Train").click()
    pressed = time.monotonic()
    page.locator(MAIN).get_by_text(RUNNING).first.wait_for(timeout=train_timeout * 1000)
    job.running_at = time.monotonic()
    log(f"A: training running {job.running_at - pressed:.1f} s after the press")
    return job


def open_with_demo(page, timeout: float) -> None:
    """Session B: Home's "Use demo data", until Home is rendered again with the data loaded."""
    page.get_by_role("button", name="Use demo data").click()
    page.get_by_text("Data loaded").first.wait_for(timeout=timeout * 1000)
    done = wait_rendered(page, HOME_TITLE, time.monotonic(), timeout)
    if done.error:
        raise RuntimeError(f"B's Home after Use demo data: {done.error}")


def busy_visits(a, b, job: Training, args: argparse.Namespace) -> list[BusyVisit]:
    """B's visits in rotation, ``args.gap`` s apart, each with A's state before and after."""
    rows: list[BusyVisit] = []
    for i in range(args.visits):
        if i:
            b.wait_for_timeout(args.gap * 1000)
        name = ROTATION[i % len(ROTATION)]
        before = a_state(a)
        started = time.monotonic() - (job.running_at or time.monotonic())
        v = visit(b, name, args.timeout)
        after = a_state(a)
        rows.append(BusyVisit(name, v, started, before, after))
        log(f"B visit {i + 1} {name}: " + (f"{v.seconds:.2f} s" if v.error is None else v.error)
            + f" (A {before} -> {after})")
        if after == "finished" and not job.finished_at:
            job.finished_at = time.monotonic()
    return rows


def wait_finished(page, job: Training, train_timeout: float) -> None:
    """Wait until A's page shows its job ended (at most ``train_timeout`` s after it started running)."""
    deadline = (job.running_at or time.monotonic()) + train_timeout
    state = a_state(page)
    while state == "training" and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        state = a_state(page)
    job.end_state = state
    if state == "finished":
        job.finished_at = job.finished_at or time.monotonic()
        match = FINISHED_RE.search(page.locator(MAIN).inner_text())
        job.shown = match.group(1).strip() if match else None
    log(f"A: {state}" + (f", training finished in {job.shown}" if job.shown else ""))


def measure(url: str, args: argparse.Namespace) -> tuple[Training, list[BusyVisit]]:
    """A starts training, B visits pages, then A is waited for. A's browser is its own Chromium at
    ``args.a_nice`` (A's user would run it on their own machine), or B's with ``--a-nice 0``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        a_browser = browser if not args.a_nice else pw.chromium.launch(
            executable_path=niced_chromium(args.a_nice), args=CHROMIUM_ARGS, headless=True)
        try:
            a = new_session(a_browser, url, args.timeout)
            b = new_session(browser, url, args.timeout)
            open_with_demo(b, args.timeout)
            log("B: demo data loaded")
            job = start_training(a, args.data, args.timeout, args.train_timeout)
            rows = busy_visits(a, b, job, args)
            wait_finished(a, job, args.train_timeout)
        finally:
            browser.close()
            if a_browser is not browser:
                a_browser.close()
    return job, rows


def passed(rows: list[BusyVisit], limit: float) -> bool:
    """Every visit rendered within ``limit`` s while A was training."""
    return bool(rows) and all(r.visit.error is None and r.visit.seconds <= limit and r.a_training for r in rows)


def report(rows: list[BusyVisit], job: Training, header: dict[str, Any], limit: float) -> bool:
    """Print the table, the max, PASS/FAIL and A's training time; whether it passed."""
    print("=" * 78)
    print("bench/busy_pages.py: session B's page renders while session A trains")
    for key, value in header.items():
        print(f"  {key:<26} {value}")
    print("-" * 78)
    print(f"{'#':>2}  {'page':<6}{'seconds':>9}  {'A training':<11}{'at (s into A)':>14}  A before -> after")
    for i, r in enumerate(rows, 1):
        secs = f"{r.visit.seconds:.2f}" if r.visit.error is None else "FAIL"
        print(f"{i:>2}  {r.page:<6}{secs:>9}  {'yes' if r.a_training else 'no':<11}{r.started:>14.1f}  "
              f"{r.a_before} -> {r.a_after}" + (f"  ({r.visit.error})" if r.visit.error else ""))
    times = [r.visit.seconds for r in rows if r.visit.error is None]
    worst = max(times) if times else None
    print("-" * 78)
    print(f"max {worst:.2f} s" if worst is not None else "max: no visit rendered")
    ok = passed(rows, limit)
    print(f"{'PASS' if ok else 'FAIL'}  every visit rendered in at most {limit:g} s while A trained")
    if job.shown:
        print(f"A's training time: {job.shown} (as shown: 'Training finished in {job.shown}')")
    else:
        print(f"A's training time: not finished (A's page: {job.end_state})")
    print("=" * 78)
    return ok


def server_env(home: str) -> dict[str, str]:
    """The server's environment: a throwaway run store, and this machine's default server settings (the
    e2e server would otherwise run two jobs at once; these replace any FORECASTER_* set in this shell)."""
    defaults = ServerSettings()  # the dataclass defaults, not read from the environment
    return {"FORECASTER_HOME": home, "FORECASTER_WORKERS": str(defaults.workers),
            "FORECASTER_MAX_JOBS": str(defaults.max_jobs), "RAY_ADDRESS": ""}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="the CSV session A uploads and trains on")
    parser.add_argument("--visits", type=int, default=6, help="session B's page visits (default: 6)")
    parser.add_argument("--limit", type=float, default=2.0, help="PASS when every visit is at most this (s)")
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between B's visits (default: 2)")
    parser.add_argument("--a-nice", type=int, default=10,
                        help="CPU niceness of session A's own Chromium (0: one Chromium for both sessions)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per page step, in seconds (default: 120)")
    parser.add_argument("--train-timeout", type=float, default=600.0,
                        help="upload read, queue, and A's training, each at most this (s; default: 600)")
    args = parser.parse_args(argv)
    if args.visits < 1:
        parser.error("--visits must be at least 1")
    if not args.data.is_file():
        parser.error(f"{args.data} is not a file")
    return args


def main(argv: list[str] | None = None) -> int:
    """Start the server, measure, report; the exit status (0 PASS, 1 FAIL, 2 set-up error)."""
    args = parse_args(argv)
    if not Path(CHROMIUM).exists():
        log(f"{CHROMIUM} is missing (apt-get install chromium)")
        return 2
    log_dir = Path(tempfile.mkdtemp(prefix="bench_busy_"))
    env = server_env(tempfile.mkdtemp(prefix="bench_busy_home_"))
    load_start = os.getloadavg()
    try:
        with streamlit_server(log_dir, env) as url:
            log(f"server at {url}, log in {log_dir}, {env}")
            job, rows = measure(url, args)
    except Exception as exc:  # noqa: BLE001  a set-up or browser error: say it, with the server's log
        log(f"error: {type(exc).__name__}: {exc}")
        for path in log_dir.glob("server-*.log"):
            log(f"server log tail ({path}):\n" + path.read_text()[-2500:])
        return 2
    header = {"data": f"{args.data} ({args.data.stat().st_size / 2**20:.1f} MiB)",
              "A: file read (Data page)": f"{job.read_s:.1f} s",
              "browsers": (f"A's Chromium at nice {args.a_nice}, B's at 0" if args.a_nice
                           else "one Chromium for both"),
              "server settings": f"workers {env['FORECASTER_WORKERS']}, max jobs {env['FORECASTER_MAX_JOBS']}",
              "cores": os.cpu_count(), "server log": str(next(log_dir.glob("server-*.log"), log_dir)),
              "load 1/5/15 start, end": " ".join(f"{x:.2f}" for x in load_start) + ", "
              + " ".join(f"{x:.2f}" for x in os.getloadavg())}
    return 0 if report(rows, job, header, args.limit) else 1


if __name__ == "__main__":
    sys.exit(main())
