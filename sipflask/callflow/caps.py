"""Buyer caps enforced by the database: concurrent calls, and calls per hour, day, month and
lifetime counted in windows of the buyer's own clock (``core/capwindows.py``).

Each reservation is ONE conditional UPDATE on the buyer's row: the database checks every cap
and bumps every counter atomically, so several app processes can never push a buyer past a
cap. On PostgreSQL a concurrent UPDATE waits for the row lock and re-checks the WHERE clause
against the committed row (READ COMMITTED); SQLite serialises writers. Each window counter
belongs to the window key stored beside it: a call in a new window starts the count again in
the same statement, so nothing has to reset counters at midnight.

A slot is a lease: the attempt holding it carries ``lease_expires_at`` (ring timeout plus
``MAX_CALL_SECONDS``, default 4 h, Twilio's own limit on a call). When a reservation is
refused, that buyer's expired leases are given back in the same transaction and the
reservation is tried once more (:func:`take`), so a lost status callback can never cap a
buyer for longer than a lease, whether or not the sweeper job has run.

A buyer whose caps count ``connected`` attempts is reserved the same way; the attempt then
holds a *place* (``cap_place``) in the windows it was offered in, given back by
:func:`release` if it ends unanswered.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Date, and_, bindparam, case, or_, select, update

from sipflask.callflow import clock
from sipflask.core import capwindows
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer

MAX_CALL_SECONDS = 4 * 3600  # Twilio ends any call after 4 hours

log = logging.getLogger("sipflask.buyers")


def now() -> datetime:
    """The clock leases are read against: the call path's clock (``callflow/clock.py``)."""
    return clock.now()


def lease_until(ring_timeout: int, start: datetime | None = None) -> datetime:
    """When a slot reserved now stops counting: the ring timeout plus the longest call."""
    longest = int(current_app.config.get("MAX_CALL_SECONDS") or MAX_CALL_SECONDS)
    return (start or now()) + timedelta(seconds=int(ring_timeout or 0) + longest)


@dataclass(frozen=True)
class Windows:
    """The cap windows an instant falls in on one buyer's clock."""

    time_zone: str
    when: datetime
    hour: str
    day: date
    month: str

    @classmethod
    def at(cls, time_zone: str | None, when: datetime | None = None) -> "Windows":
        when = when or now()
        keys = capwindows.window_keys(time_zone or "UTC", when)
        return cls(time_zone or "UTC", when, keys[capwindows.HOURLY],
                   date.fromisoformat(keys[capwindows.DAILY]), keys[capwindows.MONTHLY])


def _count(count, key, window):
    return count if key is not None and key >= window else 0


def used(row, windows: Windows) -> tuple[int, int, int]:
    """Calls counted this hour, day and month (a stored counter of an earlier window is 0; of
    a later one, see :data:`_RESERVE`, counts).

    ``row`` is anything with the counter columns (a Buyer, a directory row)."""
    return (_count(row.calls_hour, row.calls_hour_key, windows.hour),
            _count(row.calls_today, row.calls_day, windows.day),
            _count(row.calls_month, row.calls_month_key, windows.month))


_B = Buyer.__table__.c  # Core columns: no ORM bookkeeping on the webhook's hot path
_HOUR, _DAY, _MONTH = (bindparam("reserve_hour"), bindparam("reserve_day", type_=Date),
                       bindparam("reserve_month"))


def _current(key, window):
    """The stored window is the call's, or a later one: the counter only ever moves forward.

    Around a boundary a call that read the clock at 23:59:59.999 can reach the database after
    one that read 00:00:00.001; moving the counter back to the old window would forget the new
    window's count, so the late call is counted in (and held to) the new window instead."""
    return and_(key.is_not(None), key >= window)


def _under(cap, key, count, window):
    """The count of the call's window is below the cap (or there is no cap)."""
    return or_(cap.is_(None), case((_current(key, window), count), else_=0) < cap)


def _bumped(key, count, window):
    return case((_current(key, window), count + 1), else_=1)


def _moved(key, window):
    return case((_current(key, window), key), else_=window)


# Built once, with the buyer and the windows as parameters: compiled once per process.
_RESERVE = (
    update(Buyer.__table__)
    .where(_B.id == bindparam("reserve_buyer"), _B.paused.is_(False))
    .where(or_(_B.concurrency_cap.is_(None), _B.active_calls < _B.concurrency_cap))
    .where(_under(_B.hourly_cap, _B.calls_hour_key, _B.calls_hour, _HOUR),
           _under(_B.daily_cap, _B.calls_day, _B.calls_today, _DAY),
           _under(_B.monthly_cap, _B.calls_month_key, _B.calls_month, _MONTH),
           or_(_B.total_cap.is_(None), _B.calls_total < _B.total_cap))
    .values(active_calls=_B.active_calls + 1,
            calls_hour=_bumped(_B.calls_hour_key, _B.calls_hour, _HOUR),
            calls_hour_key=_moved(_B.calls_hour_key, _HOUR),
            calls_today=_bumped(_B.calls_day, _B.calls_today, _DAY),
            calls_day=_moved(_B.calls_day, _DAY),
            calls_month=_bumped(_B.calls_month_key, _B.calls_month, _MONTH),
            calls_month_key=_moved(_B.calls_month_key, _MONTH), calls_total=_B.calls_total + 1)
    .returning(_B.cap_counts, _B.calls_hour_key, _B.calls_day, _B.calls_month_key)
)


