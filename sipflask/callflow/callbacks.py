"""Twilio's callbacks after the voice webhook: an attempt ended (dial-action), the call ended
(status). Both free the buyer's concurrency slot; a failed attempt routes to the next buyer.

Each runs under the call's lock (``store.lock_call``), so the callbacks of one call never
interleave: whichever comes second sees what the first committed. A dial-action stores the
answer it gave on its attempt, and a repeat of it (Twilio retries) gets that answer again.
"""
from __future__ import annotations

import logging
from typing import Mapping

from sipflask.callflow import caps, clock, params, store
from sipflask.callflow.voice import route
from sipflask.core import twiml
from sipflask.core.validation import ascii_int
from sipflask.extensions import db
from sipflask.models import Attempt, Call
from sipflask.monitoring import metrics
from sipflask.siphealth import state as siphealth_state
from sipflask.webhooks import events as webhook_events

log = logging.getLogger("sipflask.calls")

RETRY_STATUSES = {"busy", "no-answer", "failed", "canceled"}
FINAL_CALL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}


def dial_action(call_uuid: str, position: int, form: Mapping[str, str], action_url) -> str:
    """Twilio's ``<Dial action>`` callback: record the outcome, then end or try the next buyer."""
    form = params.cleaned(form)
    call = store.lock_call(uuid=call_uuid)
    attempt = None
    if call is not None:
        attempt = next((a for a in call.attempts if a.position == position), None)
    if attempt is None:
        db.session.rollback()
        log.warning("dial-action for unknown call %s / attempt %r", params.short(call_uuid),
                    position)
        return twiml.hangup()
    if attempt.answer is not None or (attempt.dial_status is not None
                                      and not store.is_ended(call)):
        # Answered already (or recorded before answers were stored): the same answer again.
        log.info("call %s: repeated dial-action for attempt %d", call.uuid, position)
        db.session.rollback()
        return attempt.answer if attempt.answer is not None else twiml.hangup()
    status = _record_outcome(attempt, form)
    store.refresh_outcome(call)
    answer = _next_step(call, attempt, status, action_url)
    attempt.answer = answer
    db.session.commit()
    return answer


def _record_outcome(attempt: Attempt, form: Mapping[str, str]) -> str:
    """Write what Twilio says about the attempt and give its slot back; returns the status."""
    status = params.fit((form.get("DialCallStatus") or "").strip().lower(), 32)
    attempt.dial_status = status or "unknown"
    attempt.sip_code = _int_or_none(form.get("DialSipResponseCode"))
    attempt.duration = _int_or_none(form.get("DialCallDuration"))
    attempt.ended_at = clock.now()
    metrics.attempt_sip_code(attempt.sip_code)
    if attempt.dial_status in store.ANSWERED:
        webhook_events.call_answered(attempt.call, attempt)  # before release locks the buyer
    caps.release(attempt, answered=attempt.dial_status in store.ANSWERED)
    # Health-aware routing counts real calls too: a PBX that fails INVITEs goes down.
    siphealth_state.record_attempt(attempt.call.campaign_id, attempt.buyer_id,
                                   attempt.sip_code, attempt.ended_at)
    return status


def _next_step(call: Call, attempt: Attempt, status: str, action_url) -> str:
    """Hang up, or route to the next buyer when the attempt failed and the call is still on."""
    if store.is_ended(call):
        # The status callback (or the sweeper) closed the call first: nobody is on the line
        # any more, so no buyer is reserved for it.
        log.info("call %s: dial-action for attempt %d after the call ended", call.uuid,
                 attempt.position)
        return twiml.hangup()
    if status in RETRY_STATUSES:
        log.info("call %s: attempt %d %s (SIP %s), trying the next buyer", call.uuid,
                 attempt.position, status, attempt.sip_code)
        state = store.state_of(call)
        db.session.flush()
        return route(state, action_url)
    call.status = "completed" if status in ("completed", "answered") else (status or "completed")
    return twiml.hangup()


def status_callback(form: Mapping[str, str]) -> None:
    """Twilio's status callback: close the call and free any slot still held."""
    form = params.cleaned(form)
    status = (form.get("CallStatus") or "").lower()
    if status not in FINAL_CALL_STATUSES:
        return
    sid = params.call_sid(form)
    call = store.lock_call(call_sid=sid) if sid else None
    if call is None:
        db.session.rollback()
        log.info("status callback for unknown CallSid %r", params.short(form.get("CallSid")))
        return
    store.close_call(call, status, "callback", _int_or_none(form.get("CallDuration")))
    db.session.commit()


def _int_or_none(value) -> int | None:
    """A Twilio number parameter, or None when missing or not a sane 32-bit count."""
    return ascii_int(value.strip()) if isinstance(value, str) else None
