"""Inbound SIP sync with Twilio, through the real ``twilio`` client and a recording fake of
Twilio's REST API (an in-memory Twilio: what one request creates, the next one lists).

The exact request sequences are asserted: a first sync, a sync with nothing to do, a sync after
removing a credential and adding an IP, and failures (4xx, 5xx, connection errors) that leave
sipflask's settings exactly as they were. ``test_provisioning_prism.py`` runs the same syncs
against Twilio's own OpenAPI spec.
"""
from __future__ import annotations

import flask
import pytest
import requests
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import InboundCredential, InboundIp, InboundSettings
from sipflask.twilio_rest import sip_sync as provisioning
from tests.support.fake_twilio import ACCOUNT, TOKEN, FakeTwilio, short

VOICE = "https://sipflask.test/twilio/voice"
STATUS = "https://sipflask.test/twilio/status"
PASSWORD_A = "Alice-Secret-2026"
PASSWORD_B = "Bob-Secret-2026x"

# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture
def fake(app):
    twilio = FakeTwilio()
    app.config["TWILIO_HTTP_CLIENT"] = twilio
    return twilio


def setup_inbound(app, *, enabled=True, name="acme", creds=(("alice", PASSWORD_A),),
                  ips=("203.0.113.0/24",)):
    with app.app_context():
        db.session.add(InboundSettings(enabled=enabled, name=name))
        for username, password in creds:
            cred = InboundCredential(username=username)
            cred.password = password
            db.session.add(cred)
        for cidr in ips:
            db.session.add(InboundIp(cidr=cidr))
        db.session.commit()


def run_sync(app):
    with app.test_request_context(base_url="https://sipflask.test"):
        return provisioning.sync()


def stored(app):
    """Everything sipflask keeps about inbound SIP, to compare before/after a failed sync."""
    with app.app_context():
        s = db.session.scalar(select(InboundSettings))
        return (
            (s.enabled, s.name, s.domain_sid, s.ip_domain_sid, s.credential_list_sid,
             s.ip_acl_sid, s.synced_at),
            sorted((c.username, c.password_encrypted, c.twilio_sid)
                   for c in db.session.scalars(select(InboundCredential))),
            sorted((i.cidr, i.twilio_sid) for i in db.session.scalars(select(InboundIp))),
        )


FIRST_SYNC = [
    ("GET", "SIP/Domains.json"),
    ("POST", "SIP/Domains.json"),
    ("POST", "SIP/Domains.json"),
    ("GET", "SIP/CredentialLists.json"),
    ("POST", "SIP/CredentialLists.json"),
    ("POST", "SIP/CredentialLists/CL1/Credentials.json"),
    ("GET", "SIP/IpAccessControlLists.json"),
    ("POST", "SIP/IpAccessControlLists.json"),
    ("POST", "SIP/IpAccessControlLists/AL1/IpAddresses.json"),
    ("POST", "SIP/Domains/SD1/Auth/Calls/CredentialListMappings.json"),
    ("POST", "SIP/Domains/SD2/Auth/Calls/IpAccessControlListMappings.json"),
]

NOTHING_TO_DO = [
    ("GET", "SIP/Domains.json"),
    ("GET", "SIP/CredentialLists.json"),
    ("GET", "SIP/CredentialLists/CL1/Credentials.json"),
    ("GET", "SIP/IpAccessControlLists.json"),
    ("GET", "SIP/IpAccessControlLists/AL1/IpAddresses.json"),
    ("GET", "SIP/Domains/SD1/Auth/Calls/CredentialListMappings.json"),
    ("GET", "SIP/Domains/SD1/Auth/Calls/IpAccessControlListMappings.json"),
    ("GET", "SIP/Domains/SD2/Auth/Calls/IpAccessControlListMappings.json"),
    ("GET", "SIP/Domains/SD2/Auth/Calls/CredentialListMappings.json"),
]


# --- the sequences --------------------------------------------------------------------------------

