"""Numbers from Twilio in a real browser, under the strict CSP, with htmx: connect the account
on the settings page and Check it, search numbers for sale, buy two into a campaign, and find
them on the numbers page "configured". Twilio is a fake behind the real ``twilio`` client
(``TWILIO_HTTP_CLIENT``) that keeps the account between requests: a purchase puts the number
in the account with the webhooks it was bought with.
"""
import pytest

from tests.support.app import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.support.browser import demo_app, save_artifact
from tests.support.fake_twilio_numbers import FakeNumbers

FIRST, SECOND, THIRD = "+14155550101", "+14155550102", "+14155550103"


@pytest.fixture
def twilio():
    fake = FakeNumbers()
    fake.sell("US", "local", FIRST, SECOND, THIRD)
    return fake


@pytest.fixture
def live_app(tmp_path, twilio):
    """The browser tests' app (conftest's), with no Twilio account in the configuration: the
    one saved on the settings page is used, and every request goes to the fake."""
    yield from demo_app(tmp_path, TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN="",
                        TWILIO_HTTP_CLIENT=twilio)


def connect_and_check(page):
    page.click("header.top nav >> text=Settings")
    page.wait_for_url("**/settings/")
    page.fill("#account_sid", TWILIO_ACCOUNT_SID)
    page.fill("#auth_token", TWILIO_AUTH_TOKEN)
    page.click("#twilio-form button[type=submit]")
    page.locator(".flash.success >> text=Twilio account saved.").wait_for()
    assert "In use: the account saved here" in page.locator("#twilio-in-use").inner_text()
    page.click("#twilio-check button[type=submit]")
    result = page.locator("#twilio-check-result")
    result.wait_for()
    assert "Connected to “Acme Calls” (active)." in result.inner_text()


def test_connect_check_search_buy_and_see_them_configured(logged_in, twilio):
    page = logged_in
    page.goto("/numbers/")
    assert page.locator("#twilio-banner").is_visible()  # no account yet: webhooks refused
    connect_and_check(page)

    page.click("header.top nav >> text=Numbers")
    page.wait_for_url("**/numbers/")
    assert page.locator("#twilio-banner").count() == 0
    page.click("text=Buy numbers")
    page.wait_for_url("**/numbers/twilio/buy")
    page.fill("#area_code", "41")  # a field error first, at its field, swapped by htmx
    page.click("#search-form button[type=submit]")
    page.locator("#field-area_code .error").wait_for()
    assert "three digits" in page.locator("#field-area_code .error").inner_text()
    page.fill("#area_code", "415")
    page.fill("#contains", "555")
    page.click("#search-form button[type=submit]")
    page.locator("#buy-form").wait_for()
    assert "area_code=415" in page.url  # the search is in the address (hx-push-url)
    assert page.locator("#buy-form input[name=number]").count() == 3

    page.check(f"#buy-form input[value='{FIRST}']")
    page.check(f"#buy-form input[value='{SECOND}']")
    page.select_option("#campaign", "auto")
    page.click("#buy-form button[type=submit]")
    report = page.locator("#twilio-report")
    report.wait_for()
    assert "Bought: 2" in report.inner_text()
    assert f"{FIRST}: bought into campaign auto and configured" in report.inner_text()
    assert page.locator("#buy-form input[name=number]").count() == 1  # THIRD is left
    save_artifact(page, "twilio-numbers-bought.png", full_page=True)
    assert [m for m, p in twilio.log if p == "IncomingPhoneNumbers.json"] == ["POST", "POST"]

    page.click("text=← Numbers")
    page.wait_for_url("**/numbers/")
    for number in (FIRST, SECOND):
        row = page.locator("#number-results tr", has_text=number)
        assert row.locator(".twilio-state .pill").inner_text() == "configured"
        assert "Auto Insurance" in row.inner_text()
    third = page.locator("#number-results tr", has_text="+18882223333")
    assert third.locator(".twilio-state .pill").inner_text() == "not linked"

    # Check now (htmx swaps the results): the two still match the account.
    page.click("#check-now")
    notice = page.locator("#check-notice")
    notice.wait_for()
    assert notice.inner_text().startswith("2 checked, 0 drifted, 0 missing")
    save_artifact(page, "twilio-numbers-list.png", full_page=True)


def test_drift_fix_and_release_in_the_browser(logged_in, twilio):
    page = logged_in
    connect_and_check(page)
    page.goto("/numbers/twilio/buy?country=US&contains=555")
    page.check(f"#buy-form input[value='{FIRST}']")
    page.select_option("#campaign", "medicare")
    page.click("#buy-form button[type=submit]")
    page.locator("#twilio-report").wait_for()
    # Someone changes the voice URL in the Twilio console.
    twilio.by_number(FIRST)["voice_url"] = "https://old.example/voice"
    page.goto("/numbers/")
    page.click("#check-now")
    row = page.locator("#number-results tr", has_text=FIRST)
    row.locator(".pill.drifted").wait_for()
    assert "voice URL is https://old.example/voice" in row.inner_text()
    save_artifact(page, "twilio-numbers-drifted.png", full_page=True)

    row.locator("button.fix").click()
    page.locator(f"#number-results tr:has-text('{FIRST}') .pill.configured").wait_for()
    assert twilio.by_number(FIRST)["voice_url"] == "https://sipflask.test/twilio/voice"

    page.locator(f"#number-results tr:has-text('{FIRST}') a.release").click()
    page.wait_for_url("**/twilio/release**")
    page.click("#release-form button[type=submit]")  # not confirmed: refused at the box
    page.locator("#field-confirm .error").wait_for()
    page.check("#confirm")
    page.click("#release-form button[type=submit]")
    page.wait_for_url("**/numbers/")
    assert f"{FIRST}: released from the Twilio account" in page.locator(".flash").inner_text()
    assert twilio.by_number(FIRST) is None
    assert page.locator("#number-results tr", has_text=FIRST).count() == 0
