"""Many-sessions benchmark (issue 14): six browser sessions train at once on one dashboard server, with the
server's defaults for this machine, while a seventh opens the Data page; then a worker is killed mid-run.

usage: python bench/sessions.py [--sessions 6] [--epochs 10] [--max-jobs N] [--workers N]
                                [--data-repeats 3] [--kill-epochs 40] [--timeout 900] [--trainers-nice 10]

What one run does and measures:

1. ``streamlit run app.py`` on 127.0.0.1, a free port, headless. FORECASTER_WORKERS, FORECASTER_MAX_JOBS and
   RAY_ADDRESS are removed from its environment, so it runs with this machine's defaults
   (forecaster.config.ServerSettings), unless ``--workers`` / ``--max-jobs`` set them.
2. ``--sessions`` browser sessions (one Playwright browser context each, so each its own Streamlit
   session) open the app, press Home's "Use demo data", go to Train and type ``--epochs`` into the
   form's Epochs field (every other setting stays at its default: the recommended model). Then all of them
   press Train at once (asyncio.gather; the spread of the presses is printed).
   Their Chromium runs at ``--trainers-nice`` (default 10): those users' browsers would run on their own
   machines, not on the server's two cores, where here they draw six pages every 0.5-2 s; the measured
   session's Chromium is another one, at the usual priority (``--trainers-nice 0``: one Chromium for all,
   every tab at the same priority).
3. While they train, each session's main area is read every POLL_S seconds: the queue line of
   ui.jobs.status_line ("Queued, position k of n: ...") gives the positions it showed; the first
   "Training…" is when its job started running, "Training finished in" when it ended (a failure or a
   cancel is recorded as such). wait s = Train pressed -> first "Training…" seen; run s = first
   "Training…" seen -> "Training finished" seen (both at the poll's resolution, about POLL_S s).
4. A sampler thread reads /proc every 0.5 s: the resident memory (RSS) of the streamlit process, and of it
   plus all its descendants (worker processes, the multiprocessing manager, its resource tracker), and
   their PSS (shared pages split between the processes that map them, from /proc/<pid>/smaps_rollup; the
   RSS sum counts torch's shared libraries once per process).
5. One more session loads the demo data on Home, opens Data once before anyone trains (its browser's
   first Data page, which also loads the charting library into the page), and, while the others train,
   clicks Data in the menu ``--data-repeats`` times (Home in between): seconds from the click until the
   Data page's five metrics and its "Total daily demand" chart title are visible (the issue's bar: under
   2 s).
6. After they all finished: session 1 trains again with another seed and ``--kill-epochs`` epochs (so that
   it is not a reused result and runs long enough); once its page shows an epoch under way, one pool worker
   is killed with SIGKILL. Pool workers are the children of the server's fork server (or, where workers are
   spawned, the server's children started by spawn_main) that are not the manager (the manager is the child
   holding a listening unix socket, and the first one started; both are checked). The Train page must then show executor.WORKER_DIED, without a
   traceback; Train is pressed again and that job must finish.
7. One summary table; exit status 1 if any check failed (2 for a set-up error, 3 for the overall timeout).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecaster.config import ServerSettings  # noqa: E402  (torch-free)
from forecaster.run.executor import WORKER_DIED  # noqa: E402  (torch-free at import)
from ui.widgets import EXPERT_SETTINGS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
MENU_LINK = '[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]'
MAIN = '[data-testid="stMain"]'
EPOCHS_LABEL = "Epochs (passes over the history)"
SEED_LABEL = "Random seed"
STEP_MS = 90_000  # one page step on a loaded 2-core machine
POLL_S = 0.3
DATA_METRICS = 4  # the Data page's figures: products, days, days with no sale, units returned
MEMORY_S = 0.5
DATA_BAR_S = 2.0
QUEUED_RE = re.compile(r"Queued, position (\d+) of (\d+)")
AT_MOST_RE = re.compile(r"of at most (\d+)")
CANCELLED_RE = re.compile(r"Cancelled (after|before)|was cancelled")
ENV_KEYS = ("FORECASTER_WORKERS", "FORECASTER_MAX_JOBS", "RAY_ADDRESS")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- /proc ------------------------------------------------------------------------------------------------
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return int(fields[1]), int(fields[19])


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                parents[int(entry)] = st[0]
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == pid]
        found += kids
        frontier += kids
    return found


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def listening_unix_inodes() -> set[str]:
    inodes = set()
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 7 and int(parts[3], 16) & 0x10000:  # __SO_ACCEPTCON: a listening socket
            inodes.add(parts[6])
    return inodes


def holds_listening_socket(pid: int, listening: set[str]) -> bool:
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in listening:
                return True
    except OSError:
        pass
    return False


def pool_workers(server: int) -> tuple[list[int], int | None, str]:
    """(worker pids, manager pid, how they were told apart): the children of the server's fork server
    (multiprocessing's forkserver, the executor's way to start workers on Linux), else the server's own
    children started by spawn_main."""
    tree = descendants(server)
    forkservers = [p for p in tree if _stat(p) and _stat(p)[0] == server and "forkserver" in cmdline(p)]
    parent = forkservers[0] if len(forkservers) == 1 else server
    marker = "forkserver" if parent != server else "spawn_main"
    spawned = [p for p in tree if _stat(p) and _stat(p)[0] == parent and marker in cmdline(p)]
    if not spawned:
        return [], None, f"no {marker} children"
    listening = listening_unix_inodes()
    by_socket = [p for p in spawned if holds_listening_socket(p, listening)]
    oldest = min(spawned, key=lambda p: (_stat(p) or (0, 1 << 62))[1])
    if len(by_socket) == 1:
        manager = by_socket[0]
        how = "manager = listening unix socket" + (", also the oldest" if manager == oldest else
                                                      f" (NOT the oldest spawn child, {oldest})")
    else:
        manager = oldest
        how = f"manager = oldest spawn child ({len(by_socket)} children hold a listening socket)"
    return [p for p in spawned if p != manager], manager, how


class MemorySampler(threading.Thread):
    """Peak RSS of the server alone and with its descendants, and the PSS of the tree, every MEMORY_S s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True, name="memory-sampler")
        self.pid = pid
        self.stop = threading.Event()
        self.peak_server = self.peak_tree = self.peak_pss = 0
        self.peak_tree_procs = 0
        self.samples = 0

    def run(self) -> None:
        while not self.stop.is_set():
            kids = descendants(self.pid)
            server = rss_bytes(self.pid)
            tree = server + sum(rss_bytes(p) for p in kids)
            pss = sum(pss_bytes(p) for p in [self.pid, *kids])
            self.peak_server = max(self.peak_server, server)
            if tree > self.peak_tree:
                self.peak_tree, self.peak_tree_procs = tree, 1 + len(kids)
            self.peak_pss = max(self.peak_pss, pss)
            self.samples += 1
            self.stop.wait(MEMORY_S)


