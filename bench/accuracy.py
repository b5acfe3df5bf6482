"""Accuracy benchmark: this project's models against strong baselines on the real datasets in ../shared/data.

usage: python bench/accuracy.py [dataset ...] [--seed S | --seeds 0,1,2,3] [--threads T] [--set NAME=VALUE ...]
                              [--cutoff-days N]
       python bench/accuracy.py --horizon-origins [dataset ...] [--seed S] [--threads T] [--set NAME=VALUE ...]
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

``--horizon-origins`` (issue 23) measures multi-day forecasts instead: for each origin T-28, T-21 and T-14
(T = the panel's length) ``fit(panel before the origin, ForecastConfig(seed=S, **overrides))`` (which holds back
its own validation and test days of that cut panel, as a user's fit does) forecasts the 14 days after the origin.
Scored by bucket (day 1, days 2-7, days 8-14) pooled over the 3 origins: MAE of the median and RMSE of the mean as
ratios to seasonal naive (the last 7 days before the origin repeated), and the mean's bias (bar +/-15 %); and the
7-day totals per product (both weeks of every origin) of the mean against seasonal naive's. Next to each bucket the
issue's best reference (fit on the same days: LightGBM, AutoETS or NHITS). Then the coverage of the daily 80 %
interval and of the daily order quantity at a 90 % service level (bar 0.85-0.95), of the 7-day total's 80 % range
(bar 0.7-0.9; only where ``forecasting.lead_time_total`` exists), and the forecast's level on days 8-14 over days
1-7 next to the actuals'. Product-days the forecast marks ``closed`` are left out of the daily scores.

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

from forecaster import ForecastConfig, fit, load_panel  # noqa: E402
from forecaster.model.baselines import BASELINES  # noqa: E402
from forecaster.results.evaluation import compare  # noqa: E402
from forecaster.results import forecasting  # noqa: E402
from forecaster.model.intervals import calibrate  # noqa: E402
from forecaster.model.scores import since_first_sale  # noqa: E402
from forecaster.model.recommend import recommend  # noqa: E402
from forecaster.model.windows import trading_split  # noqa: E402

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
# Issue 23, the mean forecast one step ahead (../shared/tools/reference_point.py): dataset -> (best RMSE ratio
# to seasonal naive, its method, its bias)
POINT_REFERENCE = {
    "online_retail_top100": (0.838, "LightGBM L2", 0.004),
    "bread_basket_top20": (0.805, "AutoETS", 0.034),
    "favorita_stores": (0.788, "LightGBM L2", 0.001),
    "coffee_vending": (0.884, "AutoETS", -0.033),
}
# Issue 23, multi-day forecasts from origins T-28, T-21 and T-14 (references fit on the days before each origin):
# dataset -> per bucket (day 1, days 2-7, days 8-14, 7-day total) the best reference's MAE ratio to seasonal naive
# (the last week repeated) and its method; NaN where the issue quotes none
HORIZON_REFERENCE: dict[str, tuple[tuple[float, str], ...]] = {
    "online_retail_top100": ((np.nan, "none: day 1 is a closed Saturday"), (0.744, "NHITS"), (0.700, "NHITS"),
                             (0.887, "LightGBM")),
    "bread_basket_top20": ((0.899, "AutoETS"), (0.813, "AutoETS"), (0.845, "AutoETS"), (0.927, "NHITS")),
    "favorita_stores": ((0.521, "NHITS"), (0.733, "NHITS"), (0.791, "NHITS"), (0.735, "NHITS")),
    "coffee_vending": ((0.830, "LightGBM"), (0.892, "AutoETS"), (0.820, "AutoETS"), (0.772, "AutoETS")),
}
HORIZON_CUTS = (28, 21, 14)  # days cut off the panel's end: origins T-28, T-21, T-14 (T = len(panel))
HORIZON_DAYS = 14
BUCKETS = {"day 1": slice(0, 1), "days 2-7": slice(1, 7), "days 8-14": slice(7, 14)}
BIAS_BAR = 0.15  # issue 23: the mean's bias per bucket within +/-15 %
TOTAL_RANGE_BAR = (0.7, 0.9)  # the 7-day total's 80 % range covers this share of product-weeks
ORDER_BAR = (0.85, 0.95)  # the daily order quantity at a 90 % service level covers this share of product-days
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
    days = trading_split(panel, trained.config).test
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
            cals[f"  candidate: {cand}"] = calibrate(values[rec.val_days], val_preds[cand], values[:rec.val_days[0]],
                                                     where=since_first_sale(values)[rec.val_days])
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
    point_ratio, point_method, point_bias = POINT_REFERENCE.get(name, (np.nan, "none quoted", np.nan)) if reference \
        else (np.nan, "n/a at this cut-off", np.nan)
    point = {"method": f"best mean reference ({point_method})", "rmse_ratio": point_ratio, "Bias": point_bias}
    rows = pd.concat([rows, pd.DataFrame([ref, point])], ignore_index=True)
    rows.insert(0, "dataset", name)
    rows.insert(1, "products", panel.shape[1])
    sel = trained.selection.round({"validation_rmsse": 4, "validation_bias": 4})
    note = f"{name}: {trained.selection_reason}\n{sel.to_string(index=False)}"
    calendar = config.holidays or HOLIDAYS.get(name, "")
    around = evaluation.holiday_table(calendar, ("recommended (default)", "seasonal_naive")) if calendar else None
    if around is not None:  # the test days around the country's holidays apart (issue 26), features on or not
        note += (f"\nTest days around {config.holidays or HOLIDAYS[name]}'s public holidays "
                 f"(holiday features {'on' if config.holidays else 'off'}):\n{around.to_string(index=False)}")
    return rows, intervals, note


# the country each dataset's sales were made in: the holiday calendar its test days are split by
HOLIDAYS = {"favorita_stores": "EC", "online_retail_top100": "GB", "online_retail_top25_log": "GB",
            "bread_basket_top20": "GB-SCT", "bread_basket_all": "GB-SCT", "coffee_vending": "UA"}


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
                   help="torch CPU threads outside training, which takes its own (forecaster.model.threads) "
                        "(default 1: on a shared 2-core machine two threads spend more CPU time waiting on each "
                        "other than they save)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override one ForecastConfig setting for every dataset, e.g. --set ensemble=5 "
                        "(for experiments; the table's point is the defaults)")
    p.add_argument("--cutoff-days", type=int, default=0, metavar="N",
                   help="drop the last N days of every dataset first: tune settings on earlier spans like this, "
                        "so the real test span stays unseen (the reference rows then no longer apply)")
    p.add_argument("--horizon-origins", action="store_true",
                   help="multi-day mode of issue 23: train at origins T-28, T-21 and T-14 and score days 1-14 after "
                        "each by bucket (day 1, days 2-7, days 8-14, 7-day total) against seasonal naive")
    return p


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.horizon_origins:
        return horizon_main(a)
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
    cols = ["dataset", "products", "method", "MAE", "ratio_snaive", "RMSE", "rmse_ratio", "Bias", "RMSSE", "WAPE",
            "cpu_s", "wall_s"]
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
        bias, rmse = (tables[tables["method"] == default].pivot(index="dataset", columns="seed", values=v).loc[name]
                      for v in ("Bias", "rmse_ratio"))
        rows.append({"dataset": name, "bias min-max": f"{bias.min():+.3f}..{bias.max():+.3f}",
                     "RMSE ratio worst": rmse.max(), **{f"ratio s{s}": ratios[s] for s in seeds},
                     "ratio worst": ratios.max(), "NHITS": nhits, "LSTM": lstm, "classical": classical,
                     "below all": bool(ratios.max() < min(nhits, lstm, classical)) if reference else None,
                     "coverage min-max": f"{cov.min():.3f}-{cov.max():.3f}",
                     "IS ratio worst": ivl.loc[name, "interval_score_ratio"].max(), "IS ref": best_is,
                     "pinball worst": ivl.loc[name, "pinball_ratio"].max(), "pinball ref": best_pin})
    return (f"\nThe default over seeds {','.join(map(str, seeds))}: bias and RMSE ratio of the expected demand, MAE "
            "ratio (of the median) to seasonal naive next to issue 13's references, 80% interval next to issue 12's "
            "(coverage bar 0.75-0.85):\n"
            + pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}", na_rep=""))


# --horizon-origins (issue 23): multi-day forecasts from three origins, scored by horizon bucket

def seasonal_naive_days(history: np.ndarray, horizon: int = HORIZON_DAYS) -> np.ndarray:
    """(horizon, P) seasonal naive from ``history`` (days, P): the last 7 days repeated, day h (1-based)
    getting day origin-7+((h-1)%7)."""
    return history[len(history) - 7 + np.arange(horizon) % 7]


def _wide(table: pd.DataFrame, column: str, products: list) -> np.ndarray:
    """One column of forecast's long table as a (HORIZON_DAYS, product) array, row h-1 the day h days after
    the origin, in ``products`` order; NaN where absent (closed days before the first forecast day have no
    row: the forecast starts on the next trading day)."""
    if column not in table.columns:
        return np.full((HORIZON_DAYS, len(products)), np.nan)
    wide = table.pivot(index="step", columns="product", values=column)
    return wide.reindex(index=range(1, HORIZON_DAYS + 1), columns=products).to_numpy(dtype=np.float64)


def _lead_time(trained: object, history: pd.DataFrame, products: list) -> dict[str, np.ndarray]:
    """The next 7 days' total per product (P,) from ``forecasting.lead_time_total``: forecast, lower, upper and
    order_quantity under keys total_*; an empty dict where the library has no such function."""
    if not hasattr(forecasting, "lead_time_total"):
        return {}
    total = forecasting.lead_time_total(trained, history, days=7, level=0.8, service_level=0.9)
    span = (total["first_day"].iloc[0], total["last_day"].iloc[0])  # from the next trading day
    total = total.set_index("product").reindex(products)
    out = {f"total_{c}": total[c].to_numpy(dtype=np.float64) if c in total else np.full(len(products), np.nan)
           for c in ("forecast", "lower", "upper", "order_quantity")}
    return {**out, "total_span": span}


def horizon_origin(panel: pd.DataFrame, cut: int, config: ForecastConfig) -> dict:
    """Train on ``panel`` less its last ``cut`` days and forecast the 14 days after: (14, P) arrays actual, mean,
    median (the mean where there is none), lower and upper (80 %), order (90 % service level), closed and the
    seasonal naive snaive; plus first_day and, where the library has it, the 7-day total's range."""
    history = panel.iloc[:len(panel) - cut]
    trained = fit(history, config)
    products = list(trained.products)
    table = forecasting.forecast(trained, history, HORIZON_DAYS, level=0.8, service_level=0.9)
    closed = _wide(table, "closed", products)
    closed = np.isnan(closed) | (closed == 1)  # a day passed over before the next trading day is closed too
    mean, median = _wide(table, "forecast", products), _wide(table, "median", products)
    median = np.where(np.isnan(median), mean, median)  # no calibration: the mean is all there is
    mean, median = np.nan_to_num(mean), np.nan_to_num(median)  # days passed over as closed: 0
    future = panel[products].iloc[len(history):len(history) + HORIZON_DAYS]
    run = {"actual": future.to_numpy(dtype=np.float64), "mean": mean, "median": median,
           "lower": np.nan_to_num(_wide(table, "lower", products)), "upper": np.nan_to_num(_wide(table, "upper", products)),
           "order": np.nan_to_num(_wide(table, "order_quantity", products)), "closed": closed,
           "snaive": seasonal_naive_days(history[products].to_numpy(dtype=np.float64)), "first_day": future.index[0]}
    lead = _lead_time(trained, history, products)
    if lead:  # the actual total over the same days as the forecast total
        first, last = lead.pop("total_span")
        lead["total_actual"] = panel[products].loc[first:last].sum().to_numpy(dtype=np.float64)
    return {**run, **lead}


