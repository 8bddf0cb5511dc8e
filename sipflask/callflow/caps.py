"""Buyer caps (concurrent calls, calls per day) enforced by the database.

Each reservation is ONE conditional UPDATE on the buyer's row: the database checks the cap and
bumps the counter atomically, so several app processes can never push a buyer past a cap. On
PostgreSQL a concurrent UPDATE waits for the row lock and re-checks the WHERE clause against the
committed row (READ COMMITTED); SQLite serialises writers.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import Date, and_, bindparam, case, or_, select, update

from sipflask.extensions import db
from sipflask.models import Attempt, Buyer


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