def test_first_sync_creates_domains_lists_entries_and_mappings(app, fake):
    setup_inbound(app, creds=(("alice", PASSWORD_A), ("bob", PASSWORD_B)),
                  ips=("203.0.113.0/24", "198.51.100.7"))
    result = run_sync(app)
    expected = list(FIRST_SYNC)
    expected.insert(6, ("POST", "SIP/CredentialLists/CL1/Credentials.json"))
    expected.insert(10, ("POST", "SIP/IpAccessControlLists/AL1/IpAddresses.json"))
    assert fake.log == expected
    # What was sent: the voice webhook (and fallback) on both domains, POST everywhere.
    cred_domain, ip_domain = fake.data[1], fake.data[2]
    assert cred_domain["DomainName"] == "acme.sip.twilio.com"
    assert ip_domain["DomainName"] == "acme-ip.sip.twilio.com"
    for d in (cred_domain, ip_domain):
        assert d["VoiceUrl"] == VOICE and d["VoiceMethod"] == "POST"
        assert d["VoiceFallbackUrl"] == VOICE and d["VoiceFallbackMethod"] == "POST"
        assert d["VoiceStatusCallbackUrl"] == STATUS
    assert {(d["Username"], d["Password"]) for d in fake.data if "Username" in d} == {
        ("alice", PASSWORD_A), ("bob", PASSWORD_B)}
    ips = [(d["IpAddress"], d["CidrPrefixLength"]) for d in fake.data if "IpAddress" in d]
    assert ips == [("198.51.100.7", 32), ("203.0.113.0", 24)]
    assert fake.data[-2] == {"CredentialListSid": "CL" + "0" * 31 + "1"}
    assert fake.data[-1] == {"IpAccessControlListSid": "AL" + "0" * 31 + "1"}
    # What was stored: every SID.
    with app.app_context():
        s = db.session.scalar(select(InboundSettings))
        assert short(s.domain_sid) == "SD1" and short(s.ip_domain_sid) == "SD2"
        assert short(s.credential_list_sid) == "CL1" and short(s.ip_acl_sid) == "AL1"
        assert s.synced_at is not None
        assert all(c.twilio_sid for c in db.session.scalars(select(InboundCredential)))
        assert all(i.twilio_sid for i in db.session.scalars(select(InboundIp)))
    assert result.count("created") == 10 and not result.count("deleted")
    assert "Created SIP domain acme.sip.twilio.com (credentials)" in result.lines()
    assert "Created credential 'alice'" in result.lines()
    assert "Created whitelisted IP 203.0.113.0/24" in result.lines()


def test_second_sync_only_reads_and_says_nothing_changed(app, fake):
    setup_inbound(app)
    run_sync(app)
    before = stored(app)
    fake.reset_log()
    result = run_sync(app)
    assert fake.log == NOTHING_TO_DO
    assert not result.changed
    assert result.summary() == "Twilio already matches the inbound SIP settings: nothing changed."
    after = stored(app)
    assert after[1:] == before[1:] and after[0][:6] == before[0][:6]


def test_sync_after_removing_a_credential_and_adding_an_ip(app, fake):
    setup_inbound(app, creds=(("alice", PASSWORD_A), ("bob", PASSWORD_B)))
    run_sync(app)
    with app.app_context():
        bob = db.session.scalar(select(InboundCredential).where(InboundCredential.username == "bob"))
        bob_sid = short(bob.twilio_sid)
        db.session.delete(bob)
        db.session.add(InboundIp(cidr="198.51.100.7"))
        db.session.commit()
    fake.reset_log()
    result = run_sync(app)
    assert fake.log == [
        ("GET", "SIP/Domains.json"),
        ("GET", "SIP/CredentialLists.json"),
        ("GET", "SIP/CredentialLists/CL1/Credentials.json"),
        ("DELETE", f"SIP/CredentialLists/CL1/Credentials/{bob_sid}.json"),
        ("GET", "SIP/IpAccessControlLists.json"),
        ("GET", "SIP/IpAccessControlLists/AL1/IpAddresses.json"),
        ("POST", "SIP/IpAccessControlLists/AL1/IpAddresses.json"),
        *NOTHING_TO_DO[5:],
    ]
    assert fake.data[6] == {"FriendlyName": "sipflask 198.51.100.7", "IpAddress": "198.51.100.7",
                            "CidrPrefixLength": 32}
    assert result.lines() == ["Deleted credential 'bob'", "Created whitelisted IP 198.51.100.7"]
    assert [r["username"] for r in fake.records("/Credentials")] == ["alice"]
    fake.reset_log()
    assert not run_sync(app).changed and fake.log == NOTHING_TO_DO


