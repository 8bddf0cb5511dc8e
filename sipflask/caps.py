"""Buyer caps (concurrent calls, calls per day) enforced by the database.

Each reservation is ONE conditional UPDATE on the buyer's row: the database checks the cap and
bumps the counter atomically, so several app processes can never push a buyer past a cap. On
PostgreSQL a concurrent UPDATE waits for the row lock and re-checks the WHERE clause against the
committed row (READ COMMITTED); SQLite serialises writers.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import and_, case, or_, update

from .extensions import db
from .models import Attempt, Buyer


def today() -> date:
    # Daily caps count UTC days, so every process agrees on when a day starts.
    return datetime.now(timezone.utc).date()


def reserve(buyer_id: int, day: date | None = None) -> bool:
    """Take one concurrency slot and one daily call for the buyer; False when a cap is reached.

    Runs in the caller's transaction: commit (or roll back) promptly, the row stays locked
    until then on PostgreSQL.
    """
    day = day or today()
    same_day = Buyer.calls_day == day
    stmt = (
        update(Buyer)
        .where(Buyer.id == buyer_id)
        .where(or_(Buyer.concurrency_cap.is_(None), Buyer.active_calls < Buyer.concurrency_cap))
        .where(or_(Buyer.daily_cap.is_(None), Buyer.calls_day.is_(None), Buyer.calls_day != day,
                   Buyer.calls_today < Buyer.daily_cap))
        .values(active_calls=Buyer.active_calls + 1,
                calls_today=case((same_day, Buyer.calls_today + 1), else_=1),
                calls_day=day)
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(stmt).rowcount == 1


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


def counts_today(buyer: Buyer, day: date | None = None) -> int:
    """Calls the buyer has been offered today (the stored counter belongs to calls_day)."""
    day = day or today()
    return buyer.calls_today if buyer.calls_day == day else 0
