"""The buyer editor's Health checks in a real browser, under the strict CSP: a bad reply code is
refused at its field as it is typed (htmx), a good one saved; the buyer page's Endpoint health
card then shows the mode and "Not checked yet"."""
import pytest
from playwright.sync_api import expect

from tests.support.browser import save_artifact

pytestmark = pytest.mark.browser


def test_health_checks_typed_checked_saved_and_shown(logged_in):
    page = logged_in
    page.goto("/buyers/")
    page.click("text=Agent queue (Asterisk)")
    expect(page.locator("#endpoint-health-mode")).to_contain_text("Health checks: Off")

    page.select_option("#health_check", "options")
    page.locator("#health_codes").press_sequentially("200, 503", delay=15)
    expect(page.locator("#msg-health_codes .error")).to_contain_text("other than 503")
    page.fill("#health_codes", "")
    page.locator("#health_codes").press_sequentially("200, 404", delay=15)
    expect(page.locator("#msg-health_codes .error")).to_have_count(0)
    page.fill("#health_down_after", "0")
    page.locator("#health_down_after").press("Tab")
    expect(page.locator("#msg-health_down_after .error")).to_contain_text("between 1 and 100")
    page.fill("#health_down_after", "4")

    page.click("button[value=save]:not(.default-submit)")
    expect(page.locator(".flash.success")).to_contain_text("saved")
    expect(page.locator("#health_check")).to_have_value("options")
    expect(page.locator("#health_codes")).to_have_value("200, 404")
    expect(page.locator("#health_down_after")).to_have_value("4")
    expect(page.locator("#endpoint-health-mode")).to_contain_text(
        "OPTIONS probes and failed calls")
    expect(page.locator("#endpoint-health-state")).to_contain_text("Not checked yet")
    page.locator("#health-section").scroll_into_view_if_needed()
    save_artifact(page, "buyer-health-settings.png", full_page=True)
