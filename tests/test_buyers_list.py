"""Buyers list page: active search, pause/resume and delete inline; never a SIP password."""
import pytest
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Buyer, BuyerHeader, CampaignBuyer
from tests.support.html import HX

DEMO_PASSWORD = "Demo-Password-2026"


def count(app, model=Buyer):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def buyer(app, ref):
    with app.app_context():
        return db.session.scalar(select(Buyer).where(Buyer.ref == ref))


@pytest.mark.parametrize("method,url", [
    ("get", "/buyers/"), ("post", "/buyers/1/pause"), ("post", "/buyers/1/resume"),
    ("post", "/buyers/1/delete")])
def test_login_required(client, demo, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert count(demo) == 6 and not buyer(demo, "queue").paused


def test_list_renders_demo(admin_client, demo):
    response = admin_client.get("/buyers/")
    body = response.text
    assert response.status_code == 200 and "<html" in body
    for text in ("Agent queue (Asterisk)", "Overflow call center", "Acme PBX (digest auth)",
                 "Sales desk (phone)", "sip:agentqueue@pbx.example.com", "+14155552671",
                 '<span class="pill sip">SIP</span>', '<span class="pill">phone</span>',
                 "credentials", "none / IP", "sipflask-acme", "password set",
                 "0/10 at once", "0/500 today", "open now", "Auto Insurance",
                 "Medicare Advantage"):
        assert text in body, text
    assert 'hx-trigger="search, keyup changed delay:300ms"' in body
    # health over 24 h, links to the editor
    assert "<th>Health (24 h)</th>" in body and "no calls in 24 h" in body
    queue = buyer(demo, "queue")
    assert f'<a href="/buyers/{queue.id}/edit">Agent queue (Asterisk)</a>' in body
    assert 'href="/buyers/new"' in body


def test_row_fragment_has_health(admin_client, demo):
    from tests.support.webhook import dial_action, parse, pause_all_but, voice
    pause_all_but(demo, "queue")
    parse(dial_action(admin_client, parse(voice(admin_client)), "completed", 200, "30"))
    queue = buyer(demo, "queue")
    row = admin_client.post(f"/buyers/{queue.id}/resume", headers=HX).text
    assert "<html" not in row and "1 offered" in row and "1 answered (100%)" in row
    fragment = admin_client.get("/buyers/?q=agent", headers=HX).text
    assert "1 offered" in fragment


def test_never_shows_sip_password(admin_client, demo):
    secure = buyer(demo, "secure")
    assert secure.sip_password_encrypted  # the demo buyer has one stored
    for url, headers in (("/buyers/", {}), ("/buyers/?q=acme", HX), ("/buyers/?q=secure", {})):
        body = admin_client.get(url, headers=headers).text
        assert DEMO_PASSWORD not in body
        assert secure.sip_password_encrypted not in body
    for action in ("pause", "resume"):
        body = admin_client.post(f"/buyers/{secure.id}/{action}", headers=HX).text
        assert DEMO_PASSWORD not in body and secure.sip_password_encrypted not in body


def test_active_search(admin_client, demo):
    fragment = admin_client.get("/buyers/?q=overflow", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'id="buyer-results"' in fragment.text
    assert "Overflow call center" in fragment.text and "Sales desk" not in fragment.text
    # by number
    by_number = admin_client.get("/buyers/?q=pbx.example.com", headers=HX).text
    assert "Agent queue (Asterisk)" in by_number and "Acme PBX" not in by_number
    assert "Sales desk (phone)" in admin_client.get("/buyers/?q=4155552671", headers=HX).text
    full = admin_client.get("/buyers/?q=overflow").text
    assert "<html" in full and "Overflow call center" in full and "Sales desk" not in full
    for q in ("%", "_", "[", "\x00"):
        response = admin_client.get("/buyers/", query_string={"q": q}, headers=HX)
        assert response.status_code == 200


@pytest.mark.app_config(PER_PAGE=3)
def test_pagination(admin_client, demo):
    first = admin_client.get("/buyers/").text
    assert "Page 1 of 2 (6)" in first and "Sales desk" not in first
    assert "Sales desk" in admin_client.get("/buyers/?page=2").text


def test_pause_resume_plain_post(admin_client, demo):
    queue = buyer(demo, "queue")
    response = admin_client.post(f"/buyers/{queue.id}/pause", data={"next": "/buyers/?q=agent"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/buyers/?q=agent"
    page = admin_client.get("/buyers/").text
    assert "Paused buyer Agent queue (Asterisk)." in page
    assert buyer(demo, "queue").paused
    # idempotent
    assert admin_client.post(f"/buyers/{queue.id}/pause").status_code == 302
    assert buyer(demo, "queue").paused

    response = admin_client.post(f"/buyers/{queue.id}/resume")
    assert response.status_code == 302 and response.headers["Location"] == "/buyers/"
    assert "Resumed buyer Agent queue (Asterisk)." in admin_client.get("/buyers/").text
    assert not buyer(demo, "queue").paused


def test_pause_resume_htmx(admin_client, demo):
    queue = buyer(demo, "queue")
    response = admin_client.post(f"/buyers/{queue.id}/pause", headers=HX)
    assert response.status_code == 200
    body = response.text
    assert "<html" not in body and body.lstrip().startswith(f'<tr id="buyer-{queue.id}"')
    assert '<span class="pill paused">paused</span>' in body
    assert f'action="/buyers/{queue.id}/resume"' in body and ">Resume<" in body
    assert buyer(demo, "queue").paused

    body = admin_client.post(f"/buyers/{queue.id}/resume", headers=HX).text
    assert f'action="/buyers/{queue.id}/pause"' in body and ">Pause<" in body
    assert not buyer(demo, "queue").paused


def test_delete_plain_post(admin_client, demo):
    queue = buyer(demo, "queue")
    page = admin_client.get("/buyers/").text
    assert "Delete buyer Agent queue (Asterisk)? It will be taken off the routing list of " \
           "2 campaigns." in page
    response = admin_client.post(f"/buyers/{queue.id}/delete")
    assert response.status_code == 302
    assert "Deleted buyer Agent queue (Asterisk)." in admin_client.get("/buyers/").text
    assert buyer(demo, "queue") is None
    assert count(demo) == 5
    with demo.app_context():
        assert db.session.scalar(select(func.count()).select_from(CampaignBuyer)
                                 .where(CampaignBuyer.buyer_id == queue.id)) == 0
        assert db.session.scalar(select(func.count()).select_from(BuyerHeader)
                                 .where(BuyerHeader.buyer_id == queue.id)) == 0


def test_delete_htmx(admin_client, demo):
    response = admin_client.post(f"/buyers/{buyer(demo, 'secure').id}/delete", headers=HX)
    assert response.status_code == 200 and response.data == b""
    assert count(demo) == 5


@pytest.mark.parametrize("url", ["/buyers/999/pause", "/buyers/999/resume", "/buyers/999/delete",
                                 "/buyers/99999999999999/delete"])
def test_unknown_ids(admin_client, demo, url):
    assert admin_client.post(url).status_code == 404


def test_get_on_post_routes_not_allowed(admin_client, demo):
    assert admin_client.get(f"/buyers/{buyer(demo, 'queue').id}/pause").status_code == 405
    assert not buyer(demo, "queue").paused


def test_buyer_with_username_and_no_password_is_flagged(admin_client, demo):
    with demo.app_context():
        secure = db.session.scalar(select(Buyer).where(Buyer.ref == "secure"))
        secure.sip_password_encrypted = ""  # as after importing an export made without secrets
        db.session.commit()
        bid = secure.id
    badge = "no password: calls fail"
    for headers in ({}, HX):
        body = admin_client.get("/buyers/", headers=headers).text
        assert body.count(badge) == 1  # only secure: the others have no username
    assert badge in admin_client.post(f"/buyers/{bid}/pause", headers=HX).text
    page = admin_client.get(f"/buyers/{bid}/edit").text
    assert 'id="missing-password"' in page and "--with-secrets" in page
    assert "Type the password under SIP below and save" in page
    other = admin_client.get(f"/buyers/{buyer(demo, 'queue').id}/edit").text
    assert 'id="missing-password"' not in other and badge not in admin_client.get(
        "/buyers/?q=queue", headers=HX).text
