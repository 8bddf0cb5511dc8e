"""What happens to a call, step by step: Twilio parameters in, TwiML out.

The webhook views are thin wrappers around these functions; ``simulate-call`` and the buyer
editor's preview go through the same code. Every function returns TwiML that Twilio accepts,
whatever goes wrong, and records why on the call.
"""
from __future__ import annotations

import dataclasses
import logging
import random
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Mapping

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from sipflask import crypto, plugins
from sipflask.callflow import caps, directory
from sipflask.core import dialplan as attempts
from sipflask.core import inbound, routing, sip, twiml
from sipflask.core.validation import ascii_int
from sipflask.extensions import db
from sipflask.models import Attempt, Call, new_call_key, utcnow
from sipflask.records import inbound as inbound_settings

log = logging.getLogger("sipflask.calls")

MSG_UNKNOWN = "We're sorry, this number is not in service. Goodbye."
MSG_NO_BUYER = "We're sorry, nobody is available to take your call right now. Please try again later. Goodbye."
MSG_ERROR = "We're sorry, we can't connect your call right now. Please try again later. Goodbye."

# Twilio's caller-data parameters and the tags (and tokens) they become.
TWILIO_CALLER_TAGS = {"FromState": "caller_state", "FromZip": "caller_zip",
                      "FromCity": "caller_city", "FromCountry": "caller_country"}
RETRY_STATUSES = {"busy", "no-answer", "failed", "canceled"}
FINAL_CALL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}

_rng = random.SystemRandom()


def sip_header_tag(header: str) -> str:
    """``X-Lead-Score`` -> ``lead_score`` (SPEC: inbound SIP header passthrough)."""
    name = header[2:] if header[:2].lower() == "x-" else header
    return name.lower().replace("-", "_")


def called_number(to: str) -> str:
    """The tracking number a call was made to: E.164 from ``To``, or a SIP URI's user part."""
    to = (to or "").strip()
    if sip.is_sip(to):
        try:
            return sip.parse_sip_uri(to.split("?", 1)[0]).user
        except sip.SipUriError:
            return ""
    return to


def token_values(call: plugins.CallInfo, buyer_id: int | None = None) -> dict[str, str]:
    """Every token's value for a call: its tags first, then the built-ins (which win)."""
    values = {k: str(v) for k, v in (call.tags or {}).items()}
    values.update(
        call_uuid=call.uuid, call_key=call.key,
        campaign_id=str(call.campaign_id) if call.campaign_id is not None else "",
        campaign_name=call.campaign_name,
        buyer_id=str(buyer_id) if buyer_id is not None else "",
        publisher_id=str(call.publisher_id) if call.publisher_id is not None else "",
        afid=call.afid, sub_id=call.sub_id, caller_number=call.caller, called_number=call.called,
    )
    for tag in TWILIO_CALLER_TAGS.values():
        values[tag] = str((call.tags or {}).get(tag, ""))
    return values


def buyer_spec(buyer) -> attempts.BuyerSpec:
    """A ``models.Buyer`` or ``directory.BuyerRow`` as the pure core sees it (password decrypted)."""
    if isinstance(buyer, directory.BuyerRow):
        password = crypto.decrypt(current_app.config["SECRET_KEY"], buyer.sip_password_encrypted)
        headers = list(buyer.headers)
    else:
        password = buyer.sip_password
        headers = [(h.name, h.value) for h in buyer.headers]
    return attempts.BuyerSpec(
        id=buyer.id, name=buyer.name, number=buyer.number,
        sip_username=buyer.sip_username or "", sip_password=password,
        sip_headers=headers, timeout=buyer.timeout)


@dataclass
class PlannedAttempt:
    """An attempt's plan plus what the plugins did, before anything is stored."""

    plan: attempts.AttemptPlan
    failures: list


