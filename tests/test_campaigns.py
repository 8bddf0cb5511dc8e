"""Campaigns pages: list, active search, create/edit, delete rules, ordered routing list."""

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Buyer, Campaign, CampaignBuyer, Number
from tests.support.html import HX, field_html


def count(app, model=Campaign):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def campaign_id(app, ref):
    with app.app_context():
        return db.session.scalar(select(Campaign.id).where(Campaign.ref == ref))


def buyer_id(app, ref):
    with app.app_context():
        return db.session.scalar(select(Buyer.id).where(Buyer.ref == ref))


def routing(app, ref):
    with app.app_context():
        campaign = db.session.scalar(select(Campaign).where(Campaign.ref == ref))
        entries = list(campaign.routing)
        assert [e.position for e in entries] == list(range(len(entries)))
        return [e.buyer.ref for e in entries]


def snapshot(app):
    with app.app_context():
        return sorted((c.ref, c.name, tuple(e.buyer.ref for e in c.routing))
                      for c in db.session.scalars(select(Campaign)))


@pytest.mark.parametrize("method,url", [
    ("get", "/campaigns/"), ("get", "/campaigns/new"), ("post", "/campaigns/new"),
    ("get", "/campaigns/1/edit"), ("post", "/campaigns/1/edit"),
    ("post", "/campaigns/1/delete"), ("post", "/campaigns/1/routing/add"),
    ("post", "/campaigns/1/routing/1/move"), ("post", "/campaigns/1/routing/1/remove")])
