"""The settings page in a real browser: htmx swaps a bad zone's message in place, a good one is
saved and the call log follows the new clock."""
from datetime import datetime, timezone

from sipflask.extensions import db
from sipflask.models import Call


def test_account_zone_saved_through_htmx_and_used_by_the_call_log(live_app, logged_in):
    with live_app.app_context():
        db.session.add(Call(status="completed", caller="+14155552671", called="+18882223333",
                            created_at=datetime(2026, 12, 2, 3, 30, tzinfo=timezone.utc)))
        db.session.commit()
    page = logged_in
    page.click("header.top nav >> text=Settings")
    page.wait_for_url("**/settings/")
    assert page.locator("#zone-choices option").first.get_attribute("value") == "UTC"
    page.fill("#time_zone", "Mars/Olympus")
    page.click("#settings-form button[type=submit]")
    error = page.locator("#field-time_zone .error")
    error.wait_for()
    assert "Unknown time zone 'Mars/Olympus'" in error.inner_text()
    assert page.url.endswith("/settings/")
    assert page.locator("#time_zone").get_attribute("aria-invalid") == "true"

    page.fill("#time_zone", "Asia/Kolkata")
    page.click("#settings-form button[type=submit]")
    page.locator(".flash.success").wait_for()
    assert "Times are shown in Asia/Kolkata." in page.locator(".flash.success").inner_text()
    assert page.locator("#settings-zone").inner_text() == "Asia/Kolkata"

    page.goto("/calls/")
    assert page.locator("#call-results thead th").first.inner_text() == "Time (Asia/Kolkata)"
    assert page.locator("#call-results tbody tr td:first-child a").inner_text() == \
        "2026-12-02 09:00:00"
