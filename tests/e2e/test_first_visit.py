"""The first visit after a server start: the real menu and the Home page, never Streamlit's legacy page list,
and no wait for torch (app.py and the Home page import no model code)."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from .conftest import MENU_LINK, STEP_MS, streamlit_server

pytestmark = pytest.mark.e2e
LEGACY_NAV = '[data-testid="stSidebarNav"]'  # Streamlit's own list, which would name pages/'s files


def test_first_visit_on_a_fresh_server_shows_the_menu_and_home_only(browser, tmp_path):
    with streamlit_server(tmp_path) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(STEP_MS)
        try:
            page = context.new_page()
            requested: list[str] = []
            context.on("request", lambda request: requested.append(request.url))
            start = time.perf_counter()
            page.goto(url)
            title = page.locator("h1", has_text="Purchase Forecaster")
            legacy_seen = False
            while not title.count():  # until the page title is drawn: never the legacy list meanwhile
                legacy_seen = legacy_seen or page.locator(LEGACY_NAV).count() > 0
                assert time.perf_counter() - start < STEP_MS / 1000, "Home did not render"
                page.wait_for_timeout(25)
            first_title_s = time.perf_counter() - start
            expect(page.locator(MENU_LINK)).to_have_count(6)
            assert [t.split()[-1] for t in page.locator(MENU_LINK).all_inner_texts()] == [  # after its icon
                "Home", "Data", "Train", "Evaluate", "Forecast", "Runs"]
            assert not legacy_seen and page.locator(LEGACY_NAV).count() == 0
            # the tab's icon and everything else comes from this server: no visitor's browser contacts a third
            # party (a Material icon as page_icon was fetched from fonts.gstatic.com on every page load)
            icon = page.locator("link[rel~='icon']").first.get_attribute("href") or ""
            assert icon.startswith(("/", url, "data:")) and "gstatic" not in icon, icon
            page.wait_for_timeout(1000)
            outside = [u for u in requested if not u.startswith((url, "data:", "blob:"))]
            assert not outside, outside
            print(f"\nFresh server, first visit: page title after {first_title_s:.2f} s")
        finally:
            context.close()