def test_login_required(client, app, method, url):
    response = getattr(client, method)(url, data={"name": "X"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert count(app) == 0


def test_list_renders_demo(admin_client, demo):
    response = admin_client.get("/campaigns/")
    body = response.text
    assert response.status_code == 200 and "<html" in body
    assert "Auto Insurance" in body and "Medicare Advantage" in body
    assert "Agent queue (Asterisk)" in body
    assert 'hx-trigger="search, keyup changed delay:300ms"' in body


def test_active_search(admin_client, demo):
    fragment = admin_client.get("/campaigns/?q=medi", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "Medicare Advantage" in fragment.text and "Auto Insurance" not in fragment.text
    full = admin_client.get("/campaigns/?q=medi").text
    assert "<html" in full and "Medicare Advantage" in full and "Auto Insurance" not in full
    assert "No campaign matches" in admin_client.get("/campaigns/?q=%25", headers=HX).text


@pytest.mark.app_config(PER_PAGE=1)
def test_pagination(admin_client, demo):
    first = admin_client.get("/campaigns/").text
    assert "Page 1 of 2 (2)" in first and "Medicare Advantage" not in first
    assert "Medicare Advantage" in admin_client.get("/campaigns/?page=2").text


def test_create_goes_to_its_page(admin_client, demo):
    response = admin_client.post("/campaigns/new", data={"name": "Home Warranty", "ref": ""})
    assert response.status_code == 302
    new_id = campaign_id(demo, "home-warranty")
    assert response.headers["Location"] == f"/campaigns/{new_id}/edit"
    page = admin_client.get(f"/campaigns/{new_id}/edit").text
    assert "Campaign Home Warranty created." in page
    assert "No buyers yet" in page and "No tracking numbers yet." in page

    response = admin_client.post("/campaigns/new", headers=HX, data={"name": "Home Warranty"})
    assert response.status_code == 204
    second = campaign_id(demo, "home-warranty-2")
    assert response.headers["HX-Redirect"] == f"/campaigns/{second}/edit"


BAD = [
    ({"name": ""}, "name", "Name is required."),
    ({"name": "x" * 201}, "name", "Name must be at most 200 characters"),
    ({"name": "A\nB"}, "name", "must not contain control characters"),
    ({"name": "X", "ref": "UPPER"}, "ref", "Ref must be 1–64 characters"),
    ({"name": "X", "ref": "r" * 65}, "ref", "Ref must be 1–64 characters"),
    ({"name": "X", "ref": "auto"}, "ref",
     "Ref 'auto' is already used by campaign 'Auto Insurance'."),
]


@pytest.mark.parametrize("data,fld,message", BAD)
def test_create_bad_input(admin_client, demo, data, fld, message):
    before = snapshot(demo)
    response = admin_client.post("/campaigns/new", data=data)
    assert response.status_code == 200
    assert str(escape(message)) in field_html(response.text, fld)
    assert snapshot(demo) == before
    htmx = admin_client.post("/campaigns/new", data=data, headers=HX)
    assert htmx.status_code == 422
    assert "<html" not in htmx.text and 'id="campaign-form"' in htmx.text
    assert str(escape(message)) in field_html(htmx.text, fld)
    assert snapshot(demo) == before


def test_edit(admin_client, demo):
    auto = campaign_id(demo, "auto")
    page = admin_client.get(f"/campaigns/{auto}/edit").text
    assert 'value="Auto Insurance"' in page
    assert "+18882223333" in page and "+18664420199" in page  # its numbers
    assert 'id="routing"' in page
    response = admin_client.post(f"/campaigns/{auto}/edit",
                                 data={"name": "Auto Insurance US", "ref": "auto-us"})
    assert response.status_code == 302
    assert campaign_id(demo, "auto-us") == auto
    assert routing(demo, "auto-us") == ["queue", "secure", "phone"]

    before = snapshot(demo)
    response = admin_client.post(f"/campaigns/{auto}/edit",
                                 data={"name": "Typed", "ref": "medicare"}, headers=HX)
    assert response.status_code == 422
    assert "already used by campaign" in field_html(response.text, "ref")
    assert 'value="Typed"' in response.text
    assert snapshot(demo) == before


@pytest.mark.parametrize("url", ["/campaigns/999/edit", "/campaigns/99999999999999/edit"])
def test_unknown_ids(admin_client, demo, url):
    assert admin_client.get(url).status_code == 404
    assert admin_client.post(url.replace("edit", "delete")).status_code == 404
    assert admin_client.post(url.replace("edit", "routing/add")).status_code == 404


def test_delete_with_numbers_is_refused(admin_client, demo):
    auto = campaign_id(demo, "auto")
    before = snapshot(demo)
    response = admin_client.post(f"/campaigns/{auto}/delete")
    assert response.status_code == 302
    page = admin_client.get(response.headers["Location"]).text
    message = "Campaign Auto Insurance still has 2 numbers: move or delete its numbers first."
    assert message in page

    htmx = admin_client.post(f"/campaigns/{auto}/delete", headers=HX)
    assert htmx.status_code == 409
    assert "<html" not in htmx.text
    assert htmx.text.lstrip().startswith("<tr") and message in htmx.text
    assert snapshot(demo) == before and count(demo, Number) == 4


def test_delete_plain_post(admin_client, demo):
    admin_client.post("/campaigns/new", data={"name": "Empty"})
    empty = campaign_id(demo, "empty")
    admin_client.post(f"/campaigns/{empty}/routing/add", data={"buyer": "queue"})
    response = admin_client.post(f"/campaigns/{empty}/delete", data={"next": "/campaigns/"})
    assert response.status_code == 302
    assert "Deleted campaign Empty." in admin_client.get("/campaigns/").text
    assert count(demo) == 2
    assert count(demo, Buyer) == 6  # buyers stay; only the routing entry went
    with demo.app_context():
        assert db.session.scalar(select(func.count()).select_from(CampaignBuyer)
                                 .where(CampaignBuyer.campaign_id == empty)) == 0


def test_delete_htmx(admin_client, demo):
    admin_client.post("/campaigns/new", data={"name": "Empty"})
    response = admin_client.post(f"/campaigns/{campaign_id(demo, 'empty')}/delete", headers=HX)
    assert response.status_code == 200 and response.data == b""
    assert count(demo) == 2


# --- routing list ----------------------------------------------------------------------------

def test_routing_move_plain_post(admin_client, demo):
    auto, secure = campaign_id(demo, "auto"), buyer_id(demo, "secure")
    response = admin_client.post(f"/campaigns/{auto}/routing/{secure}/move",
                                 data={"direction": "up"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/campaigns/{auto}/edit#routing"
    assert routing(demo, "auto") == ["secure", "queue", "phone"]
    assert "Moved Acme PBX (digest auth) up." in admin_client.get(f"/campaigns/{auto}/edit").text
    # first stays first
    admin_client.post(f"/campaigns/{auto}/routing/{secure}/move", data={"direction": "up"})
    assert routing(demo, "auto") == ["secure", "queue", "phone"]


def test_routing_move_htmx(admin_client, demo):
    auto, queue = campaign_id(demo, "auto"), buyer_id(demo, "queue")
    response = admin_client.post(f"/campaigns/{auto}/routing/{queue}/move",
                                 data={"direction": "down"}, headers=HX)
    assert response.status_code == 200
    body = response.text
    assert "<html" not in body and body.lstrip().startswith('<div id="routing"')
    assert body.index("Acme PBX") < body.index("Agent queue") < body.index("Sales desk")
    assert routing(demo, "auto") == ["secure", "queue", "phone"]
    admin_client.post(f"/campaigns/{auto}/routing/{queue}/move", data={"direction": "down"},
                      headers=HX)
    admin_client.post(f"/campaigns/{auto}/routing/{queue}/move", data={"direction": "down"},
                      headers=HX)
    assert routing(demo, "auto") == ["secure", "phone", "queue"]


def test_routing_move_bad_input(admin_client, demo):
    auto, queue = campaign_id(demo, "auto"), buyer_id(demo, "queue")
    overflow = buyer_id(demo, "overflow")  # not on auto's list
    assert admin_client.post(f"/campaigns/{auto}/routing/{queue}/move",
                             data={"direction": "sideways"}).status_code == 400
    assert admin_client.post(f"/campaigns/{auto}/routing/{queue}/move").status_code == 400
    assert admin_client.post(f"/campaigns/{auto}/routing/{overflow}/move",
                             data={"direction": "up"}).status_code == 404
    assert admin_client.post(f"/campaigns/{auto}/routing/{overflow}/remove").status_code == 404
    assert admin_client.post(f"/campaigns/{auto}/routing/99999999999/remove").status_code == 404
    assert routing(demo, "auto") == ["queue", "secure", "phone"]


def test_routing_remove_both_ways(admin_client, demo):
    auto = campaign_id(demo, "auto")
    response = admin_client.post(f"/campaigns/{auto}/routing/{buyer_id(demo, 'queue')}/remove")
    assert response.status_code == 302
    assert "Removed Agent queue (Asterisk) from the routing list." in \
        admin_client.get(f"/campaigns/{auto}/edit").text
    assert routing(demo, "auto") == ["secure", "phone"]
    response = admin_client.post(f"/campaigns/{auto}/routing/{buyer_id(demo, 'phone')}/remove",
                                 headers=HX)
    assert response.status_code == 200 and "<html" not in response.text
    assert "Sales desk" not in response.text.split("<select")[0]
    assert routing(demo, "auto") == ["secure"]
    assert count(demo, Buyer) == 6


def test_routing_add_both_ways(admin_client, demo):
    auto = campaign_id(demo, "auto")
    page = admin_client.get(f"/campaigns/{auto}/edit").text
    select_html = page[page.index('<select id="buyer"'):]
    select_html = select_html[:select_html.index("</select>")]
    assert 'value="overflow"' in select_html and 'value="queue"' not in select_html

    response = admin_client.post(f"/campaigns/{auto}/routing/add", data={"buyer": "overflow"})
    assert response.status_code == 302
    assert routing(demo, "auto") == ["queue", "secure", "phone", "overflow"]
    for ref in ("ny-floor", "la-night"):  # the demo's other buyers: then every one is on it
        admin_client.post(f"/campaigns/{auto}/routing/add", data={"buyer": ref})
    admin_client.post(f"/campaigns/{auto}/routing/{buyer_id(demo, 'phone')}/remove")
    response = admin_client.post(f"/campaigns/{auto}/routing/add", data={"buyer": "phone"},
                                 headers=HX)
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="routing"' in response.text
    assert routing(demo, "auto") == ["queue", "secure", "overflow", "ny-floor", "la-night",
                                     "phone"]
    assert "Every buyer is on the list already." in response.text


@pytest.mark.parametrize("value,message", [
    ("", "Choose a buyer to add."),
    ("nope", "That buyer no longer exists; reload the page."),
    ("a\x00b", "That buyer no longer exists"),
    ("queue", "A buyer appears more than once in the routing list."),
])
def test_routing_add_bad_input(admin_client, demo, value, message):
    auto = campaign_id(demo, "auto")
    before = snapshot(demo)
    response = admin_client.post(f"/campaigns/{auto}/routing/add", data={"buyer": value})
    assert response.status_code == 200
    assert "<html" in response.text
    assert str(escape(message)) in field_html(response.text, "buyer")
    htmx = admin_client.post(f"/campaigns/{auto}/routing/add", data={"buyer": value}, headers=HX)
    assert htmx.status_code == 422
    assert "<html" not in htmx.text and 'id="routing"' in htmx.text
    assert str(escape(message)) in field_html(htmx.text, "buyer")
    assert snapshot(demo) == before
