"""Speed benchmark: the whole pipeline against the bare-loop speed floor, as ratios, on this machine.

usage: python bench/speed.py [--products 100,1000,5000] [--days 1095] [--epochs 4] [--rows 1000000]
                             [--demo-runs 3] [--compare-tree DIR] [--only-demo]
                             [--large PRODUCTS,DAYS] [--large-runs 2]

Prints one table. Each measurement runs in a fresh subprocess so that peak memory (max RSS) is its own.
* epoch: seconds per training epoch of the reference-sized multi-output CNN+LSTM (conv 64, LSTM 64,
  batch 256, lags 1..7, seq_len 3) over P products x DAYS days, median of the epochs after the first,
  next to ../shared/tools/speed_floor.py (a bare PyTorch loop on random tensors of the same size),
  run right after it so that both see the same machine load;
  (with ``--compare-tree``, that tree's epoch too, after a floor of its own);
* ingest (``--rows 0``: skipped): a generated transaction log of ROWS rows (timestamp with time of day, product id, quantity,
  price, customer) parsed from CSV bytes into the daily panel;
* demo train: the `python -m forecaster train` command on the demo data with default settings, process
  start to files written (wall seconds, their range over the runs, and the CPU seconds of the process);
* with ``--compare-tree DIR`` (a checkout of another commit, e.g. ``git worktree add /tmp/before REV``) the
  same demo command from that tree too, in the same run, the two alternating in ABBA order so that neither
  always runs first; the ratio of medians says what the change costs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR = ROOT.parent / "shared" / "tools" / "speed_floor.py"


def _child(code: str, *args: str, root: Path = ROOT) -> dict:
    """Run ``code`` in a fresh interpreter from ``root``; it prints one JSON line; add the child's peak RSS."""
    wrapper = code + "\nimport resource, json, sys\n" \
        "out['peak_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\nprint(json.dumps(out))\n"
    res = subprocess.run([sys.executable, "-c", wrapper, *args], cwd=root, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


EPOCH_CODE = """
import sys, statistics, numpy as np, pandas as pd
from forecaster import ForecastConfig, fit
P, DAYS, EPOCHS = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
panel = pd.DataFrame(rng.poisson(5.0, (DAYS, P)).astype(float),
                     index=pd.date_range("2022-01-01", periods=DAYS, freq="D"),
                     columns=[f"p{i}" for i in range(P)])
cfg = ForecastConfig(model="cnn_lstm", lags=tuple(range(1, 8)), rolling_windows=(), seq_len=3, val_days=0,
                     test_days=28, epochs=EPOCHS, batch_size=256, conv_channels=64, hidden_size=64,
                     extended_calendar=False, log1p=False, ensemble=1, loss="mse", device="cpu", yearly="off")
t = []
trained = fit(panel, cfg, callback=lambda r: t.append(r.elapsed))
steps = [b - a for a, b in zip(t, t[1:])]
out = {"epoch_s": statistics.median(steps)}
"""

INGEST_CODE = """
import sys, time, numpy as np, pandas as pd
from forecaster.data.ingest import load_panel
ROWS = int(sys.argv[1])
rng = np.random.default_rng(0)
stamps = pd.Timestamp("2023-01-01 08:00") + pd.to_timedelta(rng.integers(0, 3 * 365 * 86400, ROWS), unit="s")
df = pd.DataFrame({"InvoiceNo": rng.integers(100000, 999999, ROWS), "StockCode": rng.integers(10000, 10500, ROWS),
                   "Quantity": rng.integers(-2, 24, ROWS), "InvoiceDate": stamps.strftime("%Y-%m-%d %H:%M:%S"),
                   "UnitPrice": rng.uniform(0.1, 20, ROWS).round(2), "CustomerID": rng.integers(12000, 18000, ROWS)})
data = df.to_csv(index=False).encode()
t0 = time.perf_counter()
res = load_panel(data)
out = {"ingest_s": time.perf_counter() - t0, "mib": len(data) / 2**20, "shape": list(res.panel.shape),
       "format": res.report.mapping.format}
"""


def floor(products: int, days: int) -> float:
    res = subprocess.run([sys.executable, str(FLOOR), str(products), str(days), "7"], capture_output=True,
                         text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def large_csv(path: Path, products: int, days: int) -> Path:
    """A wide CSV of ``products`` x ``days`` of weekly-patterned Poisson demand with a yearly swing."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    t = np.arange(days)[:, None]
    level = rng.gamma(2.0, 5.0, products)[None, :]
    rate = level * (1 + 0.3 * np.sin(2 * np.pi * t / 7)) * (1 + 0.2 * np.sin(2 * np.pi * t / 365.25))
    panel = pd.DataFrame(rng.poisson(rate), index=pd.date_range("2022-01-01", periods=days, freq="D"),
                         columns=[f"SKU{i:05d}" for i in range(products)])
    panel.rename_axis("date").to_csv(path)
    return path


def demo_train(root: Path = ROOT, data: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child) of the train command run from ``root``, with
    default settings, on ``data`` (default: the demo data, written by that tree's own demo command)."""
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo.csv"
        if data is None:
            subprocess.run([sys.executable, "-m", "forecaster", "demo", "--out", str(demo)], cwd=root, check=True)
        else:
            demo = data
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "forecaster", "train", str(demo), "--quiet",
                        "--forecast-out", f"{tmp}/f.csv", "--metrics-out", f"{tmp}/m.csv",
                        "--predictions-out", f"{tmp}/p.csv"], cwd=root, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def demo_rows(runs: int, other: Path | None, data: Path | None = None, what: str = "demo") -> list[dict]:
    trees = {"this tree": ROOT} if other is None else {"this tree": ROOT, f"{other}": other}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for i in range(runs):
        order = list(trees) if i % 2 == 0 else list(reversed(trees))  # ABBA: neither always goes first
        for name in order:
            times[name].append(demo_train(trees[name], data))
    rows = []
    for name, got in times.items():
        rows.append({"measure": f"{what} `train` command, default settings, {name} (median of {runs})",
                     "seconds": statistics.median(w for w, _ in got), "cpu_s": statistics.median(c for _, c in got),
                     "range_s": f"{min(w for w, _ in got):.2f}-{max(w for w, _ in got):.2f}",
                     "floor_s": None, "ratio_to_floor": None, "peak_MiB": None})
    if other is not None:
        mine, theirs = rows
        rows.append({"measure": f"{what} `train`: this tree / {other}", "seconds": mine["seconds"] / theirs["seconds"],
                     "cpu_s": mine["cpu_s"] / theirs["cpu_s"], "floor_s": None, "ratio_to_floor": None,
                     "peak_MiB": None})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", default="100,1000,5000")
    ap.add_argument("--days", type=int, default=1095)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--demo-runs", type=int, default=3)
    ap.add_argument("--compare-tree", type=Path, help="another checkout whose demo train command is timed too")
    ap.add_argument("--only-demo", action="store_true", help="skip the epoch and ingest measurements")
    ap.add_argument("--large", default="", metavar="PRODUCTS,DAYS",
                    help="also time the train command on a generated wide CSV of this size (e.g. 1000,1095), "
                         "in both trees with --compare-tree")
    ap.add_argument("--large-runs", type=int, default=2)
    a = ap.parse_args()
    rows = []
    trees = {"": ROOT} if a.compare_tree is None else {"": ROOT, f", {a.compare_tree}": a.compare_tree}
    for p in ([] if a.only_demo else [int(x) for x in a.products.split(",")]):
        for name, root in trees.items():  # each right after its own floor: both see the same machine load
            f = floor(p, a.days)
            r = _child(EPOCH_CODE, str(p), str(a.days), str(a.epochs), root=root)
            rows.append({"measure": f"epoch, {p} products x {a.days} days{name}", "seconds": r["epoch_s"],
                         "floor_s": f, "ratio_to_floor": r["epoch_s"] / f, "peak_MiB": r["peak_mib"]})
    if not a.only_demo and a.rows:
        r = _child(INGEST_CODE, str(a.rows))
        rows.append({"measure": f"ingest {a.rows:,} transaction rows ({r['mib']:.0f} MiB CSV -> {r['shape'][0]}x{r['shape'][1]})",
                     "seconds": r["ingest_s"], "floor_s": None, "ratio_to_floor": None, "peak_MiB": r["peak_mib"]})
    if a.demo_runs:
        rows += demo_rows(a.demo_runs, a.compare_tree)
    if a.large:
        products, days = (int(x) for x in a.large.split(","))
        with tempfile.TemporaryDirectory() as tmp:
            data = large_csv(Path(tmp) / "large.csv", products, days)
            rows += demo_rows(a.large_runs, a.compare_tree, data, f"{products:,} products x {days} days")
    import pandas as pd

    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 80)
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
