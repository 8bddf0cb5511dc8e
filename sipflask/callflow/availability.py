"""Can a buyer take a call at an instant: its opening hours and its caps, on its own clock.

One place for the question, asked three ways: routing builds each buyer's
:class:`~sipflask.core.routing.Candidate` with :func:`candidate`; pages show :func:`status`
(open now / closed until, cap use such as ``137/200 today``); the editor's preview asks
:func:`lineup` who would take a call at a chosen moment. All of them read the same counters
and schedules, so what a page says is what routing does.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sipflask.callflow import caps, directory
from sipflask.core import capwindows, endpointhealth, localclock, routing, schedule


def schedule_of(buyer) -> schedule.Schedule:
    """The schedule of a Buyer or a directory row (which carries it compiled)."""
    compiled = getattr(buyer, "schedule", None)
    if isinstance(compiled, schedule.Schedule):
        return compiled
    return schedule.compiled(buyer.time_zone, buyer.hours, buyer.closures)


def closed_reason(sched: schedule.Schedule, when: datetime) -> str | None:
    """``closed (opens Mon 09:00 America/New_York)`` when closed at ``when``, else None."""
    if sched.is_open(when):
        return None
    return schedule.closed_reason(sched, sched.openness(when), when)


def unreachable(row, when: datetime) -> str | None:
    """Health-aware routing's skip reason for a directory row or a Buyer, or None."""
    check = getattr(row, "health_check", "off") or "off"
    if check == "off":
        return None  # the usual case: nothing more to read
    if hasattr(row, "health_state"):
        state, cause, retry_at = row.health_state, row.health_cause, row.health_retry_at
    else:
        health = row.health  # a Buyer: its state row, loaded now
        if health is None:
            return None
        state, cause, retry_at = health.state, health.cause, health.retry_at
    return endpointhealth.unreachable(check, state, cause, retry_at, when)


def candidate(row, windows: caps.Windows, tried: bool = False) -> routing.Candidate:
    """The buyer (a directory row or a Buyer) as routing sees it at ``windows.when``."""
    hour, day, month = caps.used(row, windows)
    return routing.Candidate(
        buyer_id=row.id, priority=row.priority, weight=row.weight, paused=row.paused,
        concurrency_cap=row.concurrency_cap, active_calls=row.active_calls,
        hourly_cap=row.hourly_cap, calls_hour=hour, daily_cap=row.daily_cap, calls_today=day,
        monthly_cap=row.monthly_cap, calls_month=month, total_cap=row.total_cap,
        calls_total=row.calls_total, time_zone=windows.time_zone, when=windows.when,
        closed=closed_reason(schedule_of(row), windows.when), tried=tried,
        unreachable=unreachable(row, windows.when))


def windows_of(row, when: datetime) -> caps.Windows:
    return caps.Windows.at(schedule_of(row).time_zone, when)


def refusal(buyer, when: datetime) -> str:
    """Why ``caps.take`` just refused ``buyer`` (a directory row), from its current row."""
    row = caps.current([buyer.id]).get(buyer.id)
    if row is None:
        return "deleted"
    now_row = _Merged(buyer, row)
    reason = routing.skip_reason(candidate(now_row, windows_of(now_row, when)))
    return reason or "cap reached (taken by a concurrent call)"


class _Merged:
    """A directory row with the counters read again from the database."""

    def __init__(self, row, current: dict):
        self._row, self._current = row, current

    def __getattr__(self, name):
        if name in self._current:
            return self._current[name]
        return getattr(self._row, name)


WINDOW_WORDS = {capwindows.HOURLY: "this hour", capwindows.DAILY: "today",
                capwindows.MONTHLY: "this month", capwindows.LIFETIME: "in total"}


@dataclass(frozen=True)
class CapUse:
    kind: str       # "concurrency", "hourly", "daily", "monthly", "lifetime"
    used: int
    cap: int

    @property
    def text(self) -> str:
        """``137/200 today``, ``2/3 at once``."""
        words = "at once" if self.kind == "concurrency" else WINDOW_WORDS[self.kind]
        return f"{self.used:,}/{self.cap:,} {words}"

    @property
    def full(self) -> bool:
        return self.used >= self.cap


@dataclass(frozen=True)
class BuyerStatus:
    """What a page shows about a buyer at one instant."""

    open: bool
    hours_text: str           # "open 24/7", "open until 17:00 ...", "closed until Mon 09:00 ..."
    caps: tuple[CapUse, ...]  # only the caps that are set
    reason: str | None        # routing's skip reason at that instant; None = would take a call


def _hours_text(sched: schedule.Schedule, when: datetime) -> tuple[bool, str]:
    if sched.always_open:
        return True, "open 24/7"
    state = sched.openness(when)
    if state.open:
        if state.closes_at is None:
            return True, "open (for the next 14 days)"
        return True, f"open until {schedule.opens_text(sched, state.closes_at, when)}"
    if state.next_open is None:
        return False, f"closed (not open in the next {schedule.HORIZON.days} days)"
    return False, f"closed until {schedule.opens_text(sched, state.next_open, when)}"


def status(buyer, when: datetime | None = None) -> BuyerStatus:
    """Open or closed and cap use of ``buyer`` (a Buyer or a directory row) at ``when``."""
    when = when or caps.now()
    cand = candidate(buyer, windows_of(buyer, when))
    is_open, text = _hours_text(schedule_of(buyer), when)
    uses = [CapUse("concurrency", cand.active_calls, cand.concurrency_cap)] \
        if cand.concurrency_cap is not None else []
    uses += [CapUse(kind, used, cap) for kind, cap, used in reversed(cand.window_caps())
             if cap is not None]
    return BuyerStatus(is_open, text, tuple(uses), routing.skip_reason(cand))


@dataclass(frozen=True)
class Seat:
    """One buyer of a campaign's routing list at an instant."""

    buyer_id: int
    name: str
    priority: int
    reason: str | None  # None: it could take the call


def lineup(campaign_id: int, when: datetime | None = None) -> list[Seat]:
    """The campaign's buyers in routing order and what each would say to a call at ``when``
    (counters as stored now, nothing reserved)."""
    when = when or caps.now()
    seats = []
    for row in directory.campaign_buyers(campaign_id):
        reason = routing.skip_reason(candidate(row, windows_of(row, when)))
        seats.append(Seat(row.id, row.name, row.priority, reason))
    return seats


def first_choices(seats: list[Seat], besides: int | None = None) -> list[Seat]:
    """The buyers a call would go to first (the eligible ones at the best priority; routing
    then picks among them by weight), leaving out ``besides``."""
    open_seats = [s for s in seats if s.reason is None and s.buyer_id != besides]
    if not open_seats:
        return []
    best = min(s.priority for s in open_seats)
    return [s for s in open_seats if s.priority == best]


def zone_of(buyer) -> localclock.ZoneInfo:
    return localclock.zone(schedule_of(buyer).time_zone)
