"""The merchandiser's path in a real browser: upload, train, evaluate, forecast, download."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from forecaster.data.demo import demo_csv_bytes
from ui.widgets import EXPERT_SETTINGS

from .conftest import MENU_LINK, STEP_MS, TRAIN_MS

pytestmark = pytest.mark.e2e


def go(page, name: str) -> None:
    """Click a page in the sidebar navigation and wait for its title."""
    page.locator(MENU_LINK, has_text=name).click()
    page.locator("h1", has_text=name if name != "Home" else "Purchase Forecaster").wait_for()


def settle(page) -> None:
    """Wait until Streamlit has finished the current script run and dropped stale elements."""
    page.wait_for_timeout(300)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=STEP_MS)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=STEP_MS)


def only(locator):
    """The locator once exactly one element matches (stale copies from the previous run are gone).

    Buttons are found by role: Streamlit also draws a hidden copy of a button that has a tooltip."""
    expect(locator).to_have_count(1, timeout=STEP_MS)
    return locator


def chart(page, title: str):
    """A Plotly chart by its title (the first: a redraw can briefly leave the previous copy in place)."""
    return page.locator(".js-plotly-plot").filter(has=page.locator("text.gtitle", has_text=title)).first




def set_number(page, label: str, value) -> None:
    """Type a number into the field with this label, opening the Train form's expert settings if it is there."""
    settle(page)  # a page still drawing may show the field a moment later: clicking then would close the expander
    box = page.get_by_label(label, exact=True)
    if not box.is_visible():
        expander = page.get_by_text(EXPERT_SETTINGS, exact=True)
        if expander.count():
            expander.first.click()
        expect(box).to_be_visible()
    box.fill(str(value))
    box.press("Tab")


def press_train(page) -> None:
    page.locator('[data-testid="stForm"]').get_by_role("button", name="Train").click()


def upload(page, path) -> None:
    go(page, "Data")
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text("Read as long").wait_for()


def test_a_page_url_as_the_first_request_after_start_still_gets_the_frame(browser, server_url):
    """Streamlit treats a pages/ folder as its legacy scan until app.py's st.navigation has run once; a
    bookmarked /train as the server's first request must still show the sidebar and the session defaults.
    (First in this file so that, run alone or in order, it is the server's first script run.)"""
    context = browser.new_context()
    context.set_default_timeout(STEP_MS)
    try:
        page = context.new_page()
        page.goto(f"{server_url}/train")
        page.locator("h1", has_text="Train").wait_for()
        expect(page.get_by_text("Current dataset")).to_be_visible()
        expect(page.locator(MENU_LINK)).to_have_count(6)
        expect(page.locator('[data-testid="stSidebarNav"]')).to_have_count(0)  # never Streamlit's own list
        assert "session=" in page.url  # app.py ran: it keeps the session id in the URL
    finally:
        context.close()


def test_upload_train_evaluate_forecast_and_download(new_page, tmp_path, screenshots):
    csv = tmp_path / "shop_sales.csv"
    csv.write_bytes(demo_csv_bytes(n_products=8, days=300, seed=11))
    page = new_page()
    upload(page, csv)
    chart(page, "Total daily demand").wait_for()
    assert "shop_sales.csv" in page.locator('[data-testid="stSidebar"]').inner_text()
    page.screenshot(path=str(screenshots / "upload_data.png"), full_page=True)

    go(page, "Train")
    set_number(page, "Epochs (passes over the history)", 5)
    set_number(page, "Days to test on", 21)
    press_train(page)
    page.get_by_text("Training finished").wait_for(timeout=TRAIN_MS)
    chart(page, "Learning curve").wait_for()
    settle(page)
    page.screenshot(path=str(screenshots / "upload_train.png"), full_page=True)

    go(page, "Evaluate")
    chart(page, "Error per product").wait_for()
    chart(page, "actual vs predicted").wait_for()
    assert page.locator('[data-testid="stMetric"]').count() == 24  # 6 methods x MAE, RMSE, Bias, WAPE
    page.screenshot(path=str(screenshots / "upload_evaluate.png"), full_page=True)

    go(page, "Forecast")
    chart(page, "Forecast for").wait_for()
    set_number(page, "Days to forecast", 3)
    page.get_by_text(re.compile(r"forecast for \w+ \d\d \w+ \d{4} to ")).wait_for()  # a 3-day span now
    settle(page)
    with page.expect_download(timeout=STEP_MS) as info:
        only(page.get_by_role("button", name="Download forecast CSV")).click()
    download = info.value
    assert download.suggested_filename.endswith("_3d.csv")
    table = pd.read_csv(download.path())
    assert list(table.columns) == ["date", "product", "forecast", "lower", "median", "upper", "order_quantity",
                                   "closed", "stopped", "level", "service_level"]
    assert len(table) == 8 * 3 and table["product"].nunique() == 8
    assert (table["lower"] >= 0).all() and (table["lower"] <= table["upper"]).all()
    assert table["date"].nunique() == 3 and (table["forecast"] >= 0).all()
    with page.expect_download(timeout=STEP_MS) as info:
        only(page.get_by_role("button", name="Download accuracy CSV")).click()
    metrics = pd.read_csv(info.value.path())
    assert len(metrics) == 8 and {"mae_network", "coverage_network", "interval_score_network"} <= set(metrics.columns)
    page.screenshot(path=str(screenshots / "upload_forecast.png"), full_page=True)


