"""Health-aware routing's rules: when a SIP buyer goes down, when it comes back, and the words
routing records when it skips one (``unreachable (3 OPTIONS timeouts since 14:03)``).

Like Kamailio's dispatcher (``ds_probing_threshold``, ``ds_inactive_threshold``): ``down_after``
failed OPTIONS probes in a row take a buyer out of rotation, ``up_after`` answered ones bring
it back. Real calls count too, so a PBX that answers OPTIONS but fails every INVITE, or one
that ignores OPTIONS altogether, is still caught: ``call_failures`` attempts in a row ending in
a code of :data:`CALL_FAILURE_CODES` take it out until a probe answers (mode ``options``) or,
with no probes (mode ``calls``), until ``retry`` has passed: then calls may try it again (a
circuit breaker's half-open state) and the first one's outcome decides.

Pure: states in, states out; the caller stores them (siphealth/state.py).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable

__all__ = ["MODES", "CALL_FAILURE_CODES", "Rules", "State", "Change", "probe_kind",
           "after_probe", "after_call", "unreachable"]

MODES = ("off", "options", "calls")
# Codes a PBX (or Twilio for it) gives when it cannot take calls at all, as opposed to one
# call's outcome (486 busy, 487 cancelled, 404 a wrong extension).
CALL_FAILURE_CODES = frozenset({408, 480, 500, 502, 503, 504})

Clock = Callable[[datetime], str]  # an instant as the account reads it, e.g. "14:03"


@dataclass(frozen=True)
class Rules:
    mode: str = "off"
    down_after: int = 3
    up_after: int = 2
    call_failures: int = 5
    retry: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class State:
    state: str = "up"
    down_by: str = ""
    cause: str = ""
    changed_at: datetime | None = None
    retry_at: datetime | None = None
    probe_fails: int = 0
    probe_oks: int = 0
    probe_fails_since: datetime | None = None
    probe_fail_kind: str = ""
    call_fails: int = 0
    call_fails_since: datetime | None = None
    last_call_code: int | None = None


@dataclass(frozen=True)
class Change:
    """The state flipped: to ``state``, because of ``source`` ("probes" or "calls")."""
    state: str
    source: str
    cause: str


def probe_kind(failure: str | None, status: int | None) -> str:
    """One word for how a probe failed, so a run of the same failure reads as one."""
    if status is not None and failure is None:
        return f"status:{status}"
    return failure or "failed"


def _probe_failures(n: int, kind: str) -> str:
    if kind.startswith("status:"):
        return f"{n} OPTIONS answered {kind.partition(':')[2]}"
    s = "" if n == 1 else "s"
    words = {"timeout": f"OPTIONS timeout{s}", "refused": f"refused connection{s}",
             "connect-timeout": f"connection timeout{s}", "dns": f"failed DNS lookup{s}",
             "unreachable": f"unreachable network error{s}"}
    return f"{n} {words.get(kind, f'failed OPTIONS probe{s}')}"


def _down(s: State, source: str, cause: str, at: datetime) -> tuple[State, Change]:
    return (replace(s, state="down", down_by=source, cause=cause, changed_at=at, probe_oks=0),
            Change("down", source, cause))


def _up(s: State, source: str, cause: str, at: datetime) -> tuple[State, Change]:
    return (replace(s, state="up", down_by="", cause="", changed_at=at, retry_at=None,
                    call_fails=0, call_fails_since=None),
            Change("up", source, cause))


def after_probe(s: State, rules: Rules, alive: bool, kind: str, at: datetime,
                clock: Clock) -> tuple[State, Change | None]:
    """The state after one probe: ``alive``, or failed in the way ``kind`` says."""
    if alive:
        s = replace(s, probe_fails=0, probe_fails_since=None, probe_fail_kind="",
                    probe_oks=s.probe_oks + 1)
        if s.state == "down" and s.probe_oks >= rules.up_after:
            n = s.probe_oks
            return _up(s, "probes", f"{n} OPTIONS answered in a row" if n > 1
                       else "an OPTIONS probe was answered", at)
        return s, None
    same = s.probe_fails == 0 or s.probe_fail_kind == kind
    s = replace(s, probe_oks=0, probe_fails=s.probe_fails + 1,
                probe_fails_since=s.probe_fails_since or at,
                probe_fail_kind=kind if same else "mixed")
    if s.state == "up" and s.probe_fails >= rules.down_after:
        return _down(s, "probes", f"unreachable ({_probe_failures(s.probe_fails, s.probe_fail_kind)}"
                     f" since {clock(s.probe_fails_since)})", at)
    return s, None


def after_call(s: State, rules: Rules, code: int | None, at: datetime,
               clock: Clock) -> tuple[State, Change | None]:
    """The state after one real call attempt ended with SIP ``code`` (None: not known)."""
    if code is None:
        return s, None
    if code not in CALL_FAILURE_CODES:
        s = replace(s, call_fails=0, call_fails_since=None, last_call_code=code)
        if s.state == "down" and s.down_by == "calls":
            return _up(s, "calls", f"a call got through (SIP {code})", at)
        return s, None
    s = replace(s, call_fails=s.call_fails + 1, call_fails_since=s.call_fails_since or at,
                last_call_code=code)
    retry_at = at + rules.retry if rules.mode == "calls" else None
    if s.state == "down":
        # A trial call after the retry time failed too: wait another round.
        return (replace(s, retry_at=retry_at) if s.down_by == "calls" else s), None
    if s.call_fails >= rules.call_failures:
        s, change = _down(s, "calls", f"unreachable ({s.call_fails} failed calls in a row since "
                          f"{clock(s.call_fails_since)}, last SIP {code})", at)
        return replace(s, retry_at=retry_at), change
    return s, None


def unreachable(mode: str, state: str | None, cause: str, retry_at: datetime | None,
                when: datetime) -> str | None:
    """Routing's skip reason for a buyer in this health state at ``when``, or None."""
    if mode == "off" or state != "down":
        return None
    if retry_at is not None and when >= retry_at:
        return None  # half-open: calls may try it again
    return cause or "unreachable"
