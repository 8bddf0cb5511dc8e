"""The buyer editor in a real browser: htmx swaps, inline checks, live preview, save, reload."""
import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import EMAIL, PASSWORD, save_artifact

pytestmark = pytest.mark.browser

SECRET = "Browser-Secret-77"


def header_row(page, i):
    return page.locator(f"#row-headers-{i}")


def add_header(page, name, value):
    count = page.locator(".header-row").count()
    page.click("#sip-headers button[value=add-header]")
    row = header_row(page, count)
    expect(row).to_be_visible()
    row.locator(f"#headers-{count}-name").fill(name)
    row.locator(f"#headers-{count}-value").fill(value)
    return row


def test_create_sip_buyer_with_headers_and_preview(logged_in):
    page = logged_in
    page.goto("/buyers/new")
    url = page.url
    # A marker in the page's JavaScript: still there means the page never reloaded.
    page.evaluate("window.__editorMarker = 'still-here'")
    expect(page.locator("#sip-section")).to_have_attribute("data-loaded", "0")
    expect(page.locator("#sip_username")).to_have_count(0)

    page.fill("#name", "Browser queue")
    page.locator("#number").press_sequentially("sip:agentqueue@example.com", delay=15)
    expect(page.locator("#sip_username")).to_be_visible()
    expect(page.locator("#sip-section")).to_have_attribute("data-loaded", "1")
    assert page.url == url
    assert page.evaluate("window.__editorMarker") == "still-here"
    expect(page.locator("a[href='/inbound/twilio-ips']")).to_be_visible()

    page.fill("#sip_username", "queue-user")
    page.fill("#sip_password", SECRET)
    add_header(page, "X-Campaign-ID", "[campaign_id]")
    add_header(page, "X-Lead", "[lead_score|\"none\"]")
    third = add_header(page, "X-Caller", "")
    # token help: click inserts at the cursor of the focused header value
    third.locator("#headers-2-value").click()
    page.click("#builtin-tokens [data-token='[caller_number]']")
    expect(third.locator("#headers-2-value")).to_have_value("[caller_number]")

    # the live preview shows the expanded values, each with its source
    invite = page.locator("#preview-invite")
    expect(invite.locator("tr[data-header='X-Campaign-ID'] td").nth(1)).to_have_text("1")
    expect(invite.locator("tr[data-header='X-Lead'] td").nth(1)).to_have_text("72")
    expect(invite.locator("tr[data-header='X-Caller'] td").nth(1)).to_have_text("+14155552671")
    expect(invite.locator("tr[data-header='X-Campaign-ID']")).to_have_attribute("data-source", "buyer")
    expect(invite.locator("tr[data-header='X-PH-RetreaverUUID']")).to_have_attribute("data-source", "default")
    expect(page.locator("#preview-twiml")).to_contain_text('password="********"')
    expect(page.locator("#preview-twiml")).to_contain_text('username="queue-user"')
    expect(page.locator("#preview-twiml")).not_to_contain_text(SECRET)

    # a bad header name is flagged inline, then fixed
    name2 = page.locator("#headers-1-name")
    name2.fill("")
    name2.press_sequentially("X Lead", delay=15)
    expect(page.locator("#msg-headers-1-name .error")).to_contain_text("never allowed in a header name")
    expect(page.locator("#field-headers-1-name input")).to_have_css("border-top-color", "rgb(179, 38, 30)")
    name2.fill("")
    name2.press_sequentially("X-Lead", delay=15)
    expect(page.locator("#msg-headers-1-name .error")).to_have_count(0)
    assert page.url == url and page.evaluate("window.__editorMarker") == "still-here"

    # the sample call: another tracking number brings its publisher, sub_id and tags
    page.click(".sample-details summary")
    page.select_option("#sample-number", label="+18773331212 · Medicare Advantage")
    expect(page.locator("#sample-sub_id")).to_have_value("tv-east")
    expect(invite.locator("tr[data-header='X-Campaign-ID'] td").nth(1)).to_have_text("2")
    expect(invite.locator("tr[data-header='X-PH-RetreaverSID'] td").nth(1)).to_have_text("tv-east")
    expect(invite.locator("tr[data-header='X-Lead'] td").nth(1)).to_have_text("none")
    page.select_option("#sample-number", label="+18882223333 · Auto Insurance")
    expect(invite.locator("tr[data-header='X-Campaign-ID'] td").nth(1)).to_have_text("1")
    page.click(".sample-details summary")

    page.locator("#headers-0-value").blur()
    # The editor and its preview side by side: from the Number field down.
    top = page.locator("#field-number").evaluate("e => e.getBoundingClientRect().top + window.scrollY")
    page.evaluate(f"window.scrollTo(0, {top - 60})")
    shot = save_artifact(page, "buyer-editor.png")
    assert shot.stat().st_size < 300_000

    page.click(".actions button[value=save]")
    page.wait_for_url(re.compile(r"/buyers/\d+/edit$"))
    expect(page.locator(".flash.success")).to_contain_text("Buyer Browser queue created.")
    page.reload()
    names = page.locator(".header-row input[name$='-name']")
    expect(names).to_have_count(3)
    assert [names.nth(i).input_value() for i in range(3)] == ["X-Campaign-ID", "X-Lead", "X-Caller"]
    values = page.locator(".header-row input[name$='-value']")
    assert values.nth(0).input_value() == "[campaign_id]"
    expect(page.locator("#password-set")).to_be_visible()
    assert page.locator("#sip_password").input_value() == ""
    assert SECRET not in page.content()
    source = page.request.get(page.url).text()
    assert SECRET not in source and "queue-user" in source


