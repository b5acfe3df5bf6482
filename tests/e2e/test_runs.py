"""Issue 27's runs in a real browser: a training is kept, the server restarts, the run is listed and opens with
the same numbers; a share link opened in a second browser context shows the run read-only and, once revoked,
nothing; an upload a week later shows last week's forecast against what sold."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from forecaster.data.demo import demo_csv_bytes

from .conftest import MENU_LINK, STEP_MS, TRAIN_MS, streamlit_server
from .test_browser import go, only, press_train, settle
from .test_drivers import _choose

pytestmark = pytest.mark.e2e


def _files(tmp_path: Path) -> tuple[Path, Path]:
    """A week-1 file (history) and the same sales a week later (the history plus the 7 days after it)."""
    full = tmp_path / "week 2.csv"
    full.write_bytes(demo_csv_bytes(n_products=4, days=200, seed=11))
    sales = pd.read_csv(full)
    history = tmp_path / "week 1.csv"
    sales[~sales["date"].isin(sorted(sales["date"].unique())[-7:])].to_csv(history, index=False)
    return history, full


def _metrics(page, like: list[str] | None = None) -> list[str]:
    """The Evaluate page's headline figures, as shown (once as many as ``like`` holds are drawn)."""
    page.locator("h1", has_text="Evaluate").wait_for()
    settle(page)
    values = page.locator('[data-testid="stMetricValue"]')
    expect(values.first).to_be_visible()
    if like is not None:
        expect(values).to_have_count(len(like))
    shown = values.all_inner_texts()
    for _ in range(60):  # until two reads a second apart agree: the page has finished drawing its figures
        page.wait_for_timeout(1000)
        again = values.all_inner_texts()
        if again == shown:
            break
        shown = again
    return shown


def _run_id(page) -> str:
    """The id of the run of "week 1" on the Runs page (reloading until the finished training has been kept)."""
    go(page, "Runs")
    picker = page.locator('[data-testid="stMultiSelect"]')
    for _ in range(30):
        settle(page)
        if picker.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
        page.locator("h1", has_text="Runs").wait_for()
    _choose(page, "Runs to open, share or delete", "week 1")
    return re.search(r"\b([0-9a-f]{8}) ·", picker.first.inner_text()).group(1)


def _context(browser):
    ctx = browser.new_context(viewport={"width": 1440, "height": 1400})
    ctx.set_default_timeout(STEP_MS)
    return ctx


def _train_week_one(ctx, url: str, history: Path) -> tuple[str, list[str]]:
    """Upload week 1, train (quick), and return the kept run's id and Evaluate's figures."""
    page = ctx.new_page()
    page.goto(url)
    go(page, "Data")
    page.locator("input[type=file]").set_input_files(str(history))
    page.get_by_text("Read as long").wait_for()
    go(page, "Train")
    page.get_by_text("Quick", exact=True).click()
    press_train(page)
    page.get_by_text("Training finished").wait_for(timeout=TRAIN_MS)
    run_id = _run_id(page)
    go(page, "Evaluate")
    before = _metrics(page)
    page.close()
    return run_id, before


def _share_then_revoke(browser, page, run_id: str, before: list[str], screenshots: Path) -> None:
    """Share the run; a second browser context opens the link read-only; revoked, the link shows nothing."""
    go(page, "Runs")
    _choose(page, "Runs to open, share or delete", run_id)
    only(page.locator(".st-key-share_run button:visible")).click()
    link = page.locator("code", has_text="share=").first
    link.wait_for()
    page.screenshot(path=str(screenshots / "runs_page.png"), full_page=True)
    viewer_ctx = _context(browser)
    viewer = viewer_ctx.new_page()
    viewer.goto(link.inner_text().strip())
    assert _metrics(viewer, before) == before
    assert [m.split()[-1] for m in viewer.locator(MENU_LINK).all_inner_texts()] == ["Evaluate", "Forecast"]
    expect(viewer.get_by_text("Shared run", exact=True)).to_be_visible()
    viewer.screenshot(path=str(screenshots / "runs_shared.png"), full_page=True)
    go(viewer, "Forecast")  # a viewer's reload of another page of the run keeps the shared view
    settle(viewer)
    viewer.reload()
    viewer.locator("h1", has_text="Forecast").wait_for()
    expect(viewer.get_by_text("Shared run", exact=True)).to_be_visible()
    only(page.locator(".st-key-revoke_links button:visible", has_text="Revoke 1 link")).click()
    settle(page)
    viewer.reload()
    viewer.get_by_text("This share link does not open a run").wait_for()
    expect(viewer.locator('[data-testid="stMetricValue"]')).to_have_count(0)
    viewer_ctx.close()


def test_a_kept_run_survives_a_restart_shares_read_only_and_tracks_a_later_week(browser, tmp_path, screenshots):
    history, later = _files(tmp_path)
    env = {"FORECASTER_HOME": str(tmp_path / "store")}
    owner = _context(browser)  # one browser throughout: a browser lists the runs it trained
    with streamlit_server(tmp_path, env) as url:
        run_id, before = _train_week_one(owner, url, history)

    with streamlit_server(tmp_path, env) as url:  # a restarted server: nothing in memory, the store on disk
        page = owner.new_page()
        page.goto(url)
        page.locator("h1", has_text="Purchase Forecaster").wait_for()
        assert _run_id(page) == run_id
        only(page.locator(".st-key-open_run button:visible")).click()
        assert _metrics(page, before) == before
        page.screenshot(path=str(screenshots / "runs_reopened.png"), full_page=True)
        _share_then_revoke(browser, page, run_id, before, screenshots)

        go(page, "Data")  # a week later: the same shop's sales, now with the week the run forecast
        page.locator("input[type=file]").set_input_files(str(later))
        page.get_by_text("Read as long").wait_for()
        go(page, "Runs")
        page.get_by_text("7 day(s) of its forecast have happened").wait_for()
        expect(page.locator('[data-testid="stMetricLabel"]', has_text="Forecast vs sold")).to_be_visible()
        expect(page.locator(".js-plotly-plot").filter(
            has=page.locator("text.gtitle", has_text="the run's forecast against what sold")).first).to_be_visible()
        page.screenshot(path=str(screenshots / "runs_tracking.png"), full_page=True)
        owner.close()
