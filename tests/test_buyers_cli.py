"""``flask buyers reset-caps|status``."""
import logging

from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call


def _queue(app, **fields):
    with app.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        for key, value in fields.items():
            setattr(queue, key, value)
        db.session.commit()
        return queue.id


def test_reset_caps_zeroes_the_window_counts_and_is_logged(runner, demo, caplog):
    from sipflask.callflow import caps
    buyer_id = _queue(demo, daily_cap=2, hourly_cap=5, paused=False, hours=None)
    with demo.app_context():
        caps.reserve(buyer_id, caps.Windows.at("UTC"))
        caps.reserve(buyer_id, caps.Windows.at("UTC"))
        db.session.commit()
    result = runner.invoke(args=["buyers", "status", "queue"])
    assert "2/2 today" in result.output and "skipped: daily cap 2 reached" in result.output
    with caplog.at_level(logging.INFO, logger="sipflask.buyers"):
        result = runner.invoke(args=["buyers", "reset-caps", "queue"])
    assert result.exit_code == 0, result.output
    assert "Caps of queue reset (was 2/5 this hour, 2/2 today)" in result.output
    assert "caps reset by the command line" in caplog.text
    with demo.app_context():
        buyer = db.session.get(Buyer, buyer_id)
        assert (buyer.calls_hour, buyer.calls_today, buyer.calls_month, buyer.calls_total) == \
            (0, 0, 0, 0)
        assert buyer.active_calls == 2  # calls in progress keep their slots
    assert "takes calls" in runner.invoke(args=["buyers", "status", "queue"]).output


def test_reset_caps_forgets_places_of_ringing_attempts(runner, demo):
    buyer_id = _queue(demo, cap_counts="connected")
    with demo.app_context():
        call = Call(caller="+14155552671", called="+18882223333")
        db.session.add_all([call, Attempt(call=call, buyer_id=buyer_id, cap_place=True)])
        db.session.commit()
    assert runner.invoke(args=["buyers", "reset-caps", "queue"]).exit_code == 0
    with demo.app_context():
        assert db.session.scalar(select(Attempt.cap_place)) is False


def test_unknown_buyer_is_a_clear_message(runner, demo):
    result = runner.invoke(args=["buyers", "reset-caps", "nobody"])
    assert result.exit_code != 0
    assert "No buyer with ref 'nobody'. Buyers: la-night, ny-floor, overflow, phone" in result.output
    assert "Traceback" not in result.output


def test_a_buyer_moved_to_another_zone_keeps_its_counts_in_the_new_zones_windows(demo):
    from datetime import datetime, timezone
    from sipflask.callflow import caps
    from sipflask.core import buyer_rules
    from sipflask.records import write
    buyer_id = _queue(demo, time_zone="UTC", daily_cap=10)
    with demo.app_context():
        caps.reserve(buyer_id, caps.Windows.at("UTC"))
        db.session.commit()
        buyer = db.session.get(Buyer, buyer_id)
        rec = {"name": buyer.name, "number": buyer.number, "daily_cap": 10,
               "time_zone": "Pacific/Kiritimati" if buyer.time_zone == "UTC" else "UTC"}
        report, clean = buyer_rules.check_buyer(rec)
        assert report.ok, report.errors
        write.write_buyer(buyer, {**clean, "ref": buyer.ref})
        db.session.commit()
        db.session.refresh(buyer)
        now = caps.Windows.at("Pacific/Kiritimati", datetime.now(timezone.utc))
        assert buyer.calls_day == now.day and buyer.calls_hour_key == now.hour
        assert caps.used(buyer, now)[1] == 1  # the count came along
