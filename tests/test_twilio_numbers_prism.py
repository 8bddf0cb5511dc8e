"""Every request the numbers code sends, against Twilio's own OpenAPI spec served by Prism
(``tests/support/prism.py``): list, look up, search (local, toll-free, mobile, every criterion),
buy, configure, release, and the database-side flows that send them. Prism refuses (422) and
logs any request the spec would refuse; each test checks both. Prism answers with the spec's
fixed examples (its one account number is +18089255327, PNaaa...), so these tests prove the
shapes; ``test_twilio_numbers*.py`` prove the logic and the exact sequences.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select
from twilio.http.http_client import TwilioHttpClient

from sipflask.extensions import db
from sipflask.models import Campaign, Number
from sipflask.records import twilio_check, twilio_numbers
from sipflask.twilio_rest import numbers

ACCOUNT = "AC" + "0" * 32
EXAMPLE_NUMBER, EXAMPLE_SID = "+18089255327", "PN" + "a" * 32


class RecordingClient(TwilioHttpClient):
    """The twilio package's own HTTP client, keeping (method, path, query, status)."""

    def __init__(self):
        super().__init__(timeout=30)
        self.seen: list[tuple[str, str, dict, int]] = []

    def request(self, method, url, params=None, *args, **kwargs):
        response = super().request(method, url, params, *args, **kwargs)
        parts = urlsplit(url)
        path = parts.path.replace(f"/2010-04-01/Accounts/{ACCOUNT}/", "")
        query = dict(parse_qsl(parts.query)) | {k: str(v) for k, v in (params or {}).items()}
        self.seen.append((method, re.sub(r"PN[0-9a-f]{32}", "{Sid}", path), query,
                          response.status_code))
        return response


@pytest.fixture
def recorder(app, prism):
    client = RecordingClient()
    app.config.update(TWILIO_API_BASE_URL=prism.url, TWILIO_HTTP_CLIENT=client)
    since = prism.log_size()
    with app.app_context():
        yield client
    assert client.seen, "no request reached Prism"
    assert all(status < 300 for *_, status in client.seen), client.seen
    assert prism.request_violations(since) == []


def calls(recorder):
    return [(m, p) for m, p, _, _ in recorder.seen]


def test_list_and_look_up(recorder):
    found = numbers.list_account_numbers()
    assert [(n.sid, n.phone_number) for n in found] == [(EXAMPLE_SID, EXAMPLE_NUMBER)]
    assert numbers.find_account_number(EXAMPLE_NUMBER).sid == EXAMPLE_SID
    assert calls(recorder) == [("GET", "IncomingPhoneNumbers.json")] * 2
    assert recorder.seen[1][2] == {"PageSize": "1000", "PhoneNumber": EXAMPLE_NUMBER}


@pytest.mark.parametrize("kind, path", [("local", "Local"), ("toll-free", "TollFree"),
                                        ("mobile", "Mobile")])
def test_search_each_type_with_every_criterion(recorder, kind, path):
    area = "800" if kind == "toll-free" else "415"
    found = numbers.search_available("US", kind, area_code=area, contains="55*",
                                     region="CA", locality="San Francisco",
                                     near_number="+14155552671", limit=10)
    assert found and found[0].phone_number.startswith("+")
    assert calls(recorder) == [("GET", f"AvailablePhoneNumbers/US/{path}.json")]
    assert recorder.seen[0][2] == {"AreaCode": area, "Contains": "55*", "InRegion": "CA",
                                   "InLocality": "San Francisco",
                                   "NearNumber": "+14155552671", "PageSize": "10"}


def test_buy_configure_release(recorder):
    bought = numbers.buy("+14155550123")
    assert bought.sid == EXAMPLE_SID
    numbers.configure(bought.sid, numbers.list_account_numbers()[0])
    assert numbers.release(bought.sid) is True
    assert calls(recorder) == [("POST", "IncomingPhoneNumbers.json"),
                               ("GET", "IncomingPhoneNumbers.json"),
                               ("POST", "IncomingPhoneNumbers/{Sid}.json"),
                               ("DELETE", "IncomingPhoneNumbers/{Sid}.json")]


@pytest.fixture
def campaign(recorder):
    db.session.add(Campaign(ref="auto", name="Auto"))
    db.session.commit()


def test_import_check_fix_and_release_flows(recorder, campaign):
    report = twilio_numbers.import_numbers([EXAMPLE_NUMBER], "auto")
    assert report.ok, report.lines()
    checked = twilio_check.check_numbers(fix=True)
    assert checked.problem == "" and [s.number for s in checked.checked] == [EXAMPLE_NUMBER]
    assert twilio_numbers.release_number(EXAMPLE_NUMBER).ok
    assert db.session.scalars(select(Number)).all() == []
    assert calls(recorder) == [("GET", "IncomingPhoneNumbers.json"),
                               ("POST", "IncomingPhoneNumbers/{Sid}.json"),
                               ("GET", "IncomingPhoneNumbers.json"),
                               ("POST", "IncomingPhoneNumbers/{Sid}.json"),
                               ("DELETE", "IncomingPhoneNumbers/{Sid}.json")]


def test_buy_flow_saves_what_twilio_sold(recorder, campaign):
    report = twilio_numbers.buy_numbers(["+14155550123"], "auto")
    assert report.ok, report.lines()
    # Prism answers every purchase with its example number: that is what was bought.
    assert [n.number for n in db.session.scalars(select(Number))] == [EXAMPLE_NUMBER]
    assert calls(recorder) == [("POST", "IncomingPhoneNumbers.json")]
