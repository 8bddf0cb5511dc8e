"""The numbers list's Twilio column and actions (blueprints/twilio_check.py): each state a
number can be in at Twilio, Check now, a number's Fix, and Release (admins only, confirmed on
a page that needs no JavaScript), plain and htmx, through the real ``twilio`` client and a
recording fake of Twilio; Twilio's refusals in words, never a 500. SQLite and PostgreSQL.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import requests

from tests.support.app import MEMBER_EMAIL
from tests.support.fake_twilio_numbers import FakeNumbers
from tests.support.html import HX, field_html
from tests.support.twilio_pages import (A, B, C, CONFIGURED, D, VOICE, add_number,
                                        add_targets, cell, state, stored, text_of)

CHECKED = datetime(2026, 3, 4, 5, 6, tzinfo=timezone.utc)
OLD = "https://old.example/voice"


@pytest.fixture
def fake(app):
    twilio = FakeNumbers()
    app.config["TWILIO_HTTP_CLIENT"] = twilio
    add_targets(app)
    return twilio


@pytest.fixture
def member_client(auth, client):
    assert auth.login(MEMBER_EMAIL).status_code == 302
    return client


def flashes(body: str) -> list[str]:
    return [text_of(m) for m in re.findall(r'<p class="flash \w+" role="status"[^>]*>(.*?)</p>',
                                           body, re.S)]


def test_twilio_column_shows_each_state(admin_client, app, fake):
    ids = {
        "configured": add_number(app, A, twilio_sid="PN" + "1" * 32, twilio_checked_at=CHECKED),
        "drifted": add_number(app, B, twilio_sid="PN" + "2" * 32, twilio_checked_at=CHECKED,
                              twilio_drift=f"voice URL is {OLD}, expected {VOICE}"),
        "missing": add_number(app, C, twilio_sid="PN" + "3" * 32, twilio_checked_at=CHECKED,
                              twilio_missing=True),
        "unlinked": add_number(app, D),
        "unchecked": add_number(app, "+14155550105", twilio_sid="PN" + "5" * 32),
    }
    body = admin_client.get("/numbers/").text
    assert "<th>Twilio</th>" in body
    assert {k: state(body, i) for k, i in ids.items()} == {
        "configured": "configured", "drifted": "drifted",
        "missing": "missing from the account", "unlinked": "not linked",
        "unchecked": "not checked yet"}
    assert f"voice URL is {OLD}, expected {VOICE}" in cell(body, ids["drifted"])
    assert "checked 2026-03-04 05:06:00 UTC" in cell(body, ids["configured"])
    assert "Twilio configuration last checked 2026-03-04 05:06:00 UTC." in body
    assert "Twilio no longer has this number" in cell(body, ids["missing"])
    assert 'title="No number of the Twilio account found for it' in cell(body, ids["unlinked"])
    # Fix only where something drifted; Release (admins) where the number is Twilio's
    assert [k for k, i in ids.items() if "twilio/fix" in cell(body, i)] == ["drifted"]
    assert [k for k, i in ids.items() if "twilio/release" in cell(body, i)] == [
        "configured", "drifted", "missing", "unchecked"]
    fragment = admin_client.get("/numbers/?q=555", headers=HX).text
    assert "<html" not in fragment and state(fragment, ids["drifted"]) == "drifted"


def test_members_see_no_release_and_can_not_release(member_client, app, fake):
    sid = fake.own(A, **CONFIGURED)
    ident = add_number(app, A, twilio_sid=sid, twilio_checked_at=CHECKED)
    body = member_client.get("/numbers/").text
    assert state(body, ident) == "configured" and "twilio/release" not in body
    assert "Check now" in body
    assert member_client.get(f"/numbers/{ident}/twilio/release").status_code == 403
    assert member_client.post(f"/numbers/{ident}/twilio/release",
                              data={"confirm": "y"}).status_code == 403
    assert fake.log == [] and len(stored(app)) == 1
    checked = member_client.post("/numbers/twilio/check", follow_redirects=True)
    assert "1 checked, 0 drifted" in checked.text


# --- Check now --------------------------------------------------------------------------------

def test_check_now_plain_post(admin_client, app, fake):
    fake.own(A, **CONFIGURED)
    sid_b = fake.own(B, **(CONFIGURED | {"voice_url": OLD}))
    ids = [add_number(app, n) for n in (A, B, C)]
    add_number(app, D, twilio_sid="PN" + "9" * 32)  # linked, but gone from the account
    response = admin_client.post("/numbers/twilio/check?q=555&page=1")
    assert response.status_code == 302 and response.headers["Location"] == \
        "/numbers/?q=555&page=1"
    assert fake.log == [("GET", "IncomingPhoneNumbers.json?PageSize=1000")]
    body = admin_client.get(response.headers["Location"]).text
    assert flashes(body) == ["3 checked, 1 drifted, 1 missing from the account. The Twilio "
                             "column says what differs."]
    assert 'class="flash warning"' in body
    assert [state(body, i) for i in ids] == ["configured", "drifted", "not linked"]
    assert f"voice URL is {OLD}, expected {VOICE}" in cell(body, ids[1])
    assert "Twilio configuration last checked" in body
    assert stored(app)[1][4] == sid_b


def test_check_now_htmx_swaps_the_results(admin_client, app, fake):
    sid = fake.own(A, **CONFIGURED)
    ident = add_number(app, A)
    response = admin_client.post("/numbers/twilio/check", headers=HX)
    assert response.status_code == 200 and "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="number-results">')
    assert 'id="check-notice">1 checked, 0 drifted, 0 missing from the account.' in response.text
    assert state(response.text, ident) == "configured"
    assert stored(app)[0][4] == sid
    # the rows' own forms go back to the list, not to the check
    assert 'name="next" value="/numbers/"' in response.text


@pytest.mark.parametrize("failure, words", [
    (dict(status=401, code=20003, message="Authenticate"), "Twilio refused the account's"),
    (dict(status=429, code=20429, message="Too many"), "Twilio is limiting requests"),
    (dict(status=500, code=20500, message="Oops"), "Twilio had a problem"),
    (dict(exc=requests.ConnectionError("refused")), "Could not reach Twilio's API"),
], ids=["401", "429", "500", "connection"])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_check_now_says_what_twilio_refused(admin_client, app, fake, failure, words, headers):
    ident = add_number(app, A)
    fake.fail("GET", "IncomingPhoneNumbers", **failure)
    response = admin_client.post("/numbers/twilio/check", headers=headers,
                                 follow_redirects=True)
    assert response.status_code == 200
    [notice] = [f for f in flashes(response.text) if f.startswith("Check failed")]
    assert words in notice
    assert state(response.text, ident) == "not linked"


def test_check_now_without_credentials(admin_client, app, fake):
    app.config.update(TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN="")
    response = admin_client.post("/numbers/twilio/check", headers=HX)
    assert 'id="check-notice">Twilio is not connected' in response.text
    assert 'href="/settings/#twilio"' in response.text
    plain = admin_client.post("/numbers/twilio/check", follow_redirects=True)
    assert any(f.startswith("Twilio is not connected") for f in flashes(plain.text))
    assert fake.log == []


@pytest.mark.app_config(PUBLIC_URL="")
def test_check_now_without_public_url(admin_client, app, fake):
    response = admin_client.post("/numbers/twilio/check", headers=HX)
    assert 'id="check-notice">Set PUBLIC_URL' in response.text
    assert fake.log == []


# --- Fix --------------------------------------------------------------------------------------

def drifted(app, fake) -> tuple[str, int]:
    sid = fake.own(B, **(CONFIGURED | {"voice_url": OLD, "voice_application_sid": "AP" + "1" * 32}))
    ident = add_number(app, B, twilio_sid=sid, twilio_checked_at=CHECKED,
                       twilio_drift=f"voice URL is {OLD}, expected {VOICE}")
    return sid, ident


def test_fix_plain_post(member_client, app, fake):
    sid, ident = drifted(app, fake)
    response = member_client.post(f"/numbers/{ident}/twilio/fix", data={"next": "/numbers/?q=5"})
    assert response.status_code == 302 and response.headers["Location"] == "/numbers/?q=5"
    assert fake.log == [("GET", f"IncomingPhoneNumbers.json?PageSize=1000&PhoneNumber=%2B{B[1:]}"),
                        ("POST", "IncomingPhoneNumbers/PN1.json")]
    assert fake.numbers[sid]["voice_url"] == VOICE
    assert fake.numbers[sid]["voice_application_sid"] is None  # cleared
    body = member_client.get("/numbers/").text
    assert flashes(body) == [f"{B}: configuration set back"]
    assert state(body, ident) == "configured"
    assert stored(app)[0][5] == ""


def test_fix_htmx_swaps_the_row(admin_client, app, fake):
    sid, ident = drifted(app, fake)
    response = admin_client.post(f"/numbers/{ident}/twilio/fix", headers=HX,
                                 data={"next": "/numbers/?page=2"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<tr id="number-{ident}">')
    assert state(response.text, ident) == "configured"
    assert '<p class="ok" role="status">configuration set back</p>' in response.text
    assert 'value="/numbers/?page=2"' in response.text


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_fix_that_twilio_refuses(admin_client, app, fake, headers):
    sid, ident = drifted(app, fake)
    fake.fail("POST", "IncomingPhoneNumbers/", status=500, code=20500, message="Oops")
    response = admin_client.post(f"/numbers/{ident}/twilio/fix", headers=headers,
                                 follow_redirects=True)
    assert response.status_code == 200
    assert "not fixed: Twilio refused configuring " + B in text_of(response.text)
    assert state(response.text, ident) == "drifted"
    assert fake.numbers[sid]["voice_url"] == OLD


def test_fix_of_a_number_gone_from_the_account(admin_client, app, fake):
    ident = add_number(app, B, twilio_sid="PN" + "2" * 32, twilio_drift="voice URL is x")
    response = admin_client.post(f"/numbers/{ident}/twilio/fix", headers=HX)
    assert "no longer in the Twilio account: nothing to fix" in response.text
    assert state(response.text, ident) == "missing from the account"


def test_fix_of_an_unknown_number_is_404(admin_client, fake):
    assert admin_client.post("/numbers/999/twilio/fix").status_code == 404
    assert admin_client.post("/numbers/99999999999/twilio/fix").status_code == 404


# --- Release ----------------------------------------------------------------------------------

def test_release_asks_first_then_releases(admin_client, app, fake):
    sid = fake.own(A, **CONFIGURED)
    ident = add_number(app, A, twilio_sid=sid, twilio_checked_at=CHECKED)
    page = admin_client.get(f"/numbers/{ident}/twilio/release?next=/numbers/%3Fq%3D415")
    assert page.status_code == 200 and "<html" in page.text
    assert "removes it from the Twilio account" in page.text
    assert 'name="confirm"' in page.text and 'value="/numbers/?q=415"' in page.text
    refused = admin_client.post(f"/numbers/{ident}/twilio/release", data={})
    assert refused.status_code == 200
    assert "Tick the box to confirm" in field_html(refused.text, "confirm")
    assert fake.log == [] and len(stored(app)) == 1
    done = admin_client.post(f"/numbers/{ident}/twilio/release",
                             data={"confirm": "y", "next": "/numbers/?q=415"})
    assert done.status_code == 302 and done.headers["Location"] == "/numbers/?q=415"
    assert fake.log == [("DELETE", "IncomingPhoneNumbers/PN1.json")]
    assert fake.numbers == {} and stored(app) == []
    body = admin_client.get("/numbers/").text
    assert flashes(body) == [f"{A}: released from the Twilio account and deleted from sipflask"]


def test_release_with_htmx(admin_client, app, fake):
    sid = fake.own(A, **CONFIGURED)
    ident = add_number(app, A, twilio_sid=sid)
    refused = admin_client.post(f"/numbers/{ident}/twilio/release", headers=HX, data={})
    assert refused.status_code == 422
    assert refused.text.lstrip().startswith('<form id="release-form"')
    done = admin_client.post(f"/numbers/{ident}/twilio/release", headers=HX,
                             data={"confirm": "y"})
    assert done.status_code == 204 and done.headers["HX-Redirect"] == "/numbers/"
    assert stored(app) == []


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_release_that_twilio_refuses(admin_client, app, fake, headers):
    sid = fake.own(A, **CONFIGURED)
    ident = add_number(app, A, twilio_sid=sid)
    fake.fail("DELETE", "IncomingPhoneNumbers/", exc=requests.ConnectionError("refused"))
    response = admin_client.post(f"/numbers/{ident}/twilio/release", headers=headers,
                                 data={"confirm": "y"})
    assert response.status_code == 200
    assert "Not released:" in response.text
    assert f"{A}: not released: Could not reach Twilio's API" in text_of(response.text)
    assert len(stored(app)) == 1 and sid in fake.numbers


def test_release_of_a_number_twilio_no_longer_has(admin_client, app, fake):
    ident = add_number(app, A, twilio_sid="PN" + "1" * 32, twilio_missing=True)
    done = admin_client.post(f"/numbers/{ident}/twilio/release", data={"confirm": "y"},
                             follow_redirects=True)
    assert flashes(done.text) == [f"{A}: was no longer in the Twilio account and deleted from "
                                  "sipflask"]
    assert stored(app) == []
