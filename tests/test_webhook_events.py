"""Every call event writes one delivery per matching enabled webhook, once per occurrence, with
the event's values, in the call's own transaction (real calls through the signed Twilio
webhooks; SQLite and PostgreSQL); the deliveries then reach a real receiver on 127.0.0.1."""
import json
import time

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, select, text

from sipflask.callflow import caps
from sipflask.core.webhook_rules import EVENTS
from sipflask.extensions import db
from sipflask.jobs.queue import get_queue, run_due
from sipflask.models import Buyer, Call, Campaign, Publisher
from sipflask.webhooks import events
from sipflask.webhooks.model import Delivery, Webhook
from tests.support.outbound import deliveries, make_hook, run
from tests.support.receiver import Receiver
from tests.support.webhook import (AUTO, CALLER, MEDICARE, dial_action, parse, pause_all_but,
                                   post, the_call, voice)

pytestmark = pytest.mark.app_config(WEBHOOKS_ALLOW_PRIVATE=True)
SID = "CA" + "1" * 32


@pytest.fixture
def rx():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def every_event(demo, rx):
    """One webhook per event, all to the receiver."""
    return {e: make_hook(demo, e, rx.url(f"/{e}/[call_uuid]")) for e in EVENTS}


def ids(app, model, ref):
    with app.app_context():
        return db.session.scalar(select(model.id).where(model.ref == ref))


def status(client, status="completed", duration="40"):
    return post(client, "/twilio/status", {"CallSid": SID, "CallStatus": status,
                                           "CallDuration": duration})


def by_event(app):
    found = {}
    for d in deliveries(app):
        found.setdefault(d["event"], []).append(d)
    return found


def test_an_answered_call_fires_started_routed_answered_completed_once(client, demo, rx,
                                                                        every_event):
    pause_all_but(demo, "queue")
    root = parse(voice(client, FromCity="São Paulo", FromState="SP"))
    dial_action(client, root, "completed", 200, "33")
    dial_action(client, root, "completed", 200, "33")  # Twilio repeats it: nothing new
    status(client)
    status(client)  # and the status callback
    found = by_event(demo)
    assert sorted(found) == ["call.answered", "call.completed", "call.routed", "call.started"]
    assert all(len(v) == 1 for v in found.values()), found
    call = the_call(demo)
    queue = ids(demo, Buyer, "queue")
    started = found["call.started"][0]["payload"]
    assert started["call_uuid"] == call.uuid and started["event"] == "call.started"
    assert started["campaign_id"] == str(ids(demo, Campaign, "auto"))
    assert started["publisher_id"] == str(ids(demo, Publisher, "acme"))
    assert started["afid"] == "5678" and started["sub_id"] == "fb-12"
    assert started["caller_number"] == CALLER and started["called_number"] == AUTO
    assert started["caller_city"] == "São Paulo" and started["vertical"] == "auto"
    assert started["event_time"].endswith("Z") and started["buyer_id"] == ""
    routed = found["call.routed"][0]["payload"]
    assert (routed["buyer_id"], routed["buyer_name"], routed["attempt"]) == (
        str(queue), "Agent queue (Asterisk)", "1")
    answered = found["call.answered"][0]["payload"]
    assert (answered["sip_code"], answered["duration"], answered["dial_status"],
            answered["buyer_id"]) == ("200", "33", "completed", str(queue))
    completed = found["call.completed"][0]["payload"]
    assert (completed["duration"], completed["call_status"], completed["buyer_name"]) == (
        "40", "completed", "Agent queue (Asterisk)")
    for d in deliveries(demo):
        assert "call_key" not in d["payload"] and call.key not in json.dumps(d["payload"])
        assert d["call_id"] == call.id and d["state"] == "pending"
    assert run(demo) == {"delivered": 4}
    got = rx.wait_for(4)
    assert sorted(r.headers["x-sipflask-event"] for r in got) == sorted(found)
    for r in got:
        assert r.path == f"/{r.headers['x-sipflask-event']}/{call.uuid}"
        assert json.loads(r.body) == {"event": r.headers["x-sipflask-event"], "uuid": call.uuid}


