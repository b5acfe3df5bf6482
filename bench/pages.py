"""Page benchmark: how long each dashboard page takes to render in a real browser once a run is trained, for a
run kept in the run store.

usage: python bench/pages.py --home DIR [--run ID] [--repeats 3] [--limit 3.0] [--timeout 120] [--out FILE]

DIR is a FORECASTER_HOME folder whose run store holds at least one run trained on the command line
(``FORECASTER_HOME=DIR python -m forecaster train DATA.csv --save``); ``--run`` picks one by its id or a
unique prefix of it (``runs list``), default the newest. A browser's Runs page lists the command line's runs
and its own, so a run kept from another browser cannot be opened here. Opening a run makes its file the
session's current data (``upload.gz``: the dashboard and ``train --save`` keep it; a run kept before they
did has none, and then the Data page shows no data, which the report says).

What one run does and measures:

1. ``streamlit run app.py`` on 127.0.0.1, a free port, headless, with FORECASTER_HOME=DIR (the e2e tests'
   ``streamlit_server``), and Debian's Chromium through Playwright (sync API, headless, 1440x1400).
2. The app opens on Home; the Runs page (sidebar menu) picks the run in its multiselect and presses its Open
   button: the run's model and data become the session's current ones, the app switches to Evaluate. The
   seconds from the press until Evaluate is rendered are printed as "open" (it loads the model, and torch on
   a fresh server).
3. Then every page of the menu (Home, Data, Train, Evaluate, Forecast, Runs), ``--repeats`` times in that
   rotation: the menu link is clicked and the seconds are measured from the click until the page is
   rendered, that is, all of these at once: its h1 title visible; Streamlit idle (the app root's
   ``data-test-script-state`` is "notRunning" and no status widget: that one only shows once a script run
   has taken 500 ms, so alone it misses short runs; no element marked stale); no loading skeleton visible (a
   lazily loaded element, e.g. the first chart or table); every Plotly chart on show drawn (its
   ``.js-plotly-plot`` visible: Streamlit keeps it hidden until Plotly has sized it); and the counts of
   charts and tables unchanged. The state is read every POLL_S s by one script in the page; it must hold
   for QUIET_S s, and the time is taken where it began (the quiet wait is not counted). A page not rendered
   within ``--timeout`` s (120) is a failed visit, not a hang.
4. Counted on each page once rendered: Plotly charts (``.js-plotly-plot``) and tables (``stDataFrame``)
   that are visible, and in brackets how many more the page holds hidden (a closed expander, another tab).
5. A table: each visit's seconds, the max, the charts and tables; a PASS/FAIL line per page (its max against
   ``--limit``, default 3.0 s; a failed visit fails it). ``--out`` writes the same as JSON. Exit status 1 if
   any page failed, 2 for a set-up error (no run, no Chromium, the server or the Open step failing).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecaster.errors import ForecasterError  # noqa: E402
from forecaster.io.store import CLI, RunStore, StoredRun  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, MENU_LINK, streamlit_server  # noqa: E402

PAGES = ("Home", "Data", "Train", "Evaluate", "Forecast", "Runs")  # app.py's menu, in its order
TITLES = {"Home": "Purchase Forecaster"}  # a page's h1 where it is not the menu label
RUNS_PICKER = "Runs to open, share or delete"  # pages/runs.py's multiselect (key w_runs)
OPEN_BUTTON = ".st-key-open_run button:visible"  # a button with a tooltip also has a hidden copy
IDLE = "notRunning"  # the app root's data-test-script-state once a script run has ended
POLL_S = 0.05
QUIET_S = 0.3
VIEWPORT = {"width": 1440, "height": 1400}

# One read of the page: everything "rendered" needs, and what it shows.
PAGE_STATE_JS = """(title) => {
  const seen = el => el.checkVisibility({checkVisibilityCSS: true}) && el.getClientRects().length > 0;
  const all = sel => [...document.querySelectorAll(sel)];
  const boxes = all('[data-testid="stPlotlyChart"]').filter(seen);
  const plots = all('.js-plotly-plot');
  const tables = all('[data-testid="stDataFrame"]');
  return {
    title: all('h1').some(h => seen(h) && h.textContent.includes(title)),
    script: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state') ?? 'none',
    busy: document.querySelector('[data-testid="stStatusWidget"]') !== null,
    stale: all('[data-stale="true"]').length,
    skeletons: all('[data-testid="stSkeleton"]').filter(seen).length,
    undrawn: boxes.filter(b => ![...b.querySelectorAll('.js-plotly-plot')].some(seen)).length,
    charts: plots.filter(seen).length, charts_hidden: plots.filter(p => !seen(p)).length,
    tables: tables.filter(seen).length, tables_hidden: tables.filter(t => !seen(t)).length,
  };
}"""


@dataclass
class Visit:
    """One click on a page's menu link and what came of it."""
    seconds: float | None = None
    charts: int = 0
    charts_hidden: int = 0
    tables: int = 0
    tables_hidden: int = 0
    error: str | None = None


