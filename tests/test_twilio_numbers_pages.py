"""The "Import from Twilio" and "Buy numbers" pages (blueprints/twilio_numbers.py), plain and
htmx, through the real ``twilio`` client and a recording fake of Twilio: the account's numbers
(every Twilio page, thousands paged and filtered here), field errors at their fields, the
report of an import and of a purchase that fails halfway, who may buy, and Twilio's refusals
in words (never a 500). SQLite and PostgreSQL.
"""
from __future__ import annotations

import html
import re

import pytest
import requests

from tests.support.app import MEMBER_EMAIL
from tests.support.fake_twilio_numbers import FakeNumbers
from tests.support.html import HX
from tests.support.html import field_html as raw_field_html
from tests.support.twilio_pages import (A, B, C, CONFIGURED, D, VOICE, add_number,
                                        add_targets, numbers_error, problems, report, stored)


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


def field_html(body: str, name: str) -> str:
    return html.unescape(raw_field_html(body, name))


def is_page(response) -> bool:
    return "<html" in response.text


# --- import: the listing ----------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_import_lists_every_page_of_the_account(admin_client, app, fake, headers):
    fake.max_page = 2
    sid_a = fake.own(A, friendly_name="Main line", voice_url="https://old.example/voice")
    fake.own(B, **CONFIGURED)
    fake.own(C, capabilities={"voice": True, "sms": False, "mms": False, "fax": True})
    fake.own(D)
    add_number(app, B)
    response = admin_client.get("/numbers/twilio/import", headers=headers)
    assert response.status_code == 200
    assert is_page(response) == (not headers)
    body = response.text
    assert [m for m, _ in fake.log] == ["GET", "GET"]  # two pages of 2 (Twilio's page size here)
    assert 'id="twilio-import"' in body
    assert "4 numbers in the Twilio account, 1 of them in sipflask." in body
    row_a = body.split(f'id="account-{sid_a}"')[1].split("</tr>")[0]
    assert f'name="number" value="{A}"' in row_a and "Main line" in row_a
    assert "<code>https://old.example/voice</code>" in row_a
    assert f"voice URL is https://old.example/voice, expected {VOICE}" in row_a
    assert "voice, fax" in body  # C's capabilities
    assert f"{B} is in sipflask already" in body and f'value="{B}"' not in body
    assert "as sipflask sets it" in body  # B matches


def test_import_pages_and_filters_thousands_of_numbers(admin_client, app, fake):
    for i in range(2500):
        fake.own(f"+1415{5550000 + i:07d}"[:12], friendly_name=f"Line {i}")
    add_number(app, "+14155550007")
    body = admin_client.get("/numbers/twilio/import").text
    assert [m for m, _ in fake.log] == ["GET"] * 3  # 1,000 a request, Twilio's most
    assert body.count('name="number"') == 99  # and +14155550007, in sipflask already
    assert "+14155550007 is in sipflask already" in body
    assert "Page 1 of 25 (2500)" in body
    last = admin_client.get("/numbers/twilio/import?page=25").text
    assert last.count('name="number"') == 100 and "+14155552499" in last
    assert "+14155552499" in admin_client.get("/numbers/twilio/import?page=999").text
    found = admin_client.get("/numbers/twilio/import", query_string={"q": "555 2498"}).text
    assert found.count('name="number"') == 1 and "+14155552498" in found
    assert "1 match the filter" in found
    named = admin_client.get("/numbers/twilio/import", query_string={"q": "line 1999"}).text
    assert named.count('name="number"') == 1
    tracked = admin_client.get("/numbers/twilio/import?show=tracked").text
    assert "+14155550007" in tracked and 'name="number"' not in tracked
    fresh = admin_client.get("/numbers/twilio/import?show=new").text
    assert "Page 1 of 25 (2499)" in fresh


