"""The settings page's Check, and ``make_client()`` with the account in use, through the real
``twilio`` client against a recording fake HTTP client: the exact request and its credentials,
and every answer Twilio can give (accepted, 401/20003, 404, a suspended or closed account,
errors, no network, a timeout) in plain words, never a secret in the page or the log."""
from __future__ import annotations

import logging

import pytest
import requests

from sipflask.twilio_rest.client import TwilioError, describe_error, make_client
from tests.support.app import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.support.html import HX
from tests.support.twilio_account import (KEY_SID, NO_ENV, SECRET, SID, TOKEN, AccountsFake,
                                          account_body, check_text, save_account, twilio_error)

no_env = pytest.mark.app_config(**NO_ENV)
FETCH = ("GET", f"/2010-04-01/Accounts/{SID}.json", (SID, TOKEN))


@pytest.fixture
def fake(app):
    fake = AccountsFake()
    app.config["TWILIO_HTTP_CLIENT"] = fake
    return fake


@pytest.fixture
def saved(admin_client):
    assert save_account(admin_client, account_sid=SID, auth_token=TOKEN).status_code == 302


def run_check(admin_client, htmx=False):
    response = admin_client.post("/settings/twilio/check", headers=HX if htmx else {})
    assert response.status_code == 200
    return response


@no_env
def test_a_good_account_plain_post(admin_client, saved, fake, caplog):
    caplog.set_level(logging.DEBUG)
    response = run_check(admin_client)
    assert "<html" in response.text and 'id="twilio-form"' in response.text
    assert check_text(response.text) == \
        "Connected to “Acme Calls” (active). Twilio accepted the credentials."
    assert 'class="flash success"' in response.text
    assert fake.seen == [FETCH]  # one request, authenticated with the saved token
    assert TOKEN not in response.text and TOKEN not in caplog.text  # the body carries it


@no_env
def test_a_good_account_with_htmx(admin_client, saved, fake):
    response = run_check(admin_client, htmx=True)
    assert "<html" not in response.text and 'id="twilio-form"' not in response.text
    assert response.text.lstrip().startswith('<div id="twilio-check"')
    assert "Connected to “Acme Calls” (active)." in check_text(response.text)


@no_env
@pytest.mark.parametrize("status, body, words", [
    (200, account_body(kind="Trial"), "It is a trial account"),
    (200, account_body(status="suspended"), "The account “Acme Calls” is suspended. Twilio "
     "refuses its calls and requests until it is reactivated"),
    (200, account_body(status="closed"), "The account “Acme Calls” is closed."),
    (401, twilio_error(401, 20003, "Authenticate"), "Wrong Auth Token: Twilio refused it (HTTP "
     "401, Twilio error 20003). The Auth Token does not belong to account AC…abcd"),
    (404, twilio_error(404, 20404, f"The requested resource /Accounts/{SID}.json was not "
                                   "found"), "Wrong Account SID: Twilio has no account AC…abcd"),
    (401, twilio_error(401, 20005, "Account not active"), "Wrong Auth Token"),
    (403, twilio_error(403, 20005, "Account not active"), "account AC…abcd is not active (HTTP "
     "403, Twilio error 20005)"),
    (429, twilio_error(429, 20429, "Too Many Requests"), "Twilio asked to slow down (HTTP 429)"),
    (400, twilio_error(400, 21218, "Invalid ApplicationSid"), "The check failed. Twilio refused "
     "fetching the account (HTTP 400, Twilio error 21218): Unable to fetch record: Invalid "
     "ApplicationSid."),
    (500, twilio_error(500, 20500, "Internal Server Error"), "Twilio had a problem; try again"),
])
def test_what_twilio_answered_in_plain_words(admin_client, saved, fake, caplog, status, body,
                                             words):
    caplog.set_level(logging.DEBUG)
    fake.status, fake.body = status, body
    for htmx in (False, True):
        text = check_text(run_check(admin_client, htmx).text)
        assert words in text
        assert TOKEN not in text and SID not in text
    assert fake.seen == [FETCH, FETCH]
    assert TOKEN not in caplog.text


