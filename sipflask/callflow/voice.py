"""The voice webhook: a call arrives, is recorded and dialled to the next eligible buyer.

:func:`start_call` answers ``POST /twilio/voice`` (and a repeat, :func:`answer_again`);
:func:`route_next` picks, reserves and dials a buyer, and is what the dial-action callback runs
when an attempt failed. Every function returns TwiML Twilio accepts, whatever goes wrong."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Mapping

from sqlalchemy.exc import IntegrityError

from sipflask import crypto, plugins
from sipflask.callflow import availability, caps, clock, directory, params, store
from sipflask.callflow.planning import (PlannedAttempt, buyer_spec, plan_for, token_values,
                                        with_plugin_values)
from sipflask.callflow.store import CallState
from sipflask.core import callstory, capwindows, dialplan, routing, sip, twiml
from sipflask.extensions import db
from sipflask.models import Call
from sipflask.monitoring import metrics
from sipflask.webhooks import events as webhook_events

log = logging.getLogger("sipflask.calls")

MSG_UNKNOWN = "We're sorry, this number is not in service. Goodbye."
MSG_NO_BUYER = "We're sorry, nobody is available to take your call right now. Please try again later. Goodbye."
MSG_ERROR = "We're sorry, we can't connect your call right now. Please try again later. Goodbye."

_rng = random.SystemRandom()


def start_call(form: Mapping[str, str], action_url) -> str:
    """The voice webhook: find the number, record the call, route it.

    One transaction: the call, its first attempt and the buyer's cap counters are written
    together at the end, so a failure anywhere leaves nothing half-recorded.
    """
    form = params.cleaned(form)
    try:
        return _start(form, action_url)
    except IntegrityError:
        # Twilio repeated the webhook (same CallSid, which is unique): answer for the call
        # already stored instead of starting it again. The insert waited for the first
        # request's commit, so the call is there; lock it like every callback does.
        db.session.rollback()
        call_sid = params.call_sid(form)
        existing = store.lock_call(call_sid=call_sid) if call_sid else None
        if existing is None:
            raise
        log.info("call %s: repeated voice webhook for CallSid %s", existing.uuid,
                 params.short(call_sid))
        answer = answer_again(existing, action_url)
        db.session.commit()
        return answer


def _start(form: Mapping[str, str], action_url) -> str:
    to = form.get("To", "")
    decision = params.classify(form)
    number_text = decision.number or params.called_number(to)
    if decision.rejected:
        state = store.new_state(form, number_text or to, None, *params.tags_from(None, form))
        store.refuse(state, decision.reject_reason)
        log.warning("call %s to %s refused: %s", state.info.uuid, params.short(to),
                    decision.reject_reason)
        return twiml.reject()
    number = directory.find_number(number_text) if number_text.startswith("+") else None
    tags, sources = params.tags_from(number, form)
    state = store.new_state(form, number_text or to, number, tags, sources)
    if number is None:
        reason = f"unknown number {params.short(number_text or to)}"
        store.refuse(state, reason)
        log.warning("call %s to %s: %s", state.info.uuid, params.short(to), reason)
        return twiml.reject() if decision.sip_domain else twiml.say_and_hangup(MSG_UNKNOWN)
    state.info, failures = with_plugin_values(state.info, sources)
    if failures:
        _count_timeouts(failures)
        state.reason = "; ".join(f"{f.plugin}.{f.hook}: {f.error}" for f in failures)
    return route_next(state, action_url)


def _count_timeouts(failures) -> None:
    for f in failures:
        if f.error.startswith("timed out"):
            metrics.plugin_timeout(f.plugin)


def answer_again(call: Call, action_url) -> str:
    """The TwiML for a call we already answered once (Twilio retried, or used the fallback).

    The caller holds the call's lock (``store.lock_call``)."""
    open_attempt = next((a for a in reversed(call.attempts) if a.dial_status is None), None)
    if open_attempt is not None and open_attempt.twiml:
        # Exactly what dialled it: the first answer never reached Twilio, so the same buyer
        # is dialled again with the slot it already holds, rather than passed over.
        return open_attempt.twiml
    if open_attempt is not None and open_attempt.buyer_id is not None:
        # Stored before answers were kept: plan the same buyer again.
        buyer = next((b for b in directory.campaign_buyers(call.campaign_id)
                      if b.id == open_attempt.buyer_id), None)
        if buyer is not None:
            info = plugins.call_info(call)
            planned = plan_for(info, buyer_spec(buyer), token_values(info, buyer.id),
                               action_url(info, open_attempt.position))
            if planned.plan.twiml:
                return planned.plan.twiml
    if call.status in ("ringing", "routing"):
        return route_next(store.state_of(call), action_url)
    if call.status == "no-buyer":
        return twiml.say_and_hangup(MSG_NO_BUYER)
    if call.status == "rejected":
        if call.number_id is None and (call.reason or "").startswith("unknown number") \
                and not sip.is_sip(call.called):
            return twiml.say_and_hangup(MSG_UNKNOWN)
        return twiml.reject()
    return twiml.hangup()


