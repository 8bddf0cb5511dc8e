"""What happens to a call, step by step: Twilio parameters in, TwiML out.

The webhook views are thin wrappers around these functions; ``simulate-call`` and the buyer
editor's preview go through the same code. Every function returns TwiML that Twilio accepts,
whatever goes wrong, and records why on the call.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from . import attempts, caps, phone, plugins, routing, sip, twiml
from .extensions import db
from .models import Attempt, Buyer, Call, CampaignBuyer, Number, utcnow

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


def _public_dialled(plan: attempts.AttemptPlan) -> str:
    # plan.target never holds credentials: they travel as TwiML attributes only.
    return plan.target


def start_call(params: Mapping[str, str], action_url) -> str:
    """The voice webhook: find the number, record the call, route it."""
    to = params.get("To", "")
    number_text = called_number(to)
    caller = params.get("From", "")
    call_sid = params.get("CallSid") or None
    if call_sid:
        existing = db.session.scalar(select(Call).where(Call.call_sid == call_sid))
        if existing is not None:
            # Twilio retried the webhook: route from where the call is, don't start over.
            log.info("call %s: repeated voice webhook for CallSid %s", existing.uuid, call_sid)
            return route_next(existing, action_url)
    number = None
    if number_text.startswith("+"):
        number = db.session.scalar(
            select(Number).where(Number.number == number_text)
            .options(selectinload(Number.campaign), selectinload(Number.publisher)))
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
    # Copies: the dicts below grow after the first flush, and SQLAlchemy only sees a JSON
    # column change when it gets a new object that differs from the stored one.
    call = Call(call_sid=call_sid, caller=caller, called=number_text or to, tags=dict(tags),
                tag_sources=dict(sources), status="ringing")
    if number is None:
        call.status, call.reason = "rejected", f"unknown number {number_text or to!r}"
        call.ended_at = utcnow()
        db.session.add(call)
        db.session.commit()
        log.warning("call %s to %r: unknown number, played the not-in-service message",
                    call.uuid, to)
        return twiml.say_and_hangup(MSG_UNKNOWN)
    call.number_id, call.campaign, call.publisher = number.id, number.campaign, number.publisher
    call.sub_id = number.sub_id
    db.session.add(call)
    db.session.flush()
    extra, extra_sources, failures = plugins.collect_token_values(plugins.call_info(call))
    for k, v in extra.items():
        if k not in tags:  # the number's and Twilio's own data win over plugins
            tags[k] = v
            sources[k] = extra_sources.get(k, "plugin")
    call.tags, call.tag_sources = dict(tags), dict(sources)
    if failures:
        call.reason = "; ".join(f"{f.plugin}.{f.hook}: {f.error}" for f in failures)
    db.session.commit()
    return route_next(call, action_url)


def _candidates(call: Call, tried: set[int]) -> tuple[dict[int, Buyer], list[routing.Candidate]]:
    entries = db.session.scalars(
        select(CampaignBuyer).where(CampaignBuyer.campaign_id == call.campaign_id)
        .order_by(CampaignBuyer.position)
        .options(selectinload(CampaignBuyer.buyer).selectinload(Buyer.headers))).all()
    buyers = {e.buyer.id: e.buyer for e in entries}
    day = caps.today()
    cands = [routing.Candidate(
        buyer_id=b.id, priority=b.priority, weight=b.weight, paused=b.paused,
        concurrency_cap=b.concurrency_cap, active_calls=b.active_calls,
        daily_cap=b.daily_cap, calls_today=caps.counts_today(b, day), tried=b.id in tried)
        for b in buyers.values()]
    return buyers, cands


def route_next(call: Call, action_url) -> str:
    """Dial the next eligible buyer of the call's campaign, or end the call politely."""
    tried = {a.buyer_id for a in call.attempts if a.buyer_id is not None}
    position = len(call.attempts)
    buyers, cands = _candidates(call, tried)
    skipped: list[dict] = []
    while True:
        chosen, skips = routing.pick_next(cands, _rng)
        for s in skips:
            if s.reason != "already tried" and not any(d["buyer_id"] == s.buyer_id for d in skipped):
                skipped.append({"buyer_id": s.buyer_id, "buyer": buyers[s.buyer_id].name,
                                "reason": s.reason})
        if chosen is None:
            break
        buyer = buyers[chosen.buyer_id]
        # The routing snapshot may be stale: the database has the last word on caps.
        if not caps.reserve(buyer.id):
            db.session.rollback()
            skipped.append({"buyer_id": buyer.id, "buyer": buyer.name,
                            "reason": "cap reached (taken by a concurrent call)"})
            chosen.tried = True
            continue
        attempt = Attempt(call=call, position=position, buyer_id=buyer.id, buyer_name=buyer.name,
                          holds_slot=True, skipped=skipped)
        db.session.add(attempt)
        db.session.flush()
        info = plugins.call_info(call)
        planned = plan_for(info, buyer_spec(buyer), token_values(info, buyer.id),
                           action_url(call, attempt))
        plan = planned.plan
        attempt.kind = plan.kind
        attempt.dialled = _public_dialled(plan)
        attempt.sip_username = buyer.sip_username if plan.kind == "sip" else ""
        attempt.headers_sent = _header_rows(plan.sent)
        attempt.headers_dropped = [{"name": h.name, "value": h.value, "source": h.source,
                                    "reason": why} for h, why in plan.dropped]
        attempt.plugin_errors = [f.as_dict() for f in planned.failures]
        for f in planned.failures:
            log.warning("call %s: plugin %s.%s skipped: %s", call.uuid, f.plugin, f.hook, f.error)
        if plan.error:
            # The buyer's number expanded into something undiallable: record it, try the next.
            attempt.dial_status = "failed"
            attempt.ended_at = utcnow()
            attempt.dialled = plan.target or buyer.number
            caps.release(attempt)
            attempt.skipped = skipped + [{"buyer_id": buyer.id, "buyer": buyer.name,
                                          "reason": f"not dialled: {plan.error}"}]
            log.warning("call %s: buyer %s not dialled: %s", call.uuid, buyer.id, plan.error)
            db.session.commit()
            position += 1
            skipped = []
            chosen.tried = True
            continue
        call.status = "routing"
        db.session.commit()
        log.info("call %s: attempt %d dials buyer %s (%s)", call.uuid, attempt.position,
                 buyer.id, plan.kind)
        return plan.twiml
    call.status = "no-buyer"
    call.reason = "no buyer available" + (
        ": " + "; ".join(f"{s['buyer']}: {s['reason']}" for s in skipped) if skipped else "")
    call.ended_at = utcnow()
    if skipped and call.attempts:
        call.attempts[-1].skipped = list(call.attempts[-1].skipped or []) + skipped
    db.session.commit()
    log.warning("call %s: %s", call.uuid, call.reason)
    return twiml.say_and_hangup(MSG_NO_BUYER)


def dial_action(call_uuid: str, attempt_id: int, params: Mapping[str, str], action_url) -> str:
    """Twilio's ``<Dial action>`` callback: record the outcome, then end or try the next buyer."""
    call = db.session.scalar(select(Call).where(Call.uuid == call_uuid))
    attempt = db.session.get(Attempt, attempt_id) if call is not None else None
    if call is None or attempt is None or attempt.call_id != call.id:
        log.warning("dial-action for unknown call %r / attempt %r", call_uuid, attempt_id)
        return twiml.hangup()
    status = (params.get("DialCallStatus") or "").lower()
    if attempt.dial_status is not None:
        log.info("call %s: repeated dial-action for attempt %d ignored", call.uuid, attempt.id)
        return twiml.hangup()
    attempt.dial_status = status or "unknown"
    attempt.sip_code = _int_or_none(params.get("DialSipResponseCode"))
    attempt.duration = _int_or_none(params.get("DialCallDuration"))
    attempt.ended_at = utcnow()
    caps.release(attempt)
    if status in RETRY_STATUSES:
        db.session.commit()
        log.info("call %s: attempt %d %s (SIP %s), trying the next buyer", call.uuid,
                 attempt.position, status, attempt.sip_code)
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
