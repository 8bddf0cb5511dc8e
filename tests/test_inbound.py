"""The inbound SIP settings page (admins only), Twilio's IP ranges page, the SIP addresses macro
and the settings' import/export functions."""
import re

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from sipflask.core import inbound
from sipflask.extensions import db
from sipflask.models import InboundCredential, InboundIp, InboundSettings
from sipflask.records import inbound as inbound_settings
from tests.support.app import MEMBER_EMAIL
from tests.support.html import csrf_token_from

PASSWORD = "Partner-Secret-2026"


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def save(client, *, enabled=True, name="acme", creds=(("alice", PASSWORD),),
         ips=("203.0.113.0/24",), action="save", headers=None, extra=None):
    data = {"name": name, "action": action}
    if enabled:
        data["enabled"] = "y"
    for i, (username, password) in enumerate(creds):
        data[f"cred-{i}-username"] = username
        data[f"cred-{i}-password"] = password
    for i, ip in enumerate(ips):
        data[f"ip-{i}"] = ip
    data.update(extra or {})
    return client.post("/inbound/", data=data, headers=headers or {})


def nothing_saved(app):
    return (count(app, InboundSettings), count(app, InboundCredential),
            count(app, InboundIp)) == (0, 0, 0)


def row_html(page, row_id):
    match = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S)
    assert match, f"no row {row_id}"
    return match.group(1)


# --- access --------------------------------------------------------------------------------------

def test_members_get_403_on_the_settings(app, auth, client):
    auth.login(email=MEMBER_EMAIL)
    assert client.get("/inbound/").status_code == 403
    assert save(client).status_code == 403
    assert nothing_saved(app)


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/inbound/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/inbound/twilio-ips").status_code == 302


def test_twilio_ips_page_is_for_any_signed_in_user(app, auth, client):
    auth.login(email=MEMBER_EMAIL)
    response = client.get("/inbound/twilio-ips")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for cidr in ("54.172.60.0/30", "54.244.51.0/30", "54.171.127.192/30", "35.156.191.128/30",
                 "54.65.63.192/30", "54.169.127.128/30", "54.252.254.64/30",
                 "177.71.206.192/30", "168.86.128.0/18"):
        assert cidr in page
    assert "10000-60000" in page and "UDP" in page


