"""The settings page's Twilio section: saving the account (plain posts and htmx), each bad value
refused at its field with nothing saved, the write-only secrets (keep, replace, clear), which
account is in use (the environment wins), the change history, and the banners on the overview
and numbers pages. Secrets never reach a page, a log line or the history."""
from __future__ import annotations

import logging

import pytest

from sipflask.twilio_rest import account
from tests.support.app import ADMIN_EMAIL, MEMBER_EMAIL, TWILIO_ACCOUNT_SID
from tests.support.history import changes, fields, stored_text
from tests.support.html import HX
from tests.support.twilio_account import (KEY_SID, NO_ENV, OTHER_TOKEN, SECRET, SID, TOKEN,
                                          in_use_text, save_account, stored_row, twilio_field)

no_env = pytest.mark.app_config(**NO_ENV)


def in_use(app):
    with app.test_request_context():
        return account.credentials()


# --- saving ---------------------------------------------------------------------------------------

@no_env
def test_an_empty_section_says_no_account_is_in_use(admin_client):
    body = admin_client.get("/settings/").text
    assert "In use: none. Twilio's webhooks are refused until an Auth Token is saved below" \
        in in_use_text(body)
    for name in ("account_sid", "auth_token", "api_key_sid", "api_secret"):
        assert f'name="{name}"' in twilio_field(body, name)
    token = twilio_field(body, "auth_token")
    assert 'type="password"' in token and "Nothing saved" in token
    assert 'name="token_action"' not in token  # nothing to keep or clear


@no_env
def test_save_with_a_plain_post(admin_client, app, caplog):
    caplog.set_level(logging.DEBUG)
    response = save_account(admin_client, account_sid=f"  {SID} ", auth_token=f"{TOKEN}\n")
    assert response.status_code == 302 and response.headers["Location"] == "/settings/#twilio"
    row = stored_row(app)
    assert row["account_sid"] == SID and row["auth_token"] == TOKEN
    assert TOKEN not in row["token_encrypted"] and row["token_encrypted"]
    assert in_use(app).source == "settings"
    body = admin_client.get("/settings/").text
    assert "Twilio account saved. Use Check to make sure Twilio accepts it." in body
    assert "In use: the account saved here, AC…abcd. Changes at Twilio use the Auth Token." \
        in in_use_text(body)
    token = twilio_field(body, "auth_token")
    assert 'id="auth_token-set"' in token and "An Auth Token is saved (never shown)" in token
    assert 'placeholder="set — type to replace"' in token
    assert 'checked id="token_action-0" name="token_action" type="radio" value="keep"' in token
    assert 'value="clear"' in token
    assert f'value="{SID}"' in twilio_field(body, "account_sid")
    assert TOKEN not in body and TOKEN not in caplog.text
    assert "auth token replaced" in caplog.text


@no_env
def test_save_with_htmx(admin_client, app):
    response = admin_client.post("/settings/twilio", headers=HX, data={
        "account_sid": SID, "auth_token": TOKEN, "api_key_sid": KEY_SID, "api_secret": SECRET})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/settings/#twilio"
    row = stored_row(app)
    assert (row["account_sid"], row["auth_token"], row["api_key_sid"], row["api_secret"]) == \
        (SID, TOKEN, KEY_SID, SECRET)
    body = admin_client.get("/settings/").text
    assert f"Changes at Twilio use the API key {KEY_SID}." in in_use_text(body)
    assert SECRET not in body and TOKEN not in body


