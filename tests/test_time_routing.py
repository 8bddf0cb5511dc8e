"""Routing on the buyer's clock, through signed webhooks with the call's clock set
(``callflow.clock.starting_at``, what ``simulate-call --at`` uses): every skip reason for hours
and caps, windows that roll over at the buyer's midnight, and connected-counting caps."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from sipflask.callflow import clock
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call
from tests.support.webhook import AUTO, dial_action, parse, post, voice

NY, CHICAGO, LA = "America/New_York", "America/Chicago", "America/Los_Angeles"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
LUNCH = {day: ["09:00-12:00", "13:00-17:00"] for day in WEEKDAYS}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def setup_buyers(app, **by_ref):
    """Campaign auto dials queue (priority 1), then secure, then phone. Every buyer is open
    24/7 in UTC without caps unless ``by_ref`` says otherwise; buyers not named are paused."""
    with app.app_context():
        for buyer in db.session.scalars(select(Buyer)):
            fields = dict(paused=buyer.ref not in by_ref, time_zone="UTC", hours=None,
                          closures=[], concurrency_cap=None, hourly_cap=None, daily_cap=None,
                          monthly_cap=None, total_cap=None, cap_counts="dialled")
            fields.update(by_ref.get(buyer.ref, {}))
            for key, value in fields.items():
                setattr(buyer, key, value)
        db.session.commit()


def call_at(client, when, n=1):
    """A call at ``when``, on a clock that stands still there: ``starting_at`` moves on with
    real time, and a busy machine taking a second to route a 23:59:59 call would count it in
    the next day's window (a failure seen once in a full parallel run)."""
    with clock.stopped_at(when):
        return voice(client, sid=f"CA{n:032d}", caller=f"+1415555{n:04d}")


def dialled_ref(app, response) -> str | None:
    root = parse(response)
    if root.find("Dial") is None:
        return None
    with app.app_context():
        call = db.session.scalar(select(Call).order_by(Call.id.desc()))
        attempt = call.attempts[-1]
        return db.session.get(Buyer, attempt.buyer_id).ref


def last_skips(app) -> list[str]:
    with app.app_context():
        call = db.session.scalar(select(Call).order_by(Call.id.desc()))
        return [s["reason"] for a in call.attempts for s in a.skipped] + [call.reason]


@pytest.mark.parametrize("when, reason", [
    ("2026-12-07T08:59:00-05:00", "closed (opens Mon 09:00 America/New_York)"),
    ("2026-12-07T12:30:00-05:00", "closed (opens Mon 13:00 America/New_York)"),
    ("2026-12-05T10:00:00-05:00", "closed (opens Mon 09:00 America/New_York)"),  # a Saturday
    ("2026-12-04T17:00:00-05:00", "closed (opens Mon 09:00 America/New_York)"),  # end excluded
])
def test_closed_buyer_is_skipped_with_when_it_opens(demo, client, when, reason):
    setup_buyers(demo, queue=dict(time_zone=NY, hours=LUNCH), secure={})
    assert dialled_ref(demo, call_at(client, at(when))) == "secure"
    assert reason in last_skips(demo)


@pytest.mark.parametrize("when", ["2026-12-07T09:00:00-05:00", "2026-12-07T13:00:00-05:00",
                                  "2026-12-07T16:59:59-05:00"])
def test_open_buyer_takes_the_call_from_the_first_minute(demo, client, when):
    setup_buyers(demo, queue=dict(time_zone=NY, hours=LUNCH), secure={})
    assert dialled_ref(demo, call_at(client, at(when))) == "queue"


def test_overnight_shift_in_los_angeles(demo, client):
    setup_buyers(demo, queue=dict(time_zone=LA, hours={d: ["22:00-06:00"] for d in
                                                       ("mon", "tue", "wed", "thu", "fri")}),
                 secure={})
    # Friday 22:00 to Saturday 06:00 Los Angeles; Saturday night has no shift.
    assert dialled_ref(demo, call_at(client, at("2026-12-05T05:59:00-08:00"), 1)) == "queue"
    assert dialled_ref(demo, call_at(client, at("2026-12-05T06:00:00-08:00"), 2)) == "secure"
    assert "closed (opens Sun 22:00 America/Los_Angeles)" not in last_skips(demo)
    assert "closed (opens Mon 22:00 America/Los_Angeles)" in last_skips(demo)