def closed_saturdays_csv(path: Path) -> Path:
    """A long CSV of 6 products over 30 weeks of a shop that never opens on Saturday; the last day a Friday."""
    import numpy as np

    rng = np.random.default_rng(5)
    dates = pd.date_range("2025-01-04", periods=30 * 7, freq="D")  # a Saturday, to a Friday
    rows = [(d.date(), f"item {p}", int(q)) for d in dates if d.day_of_week != 5
            for p, q in enumerate(rng.poisson([4, 9, 15, 25, 6, 12]))]
    pd.DataFrame(rows, columns=["date", "product", "quantity"]).to_csv(path, index=False)
    return path


def test_closed_days_are_labelled_and_lead_time_totals_have_a_range(new_page, tmp_path, screenshots):
    """A planner's week: the next trading day after a closed Saturday, the closed day marked in a 7-day
    forecast, and each product's 7-day total with its range and order-up-to quantity."""
    page = new_page()
    upload(page, closed_saturdays_csv(tmp_path / "closed_saturdays.csv"))
    go(page, "Train")
    set_number(page, "Epochs (passes over the history)", 3)
    press_train(page)
    page.get_by_text("Training finished").wait_for(timeout=TRAIN_MS)
    go(page, "Forecast")
    chart(page, "Forecast for").wait_for()
    expect(page.get_by_text(re.compile(r"Sunday \d\d \w+ is the next trading day"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"Saturday \d\d \w+ is closed \(no product sold on any Saturday"))).to_be_visible()
    set_number(page, "Days to forecast", 7)
    page.get_by_text(re.compile(r"Closed days in this forecast \(forecast 0, nothing to order\): Sat")).wait_for()
    set_number(page, "Days to cover (lead time plus review period)", 7)
    page.get_by_text(re.compile(r"Totals for Sun \d\d \w+ to Sat \d\d \w+\. The range holds")).wait_for()
    settle(page)
    page.screenshot(path=str(screenshots / "closed_days_and_totals.png"), full_page=True)
    with page.expect_download(timeout=STEP_MS) as info:
        only(page.get_by_role("button", name="Download totals CSV")).click()
    totals = pd.read_csv(info.value.path())
    assert len(totals) == 6 and (totals["days"] == 7).all()
    assert (totals["lower"] <= totals["median"]).all() and (totals["median"] <= totals["upper"]).all()
    assert (totals["order_quantity"] >= totals["median"]).all()
    with page.expect_download(timeout=STEP_MS) as info:
        only(page.get_by_role("button", name="Download forecast CSV")).click()
    daily = pd.read_csv(info.value.path(), parse_dates=["date"])
    saturday = daily[daily["date"].dt.day_of_week == 5]
    assert len(saturday) == 6 and saturday["closed"].all() and (saturday["order_quantity"] == 0).all()
    assert daily["date"].min().day_of_week == 6  # the first forecast day is the Sunday after the closed Saturday
    page.reload()  # a refresh keeps the page's settings, not only the data and the run
    chart(page, "Forecast for").wait_for()
    assert page.get_by_role("spinbutton", name="Days to forecast").input_value() == "7"
    assert page.get_by_role("spinbutton", name="Days to cover (lead time plus review period)").input_value() == "7"


REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "coffee_vending_machine" / "index_1.csv"


