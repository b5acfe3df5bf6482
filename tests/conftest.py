"""Small shared fixtures for the library tests: tiny synthetic panels built in code (never ../shared/data)
and a tiny training configuration, so the whole library suite stays fast on a busy 2-core machine."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from forecaster import ForecastConfig
from forecaster.model import threads

# every run a test keeps (the dashboard keeps each finished training) goes to a throwaway store, never the
# developer's own (~/.purchase-forecaster or their FORECASTER_DB_URL); servers the tests start inherit it
os.environ["FORECASTER_HOME"] = tempfile.mkdtemp(prefix="forecaster-tests-")
os.environ.pop("FORECASTER_DB_URL", None)

TESTS_DIR = Path(__file__).resolve().parent
APP_TEST_DIRS = ("app", "e2e")  # page and browser tests: their own thread settings

# one network, a few epochs, small layers: seconds, not minutes
# without the retraining for forecasts (the default), so a test's forecast comes from the networks it trained
# (or damaged); tests/model/test_recommend.py covers the retraining
TINY = ForecastConfig(model="cnn_lstm", ensemble=1, epochs=3, patience=0, conv_channels=8, hidden_size=8,
                      embedding_dim=2, batch_size=32, test_days=14, val_days=14, seed=0, retrain_for_forecast=False)


def make_panel(days: int = 120, products: int = 3, seed: int = 0, start: str = "2024-01-01") -> pd.DataFrame:
    """Poisson demand with a weekly rhythm, one column per product: the canonical daily panel."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=days, freq="D", name="date")
    weekly = 1 + 0.5 * np.sin(2 * np.pi * np.arange(days) / 7)[:, None]
    level = rng.uniform(3, 30, products)[None, :]
    values = rng.poisson(weekly * level).astype(float)
    return pd.DataFrame(values, index=index, columns=pd.Index([f"p{i}" for i in range(products)], name="product"))


def weekly_pattern_panel(days: int = 365, seed: int = 0) -> pd.DataFrame:
    """6 products, a clean weekday profile times a level, with Poisson noise: copying last week carries two
    days' noise, a learned profile one (so the best possible MAE is about 0.71 of seasonal naive)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2023-01-02", periods=days, freq="D", name="date")
    profile = np.array([1, 2, 3, 4, 5, 8, 6], dtype=float) / 4
    level = np.array([5.0, 10.0, 20.0, 40.0, 8.0, 15.0])
    rate = profile[index.day_of_week.to_numpy()][:, None] * level[None, :]
    values = rng.poisson(rate).astype(float)
    return pd.DataFrame(values, index=index, columns=pd.Index([f"w{i}" for i in range(6)], name="product"))


def day_number_panel(days: int = 60, products: int = 3) -> pd.DataFrame:
    """value[t, p] = 100 * p + t: every cell says which day (and product) it belongs to."""
    index = pd.date_range("2024-01-01", periods=days, freq="D", name="date")
    values = np.arange(days, dtype=float)[:, None] + 100.0 * np.arange(products)[None, :]
    return pd.DataFrame(values, index=index, columns=pd.Index([f"p{i}" for i in range(products)], name="product"))


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread(request):
    """Tiny networks gain nothing from a second thread, and on a shared 2-core machine two busy torch
    threads fighting other jobs made a 1-second training take 40+ seconds: trainings in this process get
    one thread each (forecaster.model.threads; tests/model/test_threads.py installs the shares it tests).
    Library test modules only (the page and browser tests under tests/app, tests/e2e keep their own
    settings)."""
    if Path(request.path).resolve().relative_to(TESTS_DIR).parts[0] in APP_TEST_DIRS:
        yield
        return
    before, share = torch.get_num_threads(), threads.use(threads.FixedShare(1))
    torch.set_num_threads(1)
    yield
    threads.use(share)
    torch.set_num_threads(before)


@pytest.fixture
def tiny_config() -> ForecastConfig:
    return TINY


@pytest.fixture(scope="module")
def small_panel() -> pd.DataFrame:
    return make_panel()


@pytest.fixture(scope="module")
def trained_small(one_torch_thread, small_panel):
    """One tiny multi-output network trained on ``small_panel`` (shared within a module: do not mutate)."""
    from forecaster import fit

    return fit(small_panel, TINY)


def invoice_log(days: int = 70, seed: int = 0) -> bytes:
    """An invoice log shaped like UCI Online Retail: codes, descriptions (one code with a second spelling on a
    few rows), a country shared by every product, prices and customers."""
    rng = np.random.default_rng(seed)
    items = {"22960": "JAM MAKING SET WITH JARS", "85123A": "WHITE HANGING HEART T-LIGHT HOLDER",
             "47566": "PARTY BUNTING", "21212": "PACK OF 72 RETROSPOT CAKE CASES"}
    rows = []
    for day in pd.date_range("2011-01-03", periods=days, freq="D"):
        for code, name in items.items():
            for _ in range(rng.integers(1, 4)):
                spelled = "JAM MAKING SET W JARS" if code == "22960" and rng.random() < 0.05 else name
                rows.append((f"{rng.integers(500000, 600000)}", code, spelled, int(rng.integers(1, 13)),
                             f"{day:%Y-%m-%d} {rng.integers(8, 18):02d}:{rng.integers(0, 60):02d}:00",
                             f"{rng.uniform(0.5, 5):.2f}", f"{rng.integers(12000, 18000)}.0", "United Kingdom"))
    table = pd.DataFrame(rows, columns=["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                                        "UnitPrice", "CustomerID", "Country"])
    return table.to_csv(index=False).encode()
