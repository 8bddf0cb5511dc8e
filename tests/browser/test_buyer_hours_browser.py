"""Opening hours in a real browser: build a week with a lunch break with the grid's buttons,
save, reload, see it; the preview at a weekday 12:30 says closed and names the next buyer;
Reset caps through htmx's confirmation; the same buttons without JavaScript."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Buyer
from tests.support.browser import EMAIL, PASSWORD, save_artifact

pytestmark = pytest.mark.browser

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def others_open_all_week(app):
    """The demo's other buyers open 24/7 with no counts, whatever the demo data says, so the
    next buyer at 12:30 is the one routing order names."""
    with app.app_context():
        for buyer in db.session.scalars(select(Buyer).where(Buyer.ref != "queue")):
            buyer.hours, buyer.closures = None, []
        db.session.commit()


def open_queue(page):
    page.goto("/buyers/")
    page.click("text=Agent queue (Asterisk)")
    page.wait_for_url(re.compile(r"/buyers/\d+/edit$"))
    return page.url


def test_lunch_break_saved_and_previewed_at_1230(logged_in, live_app):
    others_open_all_week(live_app)
    page = logged_in
    url = open_queue(page)
    page.evaluate("window.__editorMarker = 'still-here'")
    page.fill("#time_zone", "America/New_York")
    page.click("button[value=hours-weekly]")
    expect(page.locator("#hours-mon-0")).to_have_value("00:00-24:00")
    # Monday by hand: a morning, a range added for the afternoon...
    page.fill("#hours-mon-0", "09:00-12:00")
    page.click("button[value=hours-add-mon]")
    expect(page.locator("#hours-mon-1")).to_be_focused()
    page.locator("#hours-mon-1").press_sequentially("13:00-25:00", delay=10)
    expect(page.locator("#msg-hours-mon-1 .error")).to_contain_text("25:00 is not a time of day")
    page.fill("#hours-mon-1", "")
    page.locator("#hours-mon-1").press_sequentially("11:30-17:00", delay=10)
    expect(page.locator("#msg-hours-mon-1 .error")).to_contain_text("overlaps 09:00-12:00")
    page.fill("#hours-mon-1", "")
    page.locator("#hours-mon-1").press_sequentially("13:00-17:00", delay=10)
    expect(page.locator("#msg-hours-mon-1 .error")).to_have_count(0)
    # ...copied to Tuesday-Friday; the weekend closed
    page.click("button[value=hours-copy-mon]")
    expect(page.locator("#hours-fri-1")).to_have_value("13:00-17:00")
    page.click("button[value=hours-remove-sat-0]")
    expect(page.locator("#day-sat .closed-day")).to_be_visible()
    page.click("button[value=hours-remove-sun-0]")
    expect(page.locator("#day-sun .closed-day")).to_be_visible()
    assert page.url == url and page.evaluate("window.__editorMarker") == "still-here"

    page.click(".actions button[value=save]")
    page.wait_for_url(url)
    expect(page.locator(".flash.success")).to_contain_text("saved")
    page.reload()
    expect(page.locator("#time_zone")).to_have_value("America/New_York")
    for day in WEEKDAYS:
        expect(page.locator(f"#hours-{day}-0")).to_have_value("09:00-12:00")
        expect(page.locator(f"#hours-{day}-1")).to_have_value("13:00-17:00")
    expect(page.locator("#day-sat .closed-day")).to_be_visible()
    expect(page.locator("#day-sun .closed-day")).to_be_visible()

    # The preview at Monday 12:30 on the buyer's clock: closed for lunch, and who takes the call.
    page.fill("#sample-moment", "2026-12-07T12:30")
    moment = page.locator("#preview-moment")
    expect(moment.locator("h3")).to_have_text("At Mon Dec 7 12:30 America/New_York")
    expect(page.locator("#preview-hours")).to_contain_text("closed until Mon 13:00 America/New_York")
    expect(page.locator("#preview-reason")).to_contain_text("closed (opens Mon 13:00 America/New_York)")
    auto = moment.locator(".preview-route", has_text="Auto Insurance")
    expect(auto.locator(".next-buyer")).to_have_text("Acme PBX (digest auth)")
    medicare = moment.locator(".preview-route", has_text="Medicare Advantage")
    expect(medicare.locator(".next-buyer")).to_have_text("Overflow call center")
    top = page.locator("#hours-section").evaluate(
        "e => e.getBoundingClientRect().top + window.scrollY")
    page.evaluate(f"window.scrollTo(0, {top - 20})")
    save_artifact(page, "buyer-hours.png")
    # and at 13:00 it is open again
    page.fill("#sample-moment", "2026-12-07T13:00")
    expect(page.locator("#preview-hours")).to_contain_text("open until Mon 17:00 America/New_York")

    page.goto("/buyers/?q=agent")
    expect(page.locator("#buyer-results .buyer-hours").first).to_contain_text(
        re.compile(r"open now|closed until"))


def test_reset_caps_confirms_in_place(logged_in, live_app):
    with live_app.app_context():
        buyer = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        buyer.calls_total = 42
        db.session.commit()
    page = logged_in
    url = open_queue(page)
    page.evaluate("window.__editorMarker = 1")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("#buyer-now button")
    expect(page.locator("#buyer-now .flash.success")).to_contain_text(
        "Caps of buyer Agent queue (Asterisk) reset")
    assert dialogs and dialogs[0].startswith("Reset the caps of Agent queue (Asterisk)?")
    assert page.url == url and page.evaluate("window.__editorMarker") == 1
    with live_app.app_context():
        assert db.session.scalar(select(Buyer.calls_total).where(Buyer.ref == "queue")) == 0


def test_hours_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False, base_url=live_server)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        url = open_queue(page)
        page.fill("#name", "Queue, no JS")
        page.fill("#time_zone", "America/Chicago")
        page.click("button[value=hours-preset-lunch]")  # a real submit: the page comes back
        expect(page.locator("#hours-thu-1")).to_have_value("13:00-17:00")
        assert page.locator("#name").input_value() == "Queue, no JS"
        page.click("button[value=closure-add]")
        page.fill("#closures-0-date", "2030-12-25")
        page.click("button[value=hours-add-sat]")
        page.fill("#hours-sat-0", "10:00-14:00")
        page.click(".actions button[value=save]")
        expect(page.locator(".flash.success")).to_contain_text("saved")
        assert page.url == url
        expect(page.locator("#time_zone")).to_have_value("America/Chicago")
        expect(page.locator("#hours-sat-0")).to_have_value("10:00-14:00")
        expect(page.locator("#closures-0-date")).to_have_value("2030-12-25")
    finally:
        context.close()
