"""Slots are leases: a lost status callback caps a buyer for one lease at most, with or
without the sweeper job; the sweeper closes such calls with Twilio's own final status."""
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from sipflask.callflow import caps, leases
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call
from tests.support.webhook import pause_all_but, voice

LEASE = timedelta(seconds=30 + caps.MAX_CALL_SECONDS)  # the queue buyer rings for 30 s


@dataclass
class CallStatus:
    status: str
    duration: int | None


class RecordingFetch:
    """Stands in for twilio_rest.calls.fetch_status and notes what it was asked."""

    def __init__(self, answer=None, error=None):
        self.asked, self.answer, self.error = [], answer, error

    def __call__(self, call_sid, client=None):
        self.asked.append(call_sid)
        if self.error:
            raise self.error
        return self.answer


def _sid(i):
    return f"CA{i:032x}"


def _three_lost_calls(app, client):
    """Cap 3 on the only buyer, three calls dialled, no status callback ever."""
    pause_all_but(app, "queue")
    with app.app_context():
        db.session.scalar(select(Buyer).where(Buyer.ref == "queue")).concurrency_cap = 3
        db.session.commit()
    for i in range(3):
        assert b"<Dial" in voice(client, sid=_sid(i)).data
    assert b"nobody is available" in voice(client, sid=_sid(3)).data  # the cap holds


def _later(monkeypatch, delta):
    start = caps.now()
    monkeypatch.setattr(caps, "now", lambda: start + delta)
    return start + delta


def _counters_match(app):
    with app.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        held = db.session.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.buyer_id == queue.id, Attempt.holds_slot.is_(True)))
        assert queue.active_calls == held
        return held


def test_lease_is_set_when_a_slot_is_taken(client, demo):
    pause_all_but(demo, "queue")
    voice(client, sid=_sid(1))
    with demo.app_context():
        attempt = db.session.scalar(select(Attempt))
        assert attempt.holds_slot
        expected = attempt.started_at + LEASE
        assert abs((attempt.lease_expires_at - expected).total_seconds()) < 5


def test_expired_leases_stop_capping_without_any_job(client, demo, monkeypatch):
    _three_lost_calls(demo, client)
    _later(monkeypatch, LEASE - timedelta(minutes=1))
    assert b"nobody is available" in voice(client, sid=_sid(4)).data  # not expired yet
    _later(monkeypatch, LEASE + timedelta(minutes=1))
    for i in range(5, 8):
        assert b"<Dial" in voice(client, sid=_sid(i)).data
    assert b"nobody is available" in voice(client, sid=_sid(8)).data  # 3 new calls, cap 3
    assert _counters_match(demo) == 3


def test_sweeper_closes_lost_calls_with_twilios_status(client, demo, monkeypatch):
    _three_lost_calls(demo, client)
    fetch = RecordingFetch(CallStatus("completed", 61))
    with demo.app_context():
        early = leases.sweep_leases(fetch=fetch, at=caps.now() + LEASE - timedelta(minutes=1))
    assert early == {} and fetch.asked == []
    at = _later(monkeypatch, LEASE + timedelta(minutes=1))
    with demo.app_context():
        assert leases.sweep_leases(fetch=fetch, at=at) == {"twilio-api": 3}
        calls = db.session.scalars(select(Call).where(Call.status != "no-buyer")).all()
        assert {(c.status, c.duration, c.state_source) for c in calls} == {
            ("completed", 61, "twilio-api")}
        assert all(c.ended_at is not None for c in calls)
        assert leases.sweep_leases(fetch=fetch, at=at) == {}  # nothing left to close
    assert sorted(fetch.asked) == [_sid(i) for i in range(3)]
    assert _counters_match(demo) == 0
    assert b"<Dial" in voice(client, sid=_sid(9)).data


def test_sweeper_without_twilios_answer_closes_as_lease_expired(client, demo, monkeypatch):
    from sipflask.twilio_rest.client import TwilioError
    _three_lost_calls(demo, client)
    at = _later(monkeypatch, LEASE + timedelta(minutes=1))
    fetch = RecordingFetch(error=TwilioError("Twilio said 503"))
    with demo.app_context():
        assert leases.sweep_leases(fetch=fetch, at=at) == {"lease-expired": 3}
        call = db.session.scalar(select(Call).where(Call.call_sid == _sid(0)))
        assert call.state_source == "lease-expired" and call.status == "unknown"
        assert "Twilio said 503" in call.reason
        assert call.attempts[0].dial_status == "canceled" and not call.attempts[0].holds_slot
    assert _counters_match(demo) == 0


def test_status_callback_records_its_source(client, demo):
    from tests.support.webhook import post
    pause_all_but(demo, "queue")
    voice(client, sid=_sid(1))
    post(client, "/twilio/status", {"CallSid": _sid(1), "CallStatus": "completed"})
    with demo.app_context():
        assert db.session.scalar(select(Call)).state_source == "callback"


def test_sweeper_is_a_registered_periodic_job(app):
    from sipflask import jobs
    assert jobs.JOBS["callflow.sweep_leases"].schedule is not None


@pytest.mark.app_config(MAX_CALL_SECONDS=60)
def test_max_call_seconds_is_a_setting(client, demo):
    pause_all_but(demo, "queue")
    voice(client, sid=_sid(1))
    with demo.app_context():
        attempt = db.session.scalar(select(Attempt))
        assert attempt.lease_expires_at - attempt.started_at < timedelta(seconds=95)