def _candidates(buyers: dict, tried: set, when) -> list[routing.Candidate]:
    """The routing list as candidates at ``when``, pause and caps as the database has them now.

    The list may come from the routing cache: a buyer it shows as eligible is re-checked by
    ``caps.take`` anyway; one it shows as paused or at a cap is read again (expired leases
    given back first), so no buyer is ever passed over on a stale snapshot.
    """
    cands = [availability.candidate(b, availability.windows_of(b, when), b.id in tried)
             for b in buyers.values()]
    doubtful = [c.buyer_id for c in cands if not c.tried and caps.refusal_kind(
        routing.skip_reason(c) or "") in ("paused", "cap")]
    if not doubtful:
        return cands  # the usual case: nothing more to read
    current = caps.current(doubtful)
    for i, c in enumerate(cands):
        if c.buyer_id in current:
            fresh = replace(buyers[c.buyer_id], **current[c.buyer_id])
            cands[i] = availability.candidate(fresh, availability.windows_of(fresh, when),
                                              c.tried)
    return cands


def _skip(buyer, reason: str) -> dict:
    return {"buyer_id": buyer.id, "buyer": buyer.name, "reason": reason}


@dataclass
class _Round:
    """What one routing round decided: attempts not yet written, buyers passed over, the dial."""

    rows: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    plan: dialplan.AttemptPlan | None = None
    buyer_id: int | None = None


def route_next(state: CallState, action_url) -> str:
    """Dial the next eligible buyer of the call's campaign, or end the call politely.

    Everything it writes (the call when new, attempts, cap counters) is committed once.
    """
    answer = route(state, action_url)
    db.session.commit()
    return answer


def route(state: CallState, action_url) -> str:
    """:func:`route_next` without the commit (the dial-action stores its answer first)."""
    info = state.info
    buyers = {b.id: b for b in directory.campaign_buyers(info.campaign_id)} \
        if info.campaign_id is not None else {}
    when = clock.now()
    # A new call's row goes in first: a repeated webhook fails here (unique CallSid) before
    # any buyer is reserved.
    inserted_now = state.id is None
    if inserted_now:
        store.write_call(state, "routing")
    done = _choose(state, buyers, when, action_url)
    _record(state, done, inserted_now)
    if done.plan is not None:
        log.info("call %s: attempt %d dials buyer %s (%s)", info.uuid, state.position - 1,
                 done.buyer_id, done.plan.kind)
        return done.plan.twiml
    log.warning("call %s: no buyer available (%d passed over)", info.uuid, len(buyers))
    return twiml.say_and_hangup(MSG_NO_BUYER)


def _choose(state: CallState, buyers: dict, when, action_url) -> _Round:
    """Pick, plan and reserve buyers until one is reserved or none is left."""
    info = state.info
    cands = _candidates(buyers, state.tried, when)
    done = _Round()
    while True:
        chosen, skips = routing.pick_next(cands, _rng)
        for s in skips:
            if s.reason != "already tried" and not any(
                    d["buyer_id"] == s.buyer_id for d in done.skipped):
                done.skipped.append(_skip(buyers[s.buyer_id], s.reason))
                metrics.skip(caps.refusal_kind(s.reason))
        if chosen is None:
            return done
        chosen.tried = True
        buyer = buyers[chosen.buyer_id]
        planned = _plan(state, buyer, action_url)
        for f in planned.failures:
            log.warning("call %s: plugin %s.%s skipped: %s", info.uuid, f.plugin, f.hook, f.error)
        _count_timeouts(planned.failures)
        row = store.attempt_row(state, buyer, planned)
        if planned.plan.error:
            # The buyer's number expanded into something undiallable: record it, try the next.
            row.update(dial_status="failed", ended_at=when,
                       skipped=done.skipped + [_skip(buyer, f"not dialled: {planned.plan.error}")])
            done.rows.append(row)
            log.warning("call %s: buyer %s not dialled: %s", info.uuid, buyer.id,
                        planned.plan.error)
            state.position += 1
            done.skipped = []
            continue
        if _reserve(state, done, buyer, row, when):
            state.tried.add(buyer.id)
            state.position += 1
            done.plan, done.buyer_id = planned.plan, buyer.id
            return done