def plan_for(call_like: plugins.CallInfo, spec: attempts.BuyerSpec, values: Mapping[str, str],
             action: str) -> PlannedAttempt:
    """Headers from every source, then the plan: shared by the webhook and the preview."""
    failures: list = []
    if sip.is_sip(spec.number):
        defaults, plugin_headers, own, failures = plugins.collect_sip_headers(
            call_like, spec, values)
        plan = attempts.plan_attempt(spec, values, plugin_headers, action=action,
                                     defaults=defaults, own_headers=own)
    else:
        plan = attempts.plan_attempt(spec, values, [], action=action)
    return PlannedAttempt(plan, failures)


def _header_rows(headers) -> list[dict]:
    return [{"name": h.name, "value": h.value, "source": h.source} for h in headers]


def _tags_from(number: directory.NumberRow | None, params: Mapping[str, str]) -> tuple[dict, dict]:
    """The call's tags and where each came from: the number, Twilio's caller data, SIP headers."""
    tags: dict[str, str] = {}
    sources: dict[str, str] = {}
    if number is not None:
        for k, v in number.tags.items():
            tags[k], sources[k] = str(v), "number"
    for param, tag in TWILIO_CALLER_TAGS.items():
        if params.get(param):
            tags[tag], sources[tag] = params[param], "twilio"
    for key, value in params.items():
        if key.startswith("SipHeader_X-") and len(key) > len("SipHeader_X-"):
            tag = sip_header_tag(key[len("SipHeader_"):])
            if tag and all(c.isalnum() or c == "_" for c in tag):
                tags[tag], sources[tag] = value, "sip"
    return tags, sources


def with_plugin_values(info: plugins.CallInfo, sources: dict | None = None
                       ) -> tuple[plugins.CallInfo, list]:
    """``info`` with the plugins' token values added to its tags (the number's and Twilio's
    own tags win over plugins), and the plugins that failed; ``sources`` gets each new tag's
    source. The webhook and the buyer editor's preview both go through here."""
    extra, extra_sources, failures = plugins.collect_token_values(info)
    if not extra:
        return info, failures
    tags = dict(info.tags)
    for k, v in extra.items():
        if k not in tags:
            tags[k] = v
            if sources is not None:
                sources[k] = extra_sources.get(k, "plugin")
    return dataclasses.replace(info, tags=tags), failures


def _classify(params: Mapping[str, str]) -> inbound.Decision:
    # Only SIP-originated calls need the inbound settings: phone calls skip that query.
    if params.get("SipDomain") or sip.is_sip(params.get("To", "")):
        settings = inbound_settings.load_settings()
        return inbound.classify(params, settings.name if settings else None,
                                bool(settings and settings.enabled))
    return inbound.classify(params, None, False)


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


def _state_of(call: Call) -> CallState:
    return CallState(info=plugins.call_info(call), id=call.id, call_sid=call.call_sid,
                     number_id=call.number_id, tag_sources=dict(call.tag_sources or {}),
                     reason=call.reason or "",
                     tried={a.buyer_id for a in call.attempts if a.buyer_id is not None},
                     position=len(call.attempts))


_CALLS, _ATTEMPTS = Call.__table__, Attempt.__table__


def _write_call(state: CallState, status: str, *, reason: str | None = None,
                ended: bool = False) -> None:
    """Insert the call (first write) or update its status."""
    now = utcnow()
    values = {"status": status}
    if reason is not None:
        values["reason"] = reason[:500]
    if ended:
        values["ended_at"] = now
    if state.id is None:
        info = state.info
        state.id = db.session.execute(insert(_CALLS).values(
            uuid=info.uuid, key=info.key, call_sid=state.call_sid, caller=info.caller,
            called=info.called, number_id=state.number_id, campaign_id=info.campaign_id,
            publisher_id=info.publisher_id, sub_id=info.sub_id or None, tags=info.tags,
            tag_sources=state.tag_sources, converted=False, created_at=now,
            **{"reason": state.reason[:500], **values}).returning(_CALLS.c.id)).scalar_one()
    else:
        db.session.execute(update(_CALLS).where(_CALLS.c.id == state.id).values(**values))


