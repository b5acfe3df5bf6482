"""Parallel-training benchmark: the default `train` command with its networks trained in this process, one
after another (``--workers 0``), against the worker-process pool (``--workers N``, the default), end to
end, on the same data, in one run; with ``--compare-tree DIR`` (a checkout of the commit before issue 14,
e.g. ``git worktree add /tmp/before 09fc8fe``) that tree's default command too: the sequential run as it
was, every network trained in the process with torch's default thread count.

usage: python bench/parallel.py [--workers N] [--demo-runs 2] [--big-products 1000] [--big-days 1095]
                                [--big-runs 1] [--skip-big] [--warm] [--compare-tree DIR]

Each measurement is the wall time of one `python -m forecaster train` process, start to files written
(interpreter start, torch import, reading the CSV, every candidate trained, evaluation, forecast); the
settings alternate in ABBA order so that neither always runs first. The datasets are the demo data
(20 products x 3 years, what the Home page loads) and a generated catalog of ``--big-products`` products
(the demo generator, another seed). The test-span MAE (the network row of the printed table) and the
validation MAE of the recommended candidate (from its selection reason) of every setting are printed
next to each other: neither the seeds nor, in MKL's strict reproducible mode, the thread count change a
network (forecaster.model.threads), so inline and the workers must agree. The tree before issue 14 trained
with torch's default thread count outside that mode: torch split large sums across its threads, so its MAE
may differ in the last digits where the products are many.

With ``--warm`` each measurement is instead fit + evaluate inside a process that already runs, the pool
started and both settings warmed up by a one-epoch fit first (imports done): what a dashboard user waits
for after pressing Train, the server's pool being started once and kept.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecaster.config import DEFAULT_SERVER  # noqa: E402


def train_once(csv: Path, workers: int | None, tmp: Path, env: dict[str, str], root: Path = ROOT) -> dict:
    """Wall seconds, test MAE and validation MAE of one train command (``workers`` None: that tree's
    default, without the flag)."""
    flag = [] if workers is None else ["--workers", str(workers)]
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "forecaster", "train", str(csv), *flag,
                          "--forecast-out", str(tmp / f"f{workers}.csv")], cwd=root, capture_output=True,
                         text=True, env={**os.environ, **env})
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    test_mae = float(re.search(r"^network\s+([0-9.]+)", res.stdout, re.M).group(1))
    val = re.search(r"validation MAE ([0-9.eE+-]+)", res.stderr)
    return {"wall": wall, "test_mae": test_mae, "val_mae": float(val.group(1)) if val else float("nan")}


WARM_CODE = """
import sys, time, json
from forecaster import ForecastConfig, evaluate, fit, load_panel
panel = load_panel(open(sys.argv[1], 'rb').read()).panel
workers = int(sys.argv[2])
try:
    from forecaster.run.executor import InlineExecutor, ProcessExecutor
    executor = ProcessExecutor(workers) if workers > 1 else InlineExecutor()
    kwargs = {"executor": executor.start()}
except ImportError:  # a tree from before the executor: fit trains in this process
    executor, kwargs = None, {}
fit(panel.iloc[:200, :4], ForecastConfig(epochs=1, ensemble=max(workers, 1)), **kwargs)  # warm
t0 = time.perf_counter()
trained = fit(panel, ForecastConfig(), **kwargs)
test_mae = float(evaluate(trained, panel).overall.loc["network", "MAE"])
wall = time.perf_counter() - t0
if executor is not None:
    executor.shutdown()
print(json.dumps({"wall": wall, "test_mae": round(test_mae, 4), "val_mae": float("nan")}))
"""


def warm_once(csv: Path, workers: int | None, root: Path = ROOT) -> dict:
    """Seconds from Train to evaluated model in a process that already runs (as in the dashboard): the pool
    started and warmed up, and the in-process run warmed up too (imports done), before the clock starts."""
    res = subprocess.run([sys.executable, "-c", WARM_CODE, str(csv), str(workers or 0)], cwd=root,
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def measure(name: str, csv: Path, runs: int, workers: int, tmp: Path, warm: bool = False,
            before: Path | None = None) -> list[dict]:
    if runs < 1:
        return []
    settings = {"inline (workers 0)": (0, {}, ROOT), f"{workers} worker processes": (workers, {}, ROOT)}
    if before is not None:
        settings[f"before: {before} (its default)"] = (None, {}, before)
    got: dict[str, list[dict]] = {k: [] for k in settings}
    for i in range(runs):
        for k in (list(settings) if i % 2 == 0 else list(reversed(settings))):  # ABBA
            workers_k, env, root = settings[k]
            got[k].append(warm_once(csv, workers_k, root) if warm else train_once(csv, workers_k, tmp, env, root))
            print(f"  {name}, {k}: {got[k][-1]}", file=sys.stderr)
    rows = []
    for k, results in got.items():
        rows.append({"data": name, "training": k, "wall_s (median)": statistics.median(r["wall"] for r in results),
                     "runs": len(results), "test_MAE": results[0]["test_mae"], "val_MAE": results[0]["val_mae"],
                     "same_MAE_every_run": len({(r["test_mae"], r["val_mae"]) for r in results}) == 1})
    pooled = rows[1]
    for base in [rows[0]] + ([rows[-1]] if before is not None else []):
        rows.append({"data": name, "training": f"speed-up ({base['training']} / workers)",
                     "wall_s (median)": base["wall_s (median)"] / pooled["wall_s (median)"], "runs": None,
                     "test_MAE": base["test_MAE"] == pooled["test_MAE"],
                     "val_MAE": base["val_MAE"] == pooled["val_MAE"], "same_MAE_every_run": None})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=max(DEFAULT_SERVER.workers, 2))
    ap.add_argument("--demo-runs", type=int, default=2)
    ap.add_argument("--big-products", type=int, default=1000)
    ap.add_argument("--big-days", type=int, default=1095)
    ap.add_argument("--big-runs", type=int, default=1)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--warm", action="store_true",
                    help="time fit + evaluate inside a running process with the pool already warm (the "
                         "dashboard's case) instead of the whole train command")
    ap.add_argument("--compare-tree", type=Path, help="a checkout from before issue 14: its default command too")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        demo = tmp / "demo.csv"
        subprocess.run([sys.executable, "-m", "forecaster", "demo", "--out", str(demo)], cwd=ROOT, check=True)
        rows += measure("demo (20 x 1095)", demo, a.demo_runs, a.workers, tmp, a.warm, a.compare_tree)
        if not a.skip_big:
            big = tmp / "big.csv"
            subprocess.run([sys.executable, "-m", "forecaster", "demo", "--out", str(big), "--products",
                            str(a.big_products), "--days", str(a.big_days), "--seed", "11"], cwd=ROOT, check=True)
            rows += measure(f"generated ({a.big_products} x {a.big_days})", big, a.big_runs, a.workers, tmp,
                            a.warm, a.compare_tree)
    import pandas as pd

    pd.set_option("display.width", 200)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4g}"))


if __name__ == "__main__":
    main()
