"""Reference for bench/drivers.py: a global LightGBM with and without the drivers, one step ahead on the last 28 days.

usage: /tmp/lgbvenv/bin/python bench/lightgbm_drivers.py [CSV] [--json]
       CSV: a long file date,store,sales,promo,open,state_holiday,school_holiday
            (default /work/ext/rossmann/sales_long.csv, kept outside the project tree: research-use data)

Runs in a scratch venv with lightgbm (``python -m venv /tmp/lgbvenv && /tmp/lgbvenv/bin/pip install lightgbm
pandas numpy``), so it imports nothing of the project: the project does not depend on lightgbm.

Why a second model: whether the network uses the drivers well is only known next to a model that is known to
use them. The features are those of ../shared/tools/reference_point.py's ``lgbm`` (lags 1-7, 14, 21, 28, rolling
mean 7 and 28, std 28 of the actual history before the target day, weekday, month, store id as a category) and,
in the driver runs, the target day's own promo, open, state_holiday (a category) and school_holiday: all known
ahead. Trained on the days before the test span, every test day predicted from the actual history before it.

Scored against seasonal naive (the same store 7 days before) on the same product-days, twice: on all test
product-days, and on the open ones (``open`` = 1) only, which for the Rossmann extract are the days the
project scores (it leaves the closed Sundays out); also the open ones with a promotion and without, apart.
Bias = sum(forecast) / sum(actual) - 1.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_DATA = Path("/work/ext/rossmann/sales_long.csv")
TEST_DAYS = 28  # the project's ForecastConfig().test_days
LAGS = (1, 2, 3, 4, 5, 6, 7, 14, 21, 28)
HOLIDAY_LEVELS = ("0", "a", "b", "c")  # state_holiday: none, public, Easter, Christmas


def panels(path: Path) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Sales (dates x stores, summed per store-day) and each driver on the same grid (state_holiday as its
    level's code, -1 for an unknown value)."""
    df = pd.read_csv(path, dtype={"state_holiday": str}, parse_dates=["date"])
    df["store"] = df["store"].astype(str)
    df["state_holiday"] = pd.Categorical(df["state_holiday"].str.strip(), categories=list(HOLIDAY_LEVELS)).codes
    grid = pd.date_range(df["date"].min(), df["date"].max(), freq="D")
    stores = sorted(df["store"].unique(), key=lambda s: (len(s), s))

    def pivot(col: str, how: str) -> pd.DataFrame:
        wide = df.pivot_table(index="date", columns="store", values=col, aggfunc=how)
        return wide.reindex(index=grid, columns=stores)

    sales = pivot("sales", "sum").fillna(0.0)
    drivers = {c: pivot(c, "max").fillna(0.0) for c in ("promo", "open", "state_holiday", "school_holiday")}
    return sales, drivers


def features(sales: pd.DataFrame, drivers: dict[str, pd.DataFrame] | None) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(rows, features) for every target day t >= 28 and store, the day index of each row, and the
    categorical feature columns."""
    y = sales.to_numpy(dtype=np.float64)
    T, N = y.shape
    rows, days = [], []
    for t in range(max(LAGS), T):
        hist = y[:t]
        cols = [y[t - lag] for lag in LAGS] + [hist[-7:].mean(0), hist[-28:].mean(0), hist[-28:].std(0),
                                               np.full(N, sales.index[t].day_of_week), np.full(N, sales.index[t].month),
                                               np.arange(N)]
        if drivers is not None:
            cols += [drivers[c].to_numpy()[t] for c in ("promo", "open", "state_holiday", "school_holiday")]
        rows.append(np.column_stack(cols))
        days.append(np.full(N, t))
    X = np.vstack(rows)
    store_col = len(LAGS) + 5
    return X, np.concatenate(days), [store_col] + ([store_col + 3] if drivers is not None else [])


def lgbm(X: np.ndarray, day: np.ndarray, y: np.ndarray, test_start: int, categorical: list[int],
         objective: str) -> np.ndarray:
    """One-step predictions of the rows on or after ``test_start``, clipped at 0 (reference_point.py's settings)."""
    import lightgbm as lgb

    train = day < test_start
    params = {"objective": objective, "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20,
              "bagging_fraction": 0.8, "bagging_freq": 1, "feature_fraction": 0.8, "verbose": -1, "num_threads": 1,
              "seed": 0, **({"tweedie_variance_power": 1.1} if objective == "tweedie" else {})}
    # the native API (LGBMRegressor's settings under their own names): the sklearn wrapper needs scikit-learn;
    # one thread: two took 20x longer on this 2-core machine (OpenMP threads waiting on each other)
    model = lgb.train(params, lgb.Dataset(X[train], y[train], categorical_feature=categorical), num_boost_round=400)
    return np.clip(model.predict(X[~train]), 0, None)


def scores(actual: np.ndarray, pred: np.ndarray, snaive: np.ndarray, where: np.ndarray) -> dict[str, float]:
    """RMSE ratio to seasonal naive, MAE and bias, pooled over the product-days ``where``."""
    a, p, s = actual[where], pred[where], snaive[where]
    rmse = float(np.sqrt(np.mean((a - p) ** 2)))
    return {"rmse_ratio": rmse / float(np.sqrt(np.mean((a - s) ** 2))), "MAE": float(np.mean(np.abs(a - p))),
            "RMSE": rmse, "bias": float(p.sum() / a.sum() - 1), "product_days": int(where.sum())}


RUNS = {  # label -> (objective, with drivers)
    "LightGBM L2 without drivers": ("regression", False),
    "LightGBM L2 with drivers": ("regression", True),
    "LightGBM tweedie without drivers": ("tweedie", False),
    "LightGBM tweedie with drivers": ("tweedie", True),
}


def run(path: Path) -> list[dict]:
    sales, drivers = panels(path)
    y = sales.to_numpy(dtype=np.float64)
    T = len(y)
    s = T - TEST_DAYS
    actual, snaive = y[s:], y[s - 7:T - 7]
    open_days = drivers["open"].to_numpy()[s:] > 0
    promo = drivers["promo"].to_numpy()[s:] > 0
    day_sets = {"all": np.ones_like(open_days), "open": open_days, "promo": open_days & promo,
                "no promo": open_days & ~promo}
    out = []
    built: dict[bool, tuple] = {}
    for label, (objective, with_drivers) in RUNS.items():
        t0 = time.perf_counter()
        if with_drivers not in built:
            built[with_drivers] = features(sales, drivers if with_drivers else None)
        X, day, categorical = built[with_drivers]
        target = y[max(LAGS):].ravel()
        pred = lgbm(X, day, target, s, categorical, objective).reshape(TEST_DAYS, -1)
        seconds = time.perf_counter() - t0
        for days, where in day_sets.items():
            out.append({"method": label, "days": days, "seconds": seconds, **scores(actual, pred, snaive, where)})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    p.add_argument("--json", action="store_true", help="one JSON line per method and day set (for bench/drivers.py)")
    a = p.parse_args(argv)
    if not a.data.exists():
        print(f"{a.data} is missing", file=sys.stderr)
        return 1
    rows = run(a.data)
    if a.json:
        for row in rows:
            print(json.dumps(row))
    else:
        pd.set_option("display.width", 200)
        print(pd.DataFrame(rows).round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
