"""Publishers pages: list, active search, create/edit with the shared rules, inline delete, CSRF."""

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Number, Publisher
from tests.support.app import ADMIN_EMAIL, PASSWORD
from tests.support.html import HX, csrf_token_from, field_html


def count(app, model=Publisher):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def publisher(app, ref):
    with app.app_context():
        return db.session.scalar(select(Publisher).where(Publisher.ref == ref))


def snapshot(app):
    with app.app_context():
        return sorted((p.ref, p.name, p.afid)
                      for p in db.session.scalars(select(Publisher)))


@pytest.mark.parametrize("method,url", [
    ("get", "/publishers/"), ("get", "/publishers/new"), ("post", "/publishers/new"),
    ("get", "/publishers/1/edit"), ("post", "/publishers/1/edit"),
    ("post", "/publishers/1/delete")])
def test_login_required(client, app, method, url):
    response = getattr(client, method)(url, data={"name": "X", "afid": "x1"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert count(app) == 0


def test_list_renders_demo(admin_client, demo):
    response = admin_client.get("/publishers/")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in body
    for name in ("Acme Media", "BlueSky Leads", "Northstar Digital", "5678"):
        assert name in body
    # active search, house style
    assert 'hx-trigger="search, keyup changed delay:300ms"' in body
    assert 'hx-push-url="true"' in body
    assert 'hx-target="#publisher-results"' in body


def test_active_search_fragment_and_full_page(admin_client, demo):
    response = admin_client.get("/publishers/?q=blue", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body
    assert 'id="publisher-results"' in body
    assert "BlueSky Leads" in body and "Acme Media" not in body
    assert "HX-Request" in response.headers["Vary"]

    full = admin_client.get("/publishers/?q=blue").get_data(as_text=True)
    assert "<html" in full and "BlueSky Leads" in full and "Acme Media" not in full
    assert 'value="blue"' in full

    # by AFID too
    assert "Northstar Digital" in admin_client.get("/publishers/?q=7302", headers=HX).text


@pytest.mark.parametrize("q", ["%", "_", "\\", "'", "\x00", "a" * 500, "ÄÖ"])
def test_search_odd_input(admin_client, demo, q):
    response = admin_client.get("/publishers/", query_string={"q": q}, headers=HX)
    assert response.status_code == 200
    if q in ("%", "_", "\\", "'"):
        assert "No publisher matches" in response.text


@pytest.mark.app_config(PER_PAGE=2)
def test_pagination(admin_client, demo):
    first = admin_client.get("/publishers/").text
    assert "Page 1 of 2 (3)" in first
    assert "Acme Media" in first and "Northstar Digital" not in first
    second = admin_client.get("/publishers/?page=2").text
    assert "Northstar Digital" in second and "Acme Media" not in second
    for page in ("abc", "-3", "0", "999999999999999999999"):
        assert admin_client.get(f"/publishers/?page={page}").status_code == 200


def test_create(admin_client, app):
    response = admin_client.post("/publishers/new", data={
        "name": "  Green Leaf Media ", "ref": "green", "afid": " 9001 "})
    assert response.status_code == 302
    assert response.headers["Location"] == "/publishers/"
    page = admin_client.get("/publishers/").text
    assert "Publisher Green Leaf Media created." in page
    created = publisher(app, "green")
    assert (created.name, created.afid) == ("Green Leaf Media", "9001")


def test_create_htmx_redirects(admin_client, app):
    response = admin_client.post("/publishers/new", headers=HX,
                                 data={"name": "Green", "afid": "9001"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/publishers/"
    assert count(app) == 1


def test_ref_suggested_from_name(admin_client, demo):
    admin_client.post("/publishers/new", data={"name": "Acme Media", "afid": "a-2"})
    admin_client.post("/publishers/new", data={"name": "Acme Media", "afid": "a-3"})
    assert publisher(demo, "acme-media").afid == "a-2"
    assert publisher(demo, "acme-media-2").afid == "a-3"


BAD = [
    ({"name": "", "afid": "x1"}, "name", "Name is required."),
    ({"name": "   ", "afid": "x1"}, "name", "Name is required."),
    ({"name": "x" * 201, "afid": "x1"}, "name", "Name must be at most 200 characters"),
    ({"name": "Tab\tname", "afid": "x1"}, "name", "must not contain control characters"),
    ({"name": "Nul\x00name", "afid": "x1"}, "name", "must not contain control characters"),
    ({"name": "X", "afid": ""}, "afid", "AFID must be 1–64 letters, digits, '_' or '-'."),
    ({"name": "X", "afid": "has space"}, "afid", "AFID must be 1–64"),
    ({"name": "X", "afid": "a" * 65}, "afid", "AFID must be 1–64"),
    ({"name": "X", "afid": "x1", "ref": "Bad Ref"}, "ref", "Ref must be 1–64 characters"),
    ({"name": "X", "afid": "x1", "ref": "-dash"}, "ref", "Ref must be 1–64 characters"),
    ({"name": "!!!", "afid": "x1"}, "ref", "Ref must be 1–64 characters"),
    # uniqueness against the demo data
    ({"name": "X", "afid": "x1", "ref": "acme"}, "ref",
     "Ref 'acme' is already used by publisher 'Acme Media'."),
    ({"name": "X", "afid": "5678"}, "afid",
     "AFID '5678' already belongs to publisher 'Acme Media'."),
]


@pytest.mark.parametrize("data,fld,message", BAD)
def test_create_bad_input(admin_client, demo, data, fld, message):
    before = snapshot(demo)
    response = admin_client.post("/publishers/new", data=data)
    assert response.status_code == 200
    assert str(escape(message)) in field_html(response.text, fld)
    assert snapshot(demo) == before
    # typed values are kept
    if data["afid"]:
        assert f'value="{escape(data["afid"])}"' in response.text

    htmx = admin_client.post("/publishers/new", data=data, headers=HX)
    assert htmx.status_code == 422
    assert "<html" not in htmx.text and 'id="publisher-form"' in htmx.text
    assert str(escape(message)) in field_html(htmx.text, fld)
    assert snapshot(demo) == before


def test_edit(admin_client, demo):
    acme = publisher(demo, "acme")
    page = admin_client.get(f"/publishers/{acme.id}/edit")
    assert page.status_code == 200
    assert 'value="Acme Media"' in page.text and 'value="5678"' in page.text
    # keeping its own ref and afid is not a clash
    response = admin_client.post(f"/publishers/{acme.id}/edit",
                                 data={"name": "Acme Media Group", "ref": "acme", "afid": "5678"})
    assert response.status_code == 302
    assert publisher(demo, "acme").name == "Acme Media Group"

    before = snapshot(demo)
    response = admin_client.post(f"/publishers/{acme.id}/edit",
                                 data={"name": "Acme", "ref": "bluesky", "afid": "4410"})
    assert response.status_code == 200
    assert str(escape("Ref 'bluesky' is already used by publisher 'BlueSky Leads'.")) \
        in field_html(response.text, "ref")
    assert str(escape("AFID '4410' already belongs to publisher 'BlueSky Leads'.")) \
        in field_html(response.text, "afid")
    assert 'value="Acme"' in response.text
    response = admin_client.post(f"/publishers/{acme.id}/edit", headers=HX,
                                 data={"name": "", "ref": "", "afid": "5678"})
    assert response.status_code == 422
    assert "Ref must be" in field_html(response.text, "ref")
    assert snapshot(demo) == before


@pytest.mark.parametrize("url", ["/publishers/999/edit", "/publishers/99999999999999/edit",
                                 "/publishers/abc/edit"])
def test_unknown_ids(admin_client, demo, url):
    assert admin_client.get(url).status_code == 404
    assert admin_client.post(url.replace("edit", "delete")).status_code == 404


def test_delete_plain_post(admin_client, demo):
    acme = publisher(demo, "acme")
    page = admin_client.get("/publishers/").text
    assert "Delete publisher Acme Media? Its 1 number will stay, without a publisher." in page
    response = admin_client.post(f"/publishers/{acme.id}/delete", data={"next": "/publishers/?q=a"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/publishers/?q=a"
    assert "Deleted publisher Acme Media; its 1 number now has no publisher." in \
        admin_client.get("/publishers/").text
    assert publisher(demo, "acme") is None
    with demo.app_context():
        number = db.session.scalar(select(Number).where(Number.number == "+18882223333"))
        assert number is not None and number.publisher_id is None
    assert count(demo, Number) == 4


def test_delete_htmx(admin_client, demo):
    acme = publisher(demo, "acme")
    response = admin_client.post(f"/publishers/{acme.id}/delete", headers=HX)
    assert response.status_code == 200
    assert response.data == b""
    assert count(demo) == 2 and count(demo, Number) == 4


def test_delete_next_must_be_local(admin_client, demo):
    acme = publisher(demo, "acme")
    response = admin_client.post(f"/publishers/{acme.id}/delete",
                                 data={"next": "https://evil.example/"})
    assert response.headers["Location"] == "/publishers/"


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_csrf(client, auth, app):
    token = csrf_token_from(client.get("/login").text)
    assert client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302

    refused = client.post("/publishers/new", data={"name": "Green", "afid": "9001"})
    assert refused.status_code == 400
    refused = client.post("/publishers/new", headers=HX, data={"name": "Green", "afid": "9001"})
    assert refused.status_code == 400
    assert count(app) == 0

    token = csrf_token_from(client.get("/publishers/new").text)
    response = client.post("/publishers/new", data={"name": "Green", "afid": "9001",
                                                    "csrf_token": token})
    assert response.status_code == 302
    assert count(app) == 1
    # htmx sends the token as a header (layout.html's hx-headers)
    green = publisher(app, "green")
    response = client.post(f"/publishers/{green.id}/delete",
                           headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 200
    assert count(app) == 0