def test_settings_page_links_to_twilio_ips(app, admin_client):
    page = admin_client.get("/inbound/").get_data(as_text=True)
    assert 'href="/inbound/twilio-ips"' in page


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_posts_without_csrf_token_are_refused(app, client, auth):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": "admin@example.com", "password": "correct-horse-battery",
                                "csrf_token": token})
    assert save(client).status_code == 400
    assert client.post("/inbound/sync").status_code == 400
    assert nothing_saved(app)
    page = client.get("/inbound/").get_data(as_text=True)
    forms = re.findall(r"<form\b.*?</form>", page, re.S)
    assert len(forms) == 3  # sign out, sync, settings
    assert all('name="csrf_token"' in form for form in forms)
    response = save(client, extra={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 302


# --- saving --------------------------------------------------------------------------------------

def test_save_stores_everything_and_never_shows_the_password(app, admin_client):
    response = save(admin_client, name=" Acme ", ips=("203.0.113.0/24", "198.51.100.7/32", ""))
    assert response.status_code == 302
    with app.app_context():
        s = db.session.scalar(select(InboundSettings))
        assert (s.enabled, s.name) == (True, "acme")
        cred = db.session.scalar(select(InboundCredential))
        assert cred.username == "alice" and cred.password == PASSWORD
        assert PASSWORD not in cred.password_encrypted  # encrypted at rest
        assert sorted(ip.cidr for ip in db.session.scalars(select(InboundIp))) == [
            "198.51.100.7", "203.0.113.0/24"]
    page = admin_client.get("/inbound/").get_data(as_text=True)
    assert PASSWORD not in page and cred.password_encrypted not in page
    assert "Inbound SIP settings saved" in page
    assert "acme.sip.twilio.com" in page and "acme-ip.sip.twilio.com" in page
    assert "Saved changes are not at Twilio yet" in page


@pytest.mark.parametrize("kwargs,where,message", [
    (dict(name="bad_name"), "field-name", "letters a-z"),
    (dict(name=""), "field-name", "Enter a base name before enabling"),
    (dict(creds=(("alice", "short1A"),)), "cred-row-0", "at least 12 characters"),
    (dict(creds=(("alice", "alllowercase123"),)), "cred-row-0", "an upper-case letter"),
    (dict(creds=(("a" * 33, PASSWORD),)), "cred-row-0", "at most 32"),
    (dict(creds=(("alice", ""),)), "cred-row-0", "Enter a password"),
    (dict(creds=(("alice", PASSWORD), ("ALICE", PASSWORD))), "cred-row-1", "already in row 1"),
    (dict(ips=("203.0.113.0/24", "203.0.113.7/24")), "ip-row-1", "host bits set"),
    (dict(ips=("nope",)), "ip-row-0", "not an IPv4 address"),
    (dict(ips=("2001:db8::/32",)), "ip-row-0", "IPv6"),
])
def test_bad_input_is_shown_next_to_the_field_and_nothing_is_saved(app, admin_client, kwargs,
                                                                   where, message):
    response = save(admin_client, **kwargs)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    if where.startswith("field-"):
        block = page[page.index(f'id="{where}"'):]
        block = block[:block.index("</div>")]
    else:
        block = row_html(page, where)
    assert message in block and 'class="error"' in block
    assert nothing_saved(app)


def test_more_than_100_ips_is_refused(app, admin_client):
    ips = [f"198.51.{i // 256}.{i % 256}" for i in range(101)]
    page = save(admin_client, ips=ips).get_data(as_text=True)
    assert "Twilio allows at most 100 entries per list; there are 101." in page
    assert nothing_saved(app)
    assert save(admin_client, ips=ips[:100]).status_code == 302
    assert count(app, InboundIp) == 100


def test_typed_passwords_stay_on_a_failed_save_but_stored_ones_are_never_sent(app, admin_client):
    save(admin_client)
    page = save(admin_client, name="bad_name",
                creds=(), extra={"cred-0-id": "1", "cred-0-password": "Changed-Secret-99"}
                ).get_data(as_text=True)
    assert "Changed-Secret-99" in page  # what the admin just typed, not saved yet
    assert PASSWORD not in page
    with app.app_context():
        assert db.session.scalar(select(InboundCredential)).password == PASSWORD


def test_blank_password_keeps_a_stored_credential_and_a_new_one_replaces_it(app, admin_client):
    save(admin_client)
    with app.app_context():
        cred = db.session.scalar(select(InboundCredential))
        cred.twilio_sid = "CR" + "a" * 32  # as after a sync
        db.session.commit()
    keep = {"cred-0-id": "1", "cred-0-password": ""}
    assert save(admin_client, creds=(), extra=keep).status_code == 302
    with app.app_context():
        cred = db.session.scalar(select(InboundCredential))
        assert cred.password == PASSWORD and cred.twilio_sid == "CR" + "a" * 32
    replace = {"cred-0-id": "1", "cred-0-password": "Changed-Secret-99",
               "cred-0-username": "mallory"}  # a stored row's username can't be changed
    assert save(admin_client, creds=(), extra=replace).status_code == 302
    with app.app_context():
        cred = db.session.scalar(select(InboundCredential))
        assert cred.username == "alice" and cred.password == "Changed-Secret-99"
        assert cred.twilio_sid is None  # the next sync sets the new password at Twilio


# --- add / remove rows without JavaScript, and with htmx ----------------------------------------

def test_add_and_remove_rows_are_submit_buttons_that_save_nothing(app, admin_client):
    page = save(admin_client, action="add-credential").get_data(as_text=True)
    assert 'id="cred-row-1"' in page and "Not saved yet" in page
    assert nothing_saved(app)
    page = save(admin_client, action="add-ip").get_data(as_text=True)
    assert 'name="ip-1"' in page
    page = save(admin_client, ips=("203.0.113.0/24", "198.51.100.7"),
                action="remove-ip-0").get_data(as_text=True)
    assert 'value="198.51.100.7"' in page and 'value="203.0.113.0/24"' not in page
    assert nothing_saved(app)
    # Every row button is a real submit button of the one form.
    assert re.search(r'<button type="submit"[^>]*name="action" value="remove-ip-0"', page)
    assert 'name="action" value="add-credential"' in page


def test_removing_a_stored_credential_deletes_it_on_save(app, admin_client):
    save(admin_client, creds=(("alice", PASSWORD), ("bob", PASSWORD)))
    with app.app_context():
        ids = {c.username: c.id for c in db.session.scalars(select(InboundCredential))}
    stored_rows = {"cred-0-id": str(ids["alice"]), "cred-1-id": str(ids["bob"])}
    page = save(admin_client, creds=(), extra={**stored_rows, "action": "remove-credential-1"}
                ).get_data(as_text=True)
    assert "<code>alice</code>" in page and "<code>bob</code>" not in page
    assert count(app, InboundCredential) == 2  # not yet
    assert save(admin_client, creds=(), extra={"cred-0-id": str(ids["alice"])}
                ).status_code == 302
    with app.app_context():
        assert [c.username for c in db.session.scalars(select(InboundCredential))] == ["alice"]


def test_htmx_gets_the_form_fragment_and_422_on_errors(app, admin_client):
    hx = {"HX-Request": "true", "HX-Target": "inbound-form"}
    added = save(admin_client, action="add-ip", headers=hx)
    fragment = added.get_data(as_text=True)
    assert added.status_code == 200 and "<html" not in fragment
    assert fragment.lstrip().startswith('<form id="inbound-form"')
    bad = save(admin_client, ips=("nope",), headers=hx)
    assert bad.status_code == 422 and "not an IPv4 address" in bad.get_data(as_text=True)
    ok = save(admin_client, headers=hx)
    assert ok.status_code == 204 and ok.headers["HX-Redirect"] == "/inbound/"
    assert count(app, InboundCredential) == 1


def test_disable_keeps_the_rest(app, admin_client):
    save(admin_client)
    assert save(admin_client, enabled=False, creds=(), extra={"cred-0-id": "1"}
                ).status_code == 302
    with app.app_context():
        s = db.session.scalar(select(InboundSettings))
        assert not s.enabled and s.name == "acme"
    assert count(app, InboundCredential) == 1 and count(app, InboundIp) == 1


# --- SIP addresses on the numbers pages -------------------------------------------------------

MACRO = '{% from "inbound/macros.html" import sip_addresses %}{{ sip_addresses(n) }}'


def test_sip_addresses_macro(app):
    with app.test_request_context():
        assert render_template_string(MACRO, n="+18882223333").strip() == ""
    with app.app_context():
        db.session.add(InboundSettings(enabled=True, name="acme"))
        db.session.commit()
    with app.test_request_context():
        html = render_template_string(MACRO, n="+18882223333")
    assert "<code>sip:+18882223333@acme.sip.twilio.com</code>" in html
    assert "<code>sip:+18882223333@acme-ip.sip.twilio.com</code>" in html
    assert 'data-copy="sip:+18882223333@acme.sip.twilio.com"' in html and ">Copy</button>" in html


# --- export / import ----------------------------------------------------------------------------

def test_export_never_includes_credentials(app, admin_client):
    with app.app_context():
        assert inbound_settings.export_settings() == {"enabled": False, "name": "", "ip_whitelist": []}
    save(admin_client, ips=("203.0.113.0/24",))
    with app.app_context():
        doc = inbound_settings.export_settings()
    assert doc == {"enabled": True, "name": "acme", "ip_whitelist": ["203.0.113.0/24"]}
    assert "alice" not in str(doc) and PASSWORD not in str(doc)


def test_apply_settings_replaces_the_whitelist_and_keeps_sids(app):
    with app.app_context():
        assert inbound_settings.apply_settings({"enabled": True, "name": "Acme",
                                       "ip_whitelist": ["203.0.113.0/24"]}) == "created"
        db.session.commit()
        db.session.scalar(select(InboundIp)).twilio_sid = "IP" + "a" * 32
        db.session.commit()
        doc = {"enabled": True, "name": "acme",
               "ip_whitelist": ["203.0.113.0/24", "198.51.100.7/32"]}
        assert inbound.check_settings(doc).ok
        assert inbound_settings.apply_settings(doc) == "updated"
        db.session.commit()
        ips = {ip.cidr: ip.twilio_sid for ip in db.session.scalars(select(InboundIp))}
        assert ips == {"203.0.113.0/24": "IP" + "a" * 32, "198.51.100.7": None}
        assert inbound_settings.apply_settings(inbound_settings.export_settings()) == "unchanged"
        assert inbound_settings.apply_settings({"enabled": False}) == "updated"
        db.session.commit()
        s = db.session.scalar(select(InboundSettings))
        assert (s.enabled, s.name) == (False, "acme")


def test_apply_settings_does_not_commit(app):
    with app.app_context():
        inbound_settings.apply_settings({"enabled": True, "name": "acme", "ip_whitelist": []})
        db.session.rollback()
        assert inbound_settings.load_settings() is None
