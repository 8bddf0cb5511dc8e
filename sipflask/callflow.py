"""What happens to a call, step by step: Twilio parameters in, TwiML out.

The webhook views are thin wrappers around these functions; ``simulate-call`` and the buyer
editor's preview go through the same code. Every function returns TwiML that Twilio accepts,
whatever goes wrong, and records why on the call.
"""
from __future__ import annotations

import logging
import random
import uuid as uuidlib
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from . import attempts, caps, inbound, phone, plugins, routing, sip, twiml
from .extensions import db
from .models import Attempt, Buyer, Call, CampaignBuyer, Number, new_call_key, utcnow

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


def buyer_spec(buyer: Buyer) -> attempts.BuyerSpec:
    return attempts.BuyerSpec(
        id=buyer.id, name=buyer.name, number=buyer.number,
        sip_username=buyer.sip_username or "", sip_password=buyer.sip_password,
        sip_headers=[(h.name, h.value) for h in buyer.headers], timeout=buyer.timeout)


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


def _tags_from(number: Number | None, params: Mapping[str, str]) -> tuple[dict, dict]:
    """The call's tags and where each came from: the number, Twilio's caller data, SIP headers."""
    tags: dict[str, str] = {}
    sources: dict[str, str] = {}
    if number is not None:
        for k, v in (number.tags or {}).items():
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


def _classify(params: Mapping[str, str]) -> inbound.Decision:
    # Only SIP-originated calls need the inbound settings: phone calls skip that query.
    if params.get("SipDomain") or sip.is_sip(params.get("To", "")):
        settings = inbound.load_settings()
        return inbound.classify(params, settings.name if settings else None,
                                bool(settings and settings.enabled))
    return inbound.classify(params, None, False)


def _refuse(call: Call, reason: str) -> None:
    call.status, call.reason, call.ended_at = "rejected", reason[:500], utcnow()
    db.session.add(call)
    db.session.commit()


def start_call(params: Mapping[str, str], action_url) -> str:
    """The voice webhook: find the number, record the call, route it.

    One transaction: the call, its first attempt and the buyer's cap counters are written
    together at the end, so a failure anywhere leaves nothing half-recorded.
    """
    to = params.get("To", "")
    caller = params.get("From", "")
    call_sid = params.get("CallSid") or None
    if call_sid:
        existing = db.session.scalar(select(Call).where(Call.call_sid == call_sid))
        if existing is not None:
            # Twilio retried the webhook: route from where the call is, don't start over.
            log.info("call %s: repeated voice webhook for CallSid %s", existing.uuid, call_sid)
            return route_next(existing, action_url)
    decision = _classify(params)
    number_text = decision.number or called_number(to)
    # uuid and key now, not at INSERT: plugins and tokens need them before anything is written.
    call = Call(uuid=str(uuidlib.uuid4()), key=new_call_key(), call_sid=call_sid, caller=caller,
                called=number_text or to, status="ringing", attempts=[])
    if decision.rejected:
        call.tags, call.tag_sources = _tags_from(None, params)
        _refuse(call, decision.reject_reason)
        log.warning("call %s to %r refused: %s", call.uuid, to, decision.reject_reason)
        return twiml.reject()
    number = None
    if number_text.startswith("+"):
        number = db.session.scalar(
            select(Number).where(Number.number == number_text)
            .options(joinedload(Number.campaign), joinedload(Number.publisher)))
    tags, sources = _tags_from(number, params)
    if number is None:
        call.tags, call.tag_sources = tags, sources
        reason = f"unknown number {number_text or to!r}"
        _refuse(call, reason)
        log.warning("call %s to %r: %s, played the not-in-service message", call.uuid, to, reason)
        if decision.sip_domain:
            return twiml.reject()
        return twiml.say_and_hangup(MSG_UNKNOWN)
    call.number_id, call.sub_id = number.id, number.sub_id
    call.campaign_id, call.campaign = number.campaign_id, number.campaign
    call.publisher_id, call.publisher = number.publisher_id, number.publisher
    call.tags = tags
    extra, extra_sources, failures = plugins.collect_token_values(plugins.call_info(call))
    for k, v in extra.items():
        if k not in tags:  # the number's and Twilio's own data win over plugins
            tags[k] = v
            sources[k] = extra_sources.get(k, "plugin")
    call.tags, call.tag_sources = tags, sources
    if failures:
        call.reason = "; ".join(f"{f.plugin}.{f.hook}: {f.error}" for f in failures)[:500]
    db.session.add(call)
    return route_next(call, action_url)


def _candidates(call: Call, tried: set[int]) -> tuple[dict[int, Buyer], list[routing.Candidate]]:
    entries = db.session.scalars(
        select(CampaignBuyer).where(CampaignBuyer.campaign_id == call.campaign_id)
        .order_by(CampaignBuyer.position)
        .options(joinedload(CampaignBuyer.buyer).selectinload(Buyer.headers))).all()
    buyers = {e.buyer.id: e.buyer for e in entries}
    day = caps.today()
    cands = [routing.Candidate(
        buyer_id=b.id, priority=b.priority, weight=b.weight, paused=b.paused,
        concurrency_cap=b.concurrency_cap, active_calls=b.active_calls,
        daily_cap=b.daily_cap, calls_today=caps.counts_today(b, day), tried=b.id in tried)
        for b in buyers.values()]
    return buyers, cands