def _share(num: float, den: float) -> float:
    """num / den, NaN where den is not positive."""
    return num / den if den > 0 else np.nan


def _bucket_scores(actual: np.ndarray, median: np.ndarray, mean: np.ndarray, naive: np.ndarray) -> dict:
    """MAE of the median and RMSE of the mean, each as a ratio to seasonal naive's, and the mean's bias, over
    the given (flat) product-days or product-weeks."""
    if actual.size == 0:
        return {"n": 0, "MAE ratio": np.nan, "RMSE ratio": np.nan, "bias": np.nan}
    rmse = lambda f: np.sqrt(np.mean((f - actual) ** 2))  # noqa: E731
    return {"n": actual.size,
            "MAE ratio": _share(np.abs(median - actual).mean(), np.abs(naive - actual).mean()),
            "RMSE ratio": _share(rmse(mean), rmse(naive)),
            "bias": _share(mean.sum() - actual.sum(), actual.sum())}


def horizon_table(runs: list[dict]) -> pd.DataFrame:
    """Rows day 1, days 2-7, days 8-14 (closed product-days left out) and 7-day total (product-week sums of the
    mean, both weeks of every origin; closed days included), pooled over the origins."""
    s = {k: np.stack([r[k] for r in runs]) for k in ("actual", "mean", "median", "snaive", "closed")}  # (O, 14, P)
    rows = {}
    for bucket, days in BUCKETS.items():
        keep = ~s["closed"][:, days]
        rows[bucket] = _bucket_scores(*(s[k][:, days][keep] for k in ("actual", "median", "mean", "snaive")))
    week = lambda x: x.reshape(len(runs), 2, 7, -1).sum(axis=2).ravel()  # noqa: E731  (origin, week, product)
    rows["7-day total"] = _bucket_scores(week(s["actual"]), week(s["mean"]), week(s["mean"]), week(s["snaive"]))
    return pd.DataFrame.from_dict(rows, orient="index")


