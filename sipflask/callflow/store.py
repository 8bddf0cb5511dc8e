"""A call while it is being routed, and every write of calls and attempts the webhooks make.

The voice webhook is the hot path: calls and attempts are written with a few prepared Core
statements (no ORM objects) and committed once by the caller. The callbacks of one call are
serialised by :func:`lock_call`, and :func:`close_call` is the one place a call ends.
"""
from __future__ import annotations

import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping

from sqlalchemy import bindparam, delete, insert, select, update

from sipflask import plugins
from sipflask.callflow import caps, clock
from sipflask.callflow.directory import NumberRow
from sipflask.callflow.params import call_sid as stored_call_sid
from sipflask.callflow.params import fit
from sipflask.core.callstory import NOT_DIALLED
from sipflask.core.phone import e164_number
from sipflask.extensions import db
from sipflask.models import Attempt, Call, new_call_key
from sipflask.monitoring import metrics
from sipflask.webhooks import events as webhook_events

OPEN_STATUSES = ("ringing", "routing")
ANSWERED = ("completed", "answered")  # DialCallStatus of an attempt the buyer picked up

_CALLS, _ATTEMPTS = Call.__table__, Attempt.__table__
# Built once: the values come as execution parameters, so SQLAlchemy compiles each only once.
_INSERT_CALL = insert(_CALLS).returning(_CALLS.c.id)
_INSERT_ATTEMPTS = insert(_ATTEMPTS)
_DELETE_ATTEMPT = delete(_ATTEMPTS).where(_ATTEMPTS.c.call_id == bindparam("attempt_call"),
                                          _ATTEMPTS.c.position == bindparam("attempt_position"))


@dataclass
class CallState:
    """A call while it is being routed: plain data, written with a few Core statements."""

    info: plugins.CallInfo
    id: int | None = None            # None until the call row is inserted
    call_sid: str | None = None
    number_id: int | None = None
    tag_sources: dict = field(default_factory=dict)
    reason: str = ""
    tried: set = field(default_factory=set)
    position: int = 0                # of the next attempt
    created_at: datetime | None = None  # set with the call row: attempts carry it for reports


def new_state(params: Mapping[str, str], called: str, number: NumberRow | None,
              tags: dict, sources: dict) -> CallState:
    """A call that has just arrived, not yet written."""
    info = plugins.CallInfo(
        # uuid and key now, not at INSERT: plugins and tokens need them before anything is written.
        uuid=str(uuidlib.uuid4()), key=new_call_key(), caller=params.get("From", ""),
        called=called, campaign_id=number.campaign_id if number else None,
        campaign_ref=number.campaign_ref if number else "",
        campaign_name=number.campaign_name if number else "",
        campaign_settings=dict(number.campaign_settings) if number else {},
        publisher_id=number.publisher_id if number else None,
        afid=number.afid if number else "", sub_id=number.sub_id if number else "", tags=tags)
    return CallState(info=info, call_sid=stored_call_sid(params),
                     number_id=number.id if number else None, tag_sources=sources)


def lock_call(*, uuid: str | None = None, call_sid: str | None = None,
              call_id: int | None = None) -> Call | None:
    """The call, locked until the transaction ends, so one call's callbacks run one at a time.

    PostgreSQL: ``SELECT ... FOR UPDATE`` on the call's row; a second callback for the same
    call waits here and then reads what the first committed. SQLite has no row locks but one
    writer: a write comes first, so the database's write lock is taken (waiting up to
    ``busy_timeout``) before anything is read, never after a read that could go stale.
    """
    where = (Call.id == call_id if call_id is not None
             else Call.uuid == uuid if uuid is not None else Call.call_sid == call_sid)
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(_CALLS).where(where).values(id=_CALLS.c.id))
    return db.session.scalar(select(Call).where(where).with_for_update()
                             .execution_options(populate_existing=True))


def is_ended(call: Call) -> bool:
    """Ended for routing: a status callback, the sweeper or routing itself closed it."""
    return call.ended_at is not None


