"""The Twilio numbers pages against Twilio's own OpenAPI spec served by Prism: what the import
listing, the import, the search, the purchase, Check now, Fix and Release send is what
Twilio's API accepts (Prism refuses with 422 and logs any request the spec would refuse).
Prism answers with the spec's examples (one account number, +18089255327), so these tests
prove the shapes; ``test_twilio_numbers_*pages.py`` prove the pages' logic.
"""
from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from twilio.http.http_client import TwilioHttpClient

from sipflask.extensions import db
from sipflask.models import Number
from tests.support.app import TWILIO_ACCOUNT_SID
from tests.support.twilio_pages import add_targets, report, state, stored

EXAMPLE_NUMBER = "+18089255327"


class RecordingClient(TwilioHttpClient):
    """The twilio package's own HTTP client, keeping (method, path, status)."""

    def __init__(self):
        super().__init__(timeout=30)
        self.seen: list[tuple[str, str, int]] = []

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, url, *args, **kwargs)
        path = urlsplit(url).path.replace(f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/", "")
        self.seen.append((method, re.sub(r"PN[0-9a-f]{32}", "{Sid}", path),
                          response.status_code))
        return response


@pytest.fixture
def recorder(app, prism):
    client = RecordingClient()
    app.config.update(TWILIO_API_BASE_URL=prism.url, TWILIO_HTTP_CLIENT=client)
    add_targets(app)
    since = prism.log_size()
    yield client
    assert client.seen, "no request reached Prism"
    assert all(status < 300 for *_, status in client.seen), client.seen
    assert prism.request_violations(since) == []


def calls(recorder):
    return [(m, p) for m, p, _ in recorder.seen]


def test_import_listing_and_import(admin_client, app, recorder):
    listing = admin_client.get("/numbers/twilio/import")
    assert listing.status_code == 200
    assert f'name="number" value="{EXAMPLE_NUMBER}"' in listing.text
    assert "1 numbers in the Twilio account, 0 of them in sipflask." in listing.text
    response = admin_client.post("/numbers/twilio/import", data={
        "number": EXAMPLE_NUMBER, "campaign": "auto", "publisher": "acme", "sub_id": "p-1"})
    assert report(response.text)["done"] == [
        f"{EXAMPLE_NUMBER}: imported into campaign auto and configured"]
    assert [r[:4] for r in stored(app)] == [(EXAMPLE_NUMBER, "auto", "acme", "p-1")]
    assert calls(recorder) == [("GET", "IncomingPhoneNumbers.json"),
                               ("GET", "IncomingPhoneNumbers.json"),
                               ("POST", "IncomingPhoneNumbers/{Sid}.json"),
                               ("GET", "IncomingPhoneNumbers.json")]


@pytest.mark.parametrize("kind, path", [("local", "Local"), ("toll-free", "TollFree"),
                                        ("mobile", "Mobile")])
def test_search_each_type(admin_client, recorder, kind, path):
    area = "800" if kind == "toll-free" else "415"
    found = admin_client.get("/numbers/twilio/buy", query_string={
        "country": "US", "type": kind, "area_code": area, "contains": "55*", "region": "CA",
        "locality": "San Francisco", "near_number": "+14155552671", "limit": "5"})
    assert found.status_code == 200
    assert re.findall(r'name="number" value="(\+[0-9]+)" aria-label="Buy', found.text)
    assert calls(recorder) == [("GET", f"AvailablePhoneNumbers/US/{path}.json")]


def test_buy(admin_client, app, recorder):
    found = admin_client.get("/numbers/twilio/buy?country=US&type=local&contains=555").text
    [offered] = re.findall(r'name="number" value="([^"]+)" aria-label="Buy', found)
    offer = re.search(r'<input type="hidden" name="offer" value="([^"]+)"', found).group(1)
    response = admin_client.post("/numbers/twilio/buy", data={
        "number": offered, "campaign": "auto", "publisher": "acme", "country": "US",
        "offer": html.unescape(offer)})
    # Prism answers every purchase with its example number: that is what was bought.
    assert report(response.text)["done"] == [
        f"{EXAMPLE_NUMBER}: bought into campaign auto and configured"]
    assert [r[:3] for r in stored(app)] == [(EXAMPLE_NUMBER, "auto", "acme")]
    assert calls(recorder) == [("GET", "AvailablePhoneNumbers/US/Local.json"),
                               ("POST", "IncomingPhoneNumbers.json")]


def test_check_fix_and_release(admin_client, app, recorder):
    admin_client.post("/numbers/twilio/import", data={"number": EXAMPLE_NUMBER,
                                                      "campaign": "auto"})
    recorder.seen.clear()
    checked = admin_client.post("/numbers/twilio/check", follow_redirects=True)
    assert "1 checked" in checked.text
    with app.app_context():
        ident = db.session.scalar(select(Number.id))
    # Prism's example keeps its own webhooks whatever is set: the number stays drifted.
    assert state(checked.text, ident) == "drifted"
    fixed = admin_client.post(f"/numbers/{ident}/twilio/fix", follow_redirects=True)
    assert fixed.status_code == 200 and "still differs after the fix" in fixed.text
    released = admin_client.post(f"/numbers/{ident}/twilio/release", data={"confirm": "y"},
                                 follow_redirects=True)
    assert "released from the Twilio account and deleted from sipflask" in released.text
    assert stored(app) == []
    assert calls(recorder) == [("GET", "IncomingPhoneNumbers.json"),
                               ("GET", "IncomingPhoneNumbers.json"),
                               ("POST", "IncomingPhoneNumbers/{Sid}.json"),
                               ("DELETE", "IncomingPhoneNumbers/{Sid}.json")]
