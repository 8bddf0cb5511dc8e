"""A buyer's local clock: IANA zones by name and the stretches of real time with one UTC offset.

Schedules (:mod:`sipflask.core.schedule`) and cap windows (:mod:`sipflask.core.capwindows`)
both reason about wall-clock time in a zone. Wall time is monotonic only between two offset
changes, so both walk real time in *segments*: ``[start, end)`` instants (aware, UTC) with one
offset, inside which ``wall = instant + offset`` exactly. ``zoneinfo`` has no public list of
transitions, so they are found by sampling the offset every hour and bisecting to the second
(tzdata changes offsets on whole seconds, and no zone changes twice within an hour); each UTC
day's transitions are cached.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

UTC = timezone.utc
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Keys zoneinfo can open that are not place names a buyer would pick.
NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


class ZoneError(ValueError):
    """A time zone name that is not an IANA zone."""


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """Every IANA zone name (from tzdata, so it does not depend on the machine's zone files)."""
    return frozenset(available_timezones() - NOT_ZONES)


@lru_cache(maxsize=1)
def _by_lower() -> dict[str, str]:
    return {name.lower(): name for name in zone_names()}


def canonical_zone(name) -> str | None:
    """The IANA spelling of ``name`` (case-insensitive: ``america/new_york`` ->
    ``America/New_York``), or None when it is not a zone."""
    if not isinstance(name, str):
        return None
    return _by_lower().get(name.strip().lower())


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The zone called ``name`` (any case); ``ZoneError`` when there is none."""
    key = canonical_zone(name)
    if key is None:
        raise ZoneError(f"Unknown time zone {name!r}.")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # listed but unreadable: treat as unknown
        raise ZoneError(f"Unknown time zone {name!r}.") from exc


def as_utc(when: datetime) -> datetime:
    """``when`` (aware) in UTC; a naive datetime is a caller's bug, so it raises ValueError."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("An instant must be an aware datetime (with a time zone).")
    return when.astimezone(UTC)


def offset_at(tz: ZoneInfo, instant: datetime) -> timedelta:
    return instant.astimezone(tz).utcoffset()


def wall(tz: ZoneInfo, instant: datetime) -> datetime:
    """The local wall-clock time at ``instant``, naive (so arithmetic on it is plain)."""
    return instant.astimezone(tz).replace(tzinfo=None)


@lru_cache(maxsize=8192)
def _day_transitions(tz: ZoneInfo, day: date) -> tuple[datetime, ...]:
    """Instants within UTC ``day`` at which ``tz``'s offset changes."""
    found = []
    left = datetime(day.year, day.month, day.day, tzinfo=UTC)
    before = offset_at(tz, left)
    for _ in range(24):
        right = left + HOUR
        after = offset_at(tz, right)
        if after != before:
            lo, hi = left, right  # offset(lo) == before, offset(hi) != before
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if offset_at(tz, mid) == before:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        left, before = right, after
    return tuple(found)


def transitions(tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Instants in ``(start, end)`` where the offset changes (``start``/``end`` aware UTC)."""
    out = []
    day = start.date() - timedelta(days=1)
    while day <= end.date():
        out += [t for t in _day_transitions(tz, day) if start < t < end]
        day += timedelta(days=1)
    return out


def segments(tz: ZoneInfo, start: datetime, end: datetime
             ) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """``(seg_start, seg_end, offset)`` covering ``[start, end)`` in order: one offset each."""
    edges = [start, *transitions(tz, start, end), end]
    for a, b in zip(edges, edges[1:]):
        yield a, b, offset_at(tz, a)


def to_instant(local_wall: datetime, offset: timedelta) -> datetime:
    """The instant (aware UTC) of a naive wall time read with ``offset``."""
    return (local_wall - offset).replace(tzinfo=UTC)


DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clock_text(tz: ZoneInfo, instant: datetime, *, weekday=False, month_day=False) -> str:
    """``instant`` on ``tz``'s wall clock for a reason text: ``15:00``, ``Mon 09:00``,
    ``Jan 1 00:00``, ``Mon Dec 14 09:00``, then the zone name (names are fixed in English so
    a server locale cannot change the texts people grep the call log for)."""
    local = instant.astimezone(tz)
    parts = [DAY_ABBR[local.weekday()]] if weekday else []
    if month_day:
        parts += [MONTH_ABBR[local.month - 1], str(local.day)]
    return " ".join(parts + [f"{local:%H:%M}", tz.key])