def test_a_changed_password_is_set_at_twilio(app, fake, admin_client):
    setup_inbound(app)
    run_sync(app)
    with app.app_context():
        alice = db.session.scalar(select(InboundCredential))
        alice_id, alice_sid = alice.id, alice.twilio_sid
    # The settings page clears the SID of a credential whose password is replaced.
    response = admin_client.post("/inbound/", data={
        "enabled": "y", "name": "acme", "cred-0-id": str(alice_id),
        "cred-0-password": "Brand-New-Pass-99", "ip-0": "203.0.113.0/24", "action": "save"})
    assert response.status_code == 302
    fake.reset_log()
    result = run_sync(app)
    assert ("POST", f"SIP/CredentialLists/CL1/Credentials/{short(alice_sid)}.json") in fake.log
    assert {"Password": "Brand-New-Pass-99"} in fake.data
    assert fake.passwords[alice_sid] == "Brand-New-Pass-99"
    assert result.lines() == ["Updated credential 'alice' (password)"]
    with app.app_context():
        assert db.session.scalar(select(InboundCredential)).twilio_sid == alice_sid
    fake.reset_log()
    assert not run_sync(app).changed


def test_renaming_updates_both_domains_and_the_list_names(app, fake):
    setup_inbound(app)
    run_sync(app)
    with app.app_context():
        db.session.scalar(select(InboundSettings)).name = "acme2"
        db.session.commit()
    fake.reset_log()
    result = run_sync(app)
    assert ("POST", "SIP/Domains/SD1.json") in fake.log
    assert ("POST", "SIP/Domains/SD2.json") in fake.log
    assert {r["domain_name"] for r in fake.records("SIP/Domains")} == {
        "acme2.sip.twilio.com", "acme2-ip.sip.twilio.com"}
    assert "Updated SIP domain acme2.sip.twilio.com (domain_name, friendly_name)" in result.lines()
    assert not result.count("created") and not result.count("deleted")


def test_changes_made_in_the_twilio_console_are_put_back(app, fake):
    setup_inbound(app)
    run_sync(app)
    with app.app_context():
        s = db.session.scalar(select(InboundSettings))
        sd1, al1, cl1 = s.domain_sid, s.ip_acl_sid, s.credential_list_sid
    base = "SIP/Domains"
    fake.store[base][sd1]["voice_url"] = "https://old.example/voice"
    # Someone mapped the IP list onto the credentials domain, and added a credential and an IP.
    fake.store[f"{base}/{sd1}/Auth/Calls/IpAccessControlListMappings"] = {al1: {"sid": al1}}
    fake.store[f"SIP/CredentialLists/{cl1}/Credentials"]["CR" + "f" * 32] = {
        "sid": "CR" + "f" * 32, "username": "mallory"}
    fake.reset_log()
    result = run_sync(app)
    assert fake.store[base][sd1]["voice_url"] == VOICE
    assert fake.store[f"{base}/{sd1}/Auth/Calls/IpAccessControlListMappings"] == {}
    assert [r["username"] for r in fake.records("/Credentials")] == ["alice"]
    assert sorted(result.lines()) == sorted([
        "Updated SIP domain acme.sip.twilio.com (voice_url)",
        "Deleted credential 'mallory'",
        f"Deleted IP access control list mapping {al1} of acme.sip.twilio.com",
    ])