def test_a_closure_replaces_the_day(demo, client):
    setup_buyers(demo, queue=dict(time_zone=NY, hours=LUNCH, closures=[
        {"date": "2026-12-24", "hours": ["09:00-13:00"]}, {"date": "2026-12-25", "hours": []}]),
        secure={})
    assert dialled_ref(demo, call_at(client, at("2026-12-24T12:30:00-05:00"), 1)) == "queue"
    assert dialled_ref(demo, call_at(client, at("2026-12-24T13:30:00-05:00"), 2)) == "secure"
    assert "closed (opens Mon 09:00 America/New_York)" in last_skips(demo)
    assert dialled_ref(demo, call_at(client, at("2026-12-25T10:00:00-05:00"), 3)) == "secure"


def test_nobody_open_ends_the_call_politely_with_the_reasons(demo, client):
    setup_buyers(demo, queue=dict(time_zone=NY, hours=LUNCH),
                 secure=dict(time_zone="Asia/Kolkata", hours={"mon": ["10:30-18:30"]}))
    root = parse(call_at(client, at("2026-12-07T12:30:00-05:00")))
    assert root.find("Dial") is None and root.find("Say") is not None
    reason = last_skips(demo)[-1]
    assert "closed (opens Mon 13:00 America/New_York)" in reason
    assert "closed (opens Mon Dec 14 10:30 Asia/Kolkata)" in reason


@pytest.mark.parametrize("cap, first, second, reason", [
    # Two calls in one window: the second is refused with when the window resets.
    (dict(hourly_cap=1), "2026-12-07T09:15:00-06:00", "2026-12-07T09:59:59-06:00",
     "hourly cap 1 reached (resets 10:00 America/Chicago)"),
    (dict(daily_cap=1), "2026-12-07T00:00:00-06:00", "2026-12-07T23:59:59-06:00",
     "daily cap 1 reached (resets 00:00 America/Chicago)"),
    (dict(monthly_cap=1), "2026-12-01T00:00:00-06:00", "2026-12-31T23:59:59-06:00",
     "monthly cap 1 reached (resets Jan 1 00:00 America/Chicago)"),
    (dict(total_cap=1), "2026-01-01T00:00:00-06:00", "2027-12-31T00:00:00-06:00",
     "lifetime cap 1 reached"),
])
def test_each_cap_refuses_with_when_it_resets(demo, client, cap, first, second, reason):
    setup_buyers(demo, queue=dict(time_zone=CHICAGO, **cap), secure={})
    assert dialled_ref(demo, call_at(client, at(first), 1)) == "queue"
    assert dialled_ref(demo, call_at(client, at(second), 2)) == "secure"
    assert reason in last_skips(demo)


@pytest.mark.parametrize("cap, last_second, next_window", [
    (dict(hourly_cap=1), "2026-12-07T09:59:59-06:00", "2026-12-07T10:00:00-06:00"),
    (dict(daily_cap=1), "2026-12-07T23:59:59-06:00", "2026-12-08T00:00:00-06:00"),
    (dict(monthly_cap=1), "2026-12-31T23:59:59-06:00", "2027-01-01T00:00:00-06:00"),
])
def test_a_cap_window_rolls_over_on_the_buyers_clock(demo, client, cap, last_second,
                                                     next_window):
    setup_buyers(demo, queue=dict(time_zone=CHICAGO, **cap), secure={})
    assert dialled_ref(demo, call_at(client, at(last_second), 1)) == "queue"
    assert dialled_ref(demo, call_at(client, at(next_window), 2)) == "queue"
    assert dialled_ref(demo, call_at(client, at(next_window), 3)) == "secure"


def test_daily_cap_resets_at_the_buyers_midnight_not_utcs(demo, client):
    # 19:00 in Chicago is 01:00 UTC the next day: a UTC-day cap would have reset by then.
    setup_buyers(demo, queue=dict(time_zone=CHICAGO, daily_cap=1), secure={})
    assert dialled_ref(demo, call_at(client, at("2026-12-07T17:00:00-06:00"), 1)) == "queue"
    assert dialled_ref(demo, call_at(client, at("2026-12-07T19:00:00-06:00"), 2)) == "secure"