def horizon_coverage(runs: list[dict]) -> dict[str, float]:
    """Shares of open product-days inside the daily 80 % interval and at or below the 90 % order quantity, and
    (where the library gives the 7-day total's range) of product-weeks (week 1 of each origin) inside it and at
    or below its order quantity; plus the mean forecast's and the actuals' level of days 8-14 over days 1-7."""
    s = {k: np.stack([r[k] for r in runs]) for k in ("actual", "mean", "lower", "upper", "order", "closed")}
    a, keep = s["actual"], ~s["closed"]
    within = lambda x, lo, hi: np.nan if np.isnan(hi).all() else float(((x >= lo) & (x <= hi)).mean())  # noqa: E731
    out = {"daily 80%": within(a[keep], s["lower"][keep], s["upper"][keep]),
           "daily order 90%": within(a[keep], -np.inf, s["order"][keep]),
           "level forecast": _share(s["mean"][:, 7:].sum(), s["mean"][:, :7].sum()),
           "level actual": _share(a[:, 7:].sum(), a[:, :7].sum())}
    if "total_lower" in runs[0]:
        week = np.stack([r["total_actual"] for r in runs])
        total = {k: np.stack([r[f"total_{k}"] for r in runs]) for k in ("lower", "upper", "order_quantity")}
        out["7-day total 80%"] = within(week, total["lower"], total["upper"])
        out["7-day total order 90%"] = within(week, -np.inf, total["order_quantity"])
    return out