def test_sync_adopts_what_an_interrupted_sync_created(app, fake):
    """A 5xx half-way: nothing is stored locally, and the next sync finds the domains by name
    instead of creating them twice."""
    setup_inbound(app)
    before = stored(app)
    fake.fail("POST", r"^SIP/CredentialLists\.json$", status=503, code=20503,
              message="Service unavailable")
    with pytest.raises(provisioning.SyncError) as info:
        run_sync(app)
    assert "HTTP 503" in str(info.value) and "creating the credential list" in str(info.value)
    assert stored(app) == before  # rolled back: no SIDs kept
    assert len(fake.records("SIP/Domains")) == 2  # ...though Twilio has the domains already
    fake.reset_log()
    result = run_sync(app)
    assert ("POST", "SIP/Domains.json") not in fake.log
    assert len(fake.records("SIP/Domains")) == 2
    assert not any("SIP domain" in line for line in result.lines())
    with app.app_context():
        assert short(db.session.scalar(select(InboundSettings)).domain_sid) == "SD1"
    fake.reset_log()
    run_sync(app)
    assert fake.log == NOTHING_TO_DO


# --- failures ------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,code,message,expect", [
    (400, 21232, "Domain name already in use", "HTTP 400, Twilio error 21232"),
    (401, 20003, "Authenticate", "Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
    (500, 20500, "Internal Server Error", "try again in a moment"),
])
def test_twilio_error_leaves_local_settings_unchanged(app, fake, status, code, message, expect):
    setup_inbound(app)
    run_sync(app)
    with app.app_context():
        db.session.add(InboundIp(cidr="198.51.100.7"))
        db.session.scalar(select(InboundSettings)).name = "acme2"
        db.session.commit()
    before = stored(app)
    fake.fail("POST", r"^SIP/Domains/SD2\.json$", status=status, code=code,
              message=f"{message} for {ACCOUNT}")
    with pytest.raises(provisioning.SyncError) as info:
        run_sync(app)
    text = str(info.value)
    assert "updating the SIP domain acme2-ip.sip.twilio.com" in text and expect in text
    assert message in text
    assert ACCOUNT not in text and TOKEN not in text and "Traceback" not in text
    assert "\n" not in text and "\x1b" not in text
    assert stored(app) == before


def test_a_refused_list_request_is_reported_too(app, fake):
    """The client raises a bare TwilioException("Unable to fetch page", response) for lists."""
    setup_inbound(app)
    run_sync(app)
    before = stored(app)
    fake.fail("GET", r"^SIP/IpAccessControlLists\.json$", status=401, code=20003,
              message="Authenticate")
    with pytest.raises(provisioning.SyncError) as info:
        run_sync(app)
    assert str(info.value) == (
        "Twilio refused listing the IP access control lists (HTTP 401, Twilio error 20003): "
        "Unable to fetch page: Authenticate. Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")
    assert stored(app) == before


def test_connection_error_is_reported_plainly(app, fake):
    setup_inbound(app)
    fake.fail("GET", r"^SIP/Domains\.json$",
              exc=requests.ConnectionError(f"HTTPSConnectionPool(host='api.twilio.com'): "
                                           f"/2010-04-01/Accounts/{ACCOUNT}/SIP/Domains.json"))
    before = stored(app)
    with pytest.raises(provisioning.SyncError) as info:
        run_sync(app)
    assert str(info.value) == ("Could not reach Twilio's API while listing the SIP domains "
                               "(ConnectionError). Check the network connection of this server.")
    assert stored(app) == before


def test_missing_twilio_credentials(app, fake):
    setup_inbound(app)
    app.config["TWILIO_AUTH_TOKEN"] = ""
    with pytest.raises(provisioning.SyncError,
                       match="Twilio is not connected: .* SIPFLASK_TWILIO_AUTH_TOKEN"):
        run_sync(app)
    assert fake.log == []


def test_enabled_without_a_name_is_refused_before_any_request(app, fake):
    setup_inbound(app, name="")
    with pytest.raises(provisioning.SyncError, match="base name"):
        run_sync(app)
    assert fake.log == []


# --- disabling ----------------------------------------------------------------------------------