@pytest.mark.skipif(not REAL_DATA.exists(), reason="the shared real datasets are not beside this checkout")
def test_intervals_on_real_data_band_and_coverage_screenshots(new_page, tmp_path, screenshots):
    """The coffee machine's raw log (8 coffees, 1 to 2 cups a day) with the default settings: the Evaluate
    coverage view and the Forecast band, saved as screenshots."""
    csv = tmp_path / "coffee_sales.csv"
    csv.write_bytes(REAL_DATA.read_bytes())  # a copy: the upload is the user's file, never the shared one
    page = new_page()
    go(page, "Data")
    page.locator("input[type=file]").set_input_files(str(csv))
    chart(page, "Total daily demand").wait_for()
    go(page, "Train")
    press_train(page)
    page.get_by_text("Training finished").wait_for(timeout=TRAIN_MS)
    go(page, "Evaluate")
    chart(page, "Interval coverage per product").wait_for()
    chart(page, "actual vs predicted").wait_for()
    expect(page.get_by_text(re.compile(r"interval held the actual demand on \d+%"))).to_be_visible()
    settle(page)
    page.mouse.move(5, 900)
    chart(page, "Interval coverage per product").screenshot(path=str(screenshots / "intervals_coverage_real.png"))
    page.screenshot(path=str(screenshots / "intervals_evaluate_real.png"), full_page=True)
    go(page, "Forecast")
    set_number(page, "Days to forecast", 14)
    page.get_by_text(re.compile(r"forecast for \w+ \d\d \w+ \d{4} to ")).wait_for()
    settle(page)
    band = chart(page, "and the forecast")
    band.wait_for()
    page.mouse.move(5, 900)
    band.screenshot(path=str(screenshots / "intervals_forecast_band_real.png"))
    expect(band.locator("text.legendtext", has_text="80% interval")).to_have_count(1)
    page.screenshot(path=str(screenshots / "intervals_forecast_real.png"), full_page=True)


def test_demo_data_from_train_to_charts_timed(new_page, screenshots):
    page = new_page()
    page.get_by_role("button", name="Use demo data").click()
    page.get_by_text("Data loaded").wait_for()
    page.mouse.move(5, 900)  # no tooltip in the screenshot
    page.wait_for_timeout(500)
    page.screenshot(path=str(screenshots / "1_home.png"), full_page=True)
    go(page, "Data")
    chart(page, "Top 10 products").wait_for()
    settle(page)
    page.screenshot(path=str(screenshots / "2_data.png"), full_page=True)

    go(page, "Train")
    # default settings throughout: the recommended model, as a new user gets it
    start = time.perf_counter()
    press_train(page)
    page.get_by_text("Training finished").wait_for(timeout=TRAIN_MS)
    chart(page, "Learning curve").wait_for()
    trained_s = time.perf_counter() - start
    settle(page)
    page.screenshot(path=str(screenshots / "3_train.png"), full_page=True)
    go(page, "Evaluate")
    chart(page, "Error per product").wait_for()
    chart(page, "actual vs predicted").wait_for()
    charts_s = time.perf_counter() - start
    settle(page)
    page.screenshot(path=str(screenshots / "4_evaluate.png"), full_page=True)
    go(page, "Forecast")
    chart(page, "Forecast for").wait_for()
    chart(page, "the forecast").wait_for()
    settle(page)
    page.screenshot(path=str(screenshots / "5_forecast.png"), full_page=True)
    print(f"\nDemo data, default settings (recommended model): Train pressed -> finished loss curve {trained_s:.1f} s; "
          f"-> Evaluate charts drawn {charts_s:.1f} s (includes one page switch)")


def test_two_sessions_training_at_once_see_only_their_own_job(new_page, tmp_path, screenshots):
    files = {"alpha.csv": demo_csv_bytes(n_products=3, days=400, seed=1),
             "beta.csv": demo_csv_bytes(n_products=5, days=400, seed=2)}
    pages = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        page = new_page()
        upload(page, tmp_path / name)
        go(page, "Train")
        # many epochs at a tiny learning rate: both runs are still going when they are checked and cancelled
        set_number(page, "Epochs (passes over the history)", 1000)
        set_number(page, "Learning rate", 0.00001)
        pages[name] = page
    for page in pages.values():
        press_train(page)
    for page in pages.values():  # both are running at the same time, each with its live progress
        page.get_by_text(re.compile(r"Training… \d+ of \d+ networks done; the current one is at epoch \d{2,} of at "
                                    r"most \d+")).first.wait_for(timeout=TRAIN_MS)
        chart(page, "Learning curve").wait_for()
    pages["alpha.csv"].screenshot(path=str(screenshots / "train_running.png"), full_page=True)
    for name, page in pages.items():
        other = next(n for n in files if n != name)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert f"on {name}" in sidebar and other not in sidebar
    for page in pages.values():
        page.get_by_role("button", name="Cancel training").click()
    for name, page in pages.items():
        page.get_by_text(re.compile("Cancelled after|Training finished")).first.wait_for(timeout=TRAIN_MS)
        settle(page)
        other = next(n for n in files if n != name)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert f"on {name}" in sidebar and other not in sidebar
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert name in body and other not in body
        go(page, "Evaluate")  # the best model before the cancel is kept and scored
        chart(page, "Error per product").wait_for()
        assert other not in page.locator('[data-testid="stMain"]').inner_text()
    # the URL carries each session's own id: neither page can see the other's job
    ids = {name: page.url.split("session=")[-1] for name, page in pages.items()}
    assert len(set(ids.values())) == 2
    # a refresh in the same browser finds its session again; the same link in another browser does not
    alpha = pages["alpha.csv"]
    alpha.reload()
    alpha.locator('[data-testid="stSidebar"]').get_by_text("on alpha.csv").wait_for()
    stranger = new_page()
    stranger.goto(alpha.url)
    stranger.locator("h1", has_text="Evaluate").wait_for()
    settle(stranger)
    assert "alpha.csv" not in stranger.locator('[data-testid="stSidebar"]').inner_text()
    assert stranger.url.split("session=")[-1] != ids["alpha.csv"]