def close_call(call: Call, status: str, source: str, duration: int | None = None) -> None:
    """The call ended (``status`` as Twilio says it): give back every slot its attempts hold
    and record the final state, once. The caller holds the call's lock and commits."""
    now = clock.now()
    attempts = sorted(call.attempts, key=lambda a: a.buyer_id or 0)  # one lock order
    for attempt in attempts:
        if attempt.dial_status is None and attempt.buyer_id is not None:
            attempt.dial_status = "completed" if status == "completed" else "canceled"
            attempt.ended_at = now
    if call.status in OPEN_STATUSES:
        call.status = fit(status, 32)
    if duration is not None or call.duration is None:
        call.duration = duration
    if call.ended_at is None:
        call.ended_at = now
        call.state_source = source
        metrics.call_outcome(call.status)
        webhook_events.call_completed(call)  # before the releases lock buyers' rows
    for attempt in attempts:
        if attempt.holds_slot or attempt.cap_place:
            caps.release(attempt, answered=attempt.dial_status in ANSWERED)
    refresh_outcome(call)


def state_of(call: Call) -> CallState:
    """A stored call, ready to route its next attempt."""
    return CallState(info=plugins.call_info(call), id=call.id, call_sid=call.call_sid,
                     number_id=call.number_id, tag_sources=dict(call.tag_sources or {}),
                     reason=call.reason or "",
                     tried={a.buyer_id for a in call.attempts if a.buyer_id is not None},
                     position=len(call.attempts), created_at=call.created_at)


def write_call(state: CallState, status: str, *, reason: str | None = None,
               ended: bool = False, routed: bool | None = None,
               skip_kinds: str | None = None) -> None:
    """Insert the call (first write) or update its status (and whether it was routed, and
    why nobody took it: ``routed`` and ``skip_kinds`` for reports); a call that starts, is
    refused or finds no buyer writes its webhooks' deliveries here (``webhooks/events.py``)."""
    now = clock.now()
    values = {"status": status}
    if reason is not None:
        values["reason"] = fit(reason, 500)
    if ended:
        values["ended_at"] = now
    if routed is not None:
        values["routed"] = routed
    if skip_kinds is not None:
        values["skip_kinds"] = skip_kinds
    inserted = state.id is None
    if inserted:
        info = state.info
        state.created_at = now
        state.id = db.session.execute(_INSERT_CALL, dict(
            uuid=info.uuid, key=info.key, call_sid=state.call_sid, caller=info.caller,
            caller_num=e164_number(info.caller),
            called=info.called, number_id=state.number_id, campaign_id=info.campaign_id,
            publisher_id=info.publisher_id, sub_id=info.sub_id or None, tags=info.tags,
            tag_sources=state.tag_sources, converted=False, created_at=now,
            # Routing starts by inserting the call: it commits only once a buyer is dialled
            # or, in the same transaction, written down as a no-buyer call (routed corrected).
            routed=status == "routing", connected=False, talk_seconds=0,
            **{"reason": fit(state.reason, 500), **values})).scalar_one()
    else:
        db.session.execute(update(_CALLS).where(_CALLS.c.id == state.id).values(**values))
    # In this transaction: the call's webhooks are sent only if it is committed.
    webhook_events.on_call_written(state, status, inserted, reason or "")


def refuse(state: CallState, reason: str) -> None:
    """Record a call that is not routed at all (refused, or to an unknown number)."""
    write_call(state, "rejected", reason=reason, ended=True)
    db.session.commit()
    metrics.call_outcome("rejected")