# --- the server -------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    if args.workers is not None:
        env["FORECASTER_WORKERS"] = str(args.workers)
    if args.max_jobs is not None:
        env["FORECASTER_MAX_JOBS"] = str(args.max_jobs)
    env.update(STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", PYTHONUNBUFFERED="1")
    return env


def start_server(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with open(log_path, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("streamlit did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen) -> list[int]:
    """Terminate the server (its exit hook ends the pool and the manager); kill what is left of its tree.
    Returns the pids that had to be killed."""
    tree = descendants(proc.pid) if proc.poll() is None else []
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    time.sleep(1.0)
    killed = []
    for pid in tree:  # only processes this script's server started, by pid
        st = _stat(pid)
        if st is not None and "multiprocessing" in cmdline(pid):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
    return killed


# --- the sessions -----------------------------------------------------------------------------------------
@dataclass
class Session:
    name: str
    page: object = None
    pressed: float | None = None
    positions: list[tuple[int, int]] = field(default_factory=list)  # (k, n) in the order they were shown
    queued_first: float | None = None
    running: float | None = None
    finished: float | None = None
    outcome: str = "not finished"
    at_most: int | None = None
    errors: int = 0

    @property
    def wait_s(self) -> float | None:
        return None if self.running is None or self.pressed is None else self.running - self.pressed

    @property
    def run_s(self) -> float | None:
        return None if self.running is None or self.finished is None else self.finished - self.running


async def main_text(page) -> str:
    return await page.locator(MAIN).inner_text(timeout=10_000)


async def go(page, name: str) -> None:
    await page.locator(MENU_LINK, has_text=name).click()
    await page.locator("h1", has_text=name if name != "Home" else "Purchase Forecaster").wait_for()


async def settle(page) -> None:
    await page.wait_for_timeout(300)
    for sel in ('[data-testid="stStatusWidget"]', '[data-stale="true"]'):
        deadline = time.monotonic() + STEP_MS / 1000
        while await page.locator(sel).count() and time.monotonic() < deadline:
            await page.wait_for_timeout(100)


async def set_number(page, label: str, value) -> None:
    """Type a number into the field with this label, opening the Train form's expert settings first where
    it is folded away there."""
    box = page.get_by_label(label, exact=True)
    if not await box.is_visible():
        expander = page.get_by_text(EXPERT_SETTINGS, exact=True)
        if await expander.count():
            await expander.first.click()
        await box.wait_for(state="visible", timeout=STEP_MS)
    await box.fill(str(value))
    await box.press("Tab")


async def press_train(page) -> None:
    await page.locator('[data-testid="stForm"]').get_by_role("button", name="Train").click()


async def open_with_demo(browser, url: str):
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    await page.goto(url)
    await page.locator("h1", has_text="Purchase Forecaster").wait_for()
    await page.get_by_role("button", name="Use demo data").click()
    await page.get_by_text("Data loaded").wait_for()
    await settle(page)
    return page


async def follow(session: Session, deadline: float) -> None:
    """Read the session's Train page until its job ended (or the deadline)."""
    page = session.page
    while time.monotonic() < deadline:
        try:
            text = await main_text(page)
        except Exception:  # a rerun can detach the element between locating and reading it
            session.errors += 1
            await asyncio.sleep(POLL_S)
            continue
        now = time.monotonic()
        m = QUEUED_RE.search(text)
        if m:
            pos = (int(m.group(1)), int(m.group(2)))
            if not session.positions or session.positions[-1] != pos:
                session.positions.append(pos)
            session.queued_first = session.queued_first or now
        if "Training…" in text and session.running is None:
            session.running = now
        m = AT_MOST_RE.search(text)
        if m:
            session.at_most = int(m.group(1))
        if "Training finished in" in text:
            session.outcome, session.finished = "finished", now
            if session.running is None:  # it ran entirely between two reads
                session.running = now
            return
        if "Training failed" in text or WORKER_DIED in text:
            session.outcome, session.finished = "failed", now
            return
        if CANCELLED_RE.search(text):
            session.outcome, session.finished = "cancelled", now
            return
        await asyncio.sleep(POLL_S)


async def data_page_visit(page) -> dict:
    """Seconds from clicking Data in the menu to its title, its DATA_METRICS metrics and its demand chart
    being visible (from Home: the previous visit's chart is gone)."""
    metrics = page.locator('[data-testid="stMetric"]')
    # the Data page's chart by its key (Home draws the same figure, smaller, under another key)
    title = page.locator(".st-key-total_demand .js-plotly-plot text.gtitle", has_text="Total daily demand")
    if (await page.locator("h1").first.inner_text()) != "Purchase Forecaster":
        await go(page, "Home")
    while await title.count():
        await page.wait_for_timeout(50)
    t0 = time.monotonic()
    await page.locator(MENU_LINK, has_text="Data").click()
    await page.locator("h1", has_text="Data").wait_for()
    h1_s = time.monotonic() - t0
    await metrics.nth(DATA_METRICS - 1).wait_for(state="visible", timeout=STEP_MS)
    metrics_s = time.monotonic() - t0
    await title.first.wait_for(state="visible")
    return {"seconds": time.monotonic() - t0, "title_s": h1_s, "metrics_s": metrics_s}


async def data_page_times(page, sessions: list[Session], repeats: int, deadline: float) -> list[dict]:
    """Data page visits (see data_page_visit) while the sessions train."""
    while not any(s.running for s in sessions) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    results = []
    for i in range(repeats):
        await asyncio.sleep(2.0 if i else 1.0)
        training_before = sum(1 for s in sessions if s.running and not s.finished)
        visit = await data_page_visit(page)
        training_after = sum(1 for s in sessions if s.running and not s.finished)
        queued = sum(1 for s in sessions if s.pressed and not s.running)
        results.append({**visit, "training": min(training_before, training_after), "queued": queued})
        log(f"Data page {i + 1}: {visit['seconds']:.2f} s (title after {visit['title_s']:.2f} s, metrics "
            f"{visit['metrics_s']:.2f} s), jobs training {training_before}/{training_after}, waiting {queued}")
        await go(page, "Home")
    return results


async def read_until(page, done, deadline: float, every: float) -> str:
    """The page's main text, read every ``every`` seconds until ``done(text)`` or the deadline; the last
    text read ("" if none could be)."""
    text = ""
    while time.monotonic() < deadline:
        try:
            text = await main_text(page)
        except Exception:  # the page is redrawing: read again
            await asyncio.sleep(every)
            continue
        if done(text):
            break
        await asyncio.sleep(every)
    return text


async def killed_worker(session: Session, server_pid: int, kill_epochs: int, deadline: float) -> dict:
    page = session.page
    out = {"killed": None, "how": "", "message": False, "traceback": False, "next_finished": False,
           "next_s": None, "workers_before": [], "note": ""}
    await settle(page)
    await set_number(page, SEED_LABEL, random.randint(1000, 10**6))  # not the cached result of phase 1
    await set_number(page, EPOCHS_LABEL, kill_epochs)
    await press_train(page)
    # until an epoch is under way in the workers (the page still shows the previous job's "Training
    # finished" until it reruns)
    running = re.compile(r"Training… (the first network's first epoch|\d+ of \d+ networks done|epoch \d+ of)")
    if not running.search(await read_until(page, running.search, deadline, 0.2)):
        out["note"] = "the new job was never seen running"
        return out
    await asyncio.sleep(1.0)  # well inside the workers' training loop
    workers, manager, how = pool_workers(server_pid)
    out["workers_before"], out["manager"], out["how"] = workers, manager, how
    if not workers:
        out["note"] = "no pool worker found"
        return out
    victim = workers[0]
    log(f"killing pool worker {victim} ({how}; workers {workers}, manager {manager}): {cmdline(victim)[:120]}")
    os.kill(victim, signal.SIGKILL)
    out["killed"] = victim
    text = await read_until(page, lambda t: WORKER_DIED in t or "Training finished in" in t or "Training failed" in t,
                            deadline, 0.3)
    out["message"] = WORKER_DIED in text
    out["traceback"] = "Traceback" in text or 'File "' in text
    out["page_said"] = " ".join(text.split())[-400:]
    if not out["message"]:
        return out
    await settle(page)
    t0 = time.monotonic()
    await press_train(page)  # same settings again: a failed job is not a cached result

    def failed(t: str) -> bool:
        return "Training failed" in t or (WORKER_DIED in t and "Training…" not in t and time.monotonic() - t0 > 10)

    text = await read_until(page, lambda t: "Training finished in" in t or failed(t), deadline, 0.5)
    if "Training finished in" in text:
        out["next_finished"], out["next_s"] = True, time.monotonic() - t0
    elif failed(text):
        out["note"] = "the next job did not finish: " + " ".join(text.split())[-300:]
    return out


async def run_bench(args: argparse.Namespace, url: str, server_pid: int, deadline: float) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        trainers = browser
        if args.trainers_nice:
            trainers = await pw.chromium.launch(executable_path=niced_chromium(args.trainers_nice), args=CHROMIUM_ARGS)
        try:
            sessions = [Session(f"s{i + 1}") for i in range(args.sessions)]
            for s in sessions:  # one after another: the first Train visit starts the workers (torch import)
                s.page = await open_with_demo(trainers, url)
                await go(s.page, "Train")
                await s.page.locator('[data-testid="stForm"]').wait_for()
                await set_number(s.page, EPOCHS_LABEL, args.epochs)
                log(f"{s.name}: demo loaded, Train form with {args.epochs} epochs")
            observer = await open_with_demo(browser, url)
            idle = await data_page_visit(observer)  # nothing trains yet: this browser's first Data page
            log(f"Data page before any training (first visit in its browser): {idle['seconds']:.2f} s")
            await go(observer, "Home")
            log("data-page session ready on Home")
            for s in sessions:
                await settle(s.page)

            async def press(s: Session) -> None:
                await press_train(s.page)
                s.pressed = time.monotonic()

            t_press = time.monotonic()
            await asyncio.gather(*(press(s) for s in sessions))
            spread = max(s.pressed for s in sessions) - t_press
            log(f"all {len(sessions)} pressed Train within {spread:.2f} s")
            follow_deadline = deadline - 120  # leave time for the killed-worker phase
            followers = asyncio.gather(*(follow(s, follow_deadline) for s in sessions))
            data = await data_page_times(observer, sessions, args.data_repeats, follow_deadline)
            await followers
            last_end = max((s.finished or 0) for s in sessions)
            log("six-session phase done: " + ", ".join(f"{s.name} {s.outcome}" for s in sessions))
            kill = await killed_worker(sessions[0], server_pid, args.kill_epochs, deadline)
            return {"sessions": sessions, "spread": spread, "data": data, "kill": kill, "idle": idle,
                    "makespan": last_end - t_press}
        finally:
            await browser.close()
            if trainers is not browser:
                await trainers.close()


def niced_chromium(niceness: int) -> str:
    """A wrapper that starts Debian's Chromium at a lower CPU priority (its renderers inherit it)."""
    path = Path(tempfile.mkdtemp(prefix="bench_chromium_")) / "chromium"
    path.write_text(f'#!/bin/sh\nexec nice -n {int(niceness)} {CHROMIUM} "$@"\n')
    path.chmod(0o755)
    return str(path)


def fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def summary_rows(args, settings: ServerSettings, res: dict, mem: MemorySampler, loads: list,
                 all_finished: bool) -> list[tuple[str, object]]:
    """The report's summary, one (label, value) row each."""
    sessions: list[Session] = res["sessions"]
    kill = res["kill"]
    data = res["data"]
    mib = 1 << 20
    rows = [
        ("sessions training", f"{len(sessions)}" + (f" (their Chromium at nice {args.trainers_nice}; the Data "
                                                    "page's at 0)" if args.trainers_nice else " (one Chromium)")),
        ("max_jobs (jobs at once)", f"{settings.max_jobs}" + ("" if args.max_jobs is not None else " (default)")),
        ("workers (pool processes)", f"{settings.workers}" + ("" if args.workers is not None else " (default)")
         + ", each training on the cores free (forecaster.model.threads)"),
        ("cores (os.cpu_count)", os.cpu_count()),
        ("epochs typed in the form", f"{args.epochs} (recommended model, otherwise defaults; planned epochs "
                                     f"shown: {sorted({s.at_most for s in sessions if s.at_most}) or '-'})"),
        ("Train presses spread", f"{res['spread']:.2f} s"),
        ("first press -> last job finished", f"{fmt(res['makespan'])} s"),
        ("all finished", "yes" if all_finished else "no"),
        ("peak RSS, server alone", f"{mem.peak_server / mib:.0f} MiB"),
        ("peak RSS, server + children", f"{mem.peak_tree / mib:.0f} MiB ({mem.peak_tree_procs} processes; "
                                        "shared libraries counted per process)"),
        ("peak PSS, server + children", f"{mem.peak_pss / mib:.0f} MiB ({mem.samples} samples, every "
                                        f"{MEMORY_S} s, whole run)"),
        ("Data page before training (1st visit)", f"{res['idle']['seconds']:.2f} s"),
        ("Data page, click -> metrics+chart", ", ".join(f"{d['seconds']:.2f} s" for d in data) or "-"),
        ("  page title / metrics visible after", ", ".join(f"{d['title_s']:.2f}/{d['metrics_s']:.2f} s"
                                                          for d in data) or "-"),
        ("  jobs training / waiting then", ", ".join(f"{d['training']}/{d['queued']}" for d in data) or "-"),
        ("killed worker", f"pid {kill.get('killed')} of {kill.get('workers_before')}; {kill.get('how', '')}"),
        ("killed-worker message seen", "yes" if kill.get("message") else "no"),
        ("traceback on the page", "yes" if kill.get("traceback") else "no"),
        ("next job finished", ("yes" if kill.get("next_finished") else "no")
         + (f" ({kill['next_s']:.1f} s from press, pool restarted)" if kill.get("next_s") else "")),
        ("load average 1/5/15 min, start", " ".join(f"{x:.2f}" for x in loads[0])),
        ("load average 1/5/15 min, end", " ".join(f"{x:.2f}" for x in loads[1])),
    ]
    return rows


def report(args, settings: ServerSettings, res: dict, mem: MemorySampler, loads: list, log_path: Path) -> bool:
    sessions: list[Session] = res["sessions"]
    kill = res["kill"]
    data = res["data"]
    waiting_expected = max(0, len(sessions) - settings.max_jobs)
    shown_queue = sum(1 for s in sessions if s.positions)
    monotone = all(all(a[0] >= b[0] for a, b in zip(s.positions, s.positions[1:])) for s in sessions)
    order = sorted((s for s in sessions if s.running), key=lambda s: s.running)
    checks = {
        f"all {len(sessions)} jobs finished": all(s.outcome == "finished" for s in sessions),
        f"queue line shown to the {waiting_expected} waiting sessions": shown_queue >= waiting_expected,
        "queue positions only went down": monotone,
        f"Data page under {DATA_BAR_S:g} s every time ({len(data)} of {args.data_repeats} measured)":
            len(data) == args.data_repeats and all(d["seconds"] < DATA_BAR_S for d in data),
        "Data page measured while jobs were training": bool(data) and all(d["training"] > 0 for d in data),
        "killed-worker message shown": bool(kill.get("message")),
        "no traceback on the page": kill.get("killed") is not None and not kill.get("traceback"),
        "next job after the kill finished": bool(kill.get("next_finished")),
    }
    w = 78
    print("=" * w)
    print("bench/sessions.py: many browser sessions training at once on one dashboard server")
    print("-" * w)
    rows = summary_rows(args, settings, res, mem, loads, checks[f"all {len(sessions)} jobs finished"])
    for k, v in rows:
        print(f"{k:<36} {v}")
    if kill.get("note"):
        print(f"{'killed-worker note':<36} {kill['note']}")
    print("-" * w)
    print(f"{'session':<8} {'queue positions seen (k of n)':<34} {'start#':>6} {'wait s':>7} {'run s':>7}  finished")
    for s in sessions:
        pos = " ".join(f"{k}/{n}" for k, n in s.positions) or "never queued"
        start = order.index(s) + 1 if s in order else "-"
        print(f"{s.name:<8} {pos:<34} {start!s:>6} {fmt(s.wait_s):>7} {fmt(s.run_s):>7}  "
              f"{'yes' if s.outcome == 'finished' else s.outcome}")
    print(f"(wait: Train pressed -> 'Training…' first read; run: -> 'Training finished' read; reads every {POLL_S} s)")
    print("-" * w)
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print("=" * w)
    print(f"server log: {log_path}")
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=10, help="typed into the Train form of the sessions")
    parser.add_argument("--max-jobs", type=int, default=None, help="FORECASTER_MAX_JOBS (default: unset)")
    parser.add_argument("--workers", type=int, default=None, help="FORECASTER_WORKERS (default: unset)")
    parser.add_argument("--data-repeats", type=int, default=3)
    parser.add_argument("--kill-epochs", type=int, default=40, help="epochs of the job whose worker is killed")
    parser.add_argument("--timeout", type=float, default=900, help="overall limit in seconds")
    parser.add_argument("--trainers-nice", type=int, default=10,
                        help="CPU niceness of the training sessions' Chromium (0: one Chromium for every session)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing", file=sys.stderr)
        return 2

    env = server_env(args)
    settings = ServerSettings.from_env(env)
    loads = [os.getloadavg()]
    log(f"server settings: workers {settings.workers}, max_jobs {settings.max_jobs}; load {loads[0]}")
    log_dir = Path(tempfile.mkdtemp(prefix="bench_sessions_"))
    log_path = log_dir / "server.log"
    proc, url = start_server(env, log_path)
    log(f"server pid {proc.pid} at {url}")
    mem = MemorySampler(proc.pid)
    mem.start()

    def watchdog() -> None:  # a hung browser call must not outlive the limit
        log("overall timeout: stopping the server")
        stop_server(proc)
        os._exit(3)

    timer = threading.Timer(args.timeout + 60, watchdog)
    timer.daemon = True
    timer.start()
    deadline = time.monotonic() + args.timeout
    ok, code = False, 1
    try:
        res = asyncio.run(asyncio.wait_for(run_bench(args, url, proc.pid, deadline), args.timeout + 30))
        loads.append(os.getloadavg())
        mem.stop.set()
        mem.join(2)
        ok = report(args, settings, res, mem, loads, log_path)
        code = 0 if ok else 1
    except (asyncio.TimeoutError, TimeoutError):
        log(f"timed out after {args.timeout:.0f} s")
        code = 3
    except Exception as exc:  # noqa: BLE001  a set-up or browser error: say it, stop everything, exit 2
        log(f"error: {type(exc).__name__}: {exc}")
        code = 2
    finally:
        mem.stop.set()
        timer.cancel()
        leftover = stop_server(proc)
        if leftover:
            log(f"killed leftover multiprocessing children after the server stopped: {leftover}")
        if code != 0:
            tail = log_path.read_text()[-2500:] if log_path.exists() else ""
            log("server log tail:\n" + tail)
    return code


if __name__ == "__main__":
    sys.exit(main())
