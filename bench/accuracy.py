"""Accuracy benchmark: this project's models against strong baselines on the real datasets in ../shared/data.

usage: python bench/accuracy.py [dataset ...] [--seed S | --seeds 0,1,2,3] [--threads T] [--set NAME=VALUE ...]
                              [--cutoff-days N]
       datasets: online_retail_top100 bread_basket_top20 favorita_stores coffee_vending (default: all found),
                 or the extra checks bread_basket_all online_retail_top25_log

The protocol is the one of issue 4 and ../shared/tools/reference_anchors.py, and it is the project's own
``forecaster.evaluate``: the daily panel (gaps filled with 0, returns dropped) as the project's
``load_panel`` reads it, the test span is the last 28 days, every test day is predicted one step ahead
from the actual history up to the day before, metrics are pooled over all product-days (MASE scaled by
the seasonal-naive error on the days before the test span).

Rows per dataset:
* ``recommended (default)``: ``fit(panel, ForecastConfig())`` -- what a user gets without touching any
  setting; it picks among its candidates on the validation span before the test span;
* one row per candidate the recommendation trained (network variants, one blend per network; with
  ``--set refit=true``, as trained before the chosen one's refit), scored on the test span only for this
  table (the choice was made without it);
* the baselines of ``forecaster.model.baselines`` on exactly the same days;
* ``best reference``: quoted from issue 4, measured on this machine with reference_anchors.py (LightGBM,
  AutoETS or moving average, whichever was best); not recomputed here so that the project does not depend
  on lightgbm / statsforecast (re-run in a scratch venv on 2026-11-24 it gave the same figures: 42.792,
  2.051, 82.094, 1.094).

CPU seconds are process CPU time (user + system, all threads: up to 2x wall time on 2 cores) of ingest
plus the whole recommendation (every candidate trained) plus evaluation.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from forecaster import ForecastConfig, load_panel  # noqa: E402
from forecaster.model.baselines import BASELINES  # noqa: E402
from forecaster.results.evaluation import compare  # noqa: E402
from forecaster.model.intervals import calibrate  # noqa: E402
from forecaster.model.recommend import recommend  # noqa: E402
from forecaster.model.windows import chronological_split  # noqa: E402

DATA = ROOT.parent / "shared" / "data"

# Issue 4, "What to beat" (measured with ../shared/tools/reference_anchors.py on this machine):
# dataset -> (seasonal naive MAE, best reference MAE, which method)
REFERENCE = {
    "online_retail_top100": (48.38, 42.79, "LightGBM"),
    "bread_basket_top20": (2.493, 2.051, "AutoETS"),
    "favorita_stores": (107.75, 82.09, "LightGBM"),
    "coffee_vending": (1.170, 1.094, "AutoETS"),
}
# Issue 13, one-step MAE ratio to seasonal naive of two neural references run under the same protocol
# (NeuralForecast NHITS and LSTM) and the best classical reference: dataset -> (NHITS, LSTM, best classical)
NEURAL_REFERENCE = {
    "online_retail_top100": (0.749, 0.746, 0.885),
    "bread_basket_top20": (0.899, 0.810, 0.823),
    "favorita_stores": (0.708, 0.944, 0.762),
    "coffee_vending": (1.062, 0.883, 0.935),
}
# Issue 12, 80% intervals: dataset -> (best interval-score ratio, its method and coverage, best pinball ratio),
# ratios to seasonal naive with per-product residual quantiles
INTERVAL_REFERENCE = {
    "online_retail_top100": (0.627, "LightGBM quantile, coverage 0.82", 0.684),
    "bread_basket_top20": (0.843, "AutoETS, coverage 0.84", 0.839),
    "favorita_stores": (0.651, "NHITS quantile loss, coverage 0.77", 0.676),
    "coffee_vending": (0.880, "LSTM quantile loss, coverage 0.76", 0.882),
}


def _online_retail() -> pd.DataFrame:
    return load_panel(DATA / "uci_online_retail" / "online_retail_top100_daily_long.csv").panel


def _bread() -> pd.DataFrame:
    panel = load_panel(DATA / "bread_basket_bakery" / "BreadBasket_DMS.csv").panel
    panel = panel.drop(columns=[c for c in panel.columns if c == "NONE"])
    top = panel.sum().sort_values(ascending=False, kind="stable").index[:20]
    return panel[top]


def _favorita() -> pd.DataFrame:
    return load_panel(DATA / "favorita_store_transactions" / "transactions.csv").panel


def _coffee() -> pd.DataFrame:
    # rows with a blank coffee_name are skipped by ingest (and reported), as the protocol drops them
    return load_panel(DATA / "coffee_vending_machine" / "index_1.csv").panel


def _bread_all() -> pd.DataFrame:
    panel = load_panel(DATA / "bread_basket_bakery" / "BreadBasket_DMS.csv").panel
    return panel.drop(columns=[c for c in panel.columns if c == "NONE"])  # 93 items, most sell on few days


def _online_retail_log() -> pd.DataFrame:
    return load_panel(DATA / "uci_online_retail" / "online_retail_top25_transactions.csv").panel


# checks beyond the issues' tables (no reference figures): an intermittent catalog and a raw invoice log
EXTRA = {
    "bread_basket_all": ("bread_basket_bakery/BreadBasket_DMS.csv", _bread_all),
    "online_retail_top25_log": ("uci_online_retail/online_retail_top25_transactions.csv", _online_retail_log),
}

DATASETS: dict[str, tuple[str, Callable[[], pd.DataFrame]]] = {
    "online_retail_top100": ("uci_online_retail/online_retail_top100_daily_long.csv", _online_retail),
    "bread_basket_top20": ("bread_basket_bakery/BreadBasket_DMS.csv", _bread),
    "favorita_stores": ("favorita_store_transactions/transactions.csv", _favorita),
    "coffee_vending": ("coffee_vending_machine/index_1.csv", _coffee),
}
ALL_DATASETS = {**DATASETS, **EXTRA}


def load(name: str) -> pd.DataFrame | None:
    path, loader = ALL_DATASETS[name]
    if not (DATA / path).exists():
        print(f"# {name}: skipped, {DATA / path} is missing", file=sys.stderr)
        return None
    return loader()


def run(name: str, panel: pd.DataFrame, config: ForecastConfig, load_cpu: float,
        reference: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    rec = recommend(panel, config)  # exactly what fit(panel, config) returns for model="auto", plus the rest
    trained = rec.trained
    days = chronological_split(len(panel), trained.config).test
    preds = {"recommended (default)": trained.predict(panel, days)}
    cpu = time.process_time() - cpu0 + load_cpu
    wall = time.perf_counter() - wall0
    cals = {"recommended (default)": trained.calibration}
    values = panel.to_numpy(dtype=np.float64)
    val_preds = rec.predictions(panel, rec.val_days)
    for cand, pred in rec.predictions(panel, days).items():
        if cand not in BASELINES:  # the baselines get their own rows below
            preds[f"  candidate: {cand}"] = pred
            # each candidate calibrated the way the shipped model is: on its own validation-day errors
            cals[f"  candidate: {cand}"] = calibrate(values[rec.val_days], val_preds[cand], values[:rec.val_days[0]])
    evaluation = compare(panel, preds, days, cals)
    intervals = evaluation.interval_overall(0.8).reset_index()
    best_is, best_method, best_pin = INTERVAL_REFERENCE.get(name, (np.nan, "none quoted", np.nan)) if reference else (
        np.nan, "n/a at this cut-off", np.nan)
    intervals = pd.concat([intervals, pd.DataFrame([{"method": f"best reference ({best_method})",
                                                      "interval_score_ratio": best_is, "pinball_ratio": best_pin}])],
                          ignore_index=True)
    intervals.insert(0, "dataset", name)
    rows = evaluation.overall.reset_index()
    rows["cpu_s"] = np.where(rows["method"] == "recommended (default)", cpu, np.nan)
    rows["wall_s"] = np.where(rows["method"] == "recommended (default)", wall, np.nan)
    snaive, best, method = REFERENCE.get(name, (np.nan, np.nan, "none quoted")) if reference else (np.nan, np.nan, "n/a at this cut-off")
    ref = {"method": f"best reference ({method})", "MAE": best,
           "ratio_to_seasonal_naive": best / snaive if snaive else np.nan}
    rows = pd.concat([rows, pd.DataFrame([ref])], ignore_index=True)
    rows.insert(0, "dataset", name)
    rows.insert(1, "products", panel.shape[1])
    sel = trained.selection.assign(validation_mae=lambda d: d["validation_mae"].round(4))
    note = f"{name}: {trained.selection_reason}\n{sel.to_string(index=False)}"
    return rows, intervals, note


def _overrides(pairs: list[str]) -> dict:
    """'name=value' strings as ForecastConfig keyword arguments, each value cast to the field's type."""
    defaults = ForecastConfig()
    out = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        current = getattr(defaults, name)
        if isinstance(current, bool):
            out[name] = value.lower() in ("1", "true", "yes")
        elif isinstance(current, tuple):
            cast = str if current and isinstance(current[0], str) else int
            out[name] = tuple(cast(x) for x in value.split(",") if x)
        else:
            out[name] = type(current)(value)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("datasets", nargs="*", choices=[[], *ALL_DATASETS], default=[],
                   help="default: the four of the issues' tables; also " + ", ".join(EXTRA))
    p.add_argument("--seed", type=int, default=ForecastConfig().seed)
    p.add_argument("--seeds", default="", metavar="S,S,...",
                   help="run every dataset once per seed (e.g. 0,1,2,3): the detailed tables of the first seed, "
                        "then the default's range over the seeds next to the issues' references")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads outside training, which always uses forecaster.model.training.TRAIN_THREADS "
                        "(default 1: on a shared 2-core machine two threads spend more CPU time waiting on each "
                        "other than they save)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override one ForecastConfig setting for every dataset, e.g. --set ensemble=5 "
                        "(for experiments; the table's point is the defaults)")
    p.add_argument("--cutoff-days", type=int, default=0, metavar="N",
                   help="drop the last N days of every dataset first: tune settings on earlier spans like this, "
                        "so the real test span stays unseen (the reference rows then no longer apply)")
    return p


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    torch.set_num_threads(a.threads)
    seeds = [int(x) for x in a.seeds.split(",") if x.strip()] or [a.seed]
    tables, interval_tables, notes = [], [], []
    for seed in seeds:
        config = ForecastConfig(seed=seed, **_overrides(a.set))
        for name in a.datasets or list(DATASETS):
            cpu0 = time.process_time()
            panel = load(name)
            if panel is None:
                continue
            if a.cutoff_days:
                panel = panel.iloc[:-a.cutoff_days]
            table, intervals, note = run(name, panel, config, time.process_time() - cpu0, reference=not a.cutoff_days)
            tables.append(table.assign(seed=seed))
            interval_tables.append(intervals.assign(seed=seed))
            notes.append(note)
            print(f"# {name} seed {seed} done", file=sys.stderr, flush=True)
    if not tables:
        print("no dataset found under", DATA, file=sys.stderr)
        return 1
    every_seed = pd.concat(tables, ignore_index=True)
    every_interval = pd.concat(interval_tables, ignore_index=True)
    tables = [t for t in tables if t["seed"].iloc[0] == seeds[0]]
    interval_tables = [t for t in interval_tables if t["seed"].iloc[0] == seeds[0]]
    notes = notes[:len(tables)]
    table = pd.concat(tables, ignore_index=True)
    table = table.rename(columns={"ratio_to_seasonal_naive": "ratio_snaive"})
    cols = ["dataset", "products", "method", "MAE", "ratio_snaive", "RMSE", "WAPE", "MASE", "cpu_s", "wall_s"]
    pd.set_option("display.width", 220)
    pd.set_option("display.max_rows", 500)
    print(table[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}", na_rep=""))
    print("\n80% intervals on the test days (coverage; interval score and pinball loss as ratios to seasonal naive "
          "with per-product residual quantiles, lower is better):")
    intervals = pd.concat(interval_tables, ignore_index=True)
    print(intervals[["dataset", "method", "coverage", "interval_score_ratio", "pinball_ratio", "interval_score",
                     "pinball"]].to_string(index=False, float_format=lambda x: f"{x:.4g}", na_rep=""))
    print("\nWhat the recommendation saw (validation span = the days just before the test span):")
    for note in notes:
        print("\n" + note)
    if len(seeds) > 1:
        print(seed_ranges(every_seed, every_interval, seeds, reference=not a.cutoff_days))
    return 0


def seed_ranges(tables: pd.DataFrame, intervals: pd.DataFrame, seeds: list[int], reference: bool) -> str:
    """The default over every seed next to the issues' references: MAE ratio (issue 13) and the 80% interval's
    coverage, interval-score ratio and pinball ratio (issue 12); 'worst' is the seed furthest from the bar."""
    default = "recommended (default)"
    mae = tables[tables["method"] == default].pivot(index="dataset", columns="seed", values="ratio_to_seasonal_naive")
    ivl = intervals[intervals["method"] == default].set_index(["dataset", "seed"])
    rows = []
    for name in mae.index:
        nhits, lstm, classical = NEURAL_REFERENCE.get(name, (np.nan,) * 3) if reference else (np.nan,) * 3
        best_is, _, best_pin = INTERVAL_REFERENCE.get(name, (np.nan, "", np.nan)) if reference else (np.nan, "", np.nan)
        ratios = mae.loc[name]
        cov = ivl.loc[name, "coverage"]
        rows.append({"dataset": name, **{f"ratio s{s}": ratios[s] for s in seeds},
                     "ratio worst": ratios.max(), "NHITS": nhits, "LSTM": lstm, "classical": classical,
                     "below all": bool(ratios.max() < min(nhits, lstm, classical)) if reference else None,
                     "coverage min-max": f"{cov.min():.3f}-{cov.max():.3f}",
                     "IS ratio worst": ivl.loc[name, "interval_score_ratio"].max(), "IS ref": best_is,
                     "pinball worst": ivl.loc[name, "pinball_ratio"].max(), "pinball ref": best_pin})
    return (f"\nThe default over seeds {','.join(map(str, seeds))}: MAE ratio to seasonal naive next to issue 13's "
            "references, 80% interval next to issue 12's (coverage bar 0.75-0.85):\n"
            + pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}", na_rep=""))


if __name__ == "__main__":
    raise SystemExit(main())