def test_switch_buyer_to_phone_number(logged_in):
    page = logged_in
    page.goto("/buyers/")
    page.click("text=Agent queue (Asterisk)")
    page.wait_for_url(re.compile(r"/buyers/\d+/edit$"))
    url = page.url
    page.evaluate("window.__editorMarker = 1")
    expect(page.locator("#sip-section")).to_be_visible()
    expect(page.locator("#preview-twiml")).to_contain_text("<Sip>")
    number = page.locator("#number")
    number.fill("")
    number.press_sequentially("+14155552671", delay=15)
    expect(page.locator("#sip-section")).to_be_hidden()
    expect(page.locator("#preview-twiml")).to_contain_text("<Number>+14155552671</Number>")
    expect(page.locator("#preview-phone")).to_be_visible()
    # the SIP values are only hidden: typing sip: again brings them back untouched
    number.fill("")
    number.press_sequentially("SIP:agentqueue@pbx.example.com", delay=10)
    expect(page.locator("#sip-section")).to_be_visible()
    expect(page.locator("#headers-0-name")).to_have_value("X-Campaign-ID")
    number.fill("+14155552671")
    number.press("End")  # a keyup for the debounced triggers
    expect(page.locator("#preview-twiml")).to_contain_text("<Number>+14155552671</Number>")
    assert page.url == url and page.evaluate("window.__editorMarker") == 1
    page.click(".actions button[value=save]")
    page.wait_for_url(url)
    expect(page.locator(".flash.success")).to_contain_text("saved")
    expect(page.locator("#preview-twiml")).to_contain_text("<Number>+14155552671</Number>")
    expect(page.locator("#sip-section")).to_be_hidden()


def test_save_errors_keep_values_and_change_nothing(logged_in):
    page = logged_in
    page.goto("/buyers/new")
    page.fill("#number", "sip:queue@example.com")
    page.locator("#number").press("End")
    expect(page.locator("#sip_username")).to_be_visible()
    add_header(page, "X-First", "1")
    add_header(page, "Foo", "2")
    # Remove swaps just the rows: the second becomes the first, typed values stay
    page.click("#row-headers-0 button[value=remove-header-0]")
    expect(page.locator(".header-row")).to_have_count(1)
    expect(page.locator("#headers-0-name")).to_have_value("Foo")
    expect(page.locator("#number")).to_have_value("sip:queue@example.com")
    page.click(".actions button[value=save]")  # no name, bad header: refused with 422
    expect(page.locator("#msg-name .error")).to_contain_text("Name is required")
    expect(page.locator("#msg-headers-0-name .error")).to_contain_text("not an allowed header name")
    expect(page.locator("#headers-0-name")).to_have_value("Foo")
    expect(page.locator("#headers-0-value")).to_have_value("2")
    assert page.url.endswith("/buyers/new")
    page.goto("/buyers/")
    expect(page.locator("#buyer-results tbody tr")).to_have_count(6)  # the demo's six: nothing was added


def test_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False, base_url=live_server)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto("/buyers/new")
        # the SIP section is simply there, and Add Header is a real submit button
        expect(page.locator("#sip_username")).to_be_visible()
        page.fill("#name", "No JS buyer")
        page.fill("#number", "sip:nojs@example.com")
        page.click("button[value=add-header]")
        expect(page.locator("#headers-0-name")).to_be_visible()
        assert page.locator("#name").input_value() == "No JS buyer"
        page.fill("#headers-0-name", "X-Campaign-ID")
        page.fill("#headers-0-value", "[campaign_id]")
        page.click(".actions button[value=save]")
        expect(page.locator(".flash.success")).to_contain_text("Buyer No JS buyer created.")
        expect(page.locator("#headers-0-value")).to_have_value("[campaign_id]")
        expect(page.locator("#preview-invite tr[data-header='X-Campaign-ID'] td").nth(1)).to_have_text("1")
    finally:
        context.close()
