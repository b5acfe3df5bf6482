"""A stored forecast against what sold: a week after a run, its forecast days have happened, and a planner asks
how it did: the total against sales (bias), the daily error, how often the range held what sold and how often
the order quantity covered the day."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError

KEYS = ["date", "product"]


@dataclass(frozen=True)
class Tracking:
    """``days``: one row per forecast product-day that has happened (actual beside the forecast's columns);
    ``per_product``: each product's totals and scores, the largest miss first; ``overall``: the same pooled."""

    days: pd.DataFrame
    per_product: pd.DataFrame
    overall: dict[str, float]
    left_out: int  # forecast products the new data does not hold


def track(forecast: pd.DataFrame, panel: pd.DataFrame) -> Tracking:
    """Score ``forecast`` (date, product, forecast and, where the run had ranges, lower, median, upper,
    order_quantity, closed) on the days of ``panel`` (a later upload's daily panel) it covers. A day the
    forecast called closed is not scored. Refused, naming both spans, where no forecast day is in the panel."""
    table = forecast.assign(date=pd.to_datetime(forecast["date"]), product=forecast["product"].astype(str))
    forecast_products = table["product"].unique()
    if not set(forecast_products) & set(map(str, panel.columns)):
        raise DataError(f"None of the run's {len(forecast_products):,} products (such as {forecast_products[0]!r}) is "
                        f"in this file (its products: {', '.join(repr(str(c)) for c in panel.columns[:3])}"
                        f"{', ...' if panel.shape[1] > 3 else ''}): upload the same shop's sales.")
    actual = panel.rename(columns=str).rename_axis(index="date", columns="product").stack().rename("actual")
    days = table.merge(actual.reset_index(), on=KEYS, how="inner")
    if "closed" in days:
        days = days[~days["closed"].astype(bool)]
    if days.empty:
        first, last = table["date"].min(), table["date"].max()
        raise DataError(f"The data covers {panel.index[0]:%d %b %Y} to {panel.index[-1]:%d %b %Y}; the run forecast "
                        f"{first:%d %b %Y} to {last:%d %b %Y}: no day of its forecast (and product) is in this "
                        "file. Upload sales of the days after the run's history.")
    days = days.sort_values(KEYS, kind="stable").reset_index(drop=True)
    per_product = _scores(days.groupby("product", sort=False))
    per_product = per_product.reindex(per_product["miss"].abs().sort_values(ascending=False, kind="stable").index)
    overall = _scores(days.assign(all=0).groupby("all")).drop(columns="all").iloc[0].to_dict()
    left_out = int(table.loc[~table["product"].isin(set(map(str, panel.columns))), "product"].nunique())
    return Tracking(days, per_product.reset_index(drop=True), overall, left_out)


def _scores(groups: pd.core.groupby.DataFrameGroupBy) -> pd.DataFrame:
    """Per group: days, sold, forecast total, miss and bias of the total, MAE of the median (the forecast
    where the run had no median), RMSE of the forecast, coverage of the range, share of days the order
    quantity covered (NaN where the run had no ranges)."""
    def one(g: pd.DataFrame) -> pd.Series:
        sold, total = g["actual"].sum(), g["forecast"].sum()
        median = g["median"] if "median" in g else g["forecast"]
        out = {"days": g["date"].nunique(), "sold": sold, "forecast": total, "miss": total - sold,
               "bias": (total - sold) / sold if sold > 0 else np.nan,
               "MAE": float(np.abs(median - g["actual"]).mean()),
               "RMSE": float(np.sqrt(((g["forecast"] - g["actual"]) ** 2).mean())),
               "coverage": np.nan, "order_hit_rate": np.nan}
        if {"lower", "upper"} <= set(g):
            out["coverage"] = float(((g["actual"] >= g["lower"]) & (g["actual"] <= g["upper"])).mean())
        if "order_quantity" in g:
            out["order_hit_rate"] = float((g["actual"] <= g["order_quantity"]).mean())
        return pd.Series(out)
    return groups[list(groups.obj.columns)].apply(one).reset_index()