def test_members_may_import_but_not_buy(member_client, app, fake):
    fake.own(A)
    listing = member_client.get("/numbers/")
    assert "/numbers/twilio/import" in listing.text and "/numbers/twilio/buy" not in listing.text
    assert member_client.get("/numbers/twilio/import").status_code == 200
    assert member_client.get("/numbers/twilio/buy").status_code == 403
    assert member_client.get("/numbers/twilio/buy?country=US").status_code == 403
    assert member_client.post("/numbers/twilio/buy", data={
        "number": A, "campaign": "auto"}).status_code == 403
    response = member_client.post("/numbers/twilio/import", data={"number": A,
                                                                  "campaign": "auto"})
    assert report(response.text)["done"] == [f"{A}: imported into campaign auto and configured"]
    assert fake.log[-1][0] == "GET"  # the page lists the account again afterwards


# --- import: the report -----------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_import_reports_each_number(admin_client, app, fake, headers):
    sid_a = fake.own(A, voice_url="https://old.example/voice")
    sid_b = fake.own(B)
    fake.own(C)
    add_number(app, C)
    response = admin_client.post("/numbers/twilio/import", headers=headers, data={
        "number": [A, B, C, D], "campaign": "auto", "publisher": "acme", "sub_id": "fb-1"})
    assert response.status_code == 200 and is_page(response) == (not headers)
    lines = report(response.text)
    assert lines["done"] == [f"{A}: imported into campaign auto and configured",
                             f"{B}: imported into campaign auto and configured"]
    assert lines["skipped"] == [f"{C}: already a tracking number (campaign auto): left as it is"]
    assert lines["failed"] == [f"{D}: not in the Twilio account: nothing imported"]
    assert stored(app) == [(A, "auto", "acme", "fb-1", sid_a, "", False),
                           (B, "auto", "acme", "fb-1", sid_b, "", False),
                           (C, "auto", None, None, None, "", False)]
    assert fake.numbers[sid_a]["voice_url"] == VOICE
    # The listing shown with the report has them in sipflask now.
    assert "3 of them in sipflask" in response.text
    assert f"{A} is in sipflask already" in response.text


@pytest.mark.parametrize("headers, status", [({}, 200), (HX, 422)], ids=["plain", "htmx"])
def test_import_field_errors_at_their_fields(admin_client, app, fake, headers, status):
    fake.own(A)
    response = admin_client.post("/numbers/twilio/import", headers=headers,
                                 data={"campaign": "", "sub_id": "x"})
    assert response.status_code == status
    assert "Choose the campaign the numbers go to." in field_html(response.text, "campaign")
    assert numbers_error(response.text) == "Tick at least one number."
    response = admin_client.post("/numbers/twilio/import", headers=headers, data={
        "number": A, "campaign": "gone", "publisher": "nobody", "sub_id": "a\x00b"})
    assert response.status_code == status
    assert "No campaign with ref 'gone'." in field_html(response.text, "campaign")
    assert "No publisher with ref 'nobody'." in field_html(response.text, "publisher")
    assert "Sub ID must not contain control characters" in field_html(response.text, "sub_id")
    # the ticked number stays ticked, to submit again
    assert f'value="{A}" aria-label="Import {A}" checked' in response.text
    too_many = [f"+1415555{i:04d}" for i in range(101)]
    response = admin_client.post("/numbers/twilio/import", headers=headers,
                                 data={"number": too_many, "campaign": "auto"})
    assert "101 numbers ticked: at most 100 at a time" in numbers_error(response.text)
    assert [m for m, _ in fake.log] == ["GET"] * 3  # only the page's listings
    assert stored(app) == []