def _day_profile(runs: list[dict]) -> str:
    """The mean forecast's total over the actual total for each day ahead, pooled over origins and products."""
    mean, actual = (np.stack([r[k] for r in runs]).sum(axis=(0, 2)) for k in ("mean", "actual"))
    return " ".join(f"{_share(m, a):.2f}" for m, a in zip(mean, actual))


def horizon_report(name: str, runs: list[dict], seconds: float, reference: bool) -> str:
    """One dataset's table (buckets x MAE ratio, RMSE ratio, bias, the issue's reference, whether it is met)
    with its coverage, level and day-1 notes."""
    table = horizon_table(runs)
    refs = HORIZON_REFERENCE.get(name) if reference else None
    refs = refs or ((np.nan, "none quoted" if reference else "n/a at this cut-off"),) * 4
    table["reference"], table["ref method"] = [r[0] for r in refs], [r[1] for r in refs]
    yes_no = lambda ok, known: np.where(known, np.where(ok, "yes", "no"), "")  # noqa: E731
    table["below ref"] = yes_no(table["MAE ratio"] < table["reference"], table["reference"].notna())
    table["bias ok"] = yes_no(table["bias"].abs() <= BIAS_BAR, table["bias"].notna())
    cov = horizon_coverage(runs)
    first = ", ".join(f"{r['first_day']:%a %Y-%m-%d}" for r in runs)
    lines = [f"\n{name}: {runs[0]['actual'].shape[1]} products, origins T-{', T-'.join(map(str, HORIZON_CUTS))} "
             f"(first forecast days {first}), {seconds:.0f} s",
             table.to_string(float_format=lambda x: f"{x:.3f}", na_rep=""),
             f"coverage: daily 80% interval {cov['daily 80%']:.3f}, daily order quantity (90%) "
             f"{cov['daily order 90%']:.3f} (bar {ORDER_BAR[0]}-{ORDER_BAR[1]})"]
    if "7-day total 80%" in cov:
        lines.append(f"7-day total (week 1 of each origin): 80% range {cov['7-day total 80%']:.3f} "
                     f"(bar {TOTAL_RANGE_BAR[0]}-{TOTAL_RANGE_BAR[1]}), "
                     f"order quantity (90%) {cov['7-day total order 90%']:.3f}")
    else:
        lines.append("7-day total range: not measured, forecaster.results.forecasting has no lead_time_total yet")
    lines.append(f"level of days 8-14 over days 1-7: forecast {cov['level forecast']:.3f}, actual "
                 f"{cov['level actual']:.3f}; forecast / actual by day 1..14: {_day_profile(runs)}")
    for r in runs:
        day1, rest = r["mean"][0].sum(), r["mean"][1:7].sum() / 6
        if r["closed"][0].all():
            lines.append(f"note: day 1 ({r['first_day']:%a %Y-%m-%d}) is closed, left out of the day-1 scores")
        elif r["actual"][0].sum() == 0:
            lines.append(f"note: no sales on day 1 ({r['first_day']:%a %Y-%m-%d}), no closed column to leave it out; "
                         f"its forecast totals {day1:.1f}, {_share(day1, rest):.2f} of the mean day 2-7 forecast")
    return "\n".join(lines)