def _refuse(state: CallState, reason: str) -> None:
    _write_call(state, "rejected", reason=reason, ended=True)
    db.session.commit()


def _new_state(params: Mapping[str, str], called: str, number: directory.NumberRow | None,
               tags: dict, sources: dict) -> CallState:
    info = plugins.CallInfo(
        # uuid and key now, not at INSERT: plugins and tokens need them before anything is written.
        uuid=str(uuidlib.uuid4()), key=new_call_key(), caller=params.get("From", ""),
        called=called, campaign_id=number.campaign_id if number else None,
        campaign_ref=number.campaign_ref if number else "",
        campaign_name=number.campaign_name if number else "",
        campaign_settings=dict(number.campaign_settings) if number else {},
        publisher_id=number.publisher_id if number else None,
        afid=number.afid if number else "", sub_id=number.sub_id if number else "", tags=tags)
    return CallState(info=info, call_sid=params.get("CallSid") or None,
                     number_id=number.id if number else None, tag_sources=sources)


def start_call(params: Mapping[str, str], action_url) -> str:
    """The voice webhook: find the number, record the call, route it.

    One transaction: the call, its first attempt and the buyer's cap counters are written
    together at the end, so a failure anywhere leaves nothing half-recorded.
    """
    try:
        return _start(params, action_url)
    except IntegrityError:
        # Twilio repeated the webhook (same CallSid, which is unique): answer for the call
        # already stored instead of starting it again.
        db.session.rollback()
        call_sid = params.get("CallSid") or None
        existing = db.session.scalar(select(Call).where(Call.call_sid == call_sid)) \
            if call_sid else None
        if existing is None:
            raise
        log.info("call %s: repeated voice webhook for CallSid %s", existing.uuid,
                 _short(call_sid))
        return _answer_again(existing, action_url)


def _start(params: Mapping[str, str], action_url) -> str:
    to = params.get("To", "")
    decision = _classify(params)
    number_text = decision.number or called_number(to)
    if decision.rejected:
        state = _new_state(params, number_text or to, None, *_tags_from(None, params))
        _refuse(state, decision.reject_reason)
        log.warning("call %s to %s refused: %s", state.info.uuid, _short(to),
                    decision.reject_reason)
        return twiml.reject()
    number = directory.find_number(number_text) if number_text.startswith("+") else None
    tags, sources = _tags_from(number, params)
    state = _new_state(params, number_text or to, number, tags, sources)
    if number is None:
        reason = f"unknown number {_short(number_text or to)}"
        _refuse(state, reason)
        log.warning("call %s to %s: %s", state.info.uuid, _short(to), reason)
        return twiml.reject() if decision.sip_domain else twiml.say_and_hangup(MSG_UNKNOWN)
    state.info, failures = with_plugin_values(state.info, sources)
    if failures:
        state.reason = "; ".join(f"{f.plugin}.{f.hook}: {f.error}" for f in failures)
    return route_next(state, action_url)


def _answer_again(call: Call, action_url) -> str:
    """The TwiML for a call we already answered once (Twilio retried, or used the fallback)."""
    open_attempt = next((a for a in reversed(call.attempts) if a.dial_status is None), None)
    if open_attempt is not None and open_attempt.buyer_id is not None:
        # The first answer never reached Twilio: dial the same buyer again, with the slot it
        # already holds, rather than pass it over.
        buyer = next((b for b in directory.campaign_buyers(call.campaign_id)
                      if b.id == open_attempt.buyer_id), None)
        if buyer is not None:
            info = plugins.call_info(call)
            planned = plan_for(info, buyer_spec(buyer), token_values(info, buyer.id),
                               action_url(info, open_attempt.position))
            if planned.plan.twiml:
                return planned.plan.twiml
    if call.status in ("ringing", "routing"):
        return route_next(_state_of(call), action_url)
    if call.status == "no-buyer":
        return twiml.say_and_hangup(MSG_NO_BUYER)
    if call.status == "rejected":
        if call.number_id is None and (call.reason or "").startswith("unknown number") \
                and not sip.is_sip(call.called):
            return twiml.say_and_hangup(MSG_UNKNOWN)
        return twiml.reject()
    return twiml.hangup()


