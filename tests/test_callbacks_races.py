"""One call's callbacks, raced: each pair started together on a barrier, 40 rounds each, on
PostgreSQL (row locks; CI runs these). Whatever the interleaving, no ended call holds a slot,
every buyer's counter equals the slots its attempts hold, and a repeat gets the first answer."""
import threading
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call
from tests.support.call_state import assert_consistent
from tests.support.webhook import BASE, pause_all_but, post, voice

ROUNDS = 40
PG_ONLY = pytest.mark.parametrize("backend", ["postgres"])


def _sid(i):
    return f"CA{i:032x}"


def _together(app, *requests):
    """Run each ``request(client)`` in its own thread (own app context, own connection), all
    released at once; returns their responses in order."""
    barrier = threading.Barrier(len(requests))
    out = [None] * len(requests)

    def run(i, request):
        client = app.test_client()
        barrier.wait()
        out[i] = request(client)

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(r is not None for r in out), "a request did not finish"
    return out


def _dial_action(root, sid, status="busy"):
    path = ET.fromstring(root).find("Dial").get("action")[len(BASE):]
    return lambda client: post(client, path, {"CallSid": sid, "DialCallStatus": status,
                                              "DialCallDuration": "0"})


def _status(sid, status="completed"):
    return lambda client: post(client, "/twilio/status", {"CallSid": sid, "CallStatus": status})


def _setup(app):
    pause_all_but(app, "queue", "secure", "phone")
    with app.app_context():
        for buyer in db.session.scalars(select(Buyer)):
            buyer.concurrency_cap = buyer.daily_cap = None
        db.session.commit()


@PG_ONLY
def test_dial_action_and_status_together_leave_no_slot_held(client, demo):
    _setup(demo)
    for i in range(ROUNDS):
        first = voice(client, sid=_sid(i)).data
        action, status = _together(demo, _dial_action(first, _sid(i)), _status(_sid(i)))
        assert action.status_code == 200 and status.status_code == 204
        assert b"can't connect" not in action.data
    assert_consistent(demo)
    with demo.app_context():
        open_calls = db.session.scalar(select(func.count()).select_from(Call)
                                       .where(Call.ended_at.is_(None)))
        assert open_calls == 0
        assert db.session.scalar(select(func.sum(Buyer.active_calls))) == 0


@PG_ONLY
def test_two_identical_dial_actions_dial_one_buyer(client, demo):
    _setup(demo)
    for i in range(ROUNDS):
        first = voice(client, sid=_sid(i)).data
        one, two = _together(demo, _dial_action(first, _sid(i)), _dial_action(first, _sid(i)))
        assert one.data == two.data and b"<Dial" in one.data
        with demo.app_context():
            call = db.session.scalar(select(Call).where(Call.call_sid == _sid(i)))
            assert len(call.attempts) == 2
            assert [a.holds_slot for a in call.attempts] == [False, True]
    assert_consistent(demo)


@PG_ONLY
def test_two_identical_voice_webhooks_answer_alike(client, demo):
    _setup(demo)
    for i in range(ROUNDS):
        one, two = _together(demo, lambda c, i=i: voice(c, sid=_sid(i)),
                             lambda c, i=i: voice(c, sid=_sid(i)))
        assert one.data == two.data and b"<Dial" in one.data
    with demo.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == ROUNDS
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == ROUNDS
    assert_consistent(demo)


def test_dial_action_after_status_reserves_nobody(client, demo):
    """The order the race above can take, played in sequence on both databases."""
    _setup(demo)
    first = voice(client, sid=_sid(1)).data
    assert _status(_sid(1))(client).status_code == 204
    late = _dial_action(first, _sid(1))(client)
    assert b"<Dial" not in late.data and b"<Hangup" in late.data
    with demo.app_context():
        call = db.session.scalar(select(Call))
        assert len(call.attempts) == 1 and call.attempts[0].dial_status == "busy"
    assert_consistent(demo)