def test_disabling_deletes_what_sipflask_made(app, fake):
    setup_inbound(app)
    run_sync(app)
    with app.app_context():
        db.session.scalar(select(InboundSettings)).enabled = False
        db.session.commit()
    fake.reset_log()
    result = run_sync(app)
    assert fake.log == [
        ("DELETE", "SIP/Domains/SD1.json"),
        ("DELETE", "SIP/Domains/SD2.json"),
        ("DELETE", "SIP/CredentialLists/CL1.json"),
        ("DELETE", "SIP/IpAccessControlLists/AL1.json"),
    ]
    assert fake.records("SIP/Domains") == [] and fake.records("/Credentials") == []
    assert result.count("deleted") == 4
    settings, creds, ips = stored(app)
    assert settings[2:6] == (None, None, None, None)
    assert all(c[2] is None for c in creds) and all(i[1] is None for i in ips)
    assert creds[0][0] == "alice"  # the local settings themselves stay
    fake.reset_log()
    again = run_sync(app)
    assert fake.log == [] and not again.changed
    assert "nothing changed" in again.summary()
    # Enabling again recreates everything, passwords included (they are stored locally).
    with app.app_context():
        db.session.scalar(select(InboundSettings)).enabled = True
        db.session.commit()
    fake.reset_log()
    run_sync(app)
    assert [method for method, _ in fake.log] == [method for method, _ in FIRST_SYNC]
    assert set(fake.passwords.values()) == {PASSWORD_A}


def test_disabled_sync_ignores_what_is_already_gone(app, fake):
    setup_inbound(app)
    run_sync(app)
    with app.app_context():
        db.session.scalar(select(InboundSettings)).enabled = False
        db.session.commit()
    fake.store["SIP/Domains"].clear()  # deleted in the console meanwhile
    result = run_sync(app)
    assert [method for method, _ in fake.log[-4:]] == ["DELETE"] * 4
    assert result.count("deleted") == 2  # the two lists; the domains were gone already
    assert not any("SIP domain" in line for line in result.lines())
    assert stored(app)[0][2:6] == (None, None, None, None)


# --- the page and the CLI -----------------------------------------------------------------------

def cli(app):
    assert "inbound" in app.cli.commands  # registered by create_app
    return app.test_cli_runner()


def test_page_sync_button_shows_what_changed(app, fake, admin_client):
    setup_inbound(app)
    response = admin_client.post("/inbound/sync", base_url="https://sipflask.test")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Twilio now matches the inbound SIP settings: 8 created, 0 updated, 0 deleted." in page
    assert "Created SIP domain acme-ip.sip.twilio.com (IP whitelist)" in page
    assert PASSWORD_A not in page
    again = admin_client.post("/inbound/sync", base_url="https://sipflask.test",
                              headers={"HX-Request": "true", "HX-Target": "inbound-twilio"})
    fragment = again.get_data(as_text=True)
    assert again.status_code == 200 and "<html" not in fragment
    assert 'id="inbound-twilio"' in fragment
    assert "Twilio already matches the inbound SIP settings: nothing changed." in fragment


def test_page_shows_a_twilio_error_and_keeps_the_settings(app, fake, admin_client):
    setup_inbound(app)
    before = stored(app)
    fake.fail("POST", r"^SIP/Domains\.json$", status=400, code=21232,
              message="Domain name already in use", times=2)
    response = admin_client.post("/inbound/sync")
    page = response.get_data(as_text=True)
    assert response.status_code == 502
    assert "Sync failed." in page
    assert ("Twilio refused creating the SIP domain acme.sip.twilio.com (HTTP 400, Twilio error "
            "21232): Unable to create record: Domain name already in use.") in page
    assert "Nothing was changed in sipflask" in page
    assert "Traceback" not in page and ACCOUNT not in page and TOKEN not in page
    assert stored(app) == before
    htmx = admin_client.post("/inbound/sync", headers={"HX-Request": "true",
                                                       "HX-Target": "inbound-twilio"})
    assert htmx.status_code == 200 and "Sync failed." in htmx.get_data(as_text=True)