def _skip(buyer: Buyer, reason: str) -> dict:
    return {"buyer_id": buyer.id, "buyer": buyer.name, "reason": reason}


def route_next(call: Call, action_url) -> str:
    """Dial the next eligible buyer of the call's campaign, or end the call politely.

    Writes the attempt (and the call, when new) and commits once.
    """
    tried = {a.buyer_id for a in call.attempts if a.buyer_id is not None}
    position = len(call.attempts)
    buyers, cands = _candidates(call, tried)
    skipped: list[dict] = []
    info = plugins.call_info(call)
    while True:
        chosen, skips = routing.pick_next(cands, _rng)
        for s in skips:
            if s.reason != "already tried" and not any(d["buyer_id"] == s.buyer_id for d in skipped):
                skipped.append(_skip(buyers[s.buyer_id], s.reason))
        if chosen is None:
            break
        chosen.tried = True
        buyer = buyers[chosen.buyer_id]
        planned = plan_for(info, buyer_spec(buyer), token_values(info, buyer.id),
                           action_url(call, position))
        plan = planned.plan
        for f in planned.failures:
            log.warning("call %s: plugin %s.%s skipped: %s", call.uuid, f.plugin, f.hook, f.error)
        attempt = Attempt(
            position=position, buyer_id=buyer.id, buyer_name=buyer.name, kind=plan.kind,
            dialled=plan.target or buyer.number,
            sip_username=buyer.sip_username if plan.kind == "sip" else "",
            headers_sent=_header_rows(plan.sent),
            headers_dropped=[{"name": h.name, "value": h.value, "source": h.source,
                              "reason": why} for h, why in plan.dropped],
            plugin_errors=[f.as_dict() for f in planned.failures])
        if plan.error:
            # The buyer's number expanded into something undiallable: record it, try the next.
            attempt.dial_status, attempt.ended_at = "failed", utcnow()
            attempt.skipped = skipped + [_skip(buyer, f"not dialled: {plan.error}")]
            call.attempts.append(attempt)
            log.warning("call %s: buyer %s not dialled: %s", call.uuid, buyer.id, plan.error)
            position += 1
            skipped = []
            continue
        # The routing snapshot may be stale: the database has the last word on caps. Reserving
        # last keeps the buyer's row locked (PostgreSQL) only until the commit just below.
        if not caps.reserve(buyer.id):
            skipped.append(_skip(buyer, "cap reached (taken by a concurrent call)"))
            continue
        attempt.holds_slot, attempt.skipped = True, skipped
        call.attempts.append(attempt)
        call.status = "routing"
        db.session.add(call)
        db.session.commit()
        log.info("call %s: attempt %d dials buyer %s (%s)", info.uuid, position, buyer.id,
                 plan.kind)
        return plan.twiml
    call.status = "no-buyer"
    call.reason = ("no buyer available" + (
        ": " + "; ".join(f"{s['buyer']}: {s['reason']}" for s in skipped) if skipped else ""))[:500]
    call.ended_at = utcnow()
    if skipped and call.attempts:
        call.attempts[-1].skipped = list(call.attempts[-1].skipped or []) + skipped
    db.session.add(call)
    db.session.commit()
    log.warning("call %s: %s", info.uuid, call.reason)
    return twiml.say_and_hangup(MSG_NO_BUYER)


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
        return route_next(call, action_url)
    call.status = "completed" if status in ("completed", "answered") else (status or "completed")
    db.session.commit()
    return twiml.hangup()


def status_callback(params: Mapping[str, str]) -> None:
    """Twilio's status callback: close the call and free any slot still held."""
    call = db.session.scalar(select(Call).where(Call.call_sid == params.get("CallSid")))
    if call is None:
        log.info("status callback for unknown CallSid %r", params.get("CallSid"))
        return
    status = (params.get("CallStatus") or "").lower()
    if status in FINAL_CALL_STATUSES:
        for attempt in call.attempts:
            if attempt.holds_slot:
                caps.release(attempt)
                if attempt.dial_status is None:
                    attempt.dial_status = "canceled" if status != "completed" else "completed"
                    attempt.ended_at = utcnow()
        if call.status in ("ringing", "routing"):
            call.status = "completed" if status == "completed" else status
        elif call.status not in ("rejected", "no-buyer"):
            call.status = status if status != "completed" or call.status != "completed" else call.status
        call.duration = _int_or_none(params.get("CallDuration"))
        call.ended_at = call.ended_at or utcnow()
    db.session.commit()


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def normalise_caller(raw: str) -> str:
    try:
        return phone.normalise_e164(raw)
    except phone.PhoneError:
        return raw
