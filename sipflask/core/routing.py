"""Routing: pick the next buyer to dial for a call.

SPEC "Routing": buyers are tried by priority (lower value first), weighted
random among equal priority; paused buyers, buyers outside their opening
hours, buyers whose SIP endpoint is down (health-aware routing) and buyers
at a cap are skipped with the reason recorded, in words that say when the
buyer comes back (``closed (opens Mon 09:00
America/New_York)``, ``daily cap 200 reached (resets 00:00 America/Chicago)``).

This is the pure decision only. Caps must hold across app processes, so the
caller loads ``active_calls``/``calls_today`` from the database and re-checks
the cap atomically when it reserves the buyer; :func:`pick_next` just
explains and chooses from that snapshot. Randomness comes from the ``rng``
passed in, so a seeded ``random.Random`` makes every pick reproducible.

This module is pure: no Flask, no database.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sipflask.core import capwindows

__all__ = ["Candidate", "Skip", "skip_reason", "pick_next"]


@dataclass
class Candidate:
    """One buyer on the campaign's routing list, as seen for this call.

    A cap of ``None`` means "no cap"; ``0`` is a real cap that blocks every
    call (the form decides how to present it). ``calls_hour``/``calls_today``/
    ``calls_month`` are the counts of the windows ``when`` falls in (0 when the
    stored counter belongs to an earlier window), on the buyer's clock
    (``time_zone``). ``closed`` is the skip reason when the buyer's opening
    hours are closed at ``when`` (see ``core.schedule.closed_reason``).
    """

    buyer_id: int
    priority: int
    weight: int
    paused: bool = False
    concurrency_cap: int | None = None
    active_calls: int = 0
    daily_cap: int | None = None
    calls_today: int = 0
    tried: bool = False
    open_now: bool = True
    closed: str | None = None
    hourly_cap: int | None = None
    calls_hour: int = 0
    monthly_cap: int | None = None
    calls_month: int = 0
    total_cap: int | None = None
    calls_total: int = 0
    time_zone: str = "UTC"
    when: datetime | None = None
    unreachable: str | None = None  # health-aware routing's reason (core/endpointhealth.py)

    def window_caps(self):
        """``(kind, cap, used)`` of the caps counted in windows, longest window first."""
        return ((capwindows.LIFETIME, self.total_cap, self.calls_total),
                (capwindows.MONTHLY, self.monthly_cap, self.calls_month),
                (capwindows.DAILY, self.daily_cap, self.calls_today),
                (capwindows.HOURLY, self.hourly_cap, self.calls_hour))


@dataclass
class Skip:
    """A buyer not eligible for this attempt, and why."""

    buyer_id: int
    reason: str


def skip_reason(c: Candidate) -> str | None:
    """Why ``c`` cannot be dialled now, or None if it can.

    Checked in this order, so the recorded reason is the most telling one:
    already tried, paused, closed (caps don't matter while closed), unreachable
    (health-aware routing), concurrency cap, then the lifetime, monthly, daily and hourly caps: the longest window
    reached first, because the buyer comes back only when that one resets.
    """
    if c.tried:
        return "already tried"
    if c.paused:
        return "paused"
    if c.closed:
        return c.closed
    if not c.open_now:
        return "outside business hours"
    if c.unreachable:
        return c.unreachable
    if c.concurrency_cap is not None and c.active_calls >= c.concurrency_cap:
        return f"concurrency cap reached ({c.active_calls}/{c.concurrency_cap})"
    for kind, cap, used in c.window_caps():
        if cap is not None and used >= cap:
            if c.when is None:
                return f"{kind} cap {cap} reached"
            return capwindows.cap_reason(kind, cap, c.time_zone, c.when)
    return None


def _weighted_choice(group: Sequence[Candidate], rng: random.Random) -> Candidate:
    weights = [max(c.weight, 0) for c in group]
    total = sum(weights)
    if total == 0:
        # All weights zero (or negative): nobody is preferred, pick uniformly.
        return group[rng.randrange(len(group))]
    point = rng.random() * total
    cumulative = 0
    for candidate, weight in zip(group, weights):
        cumulative += weight
        if weight and point < cumulative:
            return candidate
    # Float rounding can leave point == total; fall back to the last weighted one.
    return next(c for c, w in zip(reversed(group), reversed(weights)) if w)


def pick_next(
    candidates: Sequence[Candidate], rng: random.Random
) -> tuple[Candidate | None, list[Skip]]:
    """Choose the next buyer, or None when no one is eligible.

    Returns the choice and a :class:`Skip` for every ineligible candidate
    (in input order). Among eligible candidates only the lowest priority
    value competes; within it the pick is weighted random by ``weight``
    (weights <= 0 count as 0; if all are 0 the pick is uniform). Input order
    is kept within a priority so the result depends only on ``rng``.
    """
    skips: list[Skip] = []
    eligible: list[Candidate] = []
    for candidate in candidates:
        reason = skip_reason(candidate)
        if reason is None:
            eligible.append(candidate)
        else:
            skips.append(Skip(candidate.buyer_id, reason))
    if not eligible:
        return None, skips
    best = min(c.priority for c in eligible)
    group = [c for c in eligible if c.priority == best]
    return _weighted_choice(group, rng), skips