def test_import_without_credentials_says_what_to_do(auth, client, app, fake):
    app.config.update(TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN="")
    auth.login()
    response = client.get("/numbers/twilio/import")
    assert response.status_code == 200
    [problem] = problems(response.text)
    assert problem.startswith("Twilio is not connected: save the Account SID and Auth Token")
    assert 'href="/settings/#twilio">Connect the Twilio account on the settings page</a>' \
        in response.text
    assert 'id="import-form"' not in response.text and fake.log == []
    auth.logout()
    auth.login(MEMBER_EMAIL)
    member = client.get("/numbers/twilio/import")
    [problem] = problems(member.text)
    assert "Only admins open the settings page: ask one to connect the account." in problem
    assert 'href="/settings/' not in member.text
    posted = client.post("/numbers/twilio/import", data={"number": A, "campaign": "auto"})
    assert posted.status_code == 200
    assert "Nothing done: Twilio is not connected" in posted.text
    assert stored(app) == [] and fake.log == []


@pytest.mark.app_config(PUBLIC_URL="")
def test_import_without_public_url_lists_but_imports_nothing(admin_client, app, fake):
    fake.own(A)
    response = admin_client.get("/numbers/twilio/import")
    [problem] = problems(response.text)
    assert problem.startswith("Set PUBLIC_URL (the https address Twilio reaches sipflask at")
    assert "numbers can't be imported, bought or fixed" in problem
    assert f'value="{A}"' in response.text  # listed all the same, without the comparison
    assert "sipflask sets it" not in response.text
    response = admin_client.post("/numbers/twilio/import", data={"number": A,
                                                                 "campaign": "auto"})
    assert report(response.text) == {"done": [], "skipped": [], "failed": []}
    assert "Nothing done: Set PUBLIC_URL" in response.text
    assert [m for m, _ in fake.log] == ["GET", "GET"]  # the two listings, no configuration
    assert stored(app) == []


FAILURES = [
    pytest.param(dict(status=401, code=20003, message="Authenticate"),
                 "Twilio refused the account's credentials", id="401"),
    pytest.param(dict(status=429, code=20429, message="Too many requests"),
                 "Twilio is limiting requests", id="429"),
    pytest.param(dict(status=500, code=20500, message="Internal Server Error"),
                 "Twilio had a problem; try again in a moment", id="500"),
    pytest.param(dict(exc=requests.ConnectionError("connection refused")),
                 "Could not reach Twilio's API", id="connection"),
    pytest.param(dict(exc=requests.ReadTimeout("read timed out")),
                 "Twilio did not answer in time", id="timeout"),
]


@pytest.mark.parametrize("failure, words", FAILURES)
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_import_page_says_what_twilio_refused(admin_client, fake, failure, words, headers):
    fake.own(A)
    fake.fail("GET", "IncomingPhoneNumbers", **failure)
    response = admin_client.get("/numbers/twilio/import", headers=headers)
    assert response.status_code == 200
    [problem] = problems(response.text)
    assert words in problem and "Traceback" not in response.text
    assert ("/settings/#twilio" in response.text) == (failure.get("status") == 401)


# --- buy: the search --------------------------------------------------------------------------

def offers(body: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="number" value="([^"]+)" aria-label="Buy',
                      body)


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_buy_page_searches_the_numbers_for_sale(admin_client, fake, headers):
    fake.sell("US", "local", A, B, address_requirements="local")
    fake.sell("US", "toll-free", "+18005550100")
    empty = admin_client.get("/numbers/twilio/buy", headers=headers)
    assert empty.status_code == 200 and fake.log == []
    assert 'id="search-form"' in empty.text and 'value="US"' in empty.text  # DEFAULT_REGION
    response = admin_client.get("/numbers/twilio/buy", headers=headers, query_string={
        "country": "us", "type": "local", "area_code": "415", "contains": "555",
        "region": "CA", "locality": "San Francisco", "near_number": "", "limit": "10"})
    assert response.status_code == 200 and is_page(response) == (not headers)
    assert fake.log == [("GET", "AvailablePhoneNumbers/US/Local.json?AreaCode=415&Contains=555"
                                "&InLocality=San+Francisco&InRegion=CA&PageSize=10")]
    assert offers(response.text) == [A, B]
    assert "San Francisco, CA" in response.text and "voice, SMS, MMS" in response.text
    assert "needed (local)" in response.text
    assert 'id="buy-form"' in response.text and 'name="offer"' in response.text
    toll_free = admin_client.get("/numbers/twilio/buy?country=US&type=toll-free")
    assert offers(toll_free.text) == ["+18005550100"]
    none = admin_client.get("/numbers/twilio/buy?country=US&type=mobile")
    assert "No numbers for sale match that search" in none.text


