"""Buyer caps (concurrent calls, calls per day) enforced by the database.

Each reservation is ONE conditional UPDATE on the buyer's row: the database checks the cap and
bumps the counter atomically, so several app processes can never push a buyer past a cap. On
PostgreSQL a concurrent UPDATE waits for the row lock and re-checks the WHERE clause against the
committed row (READ COMMITTED); SQLite serialises writers.

A slot is a lease: the attempt holding it carries ``lease_expires_at`` (ring timeout plus
``MAX_CALL_SECONDS``, default 4 h, Twilio's own limit on a call). When a reservation is refused
at the concurrency cap, that buyer's expired leases are given back in the same transaction and
the reservation is tried once more (:func:`take`), so a lost status callback can never cap a
buyer for longer than a lease, whether or not the sweeper job has run.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import Date, and_, bindparam, case, or_, select, update

from sipflask.extensions import db
from sipflask.models import Attempt, Buyer

MAX_CALL_SECONDS = 4 * 3600  # Twilio ends any call after 4 hours


def now() -> datetime:
    """The clock leases are read against (one place, so tests can move it)."""
    return datetime.now(timezone.utc)


def lease_until(ring_timeout: int, start: datetime | None = None) -> datetime:
    """When a slot reserved now stops counting: the ring timeout plus the longest call."""
    longest = int(current_app.config.get("MAX_CALL_SECONDS") or MAX_CALL_SECONDS)
    return (start or now()) + timedelta(seconds=int(ring_timeout or 0) + longest)


def today() -> date:
    # Daily caps count UTC days, so every process agrees on when a day starts.
    return datetime.now(timezone.utc).date()


_B = Buyer.__table__.c  # Core columns: no ORM bookkeeping on the webhook's hot path
_DAY = bindparam("reserve_day", type_=Date)
# Built once, with the buyer and the day as parameters: compiled once per process.
_RESERVE = (
    update(Buyer.__table__)
    .where(_B.id == bindparam("reserve_buyer"), _B.paused.is_(False))
    .where(or_(_B.concurrency_cap.is_(None), _B.active_calls < _B.concurrency_cap))
    .where(or_(_B.daily_cap.is_(None), _B.calls_day.is_(None), _B.calls_day != _DAY,
               _B.calls_today < _B.daily_cap))
    .values(active_calls=_B.active_calls + 1,
            calls_today=case((_B.calls_day == _DAY, _B.calls_today + 1), else_=1),
            calls_day=_DAY)
)


def reserve(buyer_id: int, day: date | None = None) -> bool:
    """Take one concurrency slot and one daily call for the buyer; False when a cap is reached
    or the buyer is paused (checked here too, so a pause applies even to a cached routing list).

    Runs in the caller's transaction: commit (or roll back) promptly, the row stays locked
    until then on PostgreSQL.
    """
    params = {"reserve_buyer": buyer_id, "reserve_day": day or today()}
    return db.session.execute(_RESERVE, params).rowcount == 1


_A = Attempt.__table__.c
# The partial index ix_attempts_held_leases covers this: held slots of one buyer, by expiry.
_REAP = (update(Attempt.__table__)
         .where(_A.buyer_id == bindparam("reap_buyer"), _A.holds_slot,
                _A.lease_expires_at < bindparam("reap_now"))
         .values(holds_slot=False).returning(_A.id))


def reap_expired(buyer_id: int, at: datetime | None = None) -> int:
    """Give back the buyer's slots whose lease has expired; returns how many.

    Exact under concurrency: a second reaper's UPDATE waits for the first's row locks and, on
    PostgreSQL, re-checks ``holds_slot`` on the locked rows, so each slot is counted once.
    """
    released = len(db.session.execute(
        _REAP, {"reap_buyer": buyer_id, "reap_now": at or now()}).all())
    if released:
        db.session.execute(
            update(Buyer).where(Buyer.id == buyer_id)
            .values(active_calls=case((Buyer.active_calls > released,
                                       Buyer.active_calls - released), else_=0))
            .execution_options(synchronize_session=False))
    return released


def take(buyer_id: int, day: date | None = None) -> str | None:
    """Reserve the buyer (None), or say why not from its current row.

    At the concurrency cap, expired leases are given back first and the reservation tried once
    more. Like :func:`reserve`, runs in the caller's transaction.
    """
    if reserve(buyer_id, day):
        return None
    reason = refusal(buyer_id, day)
    if _at_concurrency_cap(reason) and reap_expired(buyer_id):
        return None if reserve(buyer_id, day) else refusal(buyer_id, day)
    return reason


def _at_concurrency_cap(reason: str) -> bool:
    return reason.startswith(("concurrency cap", "cap reached"))


def refusal_kind(reason: str) -> str:
    """The metrics word for a refusal: "paused", "cap" or "other"."""
    if reason == "paused":
        return "paused"
    return "cap" if "cap reached" in reason else "other"


_COUNTERS = ("paused", "concurrency_cap", "active_calls", "daily_cap", "calls_today", "calls_day")


def current(buyer_ids: list[int]) -> dict[int, dict]:
    """Pause, caps and counters of these buyers as stored now, expired leases given back
    first for those at their concurrency cap (a buyer is never skipped for a lost callback)."""
    cols = [getattr(Buyer, name) for name in _COUNTERS]
    rows = {r[0]: dict(zip(_COUNTERS, r[1:])) for r in db.session.execute(
        select(Buyer.id, *cols).where(Buyer.id.in_(buyer_ids)))}
    for buyer_id, row in rows.items():
        cap = row["concurrency_cap"]
        if cap is not None and row["active_calls"] >= cap:
            row["active_calls"] = max(0, row["active_calls"] - reap_expired(buyer_id))
    return rows


def refusal(buyer_id: int, day: date | None = None) -> str:
    """Why ``reserve`` just said no, from the buyer's current row (same words as routing)."""
    from sipflask.core.routing import Candidate, skip_reason
    row = db.session.execute(select(
        Buyer.paused, Buyer.concurrency_cap, Buyer.active_calls, Buyer.daily_cap,
        Buyer.calls_today, Buyer.calls_day).where(Buyer.id == buyer_id)).first()
    if row is None:
        return "deleted"
    reason = skip_reason(Candidate(
        buyer_id=buyer_id, priority=0, weight=1, paused=row.paused,
        concurrency_cap=row.concurrency_cap, active_calls=row.active_calls,
        daily_cap=row.daily_cap, calls_today=counts_today(row, day)))
    return reason or "cap reached (taken by a concurrent call)"


def release(attempt: Attempt) -> bool:
    """Give back the concurrency slot an attempt holds; safe to call more than once."""
    if attempt.buyer_id is None:
        return False
    taken = db.session.execute(
        update(Attempt).where(and_(Attempt.id == attempt.id, Attempt.holds_slot.is_(True)))
        .values(holds_slot=False).execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        return False
    db.session.execute(
        update(Buyer).where(and_(Buyer.id == attempt.buyer_id, Buyer.active_calls > 0))
        .values(active_calls=Buyer.active_calls - 1).execution_options(synchronize_session=False))
    attempt.holds_slot = False
    return True


def counts_today(buyer, day: date | None = None) -> int:
    """Calls the buyer has been offered today (the stored counter belongs to calls_day).

    ``buyer`` is anything with ``calls_today`` and ``calls_day`` (a Buyer, a directory row)."""
    day = day or today()
    return buyer.calls_today if buyer.calls_day == day else 0
