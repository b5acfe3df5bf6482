"""Drivers benchmark: do promotions, store openings and holidays read beside the sales make the forecasts better?

usage: python bench/drivers.py [CSV] [--seed S] [--threads T] [--lightgbm-python PATH]
       CSV: a long file date,store,sales,promo,open,state_holiday,school_holiday; default
            /work/ext/rossmann/sales_long.csv, the Rossmann extract of 50 stores x 942 days (see its
            PROVENANCE.md). It is kept outside the project tree (Kaggle competition data, research use only,
            not redistributed), so its path is an argument.

Source: Kaggle's "Rossmann Store Sales" (2015, https://www.kaggle.com/c/rossmann-store-sales, train.csv), as
committed in github.com/digital-munich/lumen-data-analytics-module1-fundamentals at commit
483c1b490d32d298bc824ba9bb2cd74061831a4f, file rossmann-store-sales.zip (blob 7fb9d6f4fc31..., stores 1-100,
every date moved 9 years forward by that repo's curator). bench/rossmann_extract.py rebuilds the extract from
it (the dates moved back, checked against each row's own DayOfWeek; 50 stores with every day of 2013-01-01 to
2015-07-31; rows of two other public copies agree field by field). Licence: that repo has none; the data is
under Kaggle's competition rules (non-commercial research use), so it is neither copied into this project nor
used by its tests.

Why: a driver only earns its place in the product if the forecasts get better with it, on real data where it
is known to matter (Rossmann's promotions run in alternate weeks, so last week's sales are a poor guide).

The protocol is bench/accuracy.py's, i.e. ``forecaster.evaluate``: the test span is the last 28 days
(``ForecastConfig().test_days``), every test day is predicted one step ahead from the actual history before
it, metrics are pooled over product-days: RMSE of the mean as a ratio to seasonal naive (the same store 7
days before) on the same days, MAE (of the network's calibrated median, as the project scores it), bias =
sum(forecast) / sum(actual) - 1 of the mean. Rows:

* ``no drivers``: ``fit(load_panel(CSV).panel, ForecastConfig(seed=S))``, what a user gets today;
* ``drivers``: the same with ``IngestOptions(drivers=DRIVERS)`` and ``fit(..., drivers=result.drivers)``
  (all four are known ahead by their names: a forecast reads the target day's own value);
* ``drivers + DE holidays``: also ``ForecastConfig(holidays="DE")``, German public holidays as features;
* LightGBM references from bench/lightgbm_drivers.py (lags, rolling stats, weekday, month, store id, plus the
  target day's drivers), run in a scratch venv with lightgbm (``--lightgbm-python``, default
  /tmp/lgbvenv/bin/python; "not run" without it): the project does not depend on lightgbm.

Each figure twice: on the open product-days (``open`` = 1: here exactly the days the library scores, as it
leaves closed weekdays, the Sundays, out; checked and said below the table) and on all 28 test days (a closed
day counts with the forecast the product gives it: 0 for the library, LightGBM's own prediction for it).
A second table splits the open days into those with a promotion and those without: where a driver should help.
Seconds are wall seconds of ingest + fit (every candidate the recommendation trains) + evaluation, or of
LightGBM's features (built once per feature set, counted in its first row) + training + prediction; the
machine may be shared, so they are rough.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from forecaster import ForecastConfig, fit, load_panel  # noqa: E402
from forecaster.config import IngestOptions  # noqa: E402
from forecaster.labels import NETWORK  # noqa: E402
from forecaster.model.trained import TrainedForecaster  # noqa: E402
from forecaster.results.evaluation import Evaluation, evaluate  # noqa: E402

DEFAULT_DATA = Path("/work/ext/rossmann/sales_long.csv")
DRIVERS = ("promo", "open", "state_holiday", "school_holiday")
LIGHTGBM_SCRIPT = Path(__file__).resolve().parent / "lightgbm_drivers.py"
LIGHTGBM_PYTHON = Path("/tmp/lgbvenv/bin/python")
LIGHTGBM_ROWS = ("LightGBM L2 without drivers", "LightGBM L2 with drivers", "LightGBM tweedie with drivers")
DAY_SETS = ("open", "all")


@dataclass(frozen=True)
class Row:
    """One method's figures per day set ("open", "all"), or why it has none."""

    method: str
    scores: dict[str, dict[str, float]]
    seconds: float = float("nan")
    note: str = ""