@pytest.mark.parametrize("headers, status", [({}, 200), (HX, 422)], ids=["plain", "htmx"])
def test_search_field_errors_at_their_fields(admin_client, fake, headers, status):
    response = admin_client.get("/numbers/twilio/buy", headers=headers, query_string={
        "country": "U1", "type": "landline", "area_code": "41", "contains": "5!",
        "region": "4C", "locality": "1st", "near_number": "nope", "limit": "500"})
    assert response.status_code == status
    body = response.text
    assert "two-letter code" in field_html(body, "country")
    assert "local, toll-free or mobile" in field_html(body, "type")
    assert "three digits" in field_html(body, "area_code")
    assert "2 to 16 digits or letters" in field_html(body, "contains")
    assert "Region is a name in letters" in field_html(body, "region")
    assert "Locality is a name in letters" in field_html(body, "locality")
    assert "Near:" in field_html(body, "near_number")
    assert "between 1 and 100" in field_html(body, "limit")
    assert 'value="41"' in body  # as typed
    uk = admin_client.get("/numbers/twilio/buy", headers=headers,
                          query_string={"country": "GB", "area_code": "207"})
    assert "US and Canada only" in field_html(uk.text, "area_code")
    assert fake.log == []


def test_search_of_a_type_twilio_does_not_sell_there(admin_client, fake):
    fake.fail("GET", "AvailablePhoneNumbers", status=404, code=20404, message="Not found")
    response = admin_client.get("/numbers/twilio/buy?country=DE&type=mobile")
    assert "Not sold in that country." in field_html(response.text, "type")


@pytest.mark.parametrize("failure, words", FAILURES)
def test_search_says_what_twilio_refused(admin_client, fake, failure, words):
    fake.fail("GET", "AvailablePhoneNumbers", **failure)
    response = admin_client.get("/numbers/twilio/buy?country=US")
    assert response.status_code == 200
    [problem] = problems(response.text)
    assert words in problem
    assert "No numbers for sale match" not in response.text


# --- buy: the purchase ------------------------------------------------------------------------

def buy_form(body: str) -> dict:
    """The buy form's hidden fields as the browser would post them back."""
    form = body.split('id="buy-form"')[1].split("</form>")[0]
    data: dict = {}
    for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form):
        data.setdefault(name, []).append(html.unescape(value))
    return data


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_buy_reports_a_purchase_that_fails_halfway(admin_client, app, fake, headers):
    fake.sell("US", "local", A, B, C)
    found = admin_client.get("/numbers/twilio/buy?country=US&contains=555").text
    fake.for_sale[("US", "local")].pop(1)  # B is bought by someone else meanwhile
    fake.reset_log()
    data = buy_form(found) | {"number": [A, B, C], "campaign": "auto", "publisher": "acme",
                              "sub_id": "g-1"}
    response = admin_client.post("/numbers/twilio/buy", data=data, headers=headers)
    assert response.status_code == 200 and is_page(response) == (not headers)
    assert [m for m, _ in fake.log] == ["POST", "POST", "POST"]
    lines = report(response.text)
    assert lines["done"] == [f"{A}: bought into campaign auto and configured",
                             f"{C}: bought into campaign auto and configured"]
    [failed] = lines["failed"]
    assert failed.startswith(f"{B}: not bought: {B} is no longer available: it was bought by "
                             "someone else since the search")
    # sipflask matches the account: the two bought, configured, nothing for B
    assert sorted(r["phone_number"] for r in fake.numbers.values()) == [A, C]
    assert [(r[0], r[2], r[3], r[5]) for r in stored(app)] == [(A, "acme", "g-1", ""),
                                                               (C, "acme", "g-1", "")]
    # the results come back less the bought ones; B stays ticked
    assert offers(response.text) == [B]
    assert f'value="{B}" aria-label="Buy {B}" checked' in response.text
    assert 'value="US"' in response.text  # the search, as it was


