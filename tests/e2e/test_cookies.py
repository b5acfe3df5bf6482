"""A browser that blocks cookies: Streamlit's XSRF cookie is what binds a session to a browser, so without it
nothing may resume a session (issue 24: a second cookie-less browser opened the first one's URL and saw its data)."""
from __future__ import annotations

import json

import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS, STEP_MS, TRAIN_MS
from .test_browser import go, press_train, set_number

pytestmark = pytest.mark.e2e
SIDEBAR = '[data-testid="stSidebar"]'


def _cookie_less(browser, folder):
    """A Chromium profile whose settings block every cookie, as a user's "block all cookies" does."""
    (folder / "Default").mkdir(parents=True)
    (folder / "Default" / "Preferences").write_text(json.dumps(
        {"profile": {"default_content_setting_values": {"cookies": 2}}}))
    context = browser.browser_type.launch_persistent_context(str(folder), executable_path=CHROMIUM,
                                                             args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(STEP_MS)
    return context


def test_a_cookie_less_browser_is_told_and_another_one_opening_its_url_gets_an_empty_session(browser, server_url,
                                                                                         tmp_path):
    first, second = _cookie_less(browser, tmp_path / "a"), _cookie_less(browser, tmp_path / "b")
    try:
        page = first.pages[0] if first.pages else first.new_page()
        page.goto(server_url)
        page.locator("h1", has_text="Purchase Forecaster").wait_for()
        assert first.cookies() == []  # the profile really holds none
        page.get_by_role("button", name="Use demo data").click()
        page.locator(SIDEBAR).get_by_text("Demo data").first.wait_for()
        go(page, "Train")
        set_number(page, "Epochs (passes over the history)", 2)
        press_train(page)
        page.get_by_text("Training finished").wait_for(timeout=TRAIN_MS)
        url = page.url
        other = second.pages[0] if second.pages else second.new_page()
        other.goto(url)  # the Train page's URL
        other.locator(SIDEBAR).get_by_text("None yet: upload a CSV").wait_for()
        assert "Demo data" not in other.locator(SIDEBAR).inner_text()
        assert "None yet: start one" in other.locator(SIDEBAR).inner_text()  # nor its training
        page.locator(SIDEBAR).get_by_text("keeps no cookie").wait_for()  # and the first one was told why
    finally:
        first.close()
        second.close()