@no_env
@pytest.mark.parametrize("exc, words", [
    (requests.ConnectionError("HTTPSConnectionPool(host='api.twilio.com'): Max retries"),
     "No connection to Twilio: this server could not reach api.twilio.com. Nothing was checked."),
    (requests.ConnectTimeout("connect timed out"), "Twilio did not answer within 20 seconds."),
    (requests.ReadTimeout("read timed out"), "Twilio did not answer within 20 seconds."),
])
def test_no_network_and_timeouts(admin_client, saved, fake, exc, words):
    fake.exc = exc
    response = run_check(admin_client)
    assert words in check_text(response.text)
    assert 'class="flash error"' in response.text and 'role="alert"' in response.text


@no_env
def test_nothing_to_check_sends_nothing(admin_client, fake):
    assert "Nothing to check: no Account SID." in check_text(run_check(admin_client).text)
    save_account(admin_client, account_sid=SID)
    assert "Nothing to check: no Auth Token or API key." in check_text(
        run_check(admin_client).text)
    assert fake.seen == []


@no_env
def test_without_a_token_the_check_uses_the_api_key(admin_client, fake):
    save_account(admin_client, account_sid=SID, api_key_sid=KEY_SID, api_secret=SECRET)
    text = check_text(run_check(admin_client).text)
    assert "Connected to “Acme Calls” (active)." in text
    assert "There is no Auth Token, though: Twilio's webhooks are refused" in text
    assert fake.seen == [("GET", f"/2010-04-01/Accounts/{SID}.json", (KEY_SID, SECRET))]
    fake.status, fake.body = 401, twilio_error(401, 20003, "Authenticate")
    assert "Twilio refused the API key (HTTP 401, Twilio error 20003)." in check_text(
        run_check(admin_client).text)
    fake.status, fake.body = 403, twilio_error(403, 20008, "Forbidden")
    assert "A Standard API key may not read the account: use a Main key" in check_text(
        run_check(admin_client).text)


def test_the_check_uses_the_environments_account(admin_client, saved, fake):
    check_text(run_check(admin_client).text)
    assert fake.seen == [("GET", f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}.json",
                          (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN))]


# --- make_client ----------------------------------------------------------------------------------

def fetch_with_make_client(app):
    with app.test_request_context():
        client = make_client()
        return client.api.v2010.accounts(client.account_sid).fetch()


@no_env
def test_make_client_uses_the_api_key_pair_when_saved(admin_client, app, fake):
    save_account(admin_client, account_sid=SID, auth_token=TOKEN)
    fetch_with_make_client(app)
    save_account(admin_client, account_sid=SID, api_key_sid=KEY_SID, api_secret=SECRET)
    fetch_with_make_client(app)
    path = f"/2010-04-01/Accounts/{SID}.json"
    assert fake.seen == [("GET", path, (SID, TOKEN)), ("GET", path, (KEY_SID, SECRET))]


@pytest.mark.app_config(TWILIO_API_KEY_SID=KEY_SID, TWILIO_API_SECRET=SECRET)
def test_make_client_uses_the_environments_api_key_pair(app, fake):
    fetch_with_make_client(app)
    assert fake.seen == [("GET", f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}.json",
                          (KEY_SID, SECRET))]


@no_env
def test_make_client_without_an_account_says_where_to_set_one(admin_client, app):
    with app.test_request_context(), pytest.raises(TwilioError) as raised:
        make_client()
    assert str(raised.value) == (
        "Twilio is not connected: save the Account SID and Auth Token on the settings page "
        "(Settings → Twilio, /settings/), or set SIPFLASK_TWILIO_ACCOUNT_SID and "
        "SIPFLASK_TWILIO_AUTH_TOKEN in the environment.")
    save_account(admin_client, account_sid=SID)
    with app.test_request_context(), pytest.raises(TwilioError, match="has no Auth Token"):
        make_client()


@no_env
def test_refusals_point_to_the_settings_page_and_hide_the_saved_secrets(admin_client, app):
    save_account(admin_client, account_sid=SID, auth_token=TOKEN, api_key_sid=KEY_SID,
                 api_secret=SECRET)
    from twilio.base.exceptions import TwilioRestException
    exc = TwilioRestException(401, "https://api.twilio.com/x", msg=f"bad {TOKEN} {SECRET}",
                              code=20003)
    with app.test_request_context():
        message = describe_error(exc, "listing numbers")
    assert "Check the Twilio account on the settings page" in message
    assert TOKEN not in message and SECRET not in message