def _scores(actual: np.ndarray, mean: np.ndarray, median: np.ndarray, snaive: np.ndarray,
            where: np.ndarray) -> dict[str, float]:
    """RMSE ratio to seasonal naive and bias of the mean, MAE of the median, over the product-days ``where``."""
    rmse = float(np.sqrt(np.mean((actual[where] - mean[where]) ** 2)))
    base = float(np.sqrt(np.mean((actual[where] - snaive[where]) ** 2)))
    return {"rmse_ratio": rmse / base, "MAE": float(np.mean(np.abs(actual[where] - median[where]))),
            "bias": float(mean[where].sum() / actual[where].sum() - 1)}


def flags(path: Path, column: str, dates: pd.DatetimeIndex, products: list[str]) -> np.ndarray:
    """(len(dates), P) a 0/1 column of the file per store-day (``open``, ``promo``; False without a row)."""
    df = pd.read_csv(path, usecols=["date", "store", column], parse_dates=["date"])
    wide = df.assign(store=df["store"].astype(str)).pivot_table(index="date", columns="store", values=column,
                                                                aggfunc="max")
    return wide.reindex(index=dates, columns=products).fillna(0).to_numpy() > 0


def project_scores(trained: TrainedForecaster, panel: pd.DataFrame, ev: Evaluation, is_open: np.ndarray,
                   promo: np.ndarray) -> tuple[dict[str, dict[str, float]], str]:
    """The network's figures on the open test days, on all of them and on the open days with and without a
    promotion, and a check of the days the library scored against the open ones. A test day the library leaves out (closed) takes the forecast the product
    gives it, 0 (:func:`forecaster.results.forecasting.forecast`)."""
    panel = trained.align(panel)
    values = panel.to_numpy(dtype=np.float64)
    days = np.arange(len(panel) - trained.config.test_days, len(panel))
    actual, snaive = values[days], values[days - 7]
    at = days.searchsorted(panel.index.get_indexer(ev.dates))
    scored = np.zeros(actual.shape, dtype=bool)
    scored[at] = np.broadcast_to(ev.scored, ev.actual.shape)
    mean, median = np.zeros_like(actual), np.zeros_like(actual)
    mean[at] = np.where(scored[at], ev.predictions[NETWORK], 0.0)
    median[at] = np.where(scored[at], ev.medians.get(NETWORK, ev.predictions[NETWORK]), 0.0)
    mine = _scores(actual, mean, median, snaive, scored)
    theirs = ev.overall.loc[NETWORK]
    assert np.isclose(mine["MAE"], theirs["MAE"]) and np.isclose(mine["rmse_ratio"], theirs["rmse_ratio"]) \
        and np.isclose(mine["bias"], theirs["Bias"]), (mine, theirs.to_dict())
    is_open, promo = is_open[days], promo[days]
    check = (f"library scored {int(scored.sum()):,} product-days, open=1 on {int(is_open.sum()):,}, "
             + ("the same ones" if (scored == is_open).all()
                else f"{int((scored & ~is_open).sum())} scored while closed, {int((is_open & ~scored).sum())} open "
                     "but not scored"))
    full = np.ones_like(scored)
    return {"open": _scores(actual, mean, median, snaive, is_open), "all": _scores(actual, mean, median, snaive, full),
            "promo": _scores(actual, mean, median, snaive, is_open & promo),
            "no promo": _scores(actual, mean, median, snaive, is_open & ~promo)}, check


def project_row(method: str, path: Path, config: ForecastConfig, drivers: tuple[str, ...]) -> tuple[Row, str]:
    """Ingest, fit and evaluate one configuration, timed; a crash becomes a row saying so (and its traceback
    goes to stderr)."""
    wall0 = time.perf_counter()
    try:
        result = load_panel(path, IngestOptions(drivers=drivers))
        trained = fit(result.panel, config, drivers=result.drivers) if drivers else fit(result.panel, config)
        ev = evaluate(trained, result.panel)
        seconds = time.perf_counter() - wall0
        dates, products = result.panel.index, trained.products
        scores, check = project_scores(trained, result.panel, ev, flags(path, "open", dates, products),
                                       flags(path, "promo", dates, products))
    except Exception as exc:  # noqa: BLE001 - the benchmark reports a crash as its row
        import traceback

        traceback.print_exc()
        return Row(method, {}, time.perf_counter() - wall0, f"crashed: {type(exc).__name__}: {exc}"), ""
    parts = {NETWORK: trained.config.model}
    chosen = (" + ".join(f"{w:.0%} {parts.get(k, k)}" for k, w in trained.blend.items() if w) if trained.blend
              else trained.config.model)
    uses = "reads the drivers" if trained.driver_spec is not None else "no drivers"
    return Row(method, scores, seconds), f"{method}: recommended {chosen} ({uses}); {check}"


