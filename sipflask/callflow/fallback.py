"""Outage routing: answering Twilio's webhooks when the database can't be reached.

With ``OUTAGE_ROUTING`` on (the default) a call that arrives while the database is down (or
that reaches ``POST /twilio/fallback``) is dialled to the first open buyer (not paused, inside its opening hours), by priority, of the
last routing list this process read (``directory.snapshot_buyers``): caps are NOT enforced and
the buyer may have been edited since. It is logged loudly and journalled (``journal.py``) with
what was dialled, so it is stored when the database is back. A dial-action during the outage
dials the next buyer of the snapshot for a call answered this way, else hangs up; a status
callback is journalled. Nothing here touches the database. SIP-originated calls are refused:
whether they may come in depends on the inbound settings, which are in the database.
"""
from __future__ import annotations

import logging
from typing import Mapping

from flask import current_app

from sipflask import crypto
from sipflask.callflow import clock, directory, journal, params, store
from sipflask.callflow.callbacks import RETRY_STATUSES
from sipflask.callflow.planning import buyer_spec, plan_for, token_values
from sipflask.callflow.voice import MSG_ERROR
from sipflask.core import sip, twiml

log = logging.getLogger("sipflask.outage")


def enabled() -> bool:
    return bool(current_app.config.get("OUTAGE_ROUTING", True))


def _calls() -> dict:
    """Calls this process answered without the database: uuid -> (CallInfo, buyers tried)."""
    calls = current_app.extensions.setdefault("sipflask.outage_calls", {})
    if len(calls) > 10_000:
        calls.clear()
    return calls


def _open_buyers(campaign_id: int | None) -> list:
    """Unpaused snapshot buyers whose opening hours are open now, by priority."""
    rows = directory.snapshot_buyers(campaign_id) if campaign_id is not None else None
    now = clock.now()
    # sorted() is stable: equal priorities keep the routing list's order (no weighting here)
    return sorted((b for b in rows or () if not b.paused
                   and (b.schedule is None or b.schedule.is_open(now))),
                  key=lambda b: b.priority)


def _dial_first(info, tried: set, position: int, action_url) -> tuple[dict | None, str | None]:
    """The first open snapshot buyer not tried yet that plans cleanly: (attempt, TwiML)."""
    for buyer in _open_buyers(info.campaign_id):
        if buyer.id in tried:
            continue
        try:
            planned = plan_for(info, buyer_spec(buyer), token_values(info, buyer.id),
                               action_url(info, position))
        except crypto.SecretError:
            continue
        plan = planned.plan
        if plan.error or not plan.twiml:
            continue
        tried.add(buyer.id)
        attempt = dict(
            position=position, buyer_id=buyer.id, buyer_name=buyer.name, kind=plan.kind,
            dialled=plan.target or buyer.number,
            sip_username=buyer.sip_username if plan.kind == "sip" else "",
            headers_sent=[{"name": h.name, "value": h.value, "source": h.source}
                          for h in plan.sent],
            headers_dropped=[{"name": h.name, "value": h.value, "source": h.source,
                              "reason": why} for h, why in plan.dropped])
        return attempt, plan.twiml
    return None, None


def answer_voice(form: Mapping[str, str], action_url, source: str = "voice") -> str:
    """TwiML for a new call without the database: the snapshot's first open buyer, or sorry."""
    to = form.get("To", "")
    call_sid = params.short(form.get("CallSid"))
    if form.get("SipDomain") or sip.is_sip(to):
        log.error("DATABASE UNREACHABLE (%s): SIP call %s refused (inbound settings unknown)",
                  source, call_sid)
        _journal_call(form, None, source, "rejected", "SIP call during a database outage")
        return twiml.reject()
    called = params.called_number(to)
    number = directory.snapshot_number(called) if called.startswith("+") else None
    if number is None:
        log.error("DATABASE UNREACHABLE (%s): call %s to %s not in this process's routing "
                  "snapshot; caller hears the sorry message", source, call_sid, params.short(to))
        _journal_call(form, None, source, "no-buyer", "database outage: number not in the "
                      "routing snapshot of the process that answered")
        return twiml.say_and_hangup(MSG_ERROR)
    tags, sources = params.tags_from(number, form)
    state = store.new_state(form, called, number, tags, sources)
    tried: set = set()
    attempt, body = _dial_first(state.info, tried, 0, action_url)
    status = "routing" if attempt else "no-buyer"
    _journal_call(form, state, source, status, None, attempt)
    if attempt is None:
        log.error("DATABASE UNREACHABLE (%s): call %s: no open buyer in the snapshot",
                  source, call_sid)
        return twiml.say_and_hangup(MSG_ERROR)
    _calls()[state.info.uuid] = (state.info, tried)
    log.error("DATABASE UNREACHABLE (%s): call %s (%s) dialled buyer %s from the routing "
              "snapshot, caps not checked; journalled for replay", source, state.info.uuid,
              call_sid, attempt["buyer_id"])
    return body


def _journal_call(form, state, source: str, status: str, reason: str | None,
                  attempt: dict | None = None) -> None:
    if state is None:
        state = store.new_state(form, params.called_number(form.get("To", "")) or
                                form.get("To", ""), None, *params.tags_from(None, form))
    info = state.info
    journal.append(dict(
        kind="call", source=source, uuid=info.uuid, key=info.key, call_sid=state.call_sid,
        caller=info.caller, called=info.called, number_id=state.number_id,
        campaign_id=info.campaign_id, publisher_id=info.publisher_id, sub_id=info.sub_id,
        tags=info.tags, tag_sources=state.tag_sources, status=status,
        reason=(f"{reason} ({journal.OUTAGE_NOTE})" if reason else journal.OUTAGE_NOTE),
        attempt=attempt, params=dict(form)))


def answer_dial_action(call_uuid: str, position: int, form: Mapping[str, str],
                       action_url) -> str:
    """An attempt ended during the outage: the snapshot's next buyer (for a call answered from
    the snapshot in this process) or a hangup; journalled either way."""
    status = (form.get("DialCallStatus") or "").lower()
    known = _calls().get(call_uuid)
    attempt, body = None, None
    if known is not None and status in RETRY_STATUSES:
        info, tried = known
        attempt, body = _dial_first(info, tried, position + 1, action_url)
    journal.append(dict(kind="dial", uuid=call_uuid, position=position, params=dict(form),
                        attempt=attempt))
    log.error("DATABASE UNREACHABLE: dial-action %s/%d (%s) journalled; %s", call_uuid,
              position, status or "no status",
              f"dialling buyer {attempt['buyer_id']}" if attempt else "hanging up")
    return body or twiml.hangup()


def journal_status(form: Mapping[str, str]) -> None:
    """A status callback during the outage: kept for replay (it frees the call's slots)."""
    journal.append(dict(kind="status", params=dict(form)))
    log.error("DATABASE UNREACHABLE: status callback for %s journalled",
              params.short(form.get("CallSid")))