def _reserve(state: CallState, done: _Round, buyer, row: dict, when) -> bool:
    """Write the attempt, then take the buyer's slot, or take the attempt back and say why not.

    Reserving is the last statement before the COMMIT: every call to a buyer updates its row,
    and the row stays locked from that UPDATE to the COMMIT, so nothing else may sit between.
    """
    windows = availability.windows_of(buyer, when)
    connected = buyer.cap_counts == capwindows.CONNECTED
    row.update(holds_slot=True, skipped=list(done.skipped),
               lease_expires_at=caps.lease_until(buyer.timeout), cap_place=connected,
               cap_hour=windows.hour, cap_day=windows.day, cap_month=windows.month)
    store.insert_attempts(state.id, done.rows + [row])
    done.rows = []
    routed = webhook_events.call_routed(state, buyer, row["position"] + 1)  # before the lock
    # The routing snapshot may be stale (or cached): the database has the last word on
    # caps and pauses, and the refusal's words come from the buyer's current row.
    taken = caps.take(buyer.id, windows)
    if taken is not None:
        if ((taken.mode == capwindows.CONNECTED) != connected
                or (taken.hour, taken.day, taken.month) != (windows.hour, windows.day,
                                                            windows.month)):
            # The mode changed since the snapshot, or a window had already moved on.
            store.counted_in(state.id, row["position"], taken)
        done.skipped = []
        return True
    refused = availability.refusal(buyer, when)
    store.delete_attempt(state.id, row["position"])
    webhook_events.take_back(state.id, routed)
    done.skipped.append(_skip(buyer, refused))
    metrics.skip(caps.refusal_kind(refused))
    return False


def _plan(state: CallState, buyer: directory.BuyerRow, action_url) -> PlannedAttempt:
    try:
        spec = buyer_spec(buyer)
    except crypto.SecretError:
        # e.g. SECRET_KEY changed since the password was saved: this buyer can't be dialled
        # with its credentials; say so on the call and try the next one.
        return PlannedAttempt(dialplan.AttemptPlan(
            "sip", buyer.number, "", error="the stored SIP password can't be decrypted "
            "(was SECRET_KEY changed?): enter it again on the buyer's page"), [])
    info = state.info
    return plan_for(info, spec, token_values(info, buyer.id), action_url(info, state.position))


def _record(state: CallState, done: _Round, inserted_now: bool) -> None:
    """Write the rest of the round's outcome: the call's status, attempts not yet written, and
    who was passed over."""
    if done.plan is not None:
        if not inserted_now:
            store.write_call(state, "routing", routed=True)
        return
    skipped = done.skipped
    reason = "no buyer available" + (
        ": " + "; ".join(f"{s['buyer']}: {s['reason']}" for s in skipped) if skipped else "")
    kinds_from = list(skipped)
    if skipped and done.rows:
        done.rows[-1]["skipped"] = list(done.rows[-1]["skipped"]) + skipped
        skipped = []
    store.insert_attempts(state.id, done.rows)
    if skipped:
        store.append_skips_to_last_attempt(state.id, skipped)
    attempts = store.attempts_of(state.id) if state.position else []
    if attempts:
        # Buyers were dialled: the last round's skips alone would read as if nobody had been
        # tried, so store the headline the call page shows, summed up from every attempt.
        reason = callstory.headline(SimpleNamespace(status="no-buyer", reason=reason), attempts)
    store.write_call(state, "no-buyer", reason=reason, ended=True,
                     routed=any(store.is_placed(a) for a in attempts), skip_kinds=store.skip_kinds(
                         [s for a in attempts for s in a.skipped or ()] + kinds_from))
    metrics.call_outcome("no-buyer")
