"""The voice webhook against a real PostgreSQL that stops answering or drops its connections.

A small TCP proxy (``tests/support/db_proxy.py``) sits between the app and PostgreSQL.
``hang()`` makes it keep every connection open but pass nothing (a frozen server, or a network
path that swallows packets);
``drop()`` closes the connections it carries; ``drop_on(b"...")`` closes a connection as soon
as the app sends those bytes (a connection lost in the middle of a transaction). Whatever
happens, every webhook must answer valid TwiML in under 5 s, never a 500.
"""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from sipflask.callflow import journal
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call
from tests.support.app import clean_postgres, make_app, pg_or_skip
from tests.support.db_proxy import Proxy
from tests.support.webhook import AUTO, parse, post, voice

DEADLINE = 5.0


@pytest.fixture
def proxy():
    url = urlsplit(pg_or_skip())
    p = Proxy((url.hostname or "127.0.0.1", url.port or 5432))
    yield p
    p.close()


@pytest.fixture
def make(tmp_path, proxy):
    """An app whose database connections all go through the proxy, with the demo loaded."""
    apps = []

    def build(**overrides):
        url = clean_postgres(pg_or_skip())
        parts = urlsplit(url)
        via = url.replace(parts.netloc, f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}", 1)
        app = make_app(tmp_path, "sqlite", SQLALCHEMY_DATABASE_URI=via, **overrides)
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def timed(fn):
    started = time.monotonic()
    response = fn()
    elapsed = time.monotonic() - started
    assert response.status_code < 500, response.data
    assert elapsed < DEADLINE, f"answered after {elapsed:.1f} s"
    return response


def _sid(n: int) -> str:
    return f"CA{n:032x}"


def test_a_silent_database_ends_in_the_snapshot_route_within_the_deadline(make, proxy):
    app = make()
    client = app.test_client()
    assert parse(voice(client, sid=_sid(1))).find("Dial") is not None  # warms the snapshot
    proxy.hang()
    root = parse(timed(lambda: voice(client, sid=_sid(2))))
    dial = root.find("Dial")
    assert dial is not None, "outage routing dials the snapshot's first open buyer"
    assert journal.pending(app)
    # A status callback during the outage is journalled too, and answered at once.
    assert timed(lambda: post(client, "/twilio/status", {
        "CallSid": _sid(2), "CallStatus": "completed", "CallDuration": "7"})).status_code == 204
    proxy.resume()
    with app.app_context():
        assert journal.replay() == 2
        call = db.session.scalar(select(Call).where(Call.call_sid == _sid(2)))
        assert call.status == "completed" and call.duration == 7
        assert "database outage" in call.reason
        assert [a.buyer_id is not None for a in call.attempts] == [True]
        assert not call.attempts[0].holds_slot
    assert not journal.pending(app)


def test_without_outage_routing_the_caller_hears_sorry_within_the_deadline(make, proxy):
    app = make(OUTAGE_ROUTING=False)
    client = app.test_client()
    parse(voice(client, sid=_sid(1)))
    proxy.hang()
    root = parse(timed(lambda: voice(client, sid=_sid(2))))
    assert "can't connect your call" in root.find("Say").text
    assert not journal.pending(app)


def test_a_process_without_a_snapshot_says_sorry_and_journals(make, proxy):
    app = make()
    proxy.hang()  # before any call: nothing in the snapshot, no connection in the pool
    root = parse(timed(lambda: voice(app.test_client(), sid=_sid(3))))
    assert "can't connect your call" in root.find("Say").text
    proxy.resume()
    with app.app_context():
        assert journal.replay() == 1
        call = db.session.scalar(select(Call).where(Call.call_sid == _sid(3)))
        assert call.status == "no-buyer" and "routing snapshot" in call.reason


def test_dropped_connections_are_replaced_and_the_call_routes_normally(make, proxy):
    app = make()
    client = app.test_client()
    parse(voice(client, sid=_sid(1)))
    proxy.drop()  # every pooled connection is dead now; the pre-ping finds out
    root = parse(timed(lambda: voice(client, sid=_sid(2))))
    assert root.find("Dial") is not None
    assert not journal.pending(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == 2


def test_a_transaction_broken_mid_way_is_tried_once_more(make, proxy, caplog):
    app = make()
    client = app.test_client()
    parse(voice(client, sid=_sid(1)))
    proxy.drop_on(b"INSERT INTO calls")  # the connection dies as the call is being written
    root = parse(timed(lambda: voice(client, sid=_sid(2))))
    assert root.find("Dial") is not None
    assert "trying once more" in caplog.text
    assert not journal.pending(app)
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == _sid(2)))
        assert call is not None and len(call.attempts) == 1 and call.attempts[0].holds_slot
        held = db.session.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.holds_slot.is_(True)))
        assert held == sum(b.active_calls for b in db.session.scalars(select(Buyer)))


def test_every_webhook_answers_within_the_deadline_while_hanging(make, proxy):
    app = make()
    client = app.test_client()
    root = parse(voice(client, sid=_sid(1)))
    action = root.find("Dial").get("action")
    proxy.hang()
    path = action[len("https://sipflask.test"):]
    response = timed(lambda: post(client, path, {"CallSid": _sid(1), "DialCallStatus": "busy"}))
    parse(response)  # the next snapshot buyer, or a hangup: valid TwiML either way
    response = timed(lambda: post(client, "/twilio/fallback", {
        "CallSid": _sid(4), "From": "+14155552671", "To": AUTO, "ErrorCode": "11200"}))
    assert parse(response).find("Dial") is not None


def test_a_statement_waiting_on_a_lock_is_cancelled_and_the_call_still_routed(make, proxy):
    from sqlalchemy import create_engine, text
    app = make()
    client = app.test_client()
    parse(voice(client, sid=_sid(1)))
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"].replace(
        f"127.0.0.1:{proxy.port}", f"{urlsplit(pg_or_skip()).hostname}:"
        f"{urlsplit(pg_or_skip()).port or 5432}"))
    with other.connect() as conn:
        conn.execute(text("SELECT id FROM buyers FOR UPDATE"))  # every buyer row locked
        started = time.monotonic()
        root = parse(timed(lambda: voice(client, sid=_sid(2))))
        waited = time.monotonic() - started
        conn.rollback()
    other.dispose()
    assert root.find("Dial") is not None  # from the snapshot, after statement_timeout
    assert 2.5 < waited < DEADLINE
    assert journal.pending(app)


def test_the_timeouts_reach_postgresql(make):
    from sqlalchemy import text
    app = make(DB_STATEMENT_TIMEOUT=1.5)
    with app.app_context():
        assert db.session.execute(text("SHOW statement_timeout")).scalar() == "1500ms"
        # the test URL's own options (its schema) are kept beside the timeout
        assert "sipflask_test_" in db.session.execute(text("SHOW search_path")).scalar()
        assert db.engine.pool.timeout() == 1
