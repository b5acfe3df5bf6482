"""Issue 26's drivers in a real browser: a file with a price and a promotion column, both chosen on the Data
page, trained, the forecast asking for their future values, a future file uploaded, and the forecast
downloaded with the promotion day's demand above the same product's other days."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from forecaster.data.demo import promotion_demo_long

from .conftest import STEP_MS, TRAIN_MS
from .test_browser import go, only, press_train, settle

pytestmark = pytest.mark.e2e


def _files(tmp_path: Path) -> tuple[Path, Path, pd.Timestamp]:
    history = promotion_demo_long(n_products=3, days=200, seed=8)
    data = tmp_path / "promotions.csv"
    history.to_csv(data, index=False)
    days = pd.date_range(history["date"].max() + pd.Timedelta(days=1), periods=7)
    future = pd.DataFrame({"date": days.repeat(3), "product": ["P0", "P1", "P2"] * 7, "promo": 0, "price": 10.0})
    future.loc[(future["product"] == "P1") & (future["date"] == days[0]), ["promo", "price"]] = [1, 8.0]
    path = tmp_path / "future.csv"
    future.to_csv(path, index=False)
    return data, path, days[0]


def _choose(page, label: str, option: str) -> None:
    """Pick one option of a Streamlit multiselect by its label."""
    page.locator('[data-testid="stMultiSelect"]', has_text=label).locator("input").first.click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    settle(page)


def test_drivers_from_upload_to_future_values_and_the_downloaded_forecast(new_page, tmp_path, screenshots):
    data, future, first_day = _files(tmp_path)
    page = new_page()
    go(page, "Data")
    page.locator("input[type=file]").set_input_files(str(data))
    page.get_by_text("Read as long").wait_for()
    page.get_by_text("Drivers: prices, promotions, events (2 offered)").click()
    _choose(page, "Drivers (columns that move demand)", "promo")
    _choose(page, "Drivers (columns that move demand)", "price")
    page.screenshot(path=str(screenshots / "drivers_data.png"), full_page=True)
    page.get_by_text("The model will read promo (known ahead), price (known ahead).").wait_for()

    go(page, "Train")
    expect(page.get_by_text("Drivers: promo (known ahead), price (known ahead).")).to_be_visible()
    page.get_by_text("Quick", exact=True).click()
    press_train(page)
    page.get_by_text("Training finished").wait_for(timeout=TRAIN_MS)

    go(page, "Forecast")
    page.get_by_text("This run forecasts from the future values of").wait_for()
    assert "'promo', 'price': upload them above" in page.locator('[data-testid="stMain"]').inner_text()
    page.locator("input[type=file]").set_input_files(str(future))
    page.get_by_text("Future values of the drivers: future.csv").wait_for(timeout=STEP_MS)  # read, folded away
    page.reload()  # a refresh keeps the run's future values (a trial: it asked for them again)
    page.get_by_text("Future values of the drivers: future.csv").wait_for(timeout=STEP_MS)
    settle(page)
    expect(page.get_by_text("This run forecasts from the future values")).to_have_count(0)
    page.screenshot(path=str(screenshots / "drivers_forecast.png"), full_page=True)
    with page.expect_download(timeout=STEP_MS) as info:
        only(page.get_by_role("button", name="Download forecast CSV")).click()
    table = pd.read_csv(info.value.path(), parse_dates=["date"])
    assert set(table["date"]) == {first_day} and len(table) == 3
    by_product = table.set_index("product")["forecast"]
    assert by_product["P1"] > 2.2 * by_product["P0"]  # P1 sells 1.5 times P0, and twice that on promotion
