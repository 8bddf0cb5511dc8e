"""Buyer health: calls offered, answer rate and the last SIP code over 24 h, in one SQL query."""
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import render_template_string
from sqlalchemy import event, select

from sipflask.calllog import health as calllog
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call
from tests.support.webhook import AUTO, dial_action, parse, pause_all_but, voice

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
SINCE = NOW - timedelta(hours=24)


def buyer_ids(app):
    with app.app_context():
        return {b.ref: b.id for b in db.session.scalars(select(Buyer))}


def add_attempts(app, rows):
    """rows: (buyer_id, hours_ago, dial_status, sip_code)."""
    with app.app_context():
        call = Call(caller="+14155552671", called=AUTO, status="completed")
        db.session.add(call)
        db.session.flush()
        for n, (buyer_id, hours_ago, status, code) in enumerate(rows):
            started = NOW - timedelta(hours=hours_ago)
            db.session.add(Attempt(call_id=call.id, position=n, buyer_id=buyer_id,
                                   buyer_name=str(buyer_id), dial_status=status, sip_code=code,
                                   started_at=started,
                                   ended_at=started + timedelta(seconds=20) if status else None))
        db.session.commit()


def count_queries(app):
    statements = []

    def listen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    return statements, lambda: event.remove(db.engine, "before_cursor_execute", listen)


def test_counts_rate_and_last_code_within_the_window(app, demo):
    b = buyer_ids(demo)
    q, s, p = b["queue"], b["secure"], b["phone"]
    add_attempts(demo, [
        (q, 1, "completed", None), (q, 2, "busy", 486), (q, 3, "completed", 200),
        (q, 5, "failed", 503), (q, 30, "failed", 403),        # 30 h ago: outside the window
        (q, 0.1, None, None),                                 # still ringing
        (s, 4, "failed", 403), (s, 23.9, "no-answer", 480),
        (p, 25, "completed", None),                           # only outside the window
    ])
    with demo.app_context():
        health = calllog.buyer_health(since=SINCE)
    assert set(health) == {q, s}
    hq = health[q]
    assert (hq.offered, hq.answered, hq.pending) == (5, 2, 1)
    assert hq.answer_rate == pytest.approx(2 / 4)
    assert hq.last_sip_code == 486                            # the latest attempt with a code
    assert hq.last_sip_at == NOW - timedelta(hours=2) + timedelta(seconds=20)
    hs = health[s]
    assert (hs.offered, hs.answered, hs.answer_rate) == (2, 0, 0.0)
    assert hs.last_sip_code == 403 and hs.sip.meaning.startswith("Forbidden")


def test_asked_for_buyers_are_all_there(app, demo):
    b = buyer_ids(demo)
    add_attempts(demo, [(b["queue"], 1, "completed", None)])
    with demo.app_context():
        health = calllog.buyer_health([b["queue"], b["overflow"]], since=SINCE)
        assert calllog.buyer_health([], since=SINCE) == {}
    assert set(health) == {b["queue"], b["overflow"]}
    empty = health[b["overflow"]]
    assert (empty.offered, empty.answer_rate, empty.last_sip_code) == (0, None, None)
    assert health[b["queue"]].answer_rate == 1.0


def test_default_window_is_the_last_24_hours(app, demo):
    b = buyer_ids(demo)
    with demo.app_context():
        call = Call(status="completed")
        db.session.add(call)
        db.session.flush()
        now = datetime.now(timezone.utc)
        for n, hours in enumerate((1, 23, 25)):
            db.session.add(Attempt(call_id=call.id, position=n, buyer_id=b["queue"],
                                   dial_status="busy", started_at=now - timedelta(hours=hours)))
        db.session.commit()
        assert calllog.buyer_health()[b["queue"]].offered == 2


def test_a_tie_on_the_latest_time_gives_one_answer(app, demo):
    b = buyer_ids(demo)
    add_attempts(demo, [(b["queue"], 1, "failed", 503), (b["queue"], 1, "busy", 486)])
    with demo.app_context():
        h = calllog.buyer_health(since=SINCE)[b["queue"]]
    assert h.offered == 2 and h.last_sip_code in (503, 486)


def test_one_aggregate_query_not_python(app, demo):
    b = buyer_ids(demo)
    add_attempts(demo, [(b["queue"], n / 10, "completed", 200) for n in range(50)])
    with demo.app_context():
        statements, stop = count_queries(demo)
        try:
            calllog.buyer_health(since=SINCE)
            calllog.buyer_health(list(b.values()), since=SINCE)
        finally:
            stop()
    assert len(statements) == 2
    for sql in statements:
        assert "GROUP BY attempts.buyer_id" in sql and "count(*)" in sql.lower()


def test_sqlite_plan_uses_the_buyer_health_index(tmp_path):
    from tests.support.app import make_app
    app = make_app(tmp_path)
    with app.app_context():
        plan = calllog.explain(calllog.health_statements(SINCE, [1, 2, 3]))
        plan_all = calllog.explain(calllog.health_statements(SINCE))
        db.session.remove()
        db.engine.dispose()
    for p in (plan, plan_all):
        # COVERING: SQLite answers from the index without reading the table's rows.
        assert re.search(r"SEARCH attempts USING COVERING INDEX ix_attempts_buyer_health", p)
        assert "SCAN attempts" not in p


def test_through_the_webhook(client, demo):
    pause_all_but(demo, "queue", "phone")
    root = parse(voice(client))
    parse(dial_action(client, root, "failed", 403))
    b = buyer_ids(demo)
    with demo.app_context():
        health = calllog.buyer_health([b["queue"], b["phone"]])
    assert health[b["queue"]].offered == 1 and health[b["queue"]].last_sip_code == 403
    assert health[b["phone"]].offered == 1 and health[b["phone"]].pending == 1


def test_health_macro(app):
    macro = '{% from "calls/macros.html" import health %}{{ health(h) }}'
    h = calllog.Health(7, offered=10, answered=3, pending=2, last_sip_code=486,
                       last_sip_at=NOW)
    with app.test_request_context("/buyers/"):
        html = render_template_string(macro, h=h)
        assert "10 offered" in html and "3 answered (38%)" in html and "2 ringing" in html
        assert "<code" in html and "486" in html and "Busy Here" in html
        assert "2026-06-01 12:00 UTC" in html
        assert "no calls in 24 h" in render_template_string(macro, h=None)
        assert "no calls in 24 h" in render_template_string(macro, h=calllog.Health(7))
        ringing = render_template_string(macro, h=calllog.Health(7, offered=1, pending=1))
        assert "none ended yet" in ringing


def test_bench_runs_small(tmp_path):
    """The benchmark script itself works (a small load; the real figures are in the report)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    try:
        import buyer_health as bench
    finally:
        sys.path.pop(0)
    result = bench.run_sqlite(tmp_path / "bench.sqlite", calls=2000, runs=3)
    assert result["attempts"] >= 2000 and result["health_ms"] >= 0
    assert "ix_attempts_buyer_health" in result["plan"]
    assert "ix_attempts_buyer_started" in result["plan_narrow"]
    assert result["narrow_ms"] >= 0 and result["no_index_ms"] >= 0
