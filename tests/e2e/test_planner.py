"""Issue 25's planner in a real browser, on an invoice log shaped like UCI Online Retail (codes, descriptions,
postage and manual lines): names on every page and in the CSV, the non-sales lines listed as left out, a
second upload flagged on Forecast, a backtest that leaves Forecast usable, and no chart title or label cut."""
from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from .conftest import MENU_LINK, STEP_MS, TRAIN_MS
from .test_browser import chart, go, only, press_train, set_number, settle

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import invoice_log  # noqa: E402  (the tests' shared synthetic invoice log)

pytestmark = pytest.mark.e2e
JAM = "JAM MAKING SET WITH JARS (22960)"
# every Plotly chart on the page: its title and tick labels end inside the chart (a cut title or a label
# pushed off the left edge overflows its SVG)
CUT_TEXT = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(plot => {
  const svg = plot.querySelector('svg.main-svg'); if (!svg) return [];
  const box = svg.getBoundingClientRect();
  return [...plot.querySelectorAll('text.gtitle, .ytick text, .xtick text, .annotation-text, .textpoint text')].filter(t => {
    const r = t.getBoundingClientRect();
    return r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1);
  }).map(t => t.textContent);
})"""


def _invoices(path: Path) -> Path:
    log = pd.read_csv(io.BytesIO(invoice_log(days=120)), dtype=str)
    extra = pd.DataFrame([["600001", "POST", "POSTAGE", "1", "2011-02-05 10:00:00", "18.00", "1.0", "France"],
                          ["600002", "M", "Manual", "1", "2011-02-06 10:00:00", "500.00", "2.0", "UK"],
                          ["600003", "22960", "JAM MAKING SET WITH JARS", "5568", "2011-02-07 10:00:00", "0", "", "UK"]],
                         columns=log.columns)
    pd.concat([log, extra]).to_csv(path, index=False)
    return path


def _shot(page, path: Path) -> None:
    """The whole page (Streamlit scrolls inside its own container, so the window is made as tall as it)."""
    settle(page)
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": min(max(int(height) + 120, 1400), 6000)})
    settle(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 1400})


def _no_cut_text(page) -> None:
    settle(page)
    assert page.evaluate(CUT_TEXT) == []


def test_a_planner_sees_names_clean_catalogs_fresh_results_and_a_backtest_beside_the_model(new_page, tmp_path,
                                                                                            screenshots):
    page = new_page()
    go(page, "Data")
    page.locator("input[type=file]").set_input_files(str(_invoices(tmp_path / "invoices.csv")))
    page.get_by_text("Read as transactions").wait_for()
    expect(page.get_by_text("names in 'Description'")).to_be_visible()
    page.get_by_text("Lines that are not sales, left out: 3 code(s)").wait_for()
    expect(page.get_by_text("POSTAGE (POST), Manual (M), JAM MAKING SET WITH JARS (22960)")).to_be_visible()
    chart(page, "Top").locator("text", has_text=JAM).first.wait_for()  # names on the Data page's chart
    _no_cut_text(page)
    _shot(page, screenshots / "planner_data.png")

    go(page, "Train")
    page.get_by_text("Quick", exact=True).click()
    set_number(page, "Epochs (passes over the history)", 3)
    press_train(page)
    page.get_by_text("Training finished").wait_for(timeout=TRAIN_MS)
    _no_cut_text(page)
    _shot(page, screenshots / "planner_train.png")

    go(page, "Evaluate")
    chart(page, "Error per product as a share of its sales").locator("text", has_text=JAM).first.wait_for()
    _no_cut_text(page)
    _shot(page, screenshots / "planner_evaluate.png")
    only(page.get_by_role("button", name="Run a rolling backtest (4 weekly cut-offs)")).click()
    # the click's run has started the backtest (its progress shows, or on a fast machine its charts already)
    started = page.get_by_text(re.compile(r"^Rolling backtest: (Starting|Training|Queued)")).first
    started.or_(chart(page, "Rolling backtest: mean absolute error")).wait_for()

    go(page, "Forecast")  # usable while the backtest trains beside the model
    chart(page, "Forecast for").locator("text", has_text=JAM).first.wait_for()
    expect(page.get_by_text("Training is still running")).to_have_count(0)
    _no_cut_text(page)
    _shot(page, screenshots / "planner_forecast.png")
    with page.expect_download(timeout=STEP_MS) as info:
        only(page.get_by_role("button", name="Download forecast CSV")).click()
    assert info.value.suggested_filename.startswith("forecast_invoices_")
    table = pd.read_csv(info.value.path(), dtype={"product": str})
    assert list(table.columns[:3]) == ["date", "product", "name"]
    assert table.set_index("product").loc["22960", "name"] == "JAM MAKING SET WITH JARS"
    assert not {"POST", "M"} & set(table["product"])

    go(page, "Evaluate")  # the backtest's own charts once it is done, the model untouched
    chart(page, "Rolling backtest: mean absolute error").wait_for(timeout=TRAIN_MS)

    second = tmp_path / "second.csv"
    second.write_bytes(invoice_log(days=90, seed=4))
    go(page, "Data")
    page.locator("input[type=file]").set_input_files(str(second))
    page.get_by_text("Read as transactions").wait_for()
    go(page, "Forecast")
    expect(page.get_by_text("These results are for").first).to_be_visible()
    expect(page.get_by_role("button", name="Train on second.csv").first).to_be_visible()
    _shot(page, screenshots / "planner_forecast_other_file.png")
    assert "second.csv" in page.locator('[data-testid="stSidebar"]').inner_text()
    assert page.locator(MENU_LINK).count() == 6
