"""A buyer's opening hours: weekly ranges and dated closures in its own time zone, and the one
question routing asks of them: is it open at instant T, and if not, when does it next open.

The data (the import/export JSON shape; :mod:`sipflask.core.schedule_rules` checks and
normalises it):

- ``time_zone``: an IANA name (``America/New_York``).
- ``hours``: ``None`` = open 24/7, else ``{"mon": ["09:00-12:00", "13:00-17:00"], ...}``;
  a missing day or ``[]`` is closed that day.
- ``closures``: ``[{"date": "2026-12-25", "hours": []}, ...]``.

Rules:

- A range includes its start and excludes its end, on the local wall clock (``09:00-17:00``
  is open at 09:00:00 and closed at 17:00:00). ``24:00`` is a valid end; ``HH-00:00`` is read
  as ``HH-24:00``. A range whose end is earlier than its start runs overnight into the next
  local date (``fri 22:00-06:00`` = Friday 22:00 to Saturday 06:00).
- A closure replaces the ranges that *start* on its local date. An overnight range that started
  the day before still runs into the closure date (Thursday ``22:00-06:00`` still covers the
  early hours of a Friday closure), and a closure's own overnight range runs into the next day.
- ``hours: None`` behaves as ``00:00-24:00`` every day, so closures apply to 24/7 buyers too.
- DST: open when the wall-clock time is inside a range. On a spring-forward day a range
  ``01:30-03:00`` is open for 30 real minutes (02:00-03:00 never happens) and ``02:00-02:30``
  not at all; on a fall-back day both real hours whose wall clock reads 01:xx are inside
  ``01:00-02:00``.

Instants in and out are aware datetimes; results are in UTC, because Python compares and
subtracts two datetimes of the same zone by their wall clocks, ignoring ``fold`` (so the two
01:30s of a fall-back night would compare equal).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from sipflask.core import localclock
from sipflask.core.localclock import DAY, ZoneInfo

log = logging.getLogger("sipflask.calls")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HORIZON = timedelta(days=14)  # how far ahead "next open" is looked up
MINUTES_A_DAY = 24 * 60
FULL_DAY = ((0, MINUTES_A_DAY),)
# H:MM or HH:MM, a hyphen or an en dash (pasted from documents), spaces allowed around it.
RANGE_RE = re.compile(r"\s*([0-9]{1,2}):([0-9]{2})\s*[-\u2013]\s*([0-9]{1,2}):([0-9]{2})\s*\Z")

Range = tuple[int, int]  # (start, end) minutes after local midnight; end < start = overnight


class RangeError(ValueError):
    """A range text that is not a valid opening range; the message is for the user."""


def parse_range(text) -> Range:
    """``"09:00-17:00"`` -> ``(540, 1020)``; ``RangeError`` with a readable message if bad.

    ``9:00`` is accepted (and written back as ``09:00``); minutes need two digits."""
    if not isinstance(text, str):
        raise RangeError("A range must be text like 09:00-17:00.")
    match = RANGE_RE.match(text)
    if not match:
        raise RangeError(f"{text.strip()!r} is not a range like 09:00-17:00.")
    sh, sm, eh, em = (int(g) for g in match.groups())
    for hour, minute in ((sh, sm), (eh, em)):
        if minute > 59 or hour > 24 or (hour == 24 and minute):
            raise RangeError(f"{hour:02d}:{minute:02d} is not a time of day "
                             "(00:00 to 23:59, or 24:00 to end a range).")
    start, end = sh * 60 + sm, eh * 60 + em
    if start == MINUTES_A_DAY:
        raise RangeError("A range cannot start at 24:00; start it at 00:00.")
    if start == end:
        raise RangeError(f"{format_range((start, end))} starts and ends at the same time "
                         "(for all day use 00:00-24:00).")
    if end == 0:
        end = MINUTES_A_DAY  # "22:00-00:00" ends at midnight: the same day, not overnight
    return start, end


def format_range(rng: Range) -> str:
    return "-".join(f"{m // 60:02d}:{m % 60:02d}" for m in rng)


def overnight(rng: Range) -> bool:
    return rng[1] < rng[0]


@dataclass(frozen=True)
class Openness:
    """The answer for one instant. ``next_open`` is set only when closed (None: not open in the
    next 14 days); ``closes_at`` only when open (None: open for all of the next 14 days).
    Both are aware UTC datetimes."""
    open: bool
    next_open: datetime | None = None
    closes_at: datetime | None = None


@dataclass(frozen=True, eq=False)
class Schedule:
    """A compiled schedule: ``weekly`` is 7 tuples of ranges (Monday first) or None for 24/7,
    ``closures`` maps a local date to the ranges that replace that date's weekly ones."""
    time_zone: str
    weekly: tuple[tuple[Range, ...], ...] | None = None
    closures: dict[date, tuple[Range, ...]] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return localclock.zone(self.time_zone)

    @property
    def always_open(self) -> bool:
        return self.weekly is None and not self.closures

    def ranges_on(self, day: date) -> tuple[Range, ...]:
        """The ranges that start on local date ``day``."""
        if day in self.closures:
            return self.closures[day]
        return FULL_DAY if self.weekly is None else self.weekly[day.weekday()]

    def is_open(self, when: datetime) -> bool:
        """Open at ``when``? The cheap check (no look-ahead) for the call path."""
        if self.always_open:
            return True
        local = localclock.wall(self.tz, localclock.as_utc(when))
        minute = local.hour * 60 + local.minute
        for start, end in self.ranges_on(local.date()):
            if start <= minute < end or (end < start and minute >= start):
                return True
        return any(end < start and minute < end
                   for start, end in self.ranges_on(local.date() - DAY))

    def wall_intervals(self, first: date, last: date) -> list[tuple[datetime, datetime]]:
        """Open stretches of naive wall time from ranges starting on ``first``..``last``,
        sorted and merged (Monday's ``22:00-24:00`` and Tuesday's ``00:00-06:00`` are one)."""
        out = []
        day = first
        while day <= last:
            midnight = datetime.combine(day, time())
            for start, end in self.ranges_on(day):
                stop = midnight + timedelta(minutes=end) + (DAY if end < start else timedelta())
                out.append((midnight + timedelta(minutes=start), stop))
            day += DAY
        return _merge(sorted(out))

    def openness(self, when: datetime) -> Openness:
        """Open at ``when``, and until when; or when it next opens (within 14 days)."""
        if self.always_open:
            return Openness(True)
        tz, start = self.tz, localclock.as_utc(when)
        horizon = start + HORIZON
        pieces = []
        # Within one offset segment wall = instant + offset, so each open wall stretch maps
        # back to real time exactly; a DST jump is a segment edge.
        for seg_start, seg_end, offset in localclock.segments(tz, start, horizon):
            wall_a = (seg_start + offset).replace(tzinfo=None)
            wall_b = (seg_end + offset).replace(tzinfo=None)
            for ws, we in self.wall_intervals(wall_a.date() - DAY, wall_b.date()):
                lo, hi = max(ws, wall_a), min(we, wall_b)
                if lo < hi:
                    pieces.append((localclock.to_instant(lo, offset),
                                   localclock.to_instant(hi, offset)))
        stretches = _merge(sorted(pieces))
        if not stretches:
            return Openness(False)
        first_start, first_end = stretches[0]
        if first_start <= start:
            return Openness(True, closes_at=first_end if first_end < horizon else None)
        return Openness(False, next_open=first_start)


