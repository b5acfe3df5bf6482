"""How far the Train page's "about N left" (elapsed + it: the run's length as the page sees it) is from the
time a run really took (issue 25: "about 10 min 30 s
left at most" for a 37 s job).

Trains the default recommended model on the server's job registry (the worker pool a dashboard uses) on the
demo data and, where ../shared/data is present, on the shared datasets; samples the job's snapshot every
0.25 s; afterwards compares each sample's estimate with the time that was really left. Reports, over the
samples after the first 10 % of the run, the smallest and largest ratio estimate / actual (the bar: within a
factor of two, 0.5 to 2), next to the same ratio for the old estimate (planned epochs at the mean epoch time).
Each ratio is (elapsed + estimate) / the run's real length: near the end a ratio of the seconds left alone
divides by almost nothing.

    python bench/progress.py [--seed S] [dataset ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecaster import ForecastConfig  # noqa: E402
from forecaster.data.demo import demo_panel  # noqa: E402
from forecaster.run.jobs import JobRegistry  # noqa: E402

SAMPLE_SECONDS = 0.25
WARM_UP = 0.1  # the bar applies after this share of the run


def measure(panel: pd.DataFrame, config: ForecastConfig, registry: JobRegistry, owner: str) -> dict:
    job = registry.submit(owner, panel, config)
    samples = []
    while not job.wait(SAMPLE_SECONDS):
        snap = job.snapshot()
        if snap.history:
            per_epoch = snap.elapsed / snap.epochs_run
            old = per_epoch * max(snap.total_epochs - snap.done_epochs, 0)
            samples.append((snap.elapsed, snap.seconds_left, old))
    total = job.snapshot().elapsed
    rows = pd.DataFrame(samples, columns=["t", "new", "old"])
    rows = rows[rows["t"] >= WARM_UP * total]
    # the run's whole length as each sample saw it (elapsed + estimate) against the length it really took:
    # near the end a ratio of the seconds left alone divides by almost nothing
    new, old = ((rows["t"] + rows[k]) / total for k in ("new", "old"))
    return {"seconds": total, "samples": len(rows), "new_min": new.min(), "new_max": new.max(),
            "min_at": float(rows["t"].iloc[int(np.argmin(new))] / total) if len(rows) else np.nan,
            "within_2x": float(((new >= 0.5) & (new <= 2)).mean()) if len(rows) else np.nan,
            "old_min": old.min(), "old_max": old.max()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("datasets", nargs="*", default=["demo", "bread_basket_top20", "online_retail_top100"])
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import accuracy  # the shared datasets as the accuracy benchmark reads them

    registry = JobRegistry.for_server()
    rows = {}
    try:
        for name in a.datasets:
            panel = demo_panel() if name == "demo" else accuracy.load(name)
            if panel is None:
                print(f"{name}: not found under ../shared/data, skipped")
                continue
            rows[name] = measure(panel, ForecastConfig(seed=a.seed), registry, f"bench-{name}")
            print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in rows[name].items()}, flush=True)
    finally:
        registry.shutdown()
    print("\n(elapsed + estimate) / real length, samples after the first 10 % of each run (bar: 0.5 to 2)")
    print(pd.DataFrame(rows).T.to_string(float_format=lambda x: f"{x:.2f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