def test_members_cannot_sync(app, fake, auth, client):
    from tests.support.app import MEMBER_EMAIL
    setup_inbound(app)
    auth.login(email=MEMBER_EMAIL)
    assert client.post("/inbound/sync").status_code == 403
    assert fake.log == []


def test_cli_sync_prints_changes_then_nothing_to_do(app, fake):
    setup_inbound(app)
    runner = cli(app)
    result = runner.invoke(args=["inbound", "sync"])
    assert result.exit_code == 0, result.output
    assert "  Created SIP domain acme.sip.twilio.com (credentials)" in result.output
    assert result.output.rstrip().endswith("8 created, 0 updated, 0 deleted.")
    again = runner.invoke(args=["inbound", "sync"])
    assert again.exit_code == 0
    assert again.output == "Twilio already matches the inbound SIP settings: nothing changed.\n"


def test_cli_sync_failure_exits_1_with_the_reason(app, fake):
    setup_inbound(app)
    before = stored(app)
    fake.fail("POST", r"^SIP/IpAccessControlLists\.json$", status=429, code=20429,
              message="Too Many Requests")
    result = cli(app).invoke(args=["inbound", "sync"])
    assert result.exit_code == 1
    assert ("Sync failed: Twilio refused creating the IP access control list "
            "'sipflask acme IP whitelist' (HTTP 429, Twilio error 20429)") in result.output
    assert "Nothing was changed in sipflask's settings." in result.output
    assert "Traceback" not in result.output and TOKEN not in result.output
    assert stored(app) == before


@pytest.mark.app_config(PUBLIC_URL=None)
def test_cli_needs_public_url(app, fake):
    setup_inbound(app)
    # pytest-flask pushes a request context around each test; the real CLI has none.
    ctx = flask.globals._cv_request.get(None)
    if ctx is not None:
        ctx.pop()
    try:
        result = cli(app).invoke(args=["inbound", "sync"])
    finally:
        if ctx is not None:
            ctx.push()
    assert result.exit_code == 1 and "Set PUBLIC_URL" in result.output
    assert fake.log == []


def test_cli_show(app, fake):
    setup_inbound(app)
    result = cli(app).invoke(args=["inbound", "show"])
    assert result.exit_code == 0
    assert "credentials domain: acme.sip.twilio.com" in result.output
    assert "IP whitelist: 203.0.113.0/24" in result.output
    assert PASSWORD_A not in result.output


def test_after_a_sync_the_page_no_longer_says_changes_are_pending(app, fake, admin_client):
    setup_inbound(app)
    pending = "Saved changes are not at Twilio yet"
    assert pending in admin_client.get("/inbound/").get_data(as_text=True)
    with app.app_context():
        saved_at = db.session.scalar(select(InboundSettings)).updated_at
    for headers in ({}, {"HX-Request": "true", "HX-Target": "inbound-twilio"}):
        response = admin_client.post("/inbound/sync", base_url="https://sipflask.test",
                                     headers=headers)
        assert response.status_code == 200 and pending not in response.get_data(as_text=True)
        assert pending not in admin_client.get("/inbound/").get_data(as_text=True)
    with app.app_context():
        s = db.session.scalar(select(InboundSettings))
        assert s.updated_at == saved_at and s.synced_at > saved_at
    # A save after the sync is pending again.
    with app.app_context():
        from sipflask.records import inbound as records
        records.get_settings().updated_at = records.utcnow()
        db.session.commit()
    assert pending in admin_client.get("/inbound/").get_data(as_text=True)


def test_cli_show_prints_the_sync_time_in_seconds_with_its_zone(app, fake):
    setup_inbound(app)
    assert cli(app).invoke(args=["inbound", "sync"]).exit_code == 0
    line = next(x for x in cli(app).invoke(args=["inbound", "show"]).output.splitlines()
                if x.startswith("last synced:"))
    import re
    assert re.fullmatch(r"last synced: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00", line), line
