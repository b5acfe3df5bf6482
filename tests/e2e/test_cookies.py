"""A browser that blocks cookies: Streamlit's XSRF cookie is what binds a session to a browser, so without it
nothing may resume a session (issue 24: a second cookie-less browser opened the first one's URL and saw its data),
and Streamlit refuses its uploads (the page offers a paste box instead)."""
from __future__ import annotations

import json

import pytest

from forecaster.data.demo import demo_csv_bytes

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
        go(page, "Data")  # Streamlit would refuse an upload without the cookie (a 403): a paste box instead
        page.get_by_text("Allow cookies for this site and reload").wait_for()
        assert page.locator('[data-testid="stFileUploader"]').count() == 0
        page.get_by_label("The CSV's text").fill(demo_csv_bytes(n_products=3, days=150, seed=5).decode())
        page.get_by_role("button", name="Read the pasted text").click()
        page.locator(SIDEBAR).get_by_text("Pasted text").first.wait_for()
        assert "AxiosError" not in page.content()
        go(page, "Train")
        set_number(page, "Epochs (passes over the history)", 2)
        press_train(page)
        page.get_by_text("Training finished").wait_for(timeout=TRAIN_MS)
        url = page.url
        other = second.pages[0] if second.pages else second.new_page()
        other.goto(url)  # the Train page's URL
        other.locator(SIDEBAR).get_by_text("None yet: upload a CSV").wait_for()
        assert "Pasted text" not in other.locator(SIDEBAR).inner_text()
        assert "None yet: start one" in other.locator(SIDEBAR).inner_text()  # nor its training
        page.locator(SIDEBAR).get_by_text("keeps no cookie").wait_for()  # and the first one was told why
    finally:
        first.close()
        second.close()