@no_env
@pytest.mark.parametrize("typed, field, words", [
    ({"account_sid": "AC123"}, "account_sid", "this one has 3 characters after AC"),
    ({"account_sid": "SK" + "a" * 32}, "account_sid", "this one does not start with AC"),
    ({"account_sid": "AC" + "g" * 32}, "account_sid", "characters other than 0-9 and a-f"),
    ({"account_sid": SID, "auth_token": "abc def" * 5}, "auth_token", "has a space"),
    ({"account_sid": SID, "auth_token": "tooshort"}, "auth_token", "8 characters long"),
    ({"auth_token": TOKEN}, "account_sid", "Enter the Account SID (AC…)"),
    ({"account_sid": SID, "api_key_sid": "SK12"}, "api_key_sid", "SK followed by 32"),
    ({"account_sid": SID, "api_key_sid": KEY_SID}, "api_secret", "Enter the API key's secret"),
    ({"account_sid": SID, "api_secret": SECRET}, "api_key_sid", "Enter the API Key SID"),
    ({"account_sid": SID, "api_key_sid": KEY_SID, "api_secret": "\x00" * 32}, "api_secret",
     "not plain ASCII"),
])
def test_bad_input_is_refused_at_its_field_and_nothing_is_saved(admin_client, app, typed, field,
                                                                words):
    for headers, status in (({}, 200), (HX, 422)):
        response = save_account(admin_client, **typed) if not headers else admin_client.post(
            "/settings/twilio", data=typed, headers=headers)
        assert response.status_code == status
        assert ("<html" in response.text) == (not headers)
        block = twilio_field(response.text, field)
        assert 'aria-invalid="true"' in block and words in block.replace("&#39;", "'")
        assert "Twilio account saved" not in response.text
        for secret in (TOKEN, SECRET, "abc def" * 5, "tooshort"):
            assert secret not in response.text
    assert stored_row(app) == {}


@no_env
def test_a_token_pasted_into_the_sid_field_is_not_shown_again(admin_client, app):
    response = save_account(admin_client, account_sid=TOKEN)
    block = twilio_field(response.text, "account_sid")
    assert "That looks like a token or secret, not the Account SID" in block
    assert TOKEN not in response.text and 'value=""' in block
    assert stored_row(app) == {}


# --- keep, replace, clear -------------------------------------------------------------------------

@no_env
def test_keep_replace_and_clear_the_auth_token(admin_client, app):
    save_account(admin_client, account_sid=SID, auth_token=TOKEN)
    first = stored_row(app)["token_encrypted"]
    save_account(admin_client, account_sid=SID)  # empty field, "Keep it"
    assert stored_row(app)["token_encrypted"] == first
    save_account(admin_client, account_sid=SID, auth_token=TOKEN)  # the same again: unchanged
    assert stored_row(app)["token_encrypted"] == first
    save_account(admin_client, account_sid=SID, auth_token=OTHER_TOKEN)
    assert stored_row(app)["auth_token"] == OTHER_TOKEN
    save_account(admin_client, account_sid=SID, auth_token=TOKEN, token_action="clear")
    assert stored_row(app)["auth_token"] == TOKEN  # typed wins over "Clear it", as for buyers
    save_account(admin_client, account_sid=SID, token_action="clear")
    assert stored_row(app)["token_encrypted"] == ""
    body = admin_client.get("/settings/").text
    assert "No Auth Token: Twilio's webhooks are refused." in in_use_text(body)


@no_env
def test_keep_replace_and_clear_the_api_key(admin_client, app):
    save_account(admin_client, account_sid=SID, auth_token=TOKEN, api_key_sid=KEY_SID,
                 api_secret=SECRET)
    save_account(admin_client, account_sid=SID, api_key_sid=KEY_SID)  # both secrets kept
    row = stored_row(app)
    assert (row["auth_token"], row["api_secret"]) == (TOKEN, SECRET)
    other_key = "SK" + "0" * 32
    response = save_account(admin_client, account_sid=SID, api_key_sid=other_key)
    assert "A secret belongs to one API key" in twilio_field(response.text, "api_secret")
    assert stored_row(app)["api_key_sid"] == KEY_SID
    save_account(admin_client, account_sid=SID, api_key_sid=KEY_SID, secret_action="clear")
    assert "Enter the API key&#39;s secret too" in twilio_field(
        save_account(admin_client, account_sid=SID, api_key_sid=KEY_SID,
                     secret_action="clear").text, "api_secret")
    assert stored_row(app)["api_secret"] == SECRET
    save_account(admin_client, account_sid=SID)  # no key SID: its secret goes with it
    row = stored_row(app)
    assert (row["api_key_sid"], row["secret_encrypted"], row["auth_token"]) == ("", "", TOKEN)


@no_env
def test_disconnect_by_clearing_everything(admin_client, app):
    save_account(admin_client, account_sid=SID, auth_token=TOKEN)
    response = save_account(admin_client, account_sid="", token_action="clear")
    assert response.status_code == 302
    row = stored_row(app)
    assert (row["account_sid"], row["token_encrypted"]) == ("", "")
    assert in_use(app).source == ""


