"""Test endpoint in a real browser, under the app's strict CSP: the editor's button checks the URI
as typed (a sipp PBX on 127.0.0.1 answers), htmx swaps the diagnosis in without a reload and
nothing is saved; the buyer page's button checks the saved buyer."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Buyer
from tests.support.browser import save_artifact
from tests.support.siphealth import SippOptions

pytestmark = pytest.mark.browser


def buyer_id(app, ref):
    with app.app_context():
        return db.session.scalar(select(Buyer.id).where(Buyer.ref == ref))


def test_editor_test_endpoint_shows_the_diagnosis(logged_in, live_app, tmp_path):
    page = logged_in
    bid = buyer_id(live_app, "queue")
    page.goto(f"/buyers/{bid}/edit")
    page.evaluate("window.__editorMarker = 'still-here'")
    with SippOptions(tmp_path, 404, "Not Found") as pbx:
        number = f"sip:agentqueue@127.0.0.1:{pbx.port}"
        page.fill("#number", number)
        page.click("#test-endpoint")
        result = page.locator("#endpoint-test")
        expect(result.locator(".verdict")).to_contain_text(
            f"alive: UDP 127.0.0.1:{pbx.port}: 404 for user agentqueue", timeout=15_000)
        pbx.wait()
    expect(result).to_contain_text("a numeric IP: no NAPTR or SRV lookup")
    expect(result.locator(".probe-reply")).to_contain_text("SIP/2.0 404 Not Found")
    expect(result.locator(".reply-headers")).to_contain_text("sipflask-test-pbx")
    expect(result.locator(".twilio-ranges")).to_contain_text("54.172.60.0/30")
    result.locator(".probe-sent summary").click()
    expect(result.locator("pre.sip-message")).to_contain_text(f"OPTIONS {number} SIP/2.0")
    # Swapped in place: same page, the typed value still there, nothing saved.
    assert page.evaluate("window.__editorMarker") == "still-here"
    expect(page.locator("#number")).to_have_value(number)
    with live_app.app_context():
        assert db.session.get(Buyer, bid).number == "sip:agentqueue@pbx.example.com"
    save_artifact(page, "buyer-test-endpoint.png", full_page=True)


def test_buyer_page_tests_the_saved_buyer(logged_in, live_app, tmp_path):
    page = logged_in
    bid = buyer_id(live_app, "queue")
    with SippOptions(tmp_path, 200, "OK", transport="tcp") as pbx:
        with live_app.app_context():
            db.session.get(Buyer, bid).number = \
                f"sip:agentqueue@127.0.0.1:{pbx.port};transport=tcp"
            db.session.commit()
        page.goto(f"/buyers/{bid}/edit")
        page.click("#test-saved-endpoint")
        expect(page.locator("#endpoint-test-saved .verdict")).to_contain_text(
            f"alive: TCP 127.0.0.1:{pbx.port} answered 200 OK", timeout=15_000)
        pbx.wait()
    expect(page.locator("#endpoint-test")).to_be_empty()


def test_a_refused_test_is_said_in_place(logged_in, live_app):
    """Past THROTTLE_SIP_TEST (10 a minute) htmx swaps the 429's panel in like a result (the
    layout's responseHandling), and the editor keeps what was typed."""
    page = logged_in
    bid = buyer_id(live_app, "queue")
    page.goto(f"/buyers/{bid}/edit")
    page.evaluate("window.__editorMarker = 'still-here'")
    number = "sip:x@127.0.0.1:9"  # nothing listens: each test ends at once
    page.fill("#number", number)
    for expected in [200] * 10 + [429]:
        with page.expect_response(lambda r: r.url.endswith("/test-endpoint")) as answer:
            page.click("#test-endpoint")
        assert answer.value.status == expected
    result = page.locator("#endpoint-test")
    expect(result.locator(".endpoint-throttled")).to_contain_text(
        "Too many endpoint tests: try again in ")
    expect(result).not_to_contain_text("Tested")
    assert page.evaluate("window.__editorMarker") == "still-here"
    expect(page.locator("#number")).to_have_value(number)
