"""Scale benchmark (issue 28): the default `train` command on a generated catalog of many products, with the
time of each stage and the memory of the whole process tree (the command, its fork server and workers).

usage: python bench/scale.py [--products 10000] [--days 1095] [--shape wide|long] [--timeout 900] [--keep DIR]
                             [--log FILE] [--args 'MORE TRAIN ARGUMENTS']

The panel is the demo generator's (``forecaster.data.demo``, seed 11), written as a wide CSV (one column per
product, 46 MiB at 10,000 products x 1,095 days) or with ``--shape long`` a long one (327 MiB); the command is
``python -m forecaster train FILE --forecast-out ...`` with every default. Its stderr lines are timestamped as
they arrive (the stages: the file read, each network's epochs, the recommendation, the evaluation, the
forecast), and a sampler sums the proportional set size (PSS, so pages the workers share with their fork
server count once) of the command and every process below it every 0.5 s. Printed: seconds to each stage's
first line, the wall time, the peak PSS and whether it finished within ``--timeout``.
"""
from __future__ import annotations

import argparse
import re
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAGES = (("read", "file read"), ("training ", "training started"), ("member 1 epoch 1/", "first epoch"),
          ("Recommended", "recommendation"), ("done in", "finished"))


def tree_pss(pid: int) -> int:
    """PSS in bytes of ``pid`` and every process below it (0 for a process that just ended)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


@dataclass
class Run:
    """One train command: its timestamped stderr lines, wall time, PSS samples (seconds, bytes) and whether it
    finished in time."""

    lines: list[tuple[float, str]]
    wall: float
    samples: list[tuple[float, int]]
    finished: bool

    @property
    def peak(self) -> int:
        return max((b for _, b in self.samples), default=0)

    def stages(self) -> list[tuple[str, float, float, int]]:
        """(stage, began, seconds, peak PSS within it) from the command's last line, "done in ... (read 28.1s,
        training 110.0s, ...)", the first stage starting at the process's start."""
        done = next((line for _, line in reversed(self.lines) if line.startswith("done in")), "")
        found = re.search(r"\((.*)\)$", done)
        rows, began = [], 0.0
        for stage, seconds in re.findall(r"([a-z ]+?) ([0-9.]+)s", found.group(1) if found else ""):
            end = began + float(seconds)
            peak = max((b for t, b in self.samples if began <= t <= end + 0.5), default=0)
            rows.append((stage.strip(), began, float(seconds), peak))
            began = end
        return rows


def run(data: Path, out: Path, timeout: float, extra: Sequence[str] = ()) -> Run:
    """Run the train command on ``data``, sampling the PSS of its process tree every 0.5 s."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "forecaster", "train", str(data), "--forecast-out", str(out), *extra],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples, lines = [], []

    def sample() -> None:
        while proc.poll() is None:
            samples.append((time.perf_counter() - start, tree_pss(proc.pid)))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    for line in proc.stderr:
        lines.append((time.perf_counter() - start, line.rstrip()))
    proc.wait()
    timer.cancel()
    sampler.join()
    return Run(lines, time.perf_counter() - start, samples, proc.returncode == 0)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--products", type=int, default=10_000)
    p.add_argument("--days", type=int, default=1095)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--shape", choices=("wide", "long"), default="wide")
    p.add_argument("--keep", help="folder for the CSV (kept between runs; default: a temporary one)")
    p.add_argument("--log", help="also write every timestamped stderr line to this file (each epoch's)")
    p.add_argument("--args", default="", help="more arguments for the train command, e.g. '--ensemble 1'")
    a = p.parse_args()
    folder = Path(a.keep or tempfile.mkdtemp(prefix="scale"))
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"demo_{a.products}x{a.days}_{a.shape}.csv"
    if not data.exists():
        from forecaster.data.demo import demo_csv_bytes, demo_panel

        t0 = time.perf_counter()
        if a.shape == "long":
            data.write_bytes(demo_csv_bytes(a.products, a.days, 11))
        else:
            demo_panel(a.products, a.days, 11).rename_axis("date").to_csv(data)
        print(f"wrote {data} ({data.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.0f} s", flush=True)
    done = run(data, folder / "forecast.csv", a.timeout, a.args.split())
    if a.log:
        Path(a.log).write_text("".join(f"{t:8.1f} s  {line}\n" for t, line in done.lines))
    for key, name in STAGES:
        first = next((t for t, line in done.lines if line.startswith(key) or key in line), None)
        print(f"{name:>18}: " + (f"{first:7.1f} s" if first is not None else "    (not reached)"))
    print("stage (the command's own clock): seconds, peak PSS of the process tree within it")
    for stage, began, seconds, peak in done.stages():
        print(f"  {stage:>22}: {seconds:7.1f} s from {began:6.1f} s, {peak / 2**30:.2f} GiB")
    print(f"wall {done.wall:.1f} s, peak PSS of the process tree {done.peak / 2**30:.2f} GiB, "
          + ("finished" if done.finished else f"did not finish (limit {a.timeout:.0f} s)"))
    print("last lines:\n" + "\n".join(f"  {t:7.1f} s  {line[:160]}" for t, line in done.lines[-6:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