@dataclass(frozen=True)
class Reserved:
    """A reservation made: what the buyer's caps count, and the windows it was counted in."""

    mode: str
    hour: str
    day: date
    month: str


def reserve(buyer_id: int, windows: Windows | None = None) -> Reserved | None:
    """Take one concurrency slot and one call in each cap window for the buyer, or None when a
    cap is reached or the buyer is paused (checked here too, so a pause applies even to a
    cached routing list).

    Runs in the caller's transaction: commit (or roll back) promptly, the row stays locked
    until then on PostgreSQL.
    """
    w = windows or Windows.at("UTC")
    row = db.session.execute(_RESERVE, {
        "reserve_buyer": buyer_id, "reserve_hour": w.hour, "reserve_day": w.day,
        "reserve_month": w.month}).first()
    return None if row is None else Reserved(*row)


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


def take(buyer_id: int, windows: Windows | None = None) -> Reserved | None:
    """:func:`reserve`, with the buyer's expired leases given back and one more try when it is
    refused. Like :func:`reserve`, runs in the caller's transaction."""
    taken = reserve(buyer_id, windows)
    if taken is None and reap_expired(buyer_id):
        taken = reserve(buyer_id, windows)
    return taken


def refusal_kind(reason: str) -> str:
    """The metrics word for a refusal: "paused", "hours", "unreachable", "cap" or "other"."""
    if reason == "paused":
        return "paused"
    if reason.startswith("closed") or reason == "outside business hours":
        return "hours"
    if reason.startswith("unreachable"):
        return "unreachable"
    return "cap" if " cap " in f" {reason}" else "other"


_COUNTERS = ("paused", "concurrency_cap", "active_calls", "hourly_cap", "calls_hour",
             "calls_hour_key", "daily_cap", "calls_today", "calls_day", "monthly_cap",
             "calls_month", "calls_month_key", "total_cap", "calls_total", "cap_counts")


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


def _clear(attempt_id: int, flag) -> bool:
    """Set one of the attempt's flags false if it is still true (once, under concurrency)."""
    return db.session.execute(
        update(Attempt.__table__).where(_A.id == attempt_id, flag.is_(True))
        .values({flag.name: False})).rowcount == 1


def _give_back(key, count, window):
    return case((and_(key == window, count > 0), count - 1), else_=count)


def release(attempt: Attempt, answered: bool = False) -> bool:
    """Give back what an attempt holds: its concurrency slot, and its place against
    connected-counting caps unless it was answered (then it counts). Safe to call more than
    once; True when anything was given back."""
    if attempt.buyer_id is None:
        return False
    slot = bool(attempt.holds_slot) and _clear(attempt.id, _A.holds_slot)
    place = bool(attempt.cap_place) and _clear(attempt.id, _A.cap_place) and not answered
    attempt.holds_slot = attempt.cap_place = False
    values = {}
    if slot:
        values["active_calls"] = case((_B.active_calls > 0, _B.active_calls - 1), else_=0)
    if place:
        values.update(
            calls_hour=_give_back(_B.calls_hour_key, _B.calls_hour, attempt.cap_hour),
            calls_today=_give_back(_B.calls_day, _B.calls_today, attempt.cap_day),
            calls_month=_give_back(_B.calls_month_key, _B.calls_month, attempt.cap_month),
            calls_total=case((_B.calls_total > 0, _B.calls_total - 1), else_=0))
    if values:
        db.session.execute(update(Buyer.__table__).where(_B.id == attempt.buyer_id)
                           .values(**values))
    return bool(values)


def reset(buyer_id: int, who: str) -> None:
    """Start the buyer's hourly, daily, monthly and lifetime counts again from 0 ("Reset
    caps"); concurrent calls still ringing or talking keep their slots. Logged."""
    db.session.execute(update(Attempt.__table__)
                       .where(_A.buyer_id == buyer_id, _A.cap_place.is_(True))
                       .values(cap_place=False))
    db.session.execute(update(Buyer.__table__).where(_B.id == buyer_id).values(
        calls_hour=0, calls_today=0, calls_month=0, calls_total=0))
    log.info("buyer %s: caps reset by %s", buyer_id, who)