def _merge(intervals: list[tuple]) -> list[tuple]:
    """Sorted ``(start, end)`` pairs with overlapping or touching ones joined."""
    merged: list[list] = []
    for lo, hi in intervals:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [tuple(pair) for pair in merged]


def build(time_zone: str, hours: dict | None = None, closures: list | None = None) -> Schedule:
    """A ``Schedule`` from stored (already checked) data; ``ValueError`` if it is not valid.
    ``time_zone`` None or empty means UTC."""
    name = localclock.zone(time_zone or "UTC").key
    weekly = None
    if hours is not None:
        weekly = tuple(tuple(sorted(parse_range(r) for r in hours.get(day) or ()))
                       for day in DAYS)
    dated = {date.fromisoformat(c["date"]): tuple(sorted(parse_range(r)
                                                         for r in c.get("hours") or ()))
             for c in closures or ()}
    return Schedule(name, weekly, dated)


@lru_cache(maxsize=4096)
def _compiled(time_zone: str, hours_json: str, closures_json: str) -> Schedule:
    return build(time_zone, json.loads(hours_json), json.loads(closures_json))


def compiled(time_zone, hours, closures) -> Schedule:
    """``build`` for stored data, cached. Stored data was checked when saved; if it still can't
    be read (edited by hand in the database), the buyer is open 24/7, as before schedules."""
    try:
        return _compiled(time_zone or "UTC", json.dumps(hours, sort_keys=True),
                         json.dumps(closures or [], sort_keys=True))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("buyer schedule unreadable (%s): treated as open 24/7", exc)
        return Schedule("UTC")


def open_at(time_zone: str, hours: dict | None, closures: list | None,
            when: datetime) -> Openness:
    """``build(...).openness(when)``: open at ``when``, and if not, when it next opens."""
    return build(time_zone, hours, closures).openness(when)


def opens_text(schedule: Schedule, instant: datetime, now: datetime) -> str:
    """``Mon 09:00 America/New_York``; the date is added when it is a week or more away,
    where the day name alone would be ambiguous (``Mon Dec 14 09:00 America/New_York``)."""
    tz = schedule.tz
    days_away = (instant.astimezone(tz).date() - now.astimezone(tz).date()).days
    return localclock.clock_text(tz, instant, weekday=True, month_day=days_away >= 7)


def closed_reason(schedule: Schedule, openness: Openness, now: datetime) -> str:
    """The skip reason for a closed buyer, in its time: ``closed (opens Mon 09:00
    America/New_York)``, or ``closed (not open in the next 14 days)``."""
    if openness.next_open is None:
        return f"closed (not open in the next {HORIZON.days} days)"
    return f"closed (opens {opens_text(schedule, openness.next_open, now)})"