def end_call(client, sid_n, status="completed"):
    post(client, "/twilio/status", {"CallSid": f"CA{sid_n:032d}", "CallStatus": status})


def test_connected_caps_hold_a_place_while_ringing_and_give_it_back_unanswered(demo, client):
    setup_buyers(demo, queue=dict(daily_cap=1, cap_counts="connected"), secure={})
    when = at("2026-12-07T10:00:00+00:00")
    first = call_at(client, when, 1)
    assert dialled_ref(demo, first) == "queue"
    # Ringing: its place counts, so a second call can't take the last one.
    assert dialled_ref(demo, call_at(client, when, 2)) == "secure"
    assert "daily cap 1 reached (resets 00:00 UTC)" in last_skips(demo)
    end_call(client, 2)
    with clock.starting_at(when + timedelta(seconds=30)):
        dial_action(client, parse(first), "busy", 486)
        end_call(client, 1, "no-answer")
    # Unanswered: the place was given back.
    assert dialled_ref(demo, call_at(client, when + timedelta(minutes=1), 3)) == "queue"
    with demo.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        assert queue.calls_today == 1


def test_connected_caps_count_an_answered_attempt(demo, client):
    setup_buyers(demo, queue=dict(daily_cap=1, cap_counts="connected"), secure={})
    when = at("2026-12-07T10:00:00+00:00")
    with clock.starting_at(when):
        first = voice(client, sid=f"CA{1:032d}")
        dial_action(client, parse(first), "completed", 200, "95")
        end_call(client, 1)
    assert dialled_ref(demo, call_at(client, when + timedelta(minutes=5), 2)) == "secure"
    assert "daily cap 1 reached (resets 00:00 UTC)" in last_skips(demo)
    with demo.app_context():
        attempt = db.session.scalar(select(Attempt).order_by(Attempt.id))
        assert attempt.cap_place is False and attempt.dial_status == "completed"


def test_dialled_caps_keep_counting_unanswered_attempts(demo, client):
    setup_buyers(demo, queue=dict(daily_cap=1), secure={})
    when = at("2026-12-07T10:00:00+00:00")
    with clock.starting_at(when):
        first = voice(client, sid=f"CA{1:032d}")
        dial_action(client, parse(first), "busy", 486)
    assert dialled_ref(demo, call_at(client, when + timedelta(minutes=1), 2)) == "secure"


def test_the_call_is_stored_at_the_instant_it_arrived(demo, client):
    setup_buyers(demo, queue={})
    when = at("2026-12-07T08:59:00-05:00")
    call_at(client, when)
    with demo.app_context():
        call = db.session.scalar(select(Call))
        assert abs(call.created_at - when) < timedelta(seconds=5)
        assert call.attempts[0].cap_day.isoformat() == "2026-12-07"
        assert call.created_at.tzinfo is not None and call.created_at.utcoffset() == timedelta(0)


def test_times_without_the_clock_are_now(demo, client):
    setup_buyers(demo, queue={})
    voice(client, to=AUTO)
    with demo.app_context():
        call = db.session.scalar(select(Call))
        assert abs(call.created_at - datetime.now(timezone.utc)) < timedelta(seconds=30)


def test_a_stopped_clock_stands_at_its_instant_until_advanced():
    """``clock.stopped_at`` (the journal's replay, these tests' calls): every read is the
    instant itself, whatever time passes; ``advance`` moves it on; outside, the real clock."""
    at = datetime.fromisoformat("2026-12-07T23:59:59.999-06:00")
    with clock.stopped_at(at):
        assert clock.now() == at and clock.now().tzinfo == timezone.utc
        clock.advance(30)
        assert clock.now() == at + timedelta(seconds=30)
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(minutes=1)
    with pytest.raises(ValueError, match="UTC offset"):
        with clock.stopped_at(datetime(2026, 12, 7, 23, 59)):
            pass