def horizon_main(a: argparse.Namespace) -> int:
    """--horizon-origins: per dataset, train at the three origins and print the horizon table (see the module
    docstring)."""
    config = ForecastConfig(seed=a.seed, **_overrides(a.set))
    pd.set_option("display.width", 220)
    print(f"Multi-day forecasts (issue 23), seed {a.seed}: MAE of the median and RMSE of the mean as ratios to "
          f"seasonal naive (the last week repeated), bias of the mean (bar +/-{BIAS_BAR:.0%}), pooled over the "
          "origins; n = product-days (product-weeks for the 7-day total); below ref = MAE ratio below the reference's")
    found = False
    for name in a.datasets or list(DATASETS):
        panel = load(name)
        if panel is None:
            continue
        panel = panel.iloc[:len(panel) - a.cutoff_days]
        wall0 = time.perf_counter()
        runs = [horizon_origin(panel, cut, config) for cut in HORIZON_CUTS]
        print(horizon_report(name, runs, time.perf_counter() - wall0, reference=not a.cutoff_days), flush=True)
        print(f"# {name} seed {a.seed} done", file=sys.stderr, flush=True)
        found = True
    if not found:
        print("no dataset found under", DATA, file=sys.stderr)
    return 0 if found else 1


if __name__ == "__main__":
    raise SystemExit(main())
