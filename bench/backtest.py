"""Rolling-backtest benchmark (issue 28): its earlier cut-offs trained one after another against side by side,
on the same warm worker pool, the same data and settings, in one run.

usage: python bench/backtest.py [--origins 4] [--workers 2] [--runs 2] [--products 20] [--days 1095]

Each measurement is ``forecaster.results.backtest.backtest`` of the default configuration (``fit``'s own
call: cut-off 0 already trained, the others trained and every cut-off scored) on the demo data, with
``parallel=1`` (one cut-off at a time, each spreading its networks over the pool) and ``parallel=workers``
(as ``fit`` does on a pool). The pool is started and warmed by a one-epoch fit first; the two settings run in
ABBA order. Prints each time, the median ratio and whether the tables agree.
"""
from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from forecaster import ForecastConfig, fit  # noqa: E402
from forecaster.data.demo import demo_panel  # noqa: E402
from forecaster.model.recommend import cutoff_epochs, fit_once  # noqa: E402
from forecaster.results.backtest import backtest  # noqa: E402
from forecaster.run.executor import ProcessExecutor  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--origins", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--products", type=int, default=20)
    p.add_argument("--days", type=int, default=1095)
    a = p.parse_args()
    panel = demo_panel(a.products, a.days, 7)
    config = ForecastConfig(seed=0, retrain_for_forecast=False)
    pool = ProcessExecutor(workers=a.workers).start()
    try:
        fit(panel, config.replace(epochs=1), executor=pool)  # warm: imports, workers started
        latest = fit(panel, config, executor=pool)
        train_once = functools.partial(fit_once, executor=pool)
        times: dict[int, list[float]] = {1: [], a.workers: []}
        tables = {}
        order = [1, a.workers, a.workers, 1] * ((a.runs + 1) // 2)
        for parallel in order[:2 * a.runs]:
            start = time.perf_counter()
            tables[parallel] = backtest(panel, config, a.origins, latest, train_once, epochs_per_run=cutoff_epochs(
                config), parallel=parallel)
            times[parallel].append(time.perf_counter() - start)
            print(f"parallel={parallel}: {times[parallel][-1]:.1f} s", flush=True)
    finally:
        pool.shutdown()
    seq, par = statistics.median(times[1]), statistics.median(times[a.workers])
    same = tables[1].equals(tables[a.workers]) or bool(
        (pd.testing.assert_frame_equal(tables[1], tables[a.workers], rtol=1e-6) is None))
    print(f"\n{a.origins} cut-offs on {a.workers} workers, demo {a.products} products x {a.days} days: one at a time "
          f"{seq:.1f} s, side by side {par:.1f} s, ratio {par / seq:.3f} (median of {a.runs}); tables equal: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