@dataclass
class PageResult:
    """Every visit of one page."""
    page: str
    visits: list[Visit] = field(default_factory=list)

    @property
    def max_s(self) -> float | None:
        """The slowest rendered visit."""
        times = [v.seconds for v in self.visits if v.seconds is not None]
        return max(times) if times else None

    def passed(self, limit: float) -> bool:
        """Every visit rendered, and the slowest within ``limit`` seconds."""
        return bool(self.visits) and all(v.error is None for v in self.visits) and (self.max_s or 0) <= limit


def log(msg: str) -> None:
    """A timestamped progress line on stderr (the report goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the run --------------------------------------------------------------------------------------------
def pick_run(home: Path, run_id: str | None) -> StoredRun:
    """The run to open: ``run_id`` (or a prefix), else the newest run a new browser lists (the command
    line's: a browser lists only those and its own)."""
    if not (home / "runs.db").exists() and not os.environ.get("FORECASTER_DB_URL"):
        raise ForecasterError(f"No run store in {home} (no runs.db): train with `FORECASTER_HOME={home} "
                              "python -m forecaster train DATA.csv --save` first.")
    store = RunStore(home)
    try:
        if run_id:
            run = store.get(run_id)
        else:
            listed = [r for r in store.list() if r.source == CLI]
            if not listed:
                raise ForecasterError(f"No run trained on the command line in {store.where}: train with --save.")
            run = listed[0]
    finally:
        store.close()
    if run.source != CLI:
        raise ForecasterError(f"Run {run.id} was kept from the {run.source}: the Runs page of a new browser "
                              "lists only the command line's runs (a browser sees its own and those).")
    return run


# --- the browser ----------------------------------------------------------------------------------------
def menu_link(page, name: str):
    """The sidebar's link to a page (its text is the icon's name, then the label: "model_trainingTrain")."""
    return page.locator(MENU_LINK, has_text=re.compile(rf"{re.escape(name)}\s*$"))


def wait_rendered(page, title: str, start: float, timeout: float) -> Visit:
    """Poll the page until it is rendered (see the module's docstring, step 3); the seconds from ``start``
    to where the quiet state began, or the error (what was still missing at the timeout)."""
    since: float | None = None
    shown: tuple | None = None
    state: dict[str, Any] = {}
    deadline = start + timeout
    while time.monotonic() < deadline:
        now = time.monotonic()
        state = page.evaluate(PAGE_STATE_JS, title)
        ready = (state["title"] and state["script"] == IDLE and not state["busy"] and not state["stale"]
                 and not state["skeletons"] and not state["undrawn"])
        counts = (state["charts"], state["charts_hidden"], state["tables"], state["tables_hidden"])
        if not ready or counts != shown or since is None:
            since, shown = (now if ready else None), counts
        elif now - since >= QUIET_S:
            return Visit(since - start, *counts)
        page.wait_for_timeout(POLL_S * 1000)
    missing = [what for what, bad in (("h1 " + repr(title), not state.get("title")),
                                      (f"Streamlit's script {state.get('script')}",
                                       state.get("script") != IDLE or state.get("busy")),
                                      (f"{state.get('stale')} stale element(s)", state.get("stale")),
                                      (f"{state.get('skeletons')} loading skeleton(s)", state.get("skeletons")),
                                      (f"{state.get('undrawn')} undrawn chart(s)", state.get("undrawn"))) if bad]
    return Visit(error=f"not rendered in {timeout:.0f} s: " + (", ".join(missing) or "counts kept changing"))


def visit(page, name: str, timeout: float) -> Visit:
    """Click a page's menu link and time it until rendered; a browser error is a failed visit."""
    from playwright.sync_api import Error as PlaywrightError

    start = time.monotonic()
    try:
        menu_link(page, name).click(timeout=timeout * 1000)
        return wait_rendered(page, TITLES.get(name, name), start, timeout)
    except PlaywrightError as exc:
        return Visit(error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}")


def open_run(page, url: str, run: StoredRun, timeout: float) -> Visit:
    """Home, then the Runs page: pick the run, press Open, until Evaluate is rendered (the returned visit is
    timed from the press). Raises RuntimeError when a step fails."""
    from playwright.sync_api import expect

    page.goto(url)
    home = wait_rendered(page, TITLES["Home"], time.monotonic(), timeout)
    runs = home.error or visit(page, "Runs", timeout).error
    if runs:
        raise RuntimeError(f"the Runs page did not render: {runs}")
    picker = page.locator('[data-testid="stMultiSelect"]', has_text=RUNS_PICKER)
    if not picker.count():
        raise RuntimeError("the Runs page lists no run (is FORECASTER_HOME the store's folder?)")
    picker.locator("input").first.click()
    page.keyboard.type(run.id[:8])
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    button = page.locator(OPEN_BUTTON)
    expect(button).to_have_count(1, timeout=timeout * 1000)
    if wait_rendered(page, "Runs", time.monotonic(), timeout).error:
        raise RuntimeError("the Runs page did not settle after picking the run")
    start = time.monotonic()
    button.click()
    opened = wait_rendered(page, "Evaluate", start, timeout)
    if opened.error:
        raise RuntimeError(f"Evaluate after Open: {opened.error}")
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    if f"Run {run.id[:8]}, opened from the Runs page" not in sidebar:
        raise RuntimeError(f"the sidebar does not show run {run.id[:8]} as opened: {' '.join(sidebar.split())}")
    return opened


def measure(url: str, run: StoredRun, repeats: int, timeout: float) -> tuple[Visit, list[PageResult]]:
    """Open the run in a new browser session, then visit every page ``repeats`` times in rotation."""
    from playwright.sync_api import sync_playwright

    results = [PageResult(name) for name in PAGES]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(timeout * 1000)
            page = context.new_page()
            opened = open_run(page, url, run, timeout)
            log(f"run {run.id[:8]} opened: Evaluate rendered {opened.seconds:.2f} s after Open")
            for round_ in range(repeats):
                for result in results:
                    v = visit(page, result.page, timeout)
                    result.visits.append(v)
                    log(f"round {round_ + 1} {result.page}: " + (f"{v.seconds:.2f} s" if v.error is None else v.error))
        finally:
            browser.close()
    return opened, results


# --- the report -----------------------------------------------------------------------------------------
def counted(shown: int, hidden: int) -> str:
    """"3" or "1 (+3)": the visible ones and, where any, the hidden ones."""
    return f"{shown}" + (f" (+{hidden})" if hidden else "")


def last_counts(result: PageResult) -> Visit:
    """The counts of the page's last rendered visit (an empty visit when none rendered)."""
    done = [v for v in result.visits if v.error is None]
    return done[-1] if done else Visit()


def report(run: StoredRun, header: dict[str, Any], opened: Visit, results: list[PageResult], limit: float) -> bool:
    """Print the table and the PASS/FAIL lines; whether every page passed."""
    repeats = max(len(r.visits) for r in results)
    width = 34 + 9 * repeats + 24
    print("=" * width)
    print(f"bench/pages.py: page render times in Chromium, run {run.id[:8]} ({run.dataset!r}, "
          f"{run.n_products:,} products, {run.first_date} to {run.last_date}, {run.model})")
    for key, value in header.items():
        print(f"  {key:<24} {value}")
    print(f"  {'open (Runs -> Evaluate)':<24} {opened.seconds:.2f} s from the Open press")
    print("-" * width)
    print(f"{'page':<10}" + "".join(f"{'visit ' + str(i + 1):>9}" for i in range(repeats))
          + f"{'max s':>8}  {'charts':<12}{'tables':<12}")
    for r in results:
        counts = last_counts(r)
        cells = "".join(f"{(f'{v.seconds:.2f}' if v.error is None else 'FAIL'):>9}" for v in r.visits)
        print(f"{r.page:<10}{cells}{(f'{r.max_s:.2f}' if r.max_s is not None else '-'):>8}  "
              f"{counted(counts.charts, counts.charts_hidden):<12}{counted(counts.tables, counts.tables_hidden):<12}")
    print("(seconds from the menu click until rendered; charts, tables: visible (+ hidden: in a closed expander "
          "or another tab))")
    print("-" * width)
    for r in results:
        errors = "".join(f"; visit {i + 1}: {v.error}" for i, v in enumerate(r.visits) if v.error)
        verdict = "never rendered" if r.max_s is None else \
            f"max {r.max_s:.2f} s {'<=' if r.max_s <= limit else '>'} {limit:g} s"
        print(f"{'PASS' if r.passed(limit) else 'FAIL'}  {r.page}: {verdict}{errors}")
    print("=" * width)
    return all(r.passed(limit) for r in results)


def as_json(run: StoredRun, header: dict[str, Any], opened: Visit, results: list[PageResult], limit: float) -> dict:
    """The report as one JSON object."""
    return {"run": {"id": run.id, "dataset": run.dataset, "products": run.n_products, "model": run.model,
                    "first_date": str(run.first_date), "last_date": str(run.last_date)},
            **header, "limit_s": limit, "open_s": opened.seconds,
            "pages": [{"page": r.page, "seconds": [v.seconds for v in r.visits], "max_s": r.max_s,
                       "visits": [asdict(v) for v in r.visits], "passed": r.passed(limit)} for r in results],
            "passed": all(r.passed(limit) for r in results)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", required=True, type=Path, help="FORECASTER_HOME folder holding the run store")
    parser.add_argument("--run", default=None, help="run id or a unique prefix (default: the newest)")
    parser.add_argument("--repeats", type=int, default=3, help="visits of each page, in rotation (default: 3)")
    parser.add_argument("--limit", type=float, default=3.0, help="PASS when a page's max is at most this (s)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per step, in seconds (default: 120)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def data_note(run: StoredRun) -> str:
    """Whether the run kept its uploaded file, which the Open button makes the session's current data."""
    if "upload.gz" in run.extra.get("files", {}):
        return "kept with the run: the Data page shows it"
    return ("NOT kept with the run (no upload.gz): the Data page shows no data, so its times are those of an "
            "empty Data page")


def header_of(run: StoredRun, args: argparse.Namespace, url: str, log_dir: Path, loads: list) -> dict[str, Any]:
    """The report's lines above the table."""
    return {"home": str(args.home.resolve()), "run's data": data_note(run), "server": url,
            "server log": str(next(log_dir.glob("server-*.log"), log_dir)), "repeats": args.repeats,
            "limit": f"{args.limit:g} s (on each page's max)", "cores": os.cpu_count(),
            "load 1/5/15 start": " ".join(f"{x:.2f}" for x in loads[0]),
            "load 1/5/15 end": " ".join(f"{x:.2f}" for x in loads[1])}


def main(argv: list[str] | None = None) -> int:
    """Pick the run, start the server, measure, report; the exit status (0 all passed, 1 a page failed, 2 set-up)."""
    args = parse_args(argv)
    home = args.home.resolve()
    if not Path(CHROMIUM).exists():
        log(f"{CHROMIUM} is missing (apt-get install chromium)")
        return 2
    try:
        run = pick_run(home, args.run)
    except ForecasterError as exc:
        log(f"error: {exc}")
        return 2
    log(f"run {run.id} ({run.dataset!r}, {run.n_products:,} products) from {home}; its data: {data_note(run)}")
    log_dir = Path(tempfile.mkdtemp(prefix="bench_pages_"))
    loads = [os.getloadavg()]
    try:
        with streamlit_server(log_dir, {"FORECASTER_HOME": str(home)}) as url:
            log(f"server at {url}, log in {log_dir}")
            opened, results = measure(url, run, args.repeats, args.timeout)
    except Exception as exc:  # noqa: BLE001  a set-up or browser error: say it, with the server's log
        log(f"error: {type(exc).__name__}: {exc}")
        for path in log_dir.glob("server-*.log"):
            log(f"server log tail ({path}):\n" + path.read_text()[-2500:])
        return 2
    loads.append(os.getloadavg())
    header = header_of(run, args, url, log_dir, loads)
    ok = report(run, header, opened, results, args.limit)
    if args.out:
        args.out.write_text(json.dumps(as_json(run, header, opened, results, args.limit), indent=2) + "\n")
        log(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