def lightgbm_rows(path: Path, python: Path) -> tuple[list[Row], str]:
    """The references of bench/lightgbm_drivers.py run with ``python`` (a venv with lightgbm), or rows saying
    why not."""
    if not python.exists():
        return [Row(m, {}, note=f"not run ({python} missing)") for m in LIGHTGBM_ROWS], ""
    res = subprocess.run([str(python), str(LIGHTGBM_SCRIPT), str(path), "--json"], capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        print(res.stderr, file=sys.stderr)
        return [Row(m, {}, note=f"not run (exit {res.returncode})") for m in LIGHTGBM_ROWS], ""
    found: dict[str, Row] = {}
    for line in res.stdout.splitlines():
        rec = json.loads(line)
        row = found.setdefault(rec["method"], Row(rec["method"], {}, rec["seconds"]))
        row.scores[rec["days"]] = {k: rec[k] for k in ("rmse_ratio", "MAE", "bias")}
    extra = [f"{m}: RMSE ratio {r.scores['open']['rmse_ratio']:.3f}, MAE {r.scores['open']['MAE']:.1f}, bias "
             f"{r.scores['open']['bias']:+.3f} on open days" for m, r in found.items() if m not in LIGHTGBM_ROWS]
    return [found.get(m, Row(m, {}, note="not run (no output)")) for m in LIGHTGBM_ROWS], "; ".join(extra)


def table(rows: list[Row], day_sets: tuple[str, ...] = DAY_SETS, seconds: bool = True) -> str:
    """One markdown table: each day set's RMSE ratio, MAE and bias, then seconds."""
    head = ["method"] + [f"{what} ({days} days)" for days in day_sets for what in ("RMSE ratio to snaive", "MAE",
                                                                                    "bias")] + ["seconds"] * seconds
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for row in rows:
        cells = [row.method]
        for days in day_sets:
            s = row.scores.get(days)
            cells += ([f"{s['rmse_ratio']:.3f}", f"{s['MAE']:.1f}", f"{s['bias']:+.3f}"] if s
                      else [row.note or "n/a", "", ""])
        if seconds:
            cells.append(f"{row.seconds:.0f}" if np.isfinite(row.seconds) else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help=f"default {DEFAULT_DATA}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads outside training (as bench/accuracy.py)")
    p.add_argument("--lightgbm-python", type=Path, default=LIGHTGBM_PYTHON,
                   help="an interpreter with lightgbm, pandas and numpy for bench/lightgbm_drivers.py")
    a = p.parse_args(argv)
    if not a.data.exists():
        print(f"{a.data} is missing: give the Rossmann long file's path", file=sys.stderr)
        return 1
    torch.set_num_threads(a.threads)
    runs = {"no drivers": (ForecastConfig(seed=a.seed), ()),
            "drivers": (ForecastConfig(seed=a.seed), DRIVERS),
            "drivers + DE holidays": (ForecastConfig(seed=a.seed, holidays="DE"), DRIVERS)}
    rows, notes = [], []
    for method, (config, drivers) in runs.items():
        row, note = project_row(method, a.data, config, drivers)
        rows.append(row)
        notes.append(note or f"{method}: {row.note}")
        print(f"# {method} done in {row.seconds:.0f}s", file=sys.stderr, flush=True)
    lgb_rows, lgb_note = lightgbm_rows(a.data, a.lightgbm_python)
    rows += lgb_rows
    print(f"Drivers on {a.data.name} (seed {a.seed}): one step ahead over the last {ForecastConfig().test_days} days, "
          f"drivers {', '.join(DRIVERS)}\n")
    print(table(rows))
    print()
    for note in notes + ([lgb_note] if lgb_note else []):
        print("* " + note)
    print("\nWhere the gain is: the open test days with a promotion (promo = 1) and without, apart\n")
    print(table(rows, ("promo", "no promo"), seconds=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