def test_routed_fires_once_per_attempt(client, demo, every_event):
    pause_all_but(demo, "queue", "secure")
    root = parse(voice(client))
    second = parse(dial_action(client, root, "busy", 486))
    dial_action(client, second, "completed", 200, "5")
    routed = [d["payload"] for d in deliveries(demo, "call.routed")]
    assert [r["attempt"] for r in routed] == ["1", "2"]
    assert {r["buyer_id"] for r in routed} == {str(ids(demo, Buyer, "queue")),
                                               str(ids(demo, Buyer, "secure"))}
    [answered] = deliveries(demo, "call.answered")
    assert answered["payload"]["attempt"] == "2"
    assert answered["payload"]["buyer_id"] == routed[1]["buyer_id"]


def test_a_reservation_refused_at_the_last_moment_takes_its_routed_delivery_back(
        client, demo, every_event, monkeypatch):
    pause_all_but(demo, "queue", "secure")
    real, refused = caps.take, []

    def take(buyer_id, windows):  # another call took the last slot meanwhile
        if not refused:
            refused.append(buyer_id)
            return None
        return real(buyer_id, windows)
    monkeypatch.setattr(caps, "take", take)
    assert parse(voice(client)).find("Dial") is not None
    [routed] = deliveries(demo, "call.routed")
    assert routed["payload"]["buyer_id"] != str(refused[0])
    assert routed["payload"]["attempt"] == "1"
    assert len(deliveries(demo, "call.started")) == 1


def test_no_buyer_ends_with_no_buyer_not_completed(client, demo, every_event):
    pause_all_but(demo)
    parse(voice(client))
    status(client)
    found = by_event(demo)
    assert sorted(found) == ["call.no_buyer", "call.started"]
    assert found["call.no_buyer"][0]["payload"]["reason"].startswith("no buyer available")


def test_all_buyers_failing_ends_with_no_buyer(client, demo, every_event):
    pause_all_but(demo, "queue")
    parse(dial_action(client, parse(voice(client)), "failed", 503))
    found = by_event(demo)
    assert sorted(found) == ["call.no_buyer", "call.routed", "call.started"]


def test_rejected_calls_fire_rejected_only(client, demo, every_event):
    parse(voice(client, to="+15005550006"))
    parse(voice(client, to="sip:+18882223333@x.sip.twilio.com", sid="CA" + "2" * 32,
                SipDomain="x.sip.twilio.com"))
    found = by_event(demo)
    assert list(found) == ["call.rejected"] and len(found["call.rejected"]) == 2
    reasons = [d["payload"]["reason"] for d in found["call.rejected"]]
    assert reasons[0].startswith("unknown number") and "inbound SIP" in reasons[1]


def test_converted_fires_once_per_call(client, demo, every_event):
    pause_all_but(demo, "queue")
    dial_action(client, parse(voice(client)), "completed", 200, "60")
    call = the_call(demo)
    for revenue in ("12.50", "12.50", "15.00"):  # a repeat, then a correction
        response = client.post("/postback", data={"key": call.key, "uuid": call.uuid,
                                                  "revenue": revenue})
        assert response.status_code == 200
    [converted] = deliveries(demo, "call.converted")
    assert converted["payload"]["revenue"] == "12.50"
    assert converted["payload"]["buyer_name"] == "Agent queue (Asterisk)"


def test_filters_pick_the_calls_they_name(client, demo, rx):
    url = rx.url("/f")
    make_hook(demo, "call.routed", url, "auto", filters={"campaign": "auto"})
    make_hook(demo, "call.routed", url, "medicare", filters={"campaign": "medicare"})
    make_hook(demo, "call.routed", url, "acme", filters={"publisher": "acme"})
    make_hook(demo, "call.routed", url, "bluesky", filters={"publisher": "bluesky"})
    make_hook(demo, "call.routed", url, "queue", filters={"buyer": "queue"})
    make_hook(demo, "call.routed", url, "secure", filters={"buyer": "secure"})
    make_hook(demo, "call.routed", url, "tag-auto",
              filters={"tag_key": "vertical", "tag_value": "auto"})
    make_hook(demo, "call.routed", url, "tag-medicare",
              filters={"tag_key": "vertical", "tag_value": "medicare"})
    make_hook(demo, "call.routed", url, "off", enabled=False)
    make_hook(demo, "call.started", url, "other-event")
    pause_all_but(demo, "queue")
    parse(voice(client, to=AUTO))
    with demo.app_context():
        fired = set(db.session.scalars(text(
            "SELECT w.ref FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
            "WHERE d.event = 'call.routed'")))
    assert fired == {"auto", "acme", "queue", "tag-auto"}


