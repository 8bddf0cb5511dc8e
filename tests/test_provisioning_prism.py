"""Inbound SIP sync against Twilio's own OpenAPI spec, served by Prism (``tests/support/prism.py``).

Prism validates every request: one that Twilio's spec would refuse (wrong path, missing
required field, a SID of the wrong shape) comes back as 422, which fails the sync, and is logged
by Prism, which these tests check too. Prism answers with the spec's fixed examples, so its "state" never changes: these tests
prove the requests' shapes (every path the sync takes), ``test_provisioning.py`` proves the
logic and the exact sequences.
"""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select
from twilio.http.http_client import TwilioHttpClient

from sipflask.extensions import db
from sipflask.models import InboundCredential, InboundIp, InboundSettings
from sipflask.twilio_rest import sip_sync as provisioning

ACCOUNT = "AC" + "0" * 32


class RecordingClient(TwilioHttpClient):
    """The twilio package's own HTTP client, keeping (method, path, status) of each request."""

    def __init__(self):
        super().__init__(timeout=30)
        self.seen: list[tuple[str, str, int]] = []

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, url, *args, **kwargs)
        path = urlsplit(url).path.replace(f"/2010-04-01/Accounts/{ACCOUNT}/", "")
        self.seen.append((method, path, response.status_code))
        return response


@pytest.fixture
def recorder(app, prism):
    client = RecordingClient()
    app.config.update(TWILIO_API_BASE_URL=prism.url, TWILIO_HTTP_CLIENT=client)
    yield client
    assert client.seen, "no request reached Prism"


def assert_valid(recorder, prism, since):
    """Every request got a 2xx, and Prism found nothing to say about any of them."""
    assert all(status < 300 for _, _, status in recorder.seen), recorder.seen
    assert prism.request_violations(since) == []


def setup_inbound(app, enabled=True):
    with app.app_context():
        db.session.add(InboundSettings(enabled=enabled, name="acme"))
        for username, password in (("alice", "Alice-Secret-2026"), ("bob", "Bob-Secret-2026x")):
            cred = InboundCredential(username=username)
            cred.password = password
            db.session.add(cred)
        for cidr in ("203.0.113.0/24", "198.51.100.7"):
            db.session.add(InboundIp(cidr=cidr))
        db.session.commit()


def run_sync(app):
    with app.test_request_context(base_url="https://sipflask.test"):
        return provisioning.sync()


def endpoints(seen):
    """(method, path with SIDs as {Sid}) for each request."""
    import re
    return {(m, re.sub(r"\b(SD|CL|CR|AL|IP)[0-9a-fA-F]{32}\b", r"{\1}", p)) for m, p, _ in seen}


def test_prism_refuses_a_request_that_breaks_the_spec(prism):
    """Guard: if this passed silently, the other tests would prove nothing."""
    url = f"{prism.url}/2010-04-01/Accounts/{ACCOUNT}/SIP/Domains.json"
    bad = requests.post(url, data={"FriendlyName": "no DomainName"}, auth=(ACCOUNT, "x"),
                        timeout=30)
    assert bad.status_code == 422, bad.text
    assert "DomainName" in bad.text
    start = prism.log_size()
    wrong_sid = requests.post(f"{prism.url}/2010-04-01/Accounts/{ACCOUNT}/SIP/Domains/"
                              f"SD{'0' * 32}/Auth/Calls/CredentialListMappings.json",
                              data={"CredentialListSid": "AL" + "0" * 32}, auth=(ACCOUNT, "x"),
                              timeout=30)
    assert wrong_sid.status_code == 422, wrong_sid.text
    time.sleep(0.3)  # Prism writes its log asynchronously
    assert any("CredentialListSid" in v for v in prism.request_violations(start))


