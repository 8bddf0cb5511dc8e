"""Caps hold across concurrent requests: enforced by the database, not in memory."""
import threading
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from sipflask.callflow import caps
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call
from tests.support.webhook import AUTO, pause_all_but, voice

CONCURRENT = 24
# The storms test caps, not the webhook's time bounds: 24 threads on a busy 2-core machine can
# wait longer than the default pool, statement and webhook budgets, and a webhook past them
# answers from outage routing, which does not enforce caps (docs/reliability.md).
STORM_CONFIG = pytest.mark.app_config(DB_POOL_TIMEOUT=30, DB_STATEMENT_TIMEOUT=30,
                                      DB_WEBHOOK_BUDGET=0)


def _cap_queue(app, concurrency=None, daily=None):
    pause_all_but(app, "queue")
    with app.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        queue.concurrency_cap, queue.daily_cap = concurrency, daily
        db.session.commit()
        return queue.id


def _storm(app, n=CONCURRENT):
    """n signed voice webhooks at once, each thread with its own request and DB connection."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def one(i):
        client = app.test_client()
        barrier.wait()
        results[i] = voice(client, sid=f"CA{i:032d}", caller=f"+1415555{2600 + i:04d}",
                           To=AUTO).get_data(as_text=True)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _dialled(results):
    return sum(ET.fromstring(r).find("Dial") is not None for r in results)


@STORM_CONFIG
@pytest.mark.parametrize("backend", ["postgres"])
def test_concurrency_cap_holds_under_parallel_webhooks(demo):
    buyer_id = _cap_queue(demo, concurrency=3)
    results = _storm(demo)
    assert _dialled(results) == 3
    with demo.app_context():
        assert db.session.get(Buyer, buyer_id).active_calls == 3
        held = db.session.scalar(select(db.func.count()).select_from(Attempt)
                                 .where(Attempt.holds_slot.is_(True)))
        assert held == 3


@STORM_CONFIG
@pytest.mark.parametrize("backend", ["postgres"])
def test_daily_cap_holds_under_parallel_webhooks(demo):
    buyer_id = _cap_queue(demo, daily=5)
    results = _storm(demo)
    assert _dialled(results) == 5
    with demo.app_context():
        assert db.session.get(Buyer, buyer_id).calls_today == 5


def test_reserve_and_release_counters(demo):
    buyer_id = _cap_queue(demo, concurrency=2, daily=3)
    with demo.app_context():
        assert caps.reserve(buyer_id) and caps.reserve(buyer_id)
        assert not caps.reserve(buyer_id)  # 2/2 concurrent
        call = Call(caller="+14155552671", called=AUTO)
        first = Attempt(call=call, buyer_id=buyer_id, holds_slot=True)
        second = Attempt(call=call, buyer_id=buyer_id, holds_slot=True)
        db.session.add_all([call, first, second])
        db.session.flush()
        assert caps.release(first)
        assert not caps.release(first)  # a slot is given back once only
        assert caps.reserve(buyer_id)  # the freed slot: third call today
        assert caps.release(second)
        assert not caps.reserve(buyer_id)  # a slot is free, but the day's 3 calls are used
        buyer = db.session.get(Buyer, buyer_id)
        db.session.refresh(buyer)
        assert (buyer.active_calls, buyer.calls_today) == (1, 3)
        db.session.rollback()


def test_daily_counter_starts_again_at_the_buyers_midnight(demo):
    from datetime import datetime, timezone
    buyer_id = _cap_queue(demo, daily=1)
    # 23:59:59 and 00:00:00 in Chicago (UTC-6 in December): two local dates, one UTC date.
    before = caps.Windows.at("America/Chicago", datetime(2026, 12, 2, 5, 59, 59, tzinfo=timezone.utc))
    after = caps.Windows.at("America/Chicago", datetime(2026, 12, 2, 6, 0, 0, tzinfo=timezone.utc))
    with demo.app_context():
        assert caps.reserve(buyer_id, before).mode == "dialled"
        assert caps.reserve(buyer_id, before) is None
        assert caps.reserve(buyer_id, after).day.isoformat() == "2026-12-02"
        # A late call of the old day never moves the counter back: it is held to the new day.
        assert caps.reserve(buyer_id, before) is None
        buyer = db.session.get(Buyer, buyer_id)
        db.session.refresh(buyer)
        assert (buyer.calls_day.isoformat(), buyer.calls_today) == ("2026-12-02", 1)
        assert caps.used(buyer, after) == (1, 1, 2)  # hour, day: new windows; December: 2
        assert caps.used(buyer, before)[1] == 1  # from the old day, the new one counts
        db.session.rollback()


@pytest.mark.app_config(ROUTING_CACHE_SECONDS=60)
def test_freed_slots_route_at_once_with_a_cached_routing_list(client, demo):
    """Issue 15, finding 4: a snapshot cached while the buyer was full must not refuse calls
    after its slots are freed."""
    from sipflask.callflow import directory
    from tests.support.webhook import post
    _cap_queue(demo, concurrency=3)
    for i in range(3):
        assert b"<Dial" in voice(client, sid=f"CA{i:032d}").data
    with demo.app_context():
        directory.clear_cache()  # the next call caches the buyer as 3/3
    assert b"nobody is available" in voice(client, sid=f"CA{3:032d}").data
    for i in range(3):
        post(client, "/twilio/status", {"CallSid": f"CA{i:032d}", "CallStatus": "completed"})
    routed = 0
    for i in range(10, 25):
        routed += b"<Dial" in voice(client, sid=f"CA{i:032d}").data
        post(client, "/twilio/status", {"CallSid": f"CA{i:032d}", "CallStatus": "completed"})
    assert routed == 15


def test_take_gives_back_expired_leases_once(demo):
    from datetime import timedelta
    buyer_id = _cap_queue(demo, concurrency=1)
    with demo.app_context():
        call = Call(caller="+14155552671", called=AUTO)
        stale = Attempt(call=call, buyer_id=buyer_id, holds_slot=True,
                        lease_expires_at=caps.now() - timedelta(seconds=1))
        db.session.add_all([call, stale])
        db.session.get(Buyer, buyer_id).active_calls = 1
        db.session.commit()
        assert caps.take(buyer_id).mode == "dialled"  # the expired lease gave its slot back
        assert caps.take(buyer_id) is None  # 1/1 at once
        assert caps.reap_expired(buyer_id) == 0
        db.session.refresh(stale)
        assert not stale.holds_slot and db.session.get(Buyer, buyer_id).active_calls == 1
        db.session.rollback()