def attempt_row(state: CallState, buyer, planned) -> dict:
    """The attempt about to be made to ``buyer`` (a directory row) as planned."""
    plan = planned.plan
    return dict(
        position=state.position, buyer_id=buyer.id, buyer_name=buyer.name, kind=plan.kind,
        dialled=plan.target or buyer.number,
        sip_username=buyer.sip_username if plan.kind == "sip" else "",
        headers_sent=[{"name": h.name, "value": h.value, "source": h.source} for h in plan.sent],
        headers_dropped=[{"name": h.name, "value": h.value, "source": h.source,
                          "reason": why} for h, why in plan.dropped],
        plugin_errors=[f.as_dict() for f in planned.failures],
        twiml=None if plan.error else plan.twiml,
        # Every row has every key: they are inserted in one executemany.
        holds_slot=False, lease_expires_at=None, answer=None, skipped=[], dial_status=None,
        cap_place=False, cap_hour=None, cap_day=None, cap_month=None,
        started_at=clock.now(), ended_at=None, placed=not plan.error,
        call_created_at=state.created_at, caller_num=e164_number(state.info.caller))


def insert_attempts(call_id: int, rows: list[dict]) -> None:
    if rows:
        db.session.execute(_INSERT_ATTEMPTS, [{**r, "call_id": call_id} for r in rows])


def delete_attempt(call_id: int, position: int) -> None:
    """Take back an attempt written in this transaction (its buyer could not be reserved)."""
    db.session.execute(_DELETE_ATTEMPT, {"attempt_call": call_id, "attempt_position": position})


def counted_in(call_id: int, position: int, taken: caps.Reserved) -> None:
    """Correct an attempt's place and windows to what the reservation counted it in (its
    buyer's counting mode changed since routing read it, or a window had moved on)."""
    db.session.execute(update(_ATTEMPTS).where(_ATTEMPTS.c.call_id == call_id,
                                               _ATTEMPTS.c.position == position)
                       .values(cap_place=taken.mode == "connected", cap_hour=taken.hour,
                               cap_day=taken.day, cap_month=taken.month))


def attempts_of(call_id: int) -> list[Attempt]:
    return list(db.session.scalars(select(Attempt).where(Attempt.call_id == call_id)
                                   .order_by(Attempt.position)))


def append_skips_to_last_attempt(call_id: int, skipped: list[dict]) -> None:
    last = db.session.scalar(select(Attempt).where(Attempt.call_id == call_id)
                             .order_by(Attempt.position.desc()).limit(1))
    if last is not None:
        last.skipped = list(last.skipped or []) + skipped


# --- what reports count (docs/reports.md), kept with the call ------------------------------------

def is_placed(attempt) -> bool:
    """Twilio was asked to dial it: not an attempt whose number sipflask could not build."""
    return attempt.placed is not False


def fail_codes(attempts: Iterable) -> str | None:
    """``"480:1 486:2"``: each SIP failure code (300 and up) of the attempts and how many."""
    counts = Counter(a.sip_code for a in attempts if (a.sip_code or 0) >= 300)
    text = " ".join(f"{code}:{n}" for code, n in sorted(counts.items()))
    return text[:400].rsplit(" ", 1)[0] if len(text) > 400 else (text or None)


def refresh_outcome(call: Call) -> None:
    """Set what reports read off a call from its attempts (loaded): the one writer of routed,
    connected, answered_buyer_id, talk_seconds and fail_codes after the call's first round.
    Unchanged values are not written (the ORM compares)."""
    attempts = sorted(call.attempts, key=lambda a: a.position)
    answered = [a for a in attempts if a.dial_status in ANSWERED]
    call.routed = any(is_placed(a) for a in attempts)
    call.connected = bool(answered)
    call.answered_buyer_id = answered[-1].buyer_id if answered else None
    call.talk_seconds = sum(a.duration or 0 for a in answered)
    call.fail_codes = fail_codes(attempts)


def skip_kinds(skips: Iterable[dict]) -> str:
    """The kinds of reasons buyers were passed over (``"cap paused"``), for a no-buyer call;
    ``"no_buyers"`` when nobody was even considered."""
    kinds = set()
    for skip in skips:
        reason = str(skip.get("reason", ""))
        if reason == "already tried":
            continue
        kinds.add("not_dialled" if reason.startswith(NOT_DIALLED) else caps.refusal_kind(reason))
    return " ".join(sorted(kinds)) or "no_buyers"