# --- which account is in use ----------------------------------------------------------------------

def test_the_environment_wins_and_the_page_says_so(admin_client, app):
    save_account(admin_client, account_sid=SID, auth_token=TOKEN)
    assert stored_row(app)["auth_token"] == TOKEN  # saved, for later
    body = admin_client.get("/settings/").text
    text = in_use_text(body)
    assert "In use: the account from the environment (SIPFLASK_TWILIO_...)" in text
    assert f"AC…{TWILIO_ACCOUNT_SID[-4:]}: the fields below are not used." in text
    assert "It is not used while the environment names one" in body
    creds = in_use(app)
    assert creds.source == "environment" and creds.account_sid == TWILIO_ACCOUNT_SID


@pytest.mark.app_config(TWILIO_AUTH_TOKEN="")
def test_an_environment_without_its_token_is_named(admin_client, app):
    save_account(admin_client, account_sid=SID, auth_token=TOKEN)
    text = in_use_text(admin_client.get("/settings/").text)
    assert "SIPFLASK_TWILIO_AUTH_TOKEN is not set: Twilio's webhooks are refused." in text
    assert in_use(app).auth_token == ""  # the saved token is not mixed in


def test_members_cannot_see_or_change_the_account(client, auth, app):
    auth.login(MEMBER_EMAIL)
    assert client.post("/settings/twilio", data={"account_sid": SID}).status_code == 403
    assert client.post("/settings/twilio/check").status_code == 403
    assert stored_row(app) == {}


# --- history --------------------------------------------------------------------------------------

@no_env
def test_changes_are_in_the_history_with_secrets_only_as_changed(admin_client, app, caplog):
    caplog.set_level(logging.DEBUG)
    save_account(admin_client, account_sid=SID, auth_token=TOKEN, api_key_sid=KEY_SID,
                 api_secret=SECRET)
    save_account(admin_client, account_sid=SID, auth_token=OTHER_TOKEN, api_key_sid=KEY_SID)
    first, second = changes(app, "account")
    assert first["action"] == "create" and first["actor_label"] == ADMIN_EMAIL
    assert fields(first)["twilio_account_sid"] == (None, SID)
    assert fields(first)["twilio_api_key_sid"] == (None, KEY_SID)
    assert fields(first)["twilio_auth_token"] == "changed"
    assert fields(first)["twilio_api_secret"] == "changed"
    assert fields(second) == {"twilio_auth_token": "changed"}
    history_pages = admin_client.get("/history/").text + \
        admin_client.get(f"/history/{second['id']}").text
    stored = stored_text(app)
    row = stored_row(app)
    for secret in (TOKEN, OTHER_TOKEN, SECRET, row["token_encrypted"], row["secret_encrypted"]):
        assert secret not in stored and secret not in history_pages and secret not in caplog.text


# --- the banners ----------------------------------------------------------------------------------

BANNER = "Twilio's webhooks will be refused:"


@no_env
def test_overview_and_numbers_pages_warn_until_a_token_is_saved(admin_client, client, auth, app):
    for page in ("/", "/numbers/"):
        body = admin_client.get(page).text
        assert BANNER in body
        assert '<a href="/settings/#twilio">Connect your Twilio account on the settings page</a>' \
            in body
    save_account(admin_client, account_sid=SID, api_key_sid=KEY_SID, api_secret=SECRET)
    assert BANNER in admin_client.get("/").text  # an API key can't check webhooks
    save_account(admin_client, account_sid=SID, auth_token=TOKEN, api_key_sid=KEY_SID)
    for page in ("/", "/numbers/"):
        assert BANNER not in admin_client.get(page).text


@no_env
def test_members_are_told_to_ask_an_admin(client, auth):
    auth.login(MEMBER_EMAIL)
    for page in ("/", "/numbers/"):
        body = client.get(page).text
        assert BANNER in body and "Ask an admin to connect the Twilio account" in body
        assert 'href="/settings/' not in body


def test_no_banner_with_the_token_in_the_environment(admin_client):
    for page in ("/", "/numbers/"):
        assert BANNER not in admin_client.get(page).text
    assert "twilio-banner" not in admin_client.get("/numbers/", headers=HX).text