def _candidate(b: directory.BuyerRow, tried: set, day) -> routing.Candidate:
    return routing.Candidate(
        buyer_id=b.id, priority=b.priority, weight=b.weight, paused=b.paused,
        concurrency_cap=b.concurrency_cap, active_calls=b.active_calls,
        daily_cap=b.daily_cap, calls_today=caps.counts_today(b, day),
        tried=b.id in tried)


def _skip(buyer, reason: str) -> dict:
    return {"buyer_id": buyer.id, "buyer": buyer.name, "reason": reason}


def route_next(state: CallState, action_url) -> str:
    """Dial the next eligible buyer of the call's campaign, or end the call politely.

    Everything it writes (the call when new, attempts, cap counters) is committed once.
    """
    info = state.info
    buyers = {b.id: b for b in directory.campaign_buyers(info.campaign_id)} \
        if info.campaign_id is not None else {}
    day = caps.today()
    cands = [_candidate(b, state.tried, day) for b in buyers.values()]
    # A new call's row goes in first: a repeated webhook fails here (unique CallSid) before
    # any buyer is reserved, and the buyer's row stays locked only from the reserving UPDATE
    # to the COMMIT two statements later.
    inserted_now = state.id is None
    if inserted_now:
        _write_call(state, "routing")
    skipped: list[dict] = []
    rows: list[dict] = []  # attempts to insert
    chosen_plan = None
    while True:
        chosen, skips = routing.pick_next(cands, _rng)
        for s in skips:
            if s.reason != "already tried" and not any(d["buyer_id"] == s.buyer_id for d in skipped):
                skipped.append(_skip(buyers[s.buyer_id], s.reason))
        if chosen is None:
            break
        chosen.tried = True
        buyer = buyers[chosen.buyer_id]
        try:
            spec = buyer_spec(buyer)
        except crypto.SecretError:
            # e.g. SECRET_KEY changed since the password was saved: this buyer can't be dialled
            # with its credentials; say so on the call and try the next one.
            spec = None
        if spec is None:
            planned = PlannedAttempt(attempts.AttemptPlan(
                "sip", buyer.number, "", error="the stored SIP password can't be decrypted "
                "(was SECRET_KEY changed?): enter it again on the buyer's page"), [])
        else:
            planned = plan_for(info, spec, token_values(info, buyer.id),
                               action_url(info, state.position))
        plan = planned.plan
        for f in planned.failures:
            log.warning("call %s: plugin %s.%s skipped: %s", info.uuid, f.plugin, f.hook, f.error)
        row = dict(
            position=state.position, buyer_id=buyer.id, buyer_name=buyer.name, kind=plan.kind,
            dialled=plan.target or buyer.number,
            sip_username=buyer.sip_username if plan.kind == "sip" else "",
            headers_sent=_header_rows(plan.sent),
            headers_dropped=[{"name": h.name, "value": h.value, "source": h.source,
                              "reason": why} for h, why in plan.dropped],
            plugin_errors=[f.as_dict() for f in planned.failures],
            # Every row has every key: they are inserted in one executemany.
            holds_slot=False, skipped=[], dial_status=None, started_at=utcnow(), ended_at=None)
        if plan.error:
            # The buyer's number expanded into something undiallable: record it, try the next.
            row.update(dial_status="failed", ended_at=utcnow(),
                       skipped=skipped + [_skip(buyer, f"not dialled: {plan.error}")])
            rows.append(row)
            log.warning("call %s: buyer %s not dialled: %s", info.uuid, buyer.id, plan.error)
            state.position += 1
            skipped = []
            continue
        # The routing snapshot may be stale (or cached): the database has the last word on
        # caps and pauses. Reserving last keeps the buyer's row locked only until the commit.
        if not caps.reserve(buyer.id, day):
            skipped.append(_skip(buyer, caps.refusal(buyer.id, day)))
            continue
        row.update(holds_slot=True, skipped=skipped)
        rows.append(row)
        state.tried.add(buyer.id)
        state.position += 1
        chosen_plan = plan
        break
    if chosen_plan is not None:
        if not inserted_now:
            _write_call(state, "routing")
    else:
        reason = "no buyer available" + (
            ": " + "; ".join(f"{s['buyer']}: {s['reason']}" for s in skipped) if skipped else "")
        if skipped and rows:
            rows[-1]["skipped"] = list(rows[-1]["skipped"]) + skipped
            skipped = []
        _write_call(state, "no-buyer", reason=reason, ended=True)
        if skipped and state.id is not None and not rows:
            _append_skips_to_last_attempt(state.id, skipped)
    if rows:
        db.session.execute(insert(_ATTEMPTS), [{**r, "call_id": state.id} for r in rows])
    db.session.commit()
    if chosen_plan is not None:
        log.info("call %s: attempt %d dials buyer %s (%s)", info.uuid, state.position - 1,
                 rows[-1]["buyer_id"], chosen_plan.kind)
        return chosen_plan.twiml
    log.warning("call %s: no buyer available (%d passed over)", info.uuid, len(buyers))
    return twiml.say_and_hangup(MSG_NO_BUYER)


