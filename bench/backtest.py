"""Rolling-backtest benchmark (issue 28): its earlier cut-offs trained one after another against side by side,
on the same warm worker pool, the same data and settings, in one run.

usage: python bench/backtest.py [--origins 4] [--workers 2] [--runs 2] [--products 20] [--days 1095]

Each measurement is ``forecaster.results.backtest.backtest`` of the default configuration (``fit``'s own
call: cut-off 0 already trained, the others trained and every cut-off scored) on the demo data, with
``parallel=1`` (one cut-off at a time, each spreading its networks over the pool), ``parallel=workers``
(as ``fit`` does on a pool) and in this process without a pool (one network after another, each taking the
free cores). The pool is started and warmed by a one-epoch fit first; the settings run in ABCCBA order.
Prints each time, the ratios of the medians and whether the tables agree.
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
from forecaster.model.tasks import InlineExecutor  # noqa: E402
from forecaster.run.executor import ProcessExecutor  # noqa: E402

INLINE = InlineExecutor()  # every network in this process, one after another (each on the free cores)


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
        settings = {"one at a time": (pool, 1), "side by side": (pool, a.workers), "in one process": (INLINE, 1)}
        times: dict[str, list[float]] = {name: [] for name in settings}
        tables = {}
        for name in (list(settings) + list(reversed(settings))) * ((a.runs + 1) // 2):  # ABCCBA
            if len(times[name]) == a.runs:
                continue
            executor, parallel = settings[name]
            start = time.perf_counter()
            tables[name] = backtest(panel, config, a.origins, latest, functools.partial(fit_once, executor=executor),
                                    epochs_per_run=cutoff_epochs(config), parallel=parallel)
            times[name].append(time.perf_counter() - start)
            print(f"{name}: {times[name][-1]:.1f} s", flush=True)
    finally:
        pool.shutdown()
    median = {name: statistics.median(t) for name, t in times.items()}
    same = all(pd.testing.assert_frame_equal(tables["one at a time"], t, rtol=1e-6) is None for t in tables.values())
    print(f"\n{a.origins} cut-offs, demo {a.products} products x {a.days} days, median of {a.runs}: "
          + ", ".join(f"{name} {m:.1f} s" for name, m in median.items())
          + f"; side by side on {a.workers} workers / one at a time {median['side by side'] / median['one at a time']:.3f}"
          f", / in one process {median['side by side'] / median['in one process']:.3f}; tables equal: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
