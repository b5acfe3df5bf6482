"""Demo data: a deterministic, made-up purchase history so a new user sees everything work at once.

Nothing here is real sales. The generator mimics what real shops show: weekly and yearly seasonality,
trends, promotions, slow and intermittent sellers, and products that move together.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

DEMO_NAME = "Demo data (generated, not real sales)"
DEMO_PRODUCTS = (
    "Espresso beans 1kg", "Oat milk 1L", "Croissant", "Sourdough loaf", "Green tea 50 bags",
    "Dark chocolate bar", "Granola 500g", "Sparkling water 6-pack", "Orange juice 1L", "Honey jar",
    "Paper cups 50", "Ice cream tub", "Hot chocolate mix", "Gift card", "Picnic basket",
    "Christmas cookies", "Reusable bottle", "Coffee grinder", "Descaler", "Umbrella",
)
_WEEKLY = np.array([
    [0.9, 0.95, 1.0, 1.0, 1.1, 1.35, 1.2],   # weekend shoppers
    [1.1, 1.1, 1.05, 1.05, 1.0, 0.8, 0.6],   # weekday / office
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],     # flat
])


def demo_panel(n_products: int = 20, days: int = 1095, seed: int = 7, end: str = "2025-12-31") -> pd.DataFrame:
    """Daily demand (dates x products), identical for identical arguments."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D", name="date")
    names = [DEMO_PRODUCTS[i] if i < len(DEMO_PRODUCTS) else f"Demo product {i + 1}" for i in range(n_products)]
    t = np.arange(days)[:, None] / 365.25
    P = n_products
    level = np.exp(rng.uniform(np.log(2), np.log(80), P))
    level[rng.permutation(P)[: max(1, P // 5)]] = rng.uniform(0.15, 0.8, max(1, P // 5))  # slow sellers
    weekly = _WEEKLY[rng.integers(0, len(_WEEKLY), P)]  # (P, 7)
    weekly = weekly[:, index.day_of_week.to_numpy()].T  # (T, P)
    amp = rng.uniform(0.0, 0.5, P)
    phase = rng.uniform(0, 2 * np.pi, P)
    yearly = 1 + amp * np.sin(2 * np.pi * t + phase)
    trend = np.exp(rng.uniform(-0.25, 0.35, P) * t)
    # two shared demand drivers (e.g. footfall and weather) that several products follow
    drivers = lfilter([1.0], [1.0, -0.92], rng.normal(0, 0.08, (days, 2)), axis=0)
    loadings = rng.uniform(-0.2, 1.0, (2, P))
    shared = np.exp(drivers @ loadings)
    # promotions: a few 3-day pushes per product per year
    starts = rng.random((days, P)) < 4 / 365
    promo = np.zeros((days, P), dtype=bool)
    for k in range(3):  # three shifted copies make each promotion last three days
        promo[k:] |= starts[: days - k]
    uplift = np.where(promo, rng.uniform(1.5, 2.5, P), 1.0)
    rate = level * weekly * yearly * trend * shared * uplift
    gamma = rng.gamma(4.0, 1 / 4.0, (days, P))  # over-dispersion, as real counts have
    demand = rng.poisson(rate * gamma).astype(float)
    intermittent = rng.permutation(P)[: max(1, P // 10)]
    occurs = rng.random((days, len(intermittent))) < 0.12
    demand[:, intermittent] = occurs * rng.geometric(0.3, (days, len(intermittent)))
    return pd.DataFrame(demand, index=index, columns=pd.Index(names, name="product"))


def demo_long(n_products: int = 20, days: int = 1095, seed: int = 7) -> pd.DataFrame:
    """The demo panel as a long table: date, product, quantity (the format most exports use)."""
    panel = demo_panel(n_products, days, seed)
    long = panel.stack().rename("quantity").reset_index()
    long["quantity"] = long["quantity"].astype(int)
    return long[["date", "product", "quantity"]]


def demo_csv_bytes(n_products: int = 20, days: int = 1095, seed: int = 7) -> bytes:
    return demo_long(n_products, days, seed).to_csv(index=False, date_format="%Y-%m-%d").encode("utf-8")


def promotion_demo_long(n_products: int = 3, days: int = 300, seed: int = 0, uplift: float = 2.0,
                        promo_share: float = 0.15) -> pd.DataFrame:
    """A long file with drivers whose effect is known: date, product, quantity, promo (0/1, on about
    ``promo_share`` of days) and price (10, cut to 8 on promotion days). A promotion multiplies the day's
    expected demand by exactly ``uplift``; weekends sell 1.3 times a weekday. Every product has a row every
    day. Made up, for tests and trials of drivers."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=pd.Timestamp("2025-12-31"), periods=days, freq="D", name="date")
    level = 20.0 + 10.0 * np.arange(n_products)[None, :]
    weekend = np.where(index.day_of_week.to_numpy() >= 5, 1.3, 1.0)[:, None]
    promo = (rng.random((days, n_products)) < promo_share).astype(int)
    quantity = rng.poisson(level * weekend * np.where(promo == 1, uplift, 1.0))
    names = [f"P{p}" for p in range(n_products)]
    return pd.DataFrame({"date": np.repeat(index, n_products), "product": np.tile(names, days),
                         "quantity": quantity.ravel(), "promo": promo.ravel(),
                         "price": np.where(promo.ravel() == 1, 8.0, 10.0)})