def test_buy_stops_at_a_refusal_of_the_whole_account(admin_client, app, fake):
    fake.sell("US", "local", A, B)
    found = admin_client.get("/numbers/twilio/buy?country=US").text
    fake.fail("POST", "IncomingPhoneNumbers", status=401, code=20003, message="Authenticate")
    response = admin_client.post("/numbers/twilio/buy", data=buy_form(found) | {
        "number": [A, B], "campaign": "auto"})
    lines = report(response.text)
    assert lines["done"] == []
    assert lines["failed"][0].startswith(f"{A}: not bought: Twilio refused the account's "
                                         "credentials")
    assert lines["failed"][1].startswith(f"{B}: not tried: Twilio refused")
    assert stored(app) == [] and fake.numbers == {}


@pytest.mark.parametrize("failure, words", FAILURES[2:])
def test_buy_whose_answer_was_lost(admin_client, app, fake, failure, words):
    fake.sell("US", "local", A)
    found = admin_client.get("/numbers/twilio/buy?country=US").text
    fake.fail("POST", "IncomingPhoneNumbers", **failure)
    response = admin_client.post("/numbers/twilio/buy", data=buy_form(found) | {
        "number": A, "campaign": "auto"})
    assert response.status_code == 200
    [failed] = report(response.text)["failed"]
    assert words in failed and "Whether Twilio bought it is not known" in failed
    assert stored(app) == []


@pytest.mark.parametrize("headers, status", [({}, 200), (HX, 422)], ids=["plain", "htmx"])
def test_buy_field_errors_keep_the_results(admin_client, app, fake, headers, status):
    fake.sell("US", "local", A, B)
    found = admin_client.get("/numbers/twilio/buy?country=US").text
    fake.reset_log()
    response = admin_client.post("/numbers/twilio/buy", headers=headers,
                                 data=buy_form(found) | {"number": [B], "campaign": ""})
    assert response.status_code == status
    assert "Choose the campaign the numbers go to." in field_html(response.text, "campaign")
    assert offers(response.text) == [A, B]
    assert f'value="{B}" aria-label="Buy {B}" checked' in response.text
    response = admin_client.post("/numbers/twilio/buy", headers=headers,
                                 data=buy_form(found) | {"campaign": "auto"})
    assert numbers_error(response.text) == "Tick at least one number."
    response = admin_client.post("/numbers/twilio/buy", headers=headers,
                                 data=buy_form(found) | {"number": "+1415", "campaign": "auto"})
    assert "not a valid phone number" in numbers_error(response.text)
    assert fake.log == [] and stored(app) == []


def test_buy_form_shows_only_well_formed_results(admin_client, fake):
    response = admin_client.post("/numbers/twilio/buy", data={
        "campaign": "", "country": "US",
        "offer": ['["+14155550101", "", "", "", "US", "voice", "none"]', "not json",
                  '["<b>x</b>", "", "", "", "", "", ""]', '[1, 2]']})
    assert offers(response.text) == [A]
    assert "<b>x</b>" not in response.text


@pytest.mark.app_config(PUBLIC_URL="")
def test_buy_without_public_url_buys_nothing(admin_client, app, fake):
    fake.sell("US", "local", A)
    found = admin_client.get("/numbers/twilio/buy?country=US").text
    assert any(p.startswith("Set PUBLIC_URL") for p in problems(found))
    response = admin_client.post("/numbers/twilio/buy", data=buy_form(found) | {
        "number": A, "campaign": "auto"})
    assert "Nothing done: Set PUBLIC_URL" in response.text
    assert [m for m, _ in fake.log] == ["GET"] and fake.numbers == {}
