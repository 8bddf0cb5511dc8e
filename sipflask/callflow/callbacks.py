"""Twilio's callbacks after the voice webhook: an attempt ended (dial-action), the call ended
(status). Both free the buyer's concurrency slot; a failed attempt routes to the next buyer.
"""
from __future__ import annotations

import logging
from typing import Mapping

from sqlalchemy import select

from sipflask.callflow import caps, params, store
from sipflask.callflow.voice import route_next
from sipflask.core import twiml
from sipflask.core.validation import ascii_int
from sipflask.extensions import db
from sipflask.models import Attempt, Call, utcnow

log = logging.getLogger("sipflask.calls")

RETRY_STATUSES = {"busy", "no-answer", "failed", "canceled"}
FINAL_CALL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}


def dial_action(call_uuid: str, position: int, form: Mapping[str, str], action_url) -> str:
    """Twilio's ``<Dial action>`` callback: record the outcome, then end or try the next buyer."""
    call = db.session.scalar(select(Call).where(Call.uuid == call_uuid))
    attempt = None
    if call is not None:
        attempt = db.session.scalar(select(Attempt).where(Attempt.call_id == call.id,
                                                          Attempt.position == position))
    if attempt is None:
        log.warning("dial-action for unknown call %r / attempt %r", call_uuid, position)
        return twiml.hangup()
    status = (form.get("DialCallStatus") or "").lower()
    if attempt.dial_status is not None:
        log.info("call %s: repeated dial-action for attempt %d ignored", call.uuid, position)
        return twiml.hangup()
    attempt.dial_status = status or "unknown"
    attempt.sip_code = _int_or_none(form.get("DialSipResponseCode"))
    attempt.duration = _int_or_none(form.get("DialCallDuration"))
    attempt.ended_at = utcnow()
    caps.release(attempt)
    if status in RETRY_STATUSES:
        log.info("call %s: attempt %d %s (SIP %s), trying the next buyer", call.uuid,
                 position, status, attempt.sip_code)
        state = store.state_of(call)
        db.session.flush()
        return route_next(state, action_url)
    call.status = "completed" if status in ("completed", "answered") else (status or "completed")
    db.session.commit()
    return twiml.hangup()


def status_callback(form: Mapping[str, str]) -> None:
    """Twilio's status callback: close the call and free any slot still held."""
    call = db.session.scalar(select(Call).where(Call.call_sid == form.get("CallSid")))
    if call is None:
        log.info("status callback for unknown CallSid %r", params.short(form.get("CallSid")))
        return
    status = (form.get("CallStatus") or "").lower()
    if status not in FINAL_CALL_STATUSES:
        return
    # Slots first and on their own: nothing else in this callback may keep a slot taken.
    for attempt in call.attempts:
        if attempt.holds_slot:
            caps.release(attempt)
            if attempt.dial_status is None:
                attempt.dial_status = "completed" if status == "completed" else "canceled"
                attempt.ended_at = utcnow()
    db.session.commit()
    if call.status in ("ringing", "routing"):
        call.status = status
    call.duration = _int_or_none(form.get("CallDuration"))
    call.ended_at = call.ended_at or utcnow()
    db.session.commit()


def _int_or_none(value) -> int | None:
    """A Twilio number parameter, or None when missing or not a sane 32-bit count."""
    return ascii_int(value.strip()) if isinstance(value, str) else None
