"""Numbers pages: list, active search, create/edit (E.164, tags lines), inline delete."""

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Campaign, Number
from tests.support.html import HX, field_html


def count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Number))


def number(app, value):
    with app.app_context():
        n = db.session.scalar(select(Number).where(Number.number == value))
        if n is not None:
            n.campaign_ref = n.campaign.ref
            n.publisher_ref = n.publisher.ref if n.publisher else None
        return n


def snapshot(app):
    with app.app_context():
        return sorted((n.number, n.campaign_id, n.publisher_id, n.sub_id, sorted(n.tags.items()))
                      for n in db.session.scalars(select(Number)))


@pytest.mark.parametrize("method,url", [
    ("get", "/numbers/"), ("get", "/numbers/new"), ("post", "/numbers/new"),
    ("get", "/numbers/1/edit"), ("post", "/numbers/1/edit"), ("post", "/numbers/1/delete")])
def test_login_required(client, app, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_list_renders_demo(admin_client, demo):
    response = admin_client.get("/numbers/")
    assert response.status_code == 200
    body = response.text
    assert "<html" in body
    for text in ("+18882223333", "+18448210555", "Auto Insurance", "Acme Media", "fb-12",
                 "lead_score=72"):
        assert text in body
    assert 'hx-trigger="search, keyup changed delay:300ms"' in body


def test_active_search(admin_client, demo):
    fragment = admin_client.get("/numbers/?q=medicare", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "+18773331212" in fragment.text and "+18882223333" not in fragment.text
    full = admin_client.get("/numbers/?q=medicare").text
    assert "<html" in full and "+18773331212" in full
    # the digits as typed in a national format
    digits = admin_client.get("/numbers/", query_string={"q": "(888) 222-33"}, headers=HX).text
    assert "+18882223333" in digits and "+18664420199" not in digits
    # publisher and sub_id
    assert "+18664420199" in admin_client.get("/numbers/?q=google", headers=HX).text
    assert "+18773331212" in admin_client.get("/numbers/?q=northstar", headers=HX).text
    assert admin_client.get("/numbers/?q=%00%25", headers=HX).status_code == 200


@pytest.mark.app_config(PER_PAGE=3)
def test_pagination(admin_client, demo):
    assert "Page 1 of 2 (4)" in admin_client.get("/numbers/").text
    assert "+18882223333" in admin_client.get("/numbers/?page=2").text


def test_create_normalises_and_parses_tags(admin_client, demo):
    response = admin_client.post("/numbers/new", data={
        "number": "(415) 555-2671", "campaign": "auto", "publisher": "", "sub_id": " tv ",
        "tags": "vertical = auto\n\nlead_score=90\r\nnote=a=b\n"})
    assert response.status_code == 302
    created = number(demo, "+14155552671")
    assert created.campaign_ref == "auto" and created.publisher_ref is None
    assert created.sub_id == "tv"
    assert created.tags == {"vertical": "auto", "lead_score": "90", "note": "a=b"}
    assert "Number +14155552671 created." in admin_client.get("/numbers/").text


def test_create_with_publisher_htmx(admin_client, demo):
    response = admin_client.post("/numbers/new", headers=HX, data={
        "number": "+14155552671", "campaign": "medicare", "publisher": "acme"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/numbers/"
    created = number(demo, "+14155552671")
    assert (created.campaign_ref, created.publisher_ref, created.sub_id, created.tags) == \
        ("medicare", "acme", None, {})


def test_create_from_campaign_page_goes_back(admin_client, demo):
    with demo.app_context():
        auto = db.session.scalar(select(Campaign).where(Campaign.ref == "auto")).id
    page = admin_client.get(f"/numbers/new?campaign=auto&next=/campaigns/{auto}/edit").text
    assert '<option selected value="auto">' in page
    response = admin_client.post("/numbers/new", data={
        "number": "+14155552671", "campaign": "auto", "next": f"/campaigns/{auto}/edit"})
    assert response.headers["Location"] == f"/campaigns/{auto}/edit"


GOOD = {"number": "+14155552671", "campaign": "auto", "publisher": "", "sub_id": "", "tags": ""}
BAD = [
    ({"number": ""}, "number", "Number is required."),
    ({"number": "12"}, "number", "is not a valid phone number"),
    ({"number": "+15550001111"}, "number", "is not a valid phone number"),
    ({"number": "+14155552671 ext. 5"}, "number", "has an extension"),
    ({"number": "sip:a@b.example"}, "number", "is not a valid phone number"),
    ({"number": "+1888\x00"}, "number", "is not a valid phone number"),
    ({"number": "+1 888 222 3333"}, "number",
     "+18882223333 is already a tracking number of campaign 'Auto Insurance'."),
    ({"campaign": ""}, "campaign", "Campaign is required."),
    ({"campaign": "nope"}, "campaign", "That campaign no longer exists; choose another."),
    ({"campaign": "a\x00"}, "campaign", "That campaign no longer exists"),
    ({"publisher": "nope"}, "publisher", "That publisher no longer exists; choose another."),
    ({"sub_id": "s" * 101}, "sub_id", "Sub ID must be at most 100 characters"),
    ({"sub_id": "a\tb"}, "sub_id", "Sub ID must not contain control characters"),
    ({"tags": "vertical=auto\nnovalue"}, "tags", "Line 2 ('novalue') is not key=value."),
    ({"tags": "=x"}, "tags", "Line 1 ('=x') is not key=value."),
    ({"tags": "a=1\na=2"}, "tags", "Line 2: tag 'a' is set twice."),
    ({"tags": "Bad-Key=1"}, "tags", "Tag key 'Bad-Key' must be lower-case letters"),
    ({"tags": "k=" + "v" * 501}, "tags", "Tag 'k': value must be one line of at most 500"),
    ({"tags": "k=a\x00b"}, "tags", "Tag 'k': value must be one line"),
]


@pytest.mark.parametrize("change,fld,message", BAD)
def test_create_bad_input(admin_client, demo, change, fld, message):
    before = snapshot(demo)
    data = {**GOOD, **change}
    response = admin_client.post("/numbers/new", data=data)
    assert response.status_code == 200
    assert str(escape(message)) in field_html(response.text, fld)
    assert snapshot(demo) == before
    if fld == "tags":
        assert str(escape(data["tags"].split("\n")[0][:30])) in response.text  # kept as typed

    htmx = admin_client.post("/numbers/new", data=data, headers=HX)
    assert htmx.status_code == 422
    assert "<html" not in htmx.text and 'id="number-form"' in htmx.text
    assert str(escape(message)) in field_html(htmx.text, fld)
    assert snapshot(demo) == before


def test_several_errors_at_once(admin_client, demo):
    response = admin_client.post("/numbers/new", data={
        "number": "12", "campaign": "", "tags": "oops"})
    assert "is not a valid phone number" in field_html(response.text, "number")
    assert "Campaign is required." in field_html(response.text, "campaign")
    assert "is not key=value" in field_html(response.text, "tags")
    assert count(demo) == 4


def test_edit(admin_client, demo):
    n = number(demo, "+18882223333")
    page = admin_client.get(f"/numbers/{n.id}/edit").text
    assert 'value="+18882223333"' in page
    assert "vertical=auto\nlead_score=72" in page
    assert '<option selected value="acme">' in page
    # same number again is not a clash with itself
    response = admin_client.post(f"/numbers/{n.id}/edit", data={
        "number": "+1 (888) 222-3333", "campaign": "medicare", "publisher": "",
        "sub_id": "", "tags": "vertical=medicare"})
    assert response.status_code == 302
    edited = number(demo, "+18882223333")
    assert (edited.campaign_ref, edited.publisher_ref, edited.sub_id, edited.tags) == \
        ("medicare", None, None, {"vertical": "medicare"})

    before = snapshot(demo)
    response = admin_client.post(f"/numbers/{n.id}/edit", data={
        "number": "+18664420199", "campaign": "auto", "tags": "x=1"})
    assert response.status_code == 200
    assert "already a tracking number" in field_html(response.text, "number")
    assert snapshot(demo) == before


@pytest.mark.parametrize("url", ["/numbers/999/edit", "/numbers/99999999999999/edit"])
def test_unknown_ids(admin_client, demo, url):
    assert admin_client.get(url).status_code == 404
    assert admin_client.post(url.replace("edit", "delete")).status_code == 404


def test_delete_plain_post(admin_client, demo):
    n = number(demo, "+18882223333")
    response = admin_client.post(f"/numbers/{n.id}/delete", data={"next": "/numbers/?page=1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/numbers/?page=1"
    assert "Deleted number +18882223333." in admin_client.get("/numbers/").text
    assert count(demo) == 3


def test_delete_htmx(admin_client, demo):
    n = number(demo, "+18882223333")
    response = admin_client.post(f"/numbers/{n.id}/delete", headers=HX)
    assert response.status_code == 200
    assert response.data == b""
    assert count(demo) == 3 and number(demo, "+18882223333") is None


def test_sip_addresses_shown_when_inbound_sip_is_enabled(admin_client, demo):
    from sipflask.models import InboundSettings
    page = admin_client.get("/numbers/").get_data(as_text=True)
    assert "sip.twilio.com" not in page
    with demo.app_context():
        db.session.add(InboundSettings(enabled=True, name="acme"))
        db.session.commit()
        number_id = db.session.scalar(select(Number.id).where(Number.number == "+18882223333"))
    page = admin_client.get("/numbers/").get_data(as_text=True)
    assert "sip:+18882223333@acme.sip.twilio.com" in page
    assert "sip:+18882223333@acme-ip.sip.twilio.com" in page
    detail = admin_client.get(f"/numbers/{number_id}/edit").get_data(as_text=True)
    assert "Call this number over SIP" in detail and "acme-ip.sip.twilio.com" in detail
