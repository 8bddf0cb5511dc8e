"""Buyer caps (concurrent calls, calls per day) enforced by the database.

Each reservation is ONE conditional UPDATE on the buyer's row: the database checks the cap and
bumps the counter atomically, so several app processes can never push a buyer past a cap. On
PostgreSQL a concurrent UPDATE waits for the row lock and re-checks the WHERE clause against the
committed row (READ COMMITTED); SQLite serialises writers.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import and_, case, or_, select, update

from sipflask.extensions import db
from sipflask.models import Attempt, Buyer


def today() -> date:
    # Daily caps count UTC days, so every process agrees on when a day starts.
    return datetime.now(timezone.utc).date()


def reserve(buyer_id: int, day: date | None = None) -> bool:
    """Take one concurrency slot and one daily call for the buyer; False when a cap is reached
    or the buyer is paused (checked here too, so a pause applies even to a cached routing list).

    Runs in the caller's transaction: commit (or roll back) promptly, the row stays locked
    until then on PostgreSQL.
    """
    day = day or today()
    b = Buyer.__table__.c  # Core columns: no ORM bookkeeping on the webhook's hot path
    stmt = (
        update(Buyer.__table__)
        .where(b.id == buyer_id, b.paused.is_(False))
        .where(or_(b.concurrency_cap.is_(None), b.active_calls < b.concurrency_cap))
        .where(or_(b.daily_cap.is_(None), b.calls_day.is_(None), b.calls_day != day,
                   b.calls_today < b.daily_cap))
        .values(active_calls=b.active_calls + 1,
                calls_today=case((b.calls_day == day, b.calls_today + 1), else_=1),
                calls_day=day)
    )
    return db.session.execute(stmt).rowcount == 1


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
