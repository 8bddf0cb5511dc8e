"""Delivering webhooks to a real HTTP receiver on 127.0.0.1: headers and the signature (checked
with the documented example), retries on the schedule with an injected clock, final answers,
a restart between tries, claims across workers, "Retry now", "Send test", the delivery log.
SQLite and PostgreSQL. The address guard is tested in tests/test_webhook_safety.py."""
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from werkzeug.datastructures import Headers

from sipflask import create_app
from sipflask.extensions import db
from sipflask.webhooks import deliver, events, tries
from sipflask.webhooks.events import Facts
from sipflask.webhooks.model import Delivery, Webhook
from tests.support.outbound import SECRET, deliveries, hook_named, make_hook, run, tries_of, utc
from tests.support.receiver import Receiver, Reply
from tests.support.webhook import parse, pause_all_but, the_call, voice

pytestmark = pytest.mark.app_config(WEBHOOKS_ALLOW_PRIVATE=True)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "webhooks.md"
T0 = utc(2030, 1, 1, 12, 0)
VALUES = {"call_uuid": "6f1e6c1e-0000-4000-8000-000000000001", "event": "call.started",
          "caller_city": "São Paulo", "campaign_id": "7"}


@pytest.fixture
def rx():
    receiver = Receiver()
    yield receiver
    receiver.close()


def queue_event(app, values=None, name="call.started", count=1):
    """What the call flow does: the event's deliveries written and committed."""
    with app.app_context():
        for _ in range(count):
            events.emit(name, None, Facts(None, None, None, {}), lambda: dict(values or VALUES))
        db.session.commit()


def only(app):
    [d] = deliveries(app)
    return d


