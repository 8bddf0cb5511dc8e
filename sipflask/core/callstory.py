"""One call's story as its detail page tells it: a headline that sums up every attempt, each
passed-over buyer listed once, and what an attempt's result means.

The headline of a call nobody took is worked out from its attempts, which are the whole record:
the call page shows it, and ``callflow/voice.py`` stores it as the call's reason when the call
ends, so the CSV and the page say the same. Pure functions over the rows: no database, no Flask.
"""
from __future__ import annotations

from dataclasses import dataclass

from sipflask.core import sipcodes

NOT_DIALLED = "not dialled: "


@dataclass(frozen=True)
class AttemptStory:
    """An attempt and the passed-over lines to show with it (those no earlier attempt showed)."""

    attempt: object
    skipped: list[dict]
    result: str  # what its DialCallStatus means, as the page words it


def _key(skip: dict) -> tuple:
    return skip.get("buyer_id"), skip.get("buyer"), skip.get("reason")


def _not_dialled(attempt) -> bool:
    """The attempt's own number could not be dialled (recorded as a skip of its own buyer)."""
    # By name too: a deleted buyer's attempt has no buyer_id left.
    return any((s.get("buyer_id") == attempt.buyer_id or s.get("buyer") == attempt.buyer_name)
               and str(s.get("reason", "")).startswith(NOT_DIALLED)
               for s in attempt.skipped or ())


def dial_result(attempt) -> str:
    """What the attempt's DialCallStatus means, without pointing at a SIP code it hasn't got."""
    status = attempt.dial_status
    if status == "failed" and attempt.sip_code is None:
        if _not_dialled(attempt):
            return "not dialled: sipflask could not build the number (see below)"
        if attempt.kind != "sip":
            return "the call could not be placed (Twilio gave no SIP code for a phone number)"
        return "the call could not be placed (Twilio sent no SIP code)"
    return sipcodes.dial_status_meaning(status)


def attempt_stories(attempts) -> list[AttemptStory]:
    """Each attempt with the skip lines not already shown under an earlier one: every routing
    round records who it passed over, so a paused buyer would otherwise appear once per round."""
    shown: set[tuple] = set()
    out = []
    for attempt in attempts:
        fresh = []
        for skip in attempt.skipped or ():
            if _key(skip) not in shown:
                shown.add(_key(skip))
                fresh.append(skip)
        out.append(AttemptStory(attempt, fresh, dial_result(attempt)))
    return out


def _outcome(attempt) -> str:
    status = attempt.dial_status or "no result yet"
    return f"{status} {attempt.sip_code}" if attempt.sip_code else status


def headline(call, attempts) -> str:
    """The line under the call's title: the stored reason, except for a call nobody took,
    which gets a summary of every attempt and every buyer passed over."""
    attempts = list(attempts)
    if call.status != "no-buyer" or not attempts:
        # With no attempt the stored reason is the whole story (it names every skip).
        return call.reason or ""
    failed = [a for a in attempts if _not_dialled(a)]
    dialled = [a for a in attempts if a not in failed]
    tried = {a.buyer_id for a in attempts if a.buyer_id is not None}
    reasons: dict = {}  # buyer -> last reason, first-seen order
    for attempt in attempts:
        for skip in attempt.skipped or ():
            reason = str(skip.get("reason", ""))
            if skip.get("buyer_id") in tried or reason.startswith(NOT_DIALLED):
                continue
            reasons[skip.get("buyer_id"), skip.get("buyer")] = reason
    parts = []
    if dialled:
        parts.append(f"{len(dialled)} dialled ({', '.join(_outcome(a) for a in dialled)})")
    if failed:
        parts.append(f"{len(failed)} could not be dialled")
    if reasons:
        kinds = list(dict.fromkeys(reasons.values()))
        parts.append(f"{len(reasons)} skipped ({', '.join(kinds)})")
    if not parts:
        return call.reason or "no buyer available"
    return ("no buyer left: " if dialled else "no buyer available: ") + ", ".join(parts)