def test_first_sync_matches_twilios_spec(app, recorder, prism):
    since = prism.log_size()
    setup_inbound(app)
    result = run_sync(app)
    assert_valid(recorder, prism, since)
    assert endpoints(recorder.seen) == {
        ("GET", "SIP/Domains.json"),
        ("POST", "SIP/Domains.json"),
        ("GET", "SIP/CredentialLists.json"),
        ("POST", "SIP/CredentialLists.json"),
        ("POST", "SIP/CredentialLists/{CL}/Credentials.json"),
        ("GET", "SIP/IpAccessControlLists.json"),
        ("POST", "SIP/IpAccessControlLists.json"),
        ("POST", "SIP/IpAccessControlLists/{AL}/IpAddresses.json"),
        ("POST", "SIP/Domains/{SD}/Auth/Calls/CredentialListMappings.json"),
        ("POST", "SIP/Domains/{SD}/Auth/Calls/IpAccessControlListMappings.json"),
    }
    assert result.count("created") >= 8
    with app.app_context():
        s = db.session.scalar(select(InboundSettings))
        # The SIDs come from the spec's examples: they have Twilio's shapes.
        assert s.domain_sid.startswith("SD") and len(s.domain_sid) == 34
        assert s.credential_list_sid.startswith("CL") and s.ip_acl_sid.startswith("AL")
        assert all(c.twilio_sid.startswith("CR") for c in db.session.scalars(
            select(InboundCredential)))
        assert all(i.twilio_sid.startswith("IP") for i in db.session.scalars(select(InboundIp)))


def test_resync_update_and_delete_requests_match_twilios_spec(app, recorder, prism):
    """Prism's lists hold its examples, which differ from what sipflask wants: the second sync
    updates, deletes and re-creates, and each of those requests must pass the spec too."""
    setup_inbound(app)
    run_sync(app)
    recorder.seen.clear()
    since = prism.log_size()
    result = run_sync(app)
    assert_valid(recorder, prism, since)
    seen = endpoints(recorder.seen)
    assert ("POST", "SIP/Domains/{SD}.json") in seen  # the example domain gets our settings
    assert ("GET", "SIP/CredentialLists/{CL}/Credentials.json") in seen
    assert ("GET", "SIP/IpAccessControlLists/{AL}/IpAddresses.json") in seen
    assert ("GET", "SIP/Domains/{SD}/Auth/Calls/IpAccessControlListMappings.json") in seen
    assert ("POST", "SIP/IpAccessControlLists/{AL}/IpAddresses/{IP}.json") in seen
    assert any(m == "DELETE" for m, _ in seen)
    assert result.changed


def test_password_update_matches_twilios_spec(app, recorder, prism):
    setup_inbound(app)
    with app.app_context():
        # The username of the credential in the spec's example list: the sync adopts it and
        # sets its password, as it does after a password was replaced on the settings page.
        cred = InboundCredential(username="1440013725.28")
        cred.password = "Example-Secret-2026"
        db.session.add(cred)
        db.session.commit()
    run_sync(app)
    with app.app_context():
        for cred in db.session.scalars(select(InboundCredential)):
            cred.twilio_sid = None  # what the settings page does when a password is replaced
        db.session.commit()
    recorder.seen.clear()
    since = prism.log_size()
    run_sync(app)
    assert_valid(recorder, prism, since)
    assert ("POST", "SIP/CredentialLists/{CL}/Credentials/{CR}.json") in endpoints(recorder.seen)


def test_disabling_matches_twilios_spec(app, recorder, prism):
    setup_inbound(app)
    run_sync(app)
    with app.app_context():
        db.session.scalar(select(InboundSettings)).enabled = False
        db.session.commit()
    recorder.seen.clear()
    since = prism.log_size()
    result = run_sync(app)
    assert_valid(recorder, prism, since)
    assert endpoints(recorder.seen) == {
        ("DELETE", "SIP/Domains/{SD}.json"),
        ("DELETE", "SIP/CredentialLists/{CL}.json"),
        ("DELETE", "SIP/IpAccessControlLists/{AL}.json"),
    }
    assert result.count("deleted") == 4


@pytest.mark.app_config(TWILIO_ACCOUNT_SID="AC123")
def test_a_request_twilio_refuses_is_reported_and_nothing_is_stored(app, recorder):
    setup_inbound(app)
    with pytest.raises(provisioning.SyncError) as info:
        run_sync(app)
    assert str(info.value).startswith(
        "Twilio refused listing the SIP domains (HTTP 422): Unable to fetch page: Invalid request")
    assert "AC123" not in str(info.value)
    assert "Traceback" not in str(info.value)
    with app.app_context():
        assert db.session.scalar(select(InboundSettings)).domain_sid is None
