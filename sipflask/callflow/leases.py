"""The lease sweeper: closes calls left open past their slot leases (a lost status callback).

Expired slots stop counting against caps without it (``caps.take`` gives them back when a
reservation is refused); this job finishes the record: for each call still open after the
longest a call can last, it asks Twilio's Calls API for the call's real final status, closes
the call with it (``state_source = "twilio-api"``), or, when Twilio can't say, closes it as
``lease-expired``. Every slot the call still holds is given back either way.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, inspect, select

from sipflask import jobs
from sipflask.callflow import caps, params, store
from sipflask.callflow.callbacks import FINAL_CALL_STATUSES
from sipflask.extensions import db
from sipflask.models import Attempt, Call

log = logging.getLogger("sipflask.calls")

BATCH = 200  # calls per run: a backlog is worked off over a few minutes, never in one go


def overdue_calls(at: datetime, limit: int = BATCH) -> list[int]:
    """Ids of open calls older than the longest call, none of whose slots is still leased."""
    longest = int(current_app.config.get("MAX_CALL_SECONDS") or caps.MAX_CALL_SECONDS)
    live_lease = exists().where(Attempt.call_id == Call.id, Attempt.holds_slot.is_(True),
                                Attempt.lease_expires_at >= at)
    # ix_calls_open (created_at WHERE ended_at IS NULL) keeps this an index range scan.
    return list(db.session.scalars(
        select(Call.id).where(Call.ended_at.is_(None), Call.created_at < at - timedelta(
            seconds=longest), ~live_lease).order_by(Call.created_at).limit(limit)))


def _twilio_status(call_sid: str | None, fetch) -> tuple[str | None, int | None, str]:
    """Twilio's final status and duration for the call, or None and why it is not known."""
    if not call_sid or not call_sid.startswith("CA") or len(call_sid) != params.CALL_SID_LENGTH:
        return None, None, "no Twilio CallSid"
    try:
        if fetch is None:
            from sipflask.twilio_rest.calls import fetch_status as fetch
        found = fetch(call_sid)
    except Exception as exc:  # noqa: BLE001  TwilioError, no credentials, no network: say why
        return None, None, params.fit(str(exc) or type(exc).__name__, 200)
    status = (getattr(found, "status", "") or "").lower()
    if status not in FINAL_CALL_STATUSES:
        return None, None, f"Twilio says {params.fit(status, 32) or 'nothing'}"
    return status, getattr(found, "duration", None), ""


def close_overdue(call_id: int, at: datetime, fetch=None) -> str | None:
    """Close one overdue call; returns the source recorded, or None if it was closed meanwhile.

    Twilio is asked before the call's lock is taken: a slow API never holds the lock."""
    sid = db.session.scalar(select(Call.call_sid).where(Call.id == call_id))
    db.session.rollback()
    status, duration, why = _twilio_status(sid, fetch)
    call = store.lock_call(call_id=call_id)
    if call is None or store.is_ended(call):
        db.session.rollback()
        return None
    source = "twilio-api" if status else "lease-expired"
    if status is None:
        status = call.status if call.status not in store.OPEN_STATUSES else "unknown"
        note = f"closed after its lease expired; Twilio's status not known ({why})"
        call.reason = params.fit(f"{call.reason}; {note}" if call.reason else note, 500)
    store.close_call(call, status, source, duration)
    db.session.commit()
    log.warning("call %s closed by the lease sweeper: %s (%s)", call.uuid, status, source)
    return source


@jobs.periodic(jobs.crontab(minute="*"), name="callflow.sweep_leases")
def sweep_leases(fetch=None, at: datetime | None = None) -> dict:
    """Every minute: close the calls left open past their leases. Returns counts by source."""
    at = at or caps.now()
    counts: dict[str, int] = {}
    if not inspect(db.engine).has_table(Call.__tablename__):
        # A worker started before `flask db upgrade`: nothing to sweep yet, nothing failed.
        log.info("lease sweeper: the database has no calls table yet")
        return counts
    for call_id in overdue_calls(at):
        try:
            source = close_overdue(call_id, at, fetch)
        except Exception:  # noqa: BLE001  one bad call must not stop the sweep
            db.session.rollback()
            log.exception("lease sweeper could not close call id %s", call_id)
            continue
        if source:
            counts[source] = counts.get(source, 0) + 1
    return counts
