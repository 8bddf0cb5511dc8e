"""Form posts with text that can't be stored as sent, or that reads unlike what it is, on every
setup form: NUL, U+FFFD (what a browser sends for a lone surrogate, and what the server makes of
bytes that are not UTF-8), the right-to-left override and other invisible characters. Each is a
field error on a 200 page (422 for htmx), and the database is unchanged (issue 10, findings 7
and 8); the buyer form refuses campaigns that are not in its list."""
import re
import uuid

import pytest
from markupsafe import escape
from sqlalchemy import select, text

from sipflask.extensions import db
from sipflask.models import Buyer, Campaign
from tests.support.html import HX, field_html

NUL, FFFD, RLO = "Acme\x00Media", "Acme\ufffdMedia", "Acme\u202eaideM"
CANNOT = "contains a character that cannot be stored: U+0000 (null)"
NOT_UTF8 = "contains U+FFFD (replacement character), which stands for text that was not valid UTF-8"
BIDI = "contains an invisible control character U+202E (right-to-left override)"
CONTROL = "must not contain control characters"
PASSWORD = "Partner-Secret-2026"


def dump_tables(app):
    with app.app_context():
        return {t.name: sorted(repr(tuple(r)) for r in
                               db.session.execute(text(f"SELECT * FROM {t.name}")).all())
                for t in db.metadata.sorted_tables}


def campaign_id(app, ref):
    with app.app_context():
        return db.session.scalar(select(Campaign.id).where(Campaign.ref == ref))


def msg_div(body, field_id):
    """The buyer editor's messages of one field."""
    m = re.search(rf'<div class="msgs" id="msg-{re.escape(field_id)}"[^>]*>(.*?)</div>', body, re.S)
    assert m, f"no messages for {field_id}"
    return m.group(1)


def cred_row(body, _field):
    m = re.search(r'<tr id="cred-row-0">(.*?)</tr>', body, re.S)
    assert m, "no credential row"
    return m.group(1)


BUYER = {"name": "Agent desk", "ref": "", "number": "sip:agentqueue@example.com",
         "sip_username": "", "sip_password": "", "priority": "1", "weight": "1",
         "timeout": "30", "action": "save"}
INBOUND = {"name": "acme", "enabled": "y", "action": "save", "cred-0-username": "alice",
           "cred-0-password": PASSWORD, "ip-0": "203.0.113.0/24"}

# form, url, the post without the value, the field that gets the value, where its errors show
FORMS = {
    "publisher": (lambda app: "/publishers/new", {"afid": "x1"}, "name", field_html),
    "campaign": (lambda app: "/campaigns/new", {}, "name", field_html),
    "number-sub-id": (lambda app: "/numbers/new", {"number": "+14155552671", "campaign": "auto"},
                      "sub_id", field_html),
    "number-tags": (lambda app: "/numbers/new", {"number": "+14155552671", "campaign": "auto"},
                    "tags", field_html),
    "buyer-name": (lambda app: "/buyers/new", BUYER, "name", msg_div),
    "buyer-header": (lambda app: "/buyers/new", {**BUYER, "headers-0-name": "X-A"},
                     "headers-0-value", msg_div),
    "routing-list": (lambda app: f"/campaigns/{campaign_id(app, 'auto')}/routing/add", {},
                     "buyer", field_html),
    "inbound-name": (lambda app: "/inbound/", INBOUND, "name", field_html),
}

# (form, value) -> message shown; the record rules speak first when they already refuse it.
CASES = [
    ("publisher", NUL, CONTROL), ("publisher", FFFD, NOT_UTF8), ("publisher", RLO, BIDI),
    ("campaign", NUL, CONTROL), ("campaign", FFFD, NOT_UTF8), ("campaign", RLO, BIDI),
    ("number-sub-id", NUL, CONTROL), ("number-sub-id", FFFD, NOT_UTF8),
    ("number-sub-id", RLO, BIDI),
    ("number-tags", NUL, "must be one line"), ("number-tags", FFFD, NOT_UTF8),
    ("number-tags", RLO, "value " + BIDI),
    ("buyer-name", NUL, CONTROL), ("buyer-name", FFFD, NOT_UTF8), ("buyer-name", RLO, BIDI),
    ("buyer-header", NUL, "one line"), ("buyer-header", FFFD, NOT_UTF8),
    ("buyer-header", RLO, BIDI),
    ("routing-list", NUL, "That buyer no longer exists"),
    ("routing-list", FFFD, "That buyer no longer exists"),
    ("routing-list", RLO, "That buyer no longer exists"),
    ("inbound-name", NUL, "may hold only letters"), ("inbound-name", FFFD, "may hold only"),
    ("inbound-name", RLO, "may hold only letters"),
]


def form_value(form, value):
    return f"k={value}" if form == "number-tags" else value


