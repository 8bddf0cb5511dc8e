"""Cap windows on the buyer's own clock: the key of the hour, day and month an instant falls in
(stored beside each counter), the instant each window resets, and the skip reason texts.

Keys: hour ``2026-11-01T05:00:00Z`` (the UTC instant the window started: the local hour's
start, or a DST change within it, so the two 01:00 hours of a fall-back night are two windows), day ``2026-11-01``, month ``2026-11``, lifetime
``all``. Keys of one kind sort in time order, so the database can keep a counter's window from
ever moving back (``callflow/caps.py``).
A window resets at the first instant whose key differs: the buyer's next local hour, midnight
or first of the month (on a spring-forward-at-midnight day that is 01:00, and the text says so).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sipflask.core import localclock
from sipflask.core.localclock import ZoneInfo

HOURLY, DAILY, MONTHLY, LIFETIME = "hourly", "daily", "monthly", "lifetime"
KINDS = (HOURLY, DAILY, MONTHLY, LIFETIME)
LIFETIME_KEY = "all"

DIALLED = "dialled"
"""Count every attempt offered to the buyer (today's meaning): the place is taken when the
attempt is reserved, in the window of the moment it is offered, and never given back."""
CONNECTED = "connected"
"""Count attempts the buyer answered. A ringing attempt holds a place against the cap from the
moment it is offered until it ends: unanswered, the place is given back; answered, it counts.
Held and counted places are in the window of the moment the attempt was offered (an attempt
offered at 23:59:59 and answered at 00:00:05 counts for the day it was offered), so one
conditional UPDATE per window keeps the cap under concurrency."""
COUNT_MODES = (DIALLED, CONNECTED)


def local_date(time_zone: str, when: datetime) -> date:
    """The buyer's local date at ``when`` (also the ``today`` for closure warnings)."""
    return localclock.wall(localclock.zone(time_zone), localclock.as_utc(when)).date()


def window_key(kind: str, time_zone: str, when: datetime) -> str:
    """The window ``when`` falls in, for a cap of ``kind`` in the buyer's zone."""
    if kind == LIFETIME:
        return LIFETIME_KEY
    tz = localclock.zone(time_zone)
    local = localclock.as_utc(when).astimezone(tz)
    if kind == HOURLY:
        return _hour_start(tz, local).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == DAILY:
        return local.date().isoformat()
    if kind == MONTHLY:
        return f"{local.year:04d}-{local.month:02d}"
    raise ValueError(f"Unknown cap kind {kind!r}.")


def _hour_start(tz: ZoneInfo, local: datetime) -> datetime:
    """When the hourly window holding ``local`` began (aware UTC): its local hour's start on
    the current offset, or the DST change since then (which always starts a window), whichever
    is later. So windows never overlap and their starts only move forward, even where clocks
    go back 30 or 45 minutes."""
    instant = localclock.as_utc(local)
    wall = local.replace(tzinfo=None, minute=0, second=0, microsecond=0)
    start = localclock.to_instant(wall, local.utcoffset())
    jumps = localclock.transitions(tz, start, instant + timedelta(microseconds=1))
    return max([start, *jumps])


def window_keys(time_zone: str, when: datetime) -> dict[str, str]:
    """``{"hourly": ..., "daily": ..., "monthly": ..., "lifetime": "all"}`` (the zone is read
    once: this runs for every buyer of every call)."""
    tz = localclock.zone(time_zone)
    local = localclock.as_utc(when).astimezone(tz)
    return {HOURLY: _hour_start(tz, local).strftime("%Y-%m-%dT%H:%M:%SZ"),
            DAILY: local.date().isoformat(), MONTHLY: f"{local.year:04d}-{local.month:02d}",
            LIFETIME: LIFETIME_KEY}


def _next_boundary(kind: str, local: datetime) -> datetime:
    """The next wall-clock start of an hour, day or month after naive ``local``."""
    if kind == HOURLY:
        return local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == DAILY:
        return day + timedelta(days=1)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def resets_at(kind: str, time_zone: str, when: datetime) -> datetime | None:
    """The first instant (aware UTC) after ``when`` in another window; None for lifetime."""
    if kind == LIFETIME:
        return None
    tz, start = localclock.zone(time_zone), localclock.as_utc(when)
    key = window_key(kind, time_zone, start)
    horizon = start + timedelta(days=33)
    for seg_start, seg_end, offset in localclock.segments(tz, start, horizon):
        # Inside a segment wall time is instant + offset, so the boundary maps back exactly;
        # a DST jump (a segment edge) can change the key too.
        if seg_start > start and window_key(kind, time_zone, seg_start) != key:
            return seg_start
        boundary = localclock.to_instant(
            _next_boundary(kind, (seg_start + offset).replace(tzinfo=None)), offset)
        if boundary < seg_end:
            return boundary
    raise AssertionError("a window is at most a month")  # pragma: no cover


def cap_reason(kind: str, cap: int, time_zone: str, when: datetime) -> str:
    """``daily cap 200 reached (resets 00:00 America/Chicago)``; lifetime: ``lifetime cap N
    reached``; monthly names the day: ``(resets Jan 1 00:00 America/Chicago)``."""
    reset = resets_at(kind, time_zone, when)
    if reset is None:
        return f"{kind} cap {cap} reached"
    tz: ZoneInfo = localclock.zone(time_zone)
    text = localclock.clock_text(tz, reset, month_day=kind == MONTHLY)
    return f"{kind} cap {cap} reached (resets {text})"


def check_cap_counts(value) -> tuple[str, str | None]:
    """``(mode, error)``: absent means ``dialled``; the error is for path ``cap_counts``."""
    if value is None or value == "":
        return DIALLED, None
    if value not in COUNT_MODES:
        return DIALLED, "Cap counts must be 'dialled' (every attempt) or 'connected' (answered)."
    return value, None
