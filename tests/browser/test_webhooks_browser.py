"""The webhook pages in a real browser, under the app's strict CSP: create a webhook with a
secret header row (htmx adds the row in place), save, Send test to a receiver on 127.0.0.1 and
see its answer swapped in; disable it from the list; a delivery's Retry now on the call page."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.webhooks.model import Webhook
from tests.support.browser import save_artifact
from tests.support.receiver import Receiver, Reply
from tests.support.webhook_pages import make_call, make_delivery

pytestmark = pytest.mark.browser

SECRET = "Bearer browser-secret-4242"


@pytest.fixture
def receiver(live_app):
    live_app.config["WEBHOOKS_ALLOW_PRIVATE"] = True  # the receiver is on loopback
    r = Receiver()
    yield r
    r.close()


def test_create_add_a_header_send_test_see_the_response(logged_in, live_app, receiver):
    page = logged_in
    page.goto("/webhooks/")
    page.click("text=New webhook")
    page.wait_for_url("**/webhooks/new")
    page.evaluate("window.__editorMarker = 'still-here'")

    page.fill("#name", "Browser conversions")
    page.select_option("#event", "call.converted")
    expect(page.locator("#event-tokens [data-token='[revenue]']")).to_be_visible()
    page.fill("#url", receiver.url("/hook?call="))
    page.locator("#url").press("End")
    page.click("#builtin-tokens [data-token='[call_uuid]']")
    expect(page.locator("#url")).to_have_value(receiver.url("/hook?call=[call_uuid]"))
    page.fill("#body", '{"call": "[call_uuid]", "revenue": [revenue]}')

    page.click("#add-header")
    row = page.locator("#row-headers-0")
    expect(row).to_be_visible()
    row.locator("#headers-0-name").fill("Authorization")
    row.locator("#headers-0-secret").check()
    expect(row.locator("#headers-0-value")).to_have_attribute("type", "password")
    row.locator("#headers-0-value").fill(SECRET)
    assert page.evaluate("window.__editorMarker") == "still-here"  # swapped, not reloaded

    # A live check as typed: a bad URL is said at the field, then fixed.
    page.fill("#url", "")
    page.locator("#url").press_sequentially("ftp://nope", delay=10)
    expect(page.locator("#msg-url")).to_contain_text("must start with http:// or https://")
    page.fill("#url", "")
    page.locator("#url").press_sequentially(receiver.url("/hook?call=[call_uuid]"), delay=5)
    expect(page.locator("#msg-url .error")).to_have_count(0)

    page.click("button[value=save]:not(.default-submit)")
    page.wait_for_url("**/webhooks/*/edit")
    expect(page.locator(".flash.success")).to_contain_text("Webhook Browser conversions created.")
    expect(page.locator("#headers-0-value")).to_have_attribute("placeholder",
                                                               "set — type to replace")
    assert SECRET not in page.content()

    receiver.answer(Reply(202, {"X-Receiver": "browser"}, b'{"received": true}'))
    page.evaluate("window.__editorMarker = 'still-here'")
    page.click("#send-test")
    panel = page.locator("#webhook-test")
    expect(panel.locator(".verdict")).to_contain_text("HTTP 202", timeout=15_000)
    expect(panel).to_contain_text('{"received": true}')
    expect(panel).to_contain_text("X-Receiver")
    expect(panel.locator("dl.http-headers").first).to_contain_text("[secret]")
    got = receiver.wait_for(1)[0]
    assert got.headers["authorization"] == SECRET
    assert got.query[0] == ("call", "00000000-0000-4000-8000-000000000000")
    assert page.evaluate("window.__editorMarker") == "still-here"
    assert SECRET not in page.content()
    save_artifact(page, "webhook-send-test.png", full_page=True)


def test_disable_from_the_list_and_retry_on_the_call_page(logged_in, live_app, receiver):
    page = logged_in
    with live_app.app_context():
        from sipflask.records.webhooks import save_webhook
        hook, report = save_webhook(None, {
            "ref": "crm", "name": "CRM", "event": "call.completed", "url": receiver.url("/r"),
            "method": "GET", "body_format": "", "body": "", "enabled": True})
        assert hook is not None, report.errors
        wid = hook.id
    call_id, uuid, _ = make_call(live_app)
    make_delivery(live_app, wid, call_id, tries=[{"status": 500, "error": "HTTP 500"}])

    page.goto("/webhooks/")
    row = page.locator(f"#webhook-{wid}")
    expect(row).to_contain_text("failed")
    row.locator("button:has-text('Disable')").click()
    expect(page.locator(f"#webhook-{wid}")).to_contain_text("disabled")
    with live_app.app_context():
        assert db.session.scalar(select(Webhook.enabled).where(Webhook.id == wid)) is False
        db.session.get(Webhook, wid).enabled = True  # a disabled webhook's retry is refused
        db.session.commit()

    page.goto(f"/calls/{uuid}")
    section = page.locator("#call-webhooks")
    expect(section).to_contain_text("HTTP 500")
    section.locator("button.retry-now").click()
    expect(section.locator(".retry-done")).to_contain_text("Delivered: HTTP 200.",
                                                           timeout=15_000)
    assert receiver.wait_for(1)[0].path == "/r"
