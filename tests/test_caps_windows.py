"""Every window cap holds under parallel webhooks on PostgreSQL (one conditional UPDATE per
reservation), including a storm split across a window's last second and the next one's first."""
import threading
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
from sqlalchemy import select

from sipflask.callflow import clock
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer
from tests.support.webhook import AUTO, pause_all_but, voice

CONCURRENT = 24
CHICAGO = "America/Chicago"
# These tests are about the caps' rule, not the webhook's deadline: on a loaded machine a
# thread may wait seconds for a connection, which must not turn into outage routing (which
# enforces no caps, by design).
PATIENT = pytest.mark.app_config(DB_POOL_TIMEOUT=30, DB_WEBHOOK_BUDGET=120,
                                 DB_STATEMENT_TIMEOUT=60, OUTAGE_ROUTING=False)


def cap_queue(app, **caps):
    pause_all_but(app, "queue")
    with app.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        queue.time_zone, queue.hours, queue.closures = CHICAGO, None, []
        for key, value in caps.items():
            setattr(queue, key, value)
        db.session.commit()
        return queue.id


def storm(app, instants: list[datetime]) -> list[str]:
    """One signed voice webhook per instant, all at once, each on its own clock, thread,
    request and database connection."""
    barrier = threading.Barrier(len(instants))
    results = [""] * len(instants)

    def one(i):
        client = app.test_client()
        with clock.starting_at(instants[i]):
            barrier.wait()
            results[i] = voice(client, sid=f"CA{i:032d}", caller=f"+1415555{2600 + i:04d}",
                               To=AUTO).get_data(as_text=True)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(instants))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def dialled(results) -> int:
    return sum(ET.fromstring(r).find("Dial") is not None for r in results)


def counters(app, buyer_id):
    with app.app_context():
        b = db.session.get(Buyer, buyer_id)
        return b.calls_hour, b.calls_today, b.calls_month, b.calls_total


@PATIENT
@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize("cap", ["hourly_cap", "daily_cap", "monthly_cap", "total_cap"])
def test_each_window_cap_holds_under_parallel_webhooks(demo, cap):
    buyer_id = cap_queue(demo, **{cap: 5})
    results = storm(demo, [datetime.fromisoformat("2026-12-07T10:30:00-06:00")] * CONCURRENT)
    assert dialled(results) == 5
    assert counters(demo, buyer_id) == (5, 5, 5, 5)


@PATIENT
@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize("cap, last, first", [
    ("hourly_cap", "2026-12-07T10:59:59-06:00", "2026-12-07T11:00:00-06:00"),
    ("daily_cap", "2026-12-07T23:59:59-06:00", "2026-12-08T00:00:00-06:00"),
    ("monthly_cap", "2026-12-31T23:59:59-06:00", "2027-01-01T00:00:00-06:00"),
])
def test_a_window_rolling_over_mid_storm_gives_each_window_its_cap(demo, cap, last, first):
    """Half the calls in a window's last second, half in the next one's first, all at once:
    whatever order the database sees them in, no window takes more than its cap, and the new
    window fills exactly (a late call of the old window is held to the new one's count)."""
    buyer_id = cap_queue(demo, **{cap: 4})
    before, after = datetime.fromisoformat(last), datetime.fromisoformat(first)
    results = storm(demo, [before if i % 2 else after for i in range(CONCURRENT)])
    column = {"hourly_cap": Attempt.cap_hour, "daily_cap": Attempt.cap_day,
              "monthly_cap": Attempt.cap_month}[cap]
    with demo.app_context():
        per_window = dict(db.session.execute(
            select(column, db.func.count()).where(Attempt.buyer_id == buyer_id)
            .group_by(column)).all())
    assert dialled(results) == sum(per_window.values())
    assert all(n <= 4 for n in per_window.values()), per_window
    assert per_window[max(per_window)] == 4, per_window


@PATIENT
@pytest.mark.parametrize("backend", ["postgres"])
def test_connected_cap_counts_ringing_attempts_under_parallel_webhooks(demo):
    buyer_id = cap_queue(demo, daily_cap=3, cap_counts="connected")
    results = storm(demo, [datetime.fromisoformat("2026-12-07T10:30:00-06:00")] * CONCURRENT)
    assert dialled(results) == 3
    with demo.app_context():
        places = db.session.scalar(select(db.func.count()).select_from(Attempt).where(
            Attempt.buyer_id == buyer_id, Attempt.cap_place.is_(True)))
        assert places == 3
    assert counters(demo, buyer_id)[1] == 3