HOSTILE = ["@SUM(1) ops@example.com", '<a href="http://127.0.0.1:9/phish">Click me</a>', "<b>Bold</b><br>Break", "![pic](http://127.0.0.1:9/a.png)",
           "**Strong** :red[Red] $x$", '=HYPERLINK("http://127.0.0.1:9","x")']


@pytest.mark.parametrize("kind", ["two_products", "hostile_names"])
def test_awkward_files_render_on_every_page_as_plain_text(new_page, tmp_path, screenshots, kind):
    import numpy as np

    names = ["Espresso", "Oat milk"] if kind == "two_products" else HOSTILE
    rng = np.random.default_rng(3)
    dates = pd.date_range("2024-01-01", periods=120, freq="D")
    frame = pd.DataFrame({"date": np.repeat(dates.strftime("%Y-%m-%d"), len(names)),
                          "product": np.tile(names, len(dates)),
                          "quantity": rng.poisson(8, len(dates) * len(names))})
    if kind == "hostile_names":  # and awkward demand: one product never sells, one starts in the test span
        frame.loc[frame["product"] == names[0], "quantity"] = 0
        frame.loc[(frame["product"] == names[1]) & (frame["date"] < "2024-04-20"), "quantity"] = 0
    file_name = ('![img](http://127.0.0.1:9/f.png) **b** <a href="http://127.0.0.1:9">L</a> www.example.com.csv'
                 if kind == "hostile_names" else "two.csv")
    page = new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    go(page, "Data")  # a name with "/" cannot be a file on disk: the browser sends it from a buffer
    page.locator("input[type=file]").set_input_files(
        {"name": file_name, "mimeType": "text/csv", "buffer": frame.to_csv(index=False).encode()})
    page.get_by_text("Read as long").wait_for()
    go(page, "Train")
    set_number(page, "Epochs (passes over the history)", 2)
    press_train(page)
    page.get_by_text("Training finished").wait_for(timeout=TRAIN_MS)
    for name in ("Home", "Data", "Train", "Evaluate", "Forecast"):
        go(page, name)
        settle(page)
        main = page.locator('[data-testid="stMain"]')
        assert main.get_by_text("Traceback").count() == 0 and page.locator('[data-testid="stException"]').count() == 0
        assert page.locator('a[href*="127.0.0.1:9"], img[src*="127.0.0.1:9"], a[href*="example.com"]').count() == 0, name
        assert page.locator(".js-plotly-plot b, .js-plotly-plot a").count() == 0, name  # no markup in charts
        page.screenshot(path=str(screenshots / f"{kind}_{name.lower()}.png"), full_page=True)
    if kind == "hostile_names":
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        # the file name as typed (Chromium sends a quote in an upload's name as %22)
        assert file_name.replace('"', "%22") in sidebar.replace("\u2060", "")
        go(page, "Forecast")
        chart(page, "Forecast for").wait_for()
        ticks = " ".join(page.locator(".js-plotly-plot .ytick text").all_text_contents())
        assert "<b>Bold</b><br>Break" in ticks and '<a href="http://127.0.0.1:9/phish">' in ticks
        # only an address gets the invisible joiner that keeps it from becoming a link: "@SUM(1)" copies as typed
        assert "@SUM(1) ops@\u2060example.com" in page.locator('[data-testid="stMain"]').inner_text()
    assert not [u for u in requests if "127.0.0.1:9" in u]  # nothing fetched from a name
