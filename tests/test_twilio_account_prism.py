"""The settings page's Check and ``make_client()`` against Twilio's own OpenAPI spec, served by
Prism (``tests/support/prism.py``): the account fetch has the shape Twilio's API takes, with the
auth token or the API key pair. Prism answers with the spec's example account (named
"friendly_name", active), whatever the SID asked for; the recording fake
(``test_twilio_account_check.py``) proves the error paths."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from twilio.http.http_client import TwilioHttpClient

from sipflask.twilio_rest.client import make_client
from tests.support.twilio_account import (KEY_SID, NO_ENV, SECRET, SID, TOKEN, check_text,
                                          save_account)

no_env = pytest.mark.app_config(**NO_ENV)


class RecordingClient(TwilioHttpClient):
    """The twilio package's own HTTP client, keeping (method, path, auth, status) of each."""

    def __init__(self):
        super().__init__(timeout=30)
        self.seen: list[tuple[str, str, tuple | None, int]] = []

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, url, *args, **kwargs)
        self.seen.append((method, urlsplit(url).path, kwargs.get("auth"), response.status_code))
        return response


@pytest.fixture
def recorder(app, prism):
    client = RecordingClient()
    app.config.update(TWILIO_API_BASE_URL=prism.url, TWILIO_HTTP_CLIENT=client)
    return client


def violations(prism, since):
    time.sleep(0.3)  # Prism writes its log asynchronously
    return prism.request_violations(since)


@no_env
def test_check_fetches_the_account_as_twilios_spec_says(admin_client, recorder, prism):
    save_account(admin_client, account_sid=SID, auth_token=TOKEN)
    since = prism.log_size()
    for headers in ({}, {"HX-Request": "true"}):
        response = admin_client.post("/settings/twilio/check", headers=headers)
        assert response.status_code == 200
        assert check_text(response.text) == \
            "Connected to “friendly_name” (active). Twilio accepted the credentials."
        assert TOKEN not in response.text
    path = f"/2010-04-01/Accounts/{SID}.json"
    assert recorder.seen == [("GET", path, (SID, TOKEN), 200)] * 2
    assert violations(prism, since) == []


@no_env
def test_make_client_with_the_api_key_pair_against_twilios_spec(admin_client, app, recorder,
                                                               prism):
    save_account(admin_client, account_sid=SID, auth_token=TOKEN, api_key_sid=KEY_SID,
                 api_secret=SECRET)
    since = prism.log_size()
    with app.test_request_context():
        client = make_client()
        found = client.api.v2010.accounts(SID).fetch()
        numbers = client.api.v2010.account.incoming_phone_numbers.list(limit=1)
    assert found.status == "active" and found.friendly_name == "friendly_name"
    assert isinstance(numbers, list)
    assert [(m, auth, status) for m, _, auth, status in recorder.seen] == \
        [("GET", (KEY_SID, SECRET), 200)] * 2
    assert recorder.seen[1][1] == f"/2010-04-01/Accounts/{SID}/IncomingPhoneNumbers.json"
    assert violations(prism, since) == []


def test_prism_refuses_an_account_sid_of_the_wrong_shape(prism):
    """Guard: the spec checks the SID's shape, so the tests above prove ours is right."""
    import requests
    since = prism.log_size()
    bad = requests.get(f"{prism.url}/2010-04-01/Accounts/AC123.json", auth=(SID, TOKEN),
                       timeout=30)
    assert bad.status_code == 422, bad.text
    assert violations(prism, since)