def test_a_rolled_back_call_writes_no_delivery(client, demo, every_event, monkeypatch):
    pause_all_but(demo, "queue")

    def broken(*args, **kwargs):
        raise RuntimeError("the database said no")
    monkeypatch.setattr(caps, "take", broken)
    root = parse(voice(client))
    assert root.find("Dial") is None
    with demo.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == 0
    assert deliveries(demo) == []


def test_a_repeated_voice_webhook_fires_nothing_new(client, demo, every_event):
    pause_all_but(demo, "queue")
    parse(voice(client))
    parse(voice(client))
    assert sorted(d["event"] for d in deliveries(demo)) == ["call.routed", "call.started"]


def _webhook_reads(app):
    reads = []

    def seen(conn, cursor, statement, *args):
        if "FROM webhooks" in statement:
            reads.append(statement)
    with app.app_context():
        sa_event.listen(db.engine, "before_cursor_execute", seen)
    return reads


@pytest.mark.app_config(WEBHOOKS_ALLOW_PRIVATE=True, ROUTING_CACHE_SECONDS=60)
def test_enabled_webhooks_are_cached_and_forgotten_on_save(client, demo, rx):
    pause_all_but(demo, "queue")
    reads = _webhook_reads(demo)
    parse(voice(client))
    assert len(reads) == 1  # one read for the call's events, none for the next calls
    parse(voice(client, sid="CA" + "2" * 32))
    assert len(reads) == 1 and deliveries(demo) == []
    make_hook(demo, "call.started", rx.url())  # saved here: this process forgets at once
    parse(voice(client, sid="CA" + "3" * 32))
    assert len(deliveries(demo, "call.started")) == 1
    with demo.app_context():  # another process adds one: seen when the cache time is up
        db.session.execute(insert(Webhook.__table__).values(
            ref="other", name="Other", event="call.started", url=rx.url(), method="POST",
            body_format="", body="", include_key=False, enabled=True, filter_tag_key="",
            filter_tag_value="", signing_secret_encrypted=""))
        db.session.commit()
    parse(voice(client, sid="CA" + "4" * 32))
    assert len(deliveries(demo, "call.started")) == 2
    demo.extensions.pop("sipflask.webhooks.enabled")  # as when the 60 s have passed
    parse(voice(client, sid="CA" + "5" * 32))
    assert len(deliveries(demo, "call.started")) == 4
    with demo.app_context():  # another process disables them: seen when the time is up too
        db.session.execute(text("UPDATE webhooks SET enabled = false"))
        db.session.commit()
    parse(voice(client, sid="CA" + "6" * 32))
    assert len(deliveries(demo, "call.started")) == 6
    demo.extensions.pop("sipflask.webhooks.enabled")
    parse(voice(client, sid="CA" + "7" * 32))
    assert len(deliveries(demo, "call.started")) == 6
    assert run(demo) == {"failed": 6}  # a disabled webhook sends nothing more
    assert {d["last_error"] for d in deliveries(demo)} == {"the webhook is disabled"}


def test_a_webhook_deleted_meanwhile_never_fails_a_call(client, demo, rx):
    make_hook(demo, "call.started", rx.url())
    pause_all_but(demo, "queue")
    with demo.app_context():
        hooks = events.enabled_hooks("call.started")  # as another process has them cached
        db.session.execute(Webhook.__table__.delete())
        db.session.commit()
    with demo.app_context():
        demo.extensions["sipflask.webhooks.enabled"] = (
            time.monotonic() + 60, {"call.started": hooks})
    assert parse(voice(client)).find("Dial") is not None
    assert len(deliveries(demo)) == 1  # written for the webhook as the cache had it
    assert run(demo) == {} and deliveries(demo) == [] and rx.requests == []  # then dropped


def test_a_commit_with_deliveries_queues_the_delivery_job(client, demo, rx):
    make_hook(demo, "call.started", rx.url("/now"))
    parse(voice(client, to=MEDICARE))
    queue = get_queue(demo)
    deadline = time.monotonic() + 5
    while not queue.huey.pending_count() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [t.name for t in queue.huey.pending()] == ["webhooks.deliver_now"]
    with demo.app_context():
        assert run_due(queue) == []
    assert [r.path for r in rx.wait_for(1)] == ["/now"]
    with demo.app_context():
        assert db.session.scalar(select(Delivery.state)) == "delivered"