def _append_skips_to_last_attempt(call_id: int, skipped: list[dict]) -> None:
    last = db.session.scalar(select(Attempt).where(Attempt.call_id == call_id)
                             .order_by(Attempt.position.desc()).limit(1))
    if last is not None:
        last.skipped = list(last.skipped or []) + skipped


def dial_action(call_uuid: str, position: int, params: Mapping[str, str], action_url) -> str:
    """Twilio's ``<Dial action>`` callback: record the outcome, then end or try the next buyer."""
    call = db.session.scalar(select(Call).where(Call.uuid == call_uuid))
    attempt = None
    if call is not None:
        attempt = db.session.scalar(select(Attempt).where(Attempt.call_id == call.id,
                                                          Attempt.position == position))
    if attempt is None:
        log.warning("dial-action for unknown call %r / attempt %r", call_uuid, position)
        return twiml.hangup()
    status = (params.get("DialCallStatus") or "").lower()
    if attempt.dial_status is not None:
        log.info("call %s: repeated dial-action for attempt %d ignored", call.uuid, position)
        return twiml.hangup()
    attempt.dial_status = status or "unknown"
    attempt.sip_code = _int_or_none(params.get("DialSipResponseCode"))
    attempt.duration = _int_or_none(params.get("DialCallDuration"))
    attempt.ended_at = utcnow()
    caps.release(attempt)
    if status in RETRY_STATUSES:
        log.info("call %s: attempt %d %s (SIP %s), trying the next buyer", call.uuid,
                 position, status, attempt.sip_code)
        state = _state_of(call)
        db.session.flush()
        return route_next(state, action_url)
    call.status = "completed" if status in ("completed", "answered") else (status or "completed")
    db.session.commit()
    return twiml.hangup()


def status_callback(params: Mapping[str, str]) -> None:
    """Twilio's status callback: close the call and free any slot still held."""
    call = db.session.scalar(select(Call).where(Call.call_sid == params.get("CallSid")))
    if call is None:
        log.info("status callback for unknown CallSid %r", _short(params.get("CallSid")))
        return
    status = (params.get("CallStatus") or "").lower()
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
    call.duration = _int_or_none(params.get("CallDuration"))
    call.ended_at = call.ended_at or utcnow()
    db.session.commit()


def _int_or_none(value) -> int | None:
    """A Twilio number parameter, or None when missing or not a sane 32-bit count."""
    number = ascii_int(value.strip()) if isinstance(value, str) else None
    return number


def _short(value, limit: int = 80) -> str:
    """For log lines: a caller-supplied value, quoted and cut short (a 200 KB ``To`` is not a
    log line)."""
    return inbound.short(str(value), limit)
