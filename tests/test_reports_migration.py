"""Migration c6e1a9d3f472 (reports) on calls stored before it: its backfill gives each call and
attempt what ``callflow/store.py`` now keeps (routed, connected, answered buyer, talk time,
SIP failure codes, skip kinds, caller as a number; placed, the call's start and caller), and a
report over them counts as the call log says."""
import json
from datetime import date, datetime, timezone

import pytest
from flask_migrate import upgrade
from sqlalchemy import MetaData, insert, select

from sipflask.extensions import db
from sipflask.models import Attempt, Call
from sipflask.reports.query import build_report
from tests.support.app import make_app, pg_or_skip, reset_postgres

BEFORE = "b8d4f0a2c365"
AT = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)

# (status, caller, reason, [(dial_status, sip_code, duration, twiml, skipped)])
CALLS = [
    ("completed", "+14155550001", "", [("busy", 486, 0, "<x/>", []),
                                       ("completed", 200, 95, "<x/>", [])]),
    ("no-buyer", "+14155550002", "no buyer left", [("no-answer", 480, 0, "<x/>", []),
                                                   ("failed", 503, 0, "<x/>", [])]),
    ("no-buyer", "anonymous", "no buyer available: Queue: paused; Floor: daily cap 5 reached "
     "(resets 00:00 UTC)", []),
    ("no-buyer", "+14155550003", "no buyer available: 1 could not be dialled",
     [("failed", None, None, None, [{"buyer_id": None, "buyer": "Queue",
                                     "reason": "not dialled: the URI has no user part"}])]),
    ("rejected", "+0123", "unknown number +15550001111", []),
    ("no-buyer", "+14155550004", "no buyer available", []),
]


@pytest.fixture(params=["sqlite", "postgres"])
def old_app(tmp_path, request):
    config = {}
    if request.param == "postgres":
        config["SQLALCHEMY_DATABASE_URI"] = reset_postgres(pg_or_skip())
    app = make_app(tmp_path, "sqlite", **config)
    with app.app_context():
        db.drop_all()
        upgrade(revision=BEFORE)
    yield app
    with app.app_context():
        db.engine.dispose()


def store_old_calls(app):
    with app.app_context():
        meta = MetaData()
        meta.reflect(db.engine, only=["calls", "attempts"])
        calls, attempts = meta.tables["calls"], meta.tables["attempts"]
        with db.engine.begin() as conn:
            for n, (status, caller, reason, tries) in enumerate(CALLS):
                call_id = conn.execute(insert(calls).values(
                    uuid=f"00000000-0000-0000-0000-{n:012d}", key=f"k{n}", caller=caller,
                    called="+18882223333", tags={}, tag_sources={}, status=status,
                    reason=reason, converted=n == 0, revenue=12.5 if n == 0 else None,
                    created_at=AT).returning(calls.c.id)).scalar_one()
                for pos, (dial, code, secs, twiml, skipped) in enumerate(tries):
                    conn.execute(insert(attempts).values(
                        call_id=call_id, position=pos, buyer_id=None, buyer_name="B",
                        kind="sip", dialled="sip:b@x", sip_username="", headers_sent=[],
                        headers_dropped=[], plugin_errors=[], skipped=skipped,
                        dial_status=dial, sip_code=code, duration=secs, holds_slot=False,
                        cap_place=False, twiml=twiml, started_at=AT))


def test_backfill_gives_old_calls_their_report_facts(old_app):
    store_old_calls(old_app)
    with old_app.app_context():
        upgrade()
        got = [(c.routed, c.connected, c.talk_seconds, c.fail_codes, c.skip_kinds, c.caller_num)
               for c in db.session.scalars(select(Call).order_by(Call.id))]
        placed = [(a.placed, a.call_created_at, a.caller_num)
                  for a in db.session.scalars(select(Attempt).order_by(Attempt.id))]
        report = build_report("campaign", date(2026, 3, 10), date(2026, 3, 10))
    assert got == [
        (True, True, 95, "486:1", None, 14155550001),
        (True, False, 0, "480:1 503:1", "no_buyers", 14155550002),
        (False, False, 0, None, "cap paused", None),
        (False, False, 0, None, "not_dialled", 14155550003),
        (False, False, 0, None, None, None),
        (False, False, 0, None, "no_buyers", 14155550004),
    ]
    assert [p for p, _at, _n in placed] == [True, True, True, True, False]
    assert all(at == AT for _p, at, _n in placed)
    assert [n for _p, _at, n in placed] == [14155550001] * 2 + [14155550002] * 2 + [14155550003]
    t = report.totals
    assert (t.calls, t.unique_callers, t.routed, t.connected, t.no_buyer, t.converted,
            t.revenue, t.talk_seconds) == (6, 6, 2, 1, 3, 1, 12.5, 95)
    assert t.skip_reasons == [("cap reached", 1), ("could not be dialled", 1),
                              ("no buyer on the campaign", 1)]
    assert dict(t.sip_codes) == {480: 1, 486: 1, 503: 1}
    assert json.dumps(report.totals.sip_codes)
