"""The overview's live strip: calls in progress now per campaign, and per buyer against its
concurrency cap; polled by htmx, a page of its own without it. SQLite and PostgreSQL."""
import re

from sqlalchemy import select, update

from sipflask.calllog.live import MAX_ROWS, live_strip
from sipflask.extensions import db
from sipflask.models import Buyer, Call, Campaign
from tests.support.html import HX
from tests.support.webhook import AUTO, MEDICARE, parse, voice


def strip_html(body: str) -> str:
    match = re.search(r'<section class="card live-strip" id="live-strip".*?</section>', body, re.S)
    assert match, body[:2000]
    return match.group(0)


def test_login_required(client, app):
    response = client.get("/live")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_nothing_live(admin_client, demo):
    body = admin_client.get("/").get_data(as_text=True)
    strip = strip_html(body)
    assert "0 calls in progress" in strip
    assert "No call in progress." in strip and "No buyer is on a call." in strip
    assert 'hx-get="/live" hx-trigger="every 5s" hx-swap="outerHTML"' in strip


def test_live_calls_per_campaign_and_buyer(admin_client, demo, app):
    # One call still ringing at its first buyer (holds a slot), one answered and talking.
    parse(voice(admin_client, to=AUTO, sid="CA" + "1" * 32))
    root = parse(voice(admin_client, to=MEDICARE, sid="CA" + "2" * 32))
    assert root.find("Dial") is not None
    with app.app_context():
        calls = db.session.scalars(select(Call).order_by(Call.id)).all()
        assert [c.status for c in calls] == ["routing", "routing"]
        db.session.execute(update(Call).where(Call.id == calls[1].id).values(status="in-progress"))
        busy = db.session.scalars(select(Buyer).where(Buyer.active_calls > 0)).all()
        assert busy, "the webhook reserved a buyer"
        first = busy[0]
        first.concurrency_cap = first.active_calls  # full now
        db.session.commit()
        auto = db.session.scalar(select(Campaign).where(Campaign.ref == "auto"))
        auto_id, first_name, first_id = auto.id, first.name, first.id

    strip = live_strip_in_app(app)
    assert strip.live_calls == 2
    assert any(c.campaign_id == auto_id and c.live == 1 for c in strip.campaigns)
    assert sum(c.talking for c in strip.campaigns) == 1
    assert strip.buyers[0].buyer_id == first_id and strip.buyers[0].full

    for headers in ({}, HX):
        response = admin_client.get("/live", headers=headers)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert ("<html" in body) is (not headers)
        strip_part = strip_html(body)
        assert "2 calls in progress" in strip_part
        assert f'href="/calls/?campaign_id={auto_id}&amp;status=live"' in strip_part
        assert first_name in strip_part and "(full)" in strip_part
        assert f'/buyers/{first_id}/edit' in strip_part


def live_strip_in_app(app):
    with app.app_context():
        return live_strip()


def test_ended_calls_are_not_live(admin_client, demo, app):
    with app.app_context():
        db.session.add(Call(status="completed", caller="+1", called=AUTO))
        db.session.add(Call(status="routing", caller="+1", called=AUTO))  # open, no campaign
        db.session.commit()
    strip = live_strip_in_app(app)
    assert strip.live_calls == 1
    assert [(c.label, c.live) for c in strip.campaigns] == [("(no campaign)", 1)]


def test_many_live_campaigns_are_cut_with_a_count(admin_client, demo, app):
    with app.app_context():
        for n in range(MAX_ROWS + 3):
            campaign = Campaign(ref=f"c{n}", name=f"Campaign {n:02d}")
            db.session.add(campaign)
            db.session.flush()
            db.session.add(Call(status="ringing", caller="+1", called=AUTO,
                                campaign_id=campaign.id))
        db.session.commit()
    body = admin_client.get("/live", headers=HX).get_data(as_text=True)
    assert body.count("<tr><td><a href=\"/calls/?campaign_id=") == MAX_ROWS
    assert "and 3 more campaigns" in body