@pytest.mark.parametrize("form,value,message", CASES,
                         ids=[f"{f}-{['nul', 'fffd', 'rlo'][i % 3]}" for i, (f, _v, _m) in
                              enumerate(CASES)])
def test_setup_forms_refuse_text_that_cannot_be_stored_or_reads_wrong(admin_client, demo, form,
                                                                      value, message):
    url, data, fld, errors_of = FORMS[form]
    before = dump_tables(demo)
    post = {**data, fld: form_value(form, value)}
    plain = admin_client.post(url(demo), data=post)
    assert plain.status_code == 200, plain.status_code
    assert str(escape(message)) in errors_of(plain.text, fld)
    fragment = admin_client.post(url(demo), data=post, headers=HX)
    assert fragment.status_code == 422 and "<html" not in fragment.text
    assert str(escape(message)) in errors_of(fragment.text, fld)
    assert dump_tables(demo) == before


def multipart(fields: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                    % (boundary.encode(), k.encode(), v) for k, v in fields.items())
    return body + b"--%s--\r\n" % boundary.encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("form", ["publisher", "campaign", "buyer-name", "buyer-header"])
def test_bytes_that_are_not_utf8_are_refused_not_stored_as_something_else(admin_client, demo,
                                                                          form):
    """A lone surrogate as a script would send it (CESU bytes ED A0 80): the server reads
    U+FFFD in its place, which must not be saved as if it had been typed."""
    url, data, fld, errors_of = FORMS[form]
    before = dump_tables(demo)
    fields = {k: v.encode() for k, v in data.items()}
    fields[fld] = b"Caf\xed\xa0\x80"
    body, content_type = multipart(fields)
    response = admin_client.post(url(demo), data=body, content_type=content_type)
    assert response.status_code == 200
    assert str(escape(NOT_UTF8)) in errors_of(response.text, fld)
    assert dump_tables(demo) == before


def test_inbound_password_that_is_not_utf8_is_refused(app, admin_client):
    before = dump_tables(app)
    response = admin_client.post("/inbound/", data={**INBOUND,
                                                    "cred-0-password": PASSWORD + "\ufffd"})
    assert response.status_code == 200
    assert "The password " + str(escape(NOT_UTF8)) in cred_row(response.text, None)
    assert dump_tables(app) == before


def test_buyer_password_that_is_not_utf8_is_refused(admin_client, demo):
    before = dump_tables(demo)
    response = admin_client.post("/buyers/new", data={**BUYER, "sip_username": "agent",
                                                      "sip_password": "pw\ufffd-9"})
    assert response.status_code == 200
    assert str(escape(NOT_UTF8)) in msg_div(response.text, "sip_password")
    assert dump_tables(demo) == before


def test_an_edit_with_an_override_keeps_the_stored_name(admin_client, demo):
    with demo.app_context():
        buyer = db.session.scalar(select(Buyer).where(Buyer.ref == "phone"))
        bid, name = buyer.id, buyer.name
    before = dump_tables(demo)
    response = admin_client.get(f"/buyers/{bid}/edit")
    assert response.status_code == 200
    response = admin_client.post(f"/buyers/{bid}/edit", data={
        **BUYER, "ref": "phone", "number": "+14155552671", "name": "gpj\u202e.exe"})
    assert response.status_code == 200
    assert str(escape(BIDI)) in msg_div(response.text, "name")
    assert dump_tables(demo) == before
    with demo.app_context():
        assert db.session.get(Buyer, bid).name == name


@pytest.mark.parametrize("campaigns", [["auto"], ["999999"], ["1", "x"]])
def test_buyer_form_refuses_a_campaign_not_in_its_list(admin_client, demo, campaigns):
    before = dump_tables(demo)
    response = admin_client.post("/buyers/new", data={**BUYER, "campaigns": campaigns})
    assert response.status_code == 200
    assert "Choose a campaign from the list" in msg_div(response.text, "campaigns")
    assert dump_tables(demo) == before
    fragment = admin_client.post("/buyers/new", data={**BUYER, "campaigns": campaigns}, headers=HX)
    assert fragment.status_code == 422
    assert "Choose a campaign from the list" in msg_div(fragment.text, "campaigns")


@pytest.mark.parametrize("fld,value,message", [("name", RLO, BIDI), ("sip_password", FFFD, NOT_UTF8),
                                               ("headers-0-value", FFFD, NOT_UTF8)])
def test_the_editor_says_so_as_the_user_types(admin_client, demo, fld, value, message):
    """The buyer editor's live check (``/buyers/check?field=``) shows the same message."""
    data = {**BUYER, "sip_username": "agent", "headers-0-name": "X-A", fld: value}
    response = admin_client.post(f"/buyers/check?field={fld}", data=data, headers=HX)
    assert response.status_code == 200
    assert str(escape(message)) in msg_div(response.text, fld)
