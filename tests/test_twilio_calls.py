"""``twilio_rest.calls.fetch_status``: through the real ``twilio`` client against Prism (Twilio's
own OpenAPI spec checks the request), and against a recording fake HTTP client for the exact
request and every error path (each a one-line ``TwilioError`` without secrets)."""
from __future__ import annotations

import json
import logging
from datetime import datetime

import pytest
import requests
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from sipflask.twilio_rest.calls import CallStatus, fetch_status
from sipflask.twilio_rest.client import TwilioError
from tests.support.app import TWILIO_ACCOUNT_SID as ACCOUNT
from tests.support.app import TWILIO_AUTH_TOKEN as TOKEN

SID = "CA" + "0123456789abcdef" * 2
CALL_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{SID}.json"


class Recorder(HttpClient):
    """Answers every request with ``response`` (or raises ``exc``), keeping what was asked."""

    def __init__(self, status=200, body=None, exc=None):
        super().__init__(logger=logging.getLogger("recorder"), is_async=False)
        self.status, self.body, self.exc = status, body, exc
        self.seen: list[dict] = []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        self.seen.append(dict(method=method, uri=uri, params=params, data=data, auth=auth))
        if self.exc is not None:
            raise self.exc
        return Response(self.status, json.dumps(self.body))


def _call(**fields):
    return {"sid": SID, "account_sid": ACCOUNT, "status": "completed", "duration": "42",
            "start_time": "Tue, 01 Dec 2026 20:00:00 +0000",
            "end_time": "Tue, 01 Dec 2026 20:00:42 +0000", **fields}


@pytest.fixture
def backend():
    return "sqlite"  # nothing here touches the database: one backend is enough


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def test_fetch_status_sends_one_get_for_the_call(ctx):
    fake = Recorder(body=_call())
    ctx.config["TWILIO_HTTP_CLIENT"] = fake
    got = fetch_status(SID)
    assert got == CallStatus("completed", 42, datetime.fromisoformat("2026-12-01T20:00:00+00:00"),
                             datetime.fromisoformat("2026-12-01T20:00:42+00:00"))
    assert got.final
    [req] = fake.seen
    assert req["method"] == "GET" and req["uri"] == "https://api.twilio.com" + CALL_PATH
    assert req["auth"] == (ACCOUNT, TOKEN) and not req["data"]


def test_an_ongoing_call_has_no_duration(ctx):
    got = fetch_status(SID, client=_client(ctx, Recorder(body=_call(status="in-progress",
                                                                      duration=None))))
    assert (got.status, got.duration, got.final) == ("in-progress", None, False)


def _client(app, http):
    from sipflask.twilio_rest.client import make_client
    app.config["TWILIO_HTTP_CLIENT"] = http
    return make_client()


@pytest.mark.parametrize("status, code, words", [
    (404, 20404, "HTTP 404, Twilio error 20404"),
    (401, 20003, "Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
    (429, 20429, "HTTP 429, Twilio error 20429"),
    (500, None, "Twilio had a problem"),
])
def test_errors_are_one_line_without_secrets(ctx, status, code, words):
    body = {"code": code, "message": f"Failed for {ACCOUNT} with {TOKEN}", "status": status}
    ctx.config["TWILIO_HTTP_CLIENT"] = Recorder(status, body)
    with pytest.raises(TwilioError) as raised:
        fetch_status(SID)
    message = str(raised.value)
    assert words in message and f"call {SID}" in message
    assert "\n" not in message and ACCOUNT not in message and TOKEN not in message


def test_a_connection_error_is_a_twilio_error(ctx):
    ctx.config["TWILIO_HTTP_CLIENT"] = Recorder(exc=requests.ConnectionError("refused"))
    with pytest.raises(TwilioError, match="Could not reach Twilio's API while fetching"):
        fetch_status(SID)


def test_a_malformed_sid_is_refused_before_any_request(ctx):
    fake = Recorder(body=_call())
    ctx.config["TWILIO_HTTP_CLIENT"] = fake
    for bad in ("CA123", "../Calls", SID + "/Recordings", None):
        with pytest.raises(TwilioError, match="Not a Twilio Call SID"):
            fetch_status(bad)
    assert fake.seen == []


def test_missing_credentials_are_a_twilio_error(ctx):
    ctx.config["TWILIO_AUTH_TOKEN"] = ""
    with pytest.raises(TwilioError, match="Twilio is not connected: .* SIPFLASK_TWILIO_AUTH_TOKEN"):
        fetch_status(SID)


def test_fetch_status_against_twilios_spec(ctx, prism):
    since = prism.log_size()
    ctx.config.update(TWILIO_API_BASE_URL=prism.url,
                      TWILIO_HTTP_CLIENT=TwilioHttpClient(timeout=30))
    got = fetch_status(SID)
    # Prism answers with the spec's example call
    assert got.status == "completed" and got.duration == 4 and got.final
    assert got.end_time is not None
    assert prism.request_violations(since) == []