def documented_verify():
    """The 10-line example of docs/webhooks.md, run as written."""
    section = DOCS.read_text().split("## Verifying the signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    scope = {}
    exec(code, scope)  # noqa: S102  the documentation's own code
    return scope["verify"]


def test_delivered_with_its_headers_and_a_signature_the_docs_verify(app, rx):
    make_hook(app, "call.started", rx.url("/in/[call_uuid]") + "?city=[caller_city]",
              signing_secret=SECRET,
              headers=[{"name": "Authorization", "value": "Bearer tok-123456", "secret": True},
                       {"name": "X-Campaign", "value": "c-[campaign_id]"}])
    queue_event(app)
    assert run(app) == {"delivered": 1}
    [seen] = rx.wait_for(1)
    d = only(app)
    assert d["state"] == "delivered" and d["tries"] == 1 and d["last_status"] == 200
    assert seen.raw_target == f"/in/{VALUES['call_uuid']}?city=S%C3%A3o%20Paulo"
    assert seen.headers["x-sipflask-delivery"] == d["uuid"]
    assert seen.headers["x-sipflask-event"] == "call.started"
    assert seen.headers["authorization"] == "Bearer tok-123456"
    assert seen.headers["x-campaign"] == "c-7"
    assert seen.headers["content-type"] == "application/json"
    assert seen.body == f'{{"event": "call.started", "uuid": "{VALUES["call_uuid"]}"}}'.encode()
    headers = Headers([(k.title(), v) for k, v in seen.headers.items()])
    verify = documented_verify()
    assert verify(SECRET, headers, seen.body)
    assert not verify(SECRET, headers, seen.body + b" ")
    assert not verify("another-secret-0000", headers, seen.body)
    [logged] = tries_of(app, d["id"])
    assert logged["status"] == 200 and logged["body"] == "ok" and logged["error"] == ""
    shown = dict(logged["request"]["headers"])
    assert shown["Authorization"] == "[secret]" and "tok-123456" not in str(logged["request"])
    assert shown["X-Sipflask-Delivery"] == d["uuid"]


def test_retries_follow_the_schedule_with_an_injected_clock(app, rx):
    make_hook(app, "call.started", rx.url())
    rx.answer(Reply(500), Reply(429, {"Retry-After": "900"}), Reply(503), Reply(reset=True),
              Reply(502), Reply(500))
    queue_event(app)
    expected = [  # (when it runs, status seen, when it is due next)
        (T0, 500, T0 + timedelta(minutes=2)),
        (T0 + timedelta(minutes=2), 429, T0 + timedelta(minutes=17)),   # Retry-After: 15 min
        (T0 + timedelta(minutes=17), 503, T0 + timedelta(minutes=25)),
        (T0 + timedelta(minutes=25), None, T0 + timedelta(minutes=41)),  # reset
        (T0 + timedelta(minutes=41), 502, T0 + timedelta(minutes=73)),
    ]
    with app.app_context():  # due from T0 on
        db.session.execute(update(Delivery).values(next_try_at=T0))
        db.session.commit()
    for n, (at, status, due) in enumerate(expected, start=1):
        assert run(app, at - timedelta(seconds=1)) == {}  # not due a second early
        assert run(app, at) == {"pending": 1}
        d = only(app)
        assert (d["tries"], d["last_status"], d["next_try_at"]) == (n, status, due), d
    assert run(app, T0 + timedelta(minutes=73)) == {"failed": 1}
    d = only(app)
    assert d["tries"] == 6 and d["next_try_at"] is None
    assert "gave up after 6 tries" in d["last_error"]
    assert len(rx.requests) == 6
    assert {r.headers["x-sipflask-delivery"] for r in rx.requests} == {d["uuid"]}
    logged = tries_of(app, d["id"])
    assert [t["status"] for t in logged] == [500, 429, 503, None, 502, 500]
    assert "connection" in logged[3]["error"]


@pytest.mark.parametrize("reply, error", [
    (Reply(404), "HTTP 404"), (Reply(400), "HTTP 400"),
    (Reply(302, {"Location": "http://169.254.169.254/"}), "redirects are not followed"),
])
def test_other_answers_are_final(app, rx, reply, error):
    make_hook(app, "call.started", rx.url())
    rx.answer(reply)
    queue_event(app)
    assert run(app) == {"failed": 1}
    d = only(app)
    assert error in d["last_error"] and d["tries"] == 1 and len(rx.requests) == 1


@pytest.mark.app_config(WEBHOOKS_ALLOW_PRIVATE=True, WEBHOOK_TIMEOUT="1,0.3")
def test_a_slow_receiver_times_out_and_is_tried_again(app, rx):
    make_hook(app, "call.started", rx.url())
    rx.answer(Reply(delay=1.0))
    queue_event(app)
    assert run(app) == {"pending": 1}
    assert only(app)["last_error"] == "read timeout"
    assert run(app, only(app)["next_try_at"]) == {"delivered": 1}


def test_a_closed_port_is_a_connection_error_tried_again(app):
    make_hook(app, "call.started", "http://127.0.0.1:9/closed")
    queue_event(app)
    assert run(app) == {"pending": 1}
    assert only(app)["last_error"].startswith("connection failed:")
    assert "refused" in only(app)["last_error"].lower()


def test_a_restart_between_tries_loses_nothing(app, rx):
    make_hook(app, "call.started", rx.url())
    rx.answer(Reply(500), Reply(500))
    queue_event(app, count=2)
    assert run(app, T0) == {"pending": 2}
    with app.app_context():  # a worker claimed the second and died before its result
        second = db.session.scalars(select(Delivery.id).order_by(Delivery.id)).all()[1]
        conf = tries.settings()
        assert tries.claim(second, T0 + timedelta(minutes=2), conf.lease)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    again = create_app({k: v for k, v in app.config.items() if k.isupper()})  # a new process
    try:
        assert run(again, T0 + timedelta(minutes=2)) == {"delivered": 1}
        assert run(again, T0 + timedelta(minutes=2) + conf.lease) == {"delivered": 1}
        assert [(d["state"], d["tries"]) for d in deliveries(again)] == [("delivered", 2),
                                                                         ("delivered", 3)]
        uuids = [r.headers["x-sipflask-delivery"] for r in rx.requests]
        assert len(uuids) == 4 and len(set(uuids)) == 2  # each sent again under its own uuid
    finally:
        with again.app_context():
            db.session.remove()
            db.engine.dispose()


def test_two_workers_never_send_one_delivery_at_the_same_time(app, rx):
    make_hook(app, "call.started", rx.url())
    rx.default = Reply(delay=0.05)
    queue_event(app, count=12)
    errors = []

    def worker():
        try:
            run(app)
        except Exception as exc:  # noqa: BLE001  shown by the assert below
            errors.append(exc)
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    run(app)  # whatever a busy database made a worker skip
    uuids = [r.headers["x-sipflask-delivery"] for r in rx.requests]
    assert len(uuids) == 12 and len(set(uuids)) == 12
    assert {d["state"] for d in deliveries(app)} == {"delivered"}


def test_the_log_keeps_the_first_2_kb_of_a_big_answer(app, rx):
    make_hook(app, "call.started", rx.url())
    rx.answer(Reply(200, {"X-Receiver": "yes"}, b"x" * 100_000))
    queue_event(app)
    run(app)
    [logged] = tries_of(app, only(app)["id"])
    assert logged["body"] == "x" * 2048 and ["X-Receiver", "yes"] in logged["headers"]
    assert logged["duration_ms"] is not None


def test_retry_now_sends_again_whatever_the_state(app, rx):
    make_hook(app, "call.started", rx.url())
    rx.answer(Reply(404))
    queue_event(app)
    run(app)
    assert only(app)["state"] == "failed"
    with app.app_context():
        delivery = db.session.get(Delivery, only(app)["id"])
        result = deliver.retry_now(delivery)
        assert result.status == 200 and result.state == "delivered"
        db.session.execute(update(Delivery).values(sending_until=utc(2999, 1, 1)))
        db.session.commit()
        assert deliver.retry_now(delivery) is None  # a worker is sending it right now
    assert (only(app)["state"], only(app)["tries"]) == ("delivered", 2)


def test_a_disabled_webhook_sends_nothing_more(app, rx):
    make_hook(app, "call.started", rx.url())
    queue_event(app)
    with app.app_context():
        db.session.execute(update(Webhook).values(enabled=False))
        db.session.commit()
    assert run(app) == {"failed": 1}
    assert only(app)["last_error"] == "the webhook is disabled" and rx.requests == []


def test_a_value_that_would_split_a_header_is_refused(app, rx):
    make_hook(app, "call.started", rx.url(),
              headers=[{"name": "X-City", "value": "[caller_city]"}])
    queue_event(app, {**VALUES, "caller_city": "Paris\r\nX-Evil: 1"})
    assert run(app) == {"refused": 1}
    assert "X-City" in only(app)["last_error"] and rx.requests == []


def test_send_test_uses_a_sample_call_and_stores_nothing(app, rx):
    make_hook(app, "call.converted", rx.url("/t/[call_uuid]") + "?r=[revenue]",
              headers=[{"name": "Authorization", "value": "Bearer tok-123456", "secret": True}])
    with app.app_context():
        result = deliver.send_test(db.session.scalar(select(Webhook)))
    [seen] = rx.wait_for(1)
    assert seen.headers["x-sipflask-test"] == "true"
    assert seen.raw_target == "/t/00000000-0000-4000-8000-000000000000?r=12.50"
    assert result.status == 200 and result.body == "ok" and result.duration_ms is not None
    assert dict(result.request["headers"])["Authorization"] == "[secret]"
    assert deliveries(app) == []


def test_send_test_with_a_real_call_masks_its_key(app, demo, client, rx):
    make_hook(app, "call.started", rx.url("/k") + "?key=[call_key]&uuid=[call_uuid]",
              include_key=True)
    pause_all_but(app, "queue")
    parse(voice(client))
    call = the_call(app)
    hook = hook_named(app, "call-started")
    with app.app_context():
        result = deliver.send_test(db.session.merge(hook), db.session.merge(call))
    seen = [r for r in rx.wait_for(1) if "x-sipflask-test" in r.headers][0]
    assert dict(seen.query) == {"key": call.key, "uuid": call.uuid}
    assert call.key not in str(result.request) and "[secret]" in result.request["url"]
