"""A report's dates: the presets (today, last 7 days, last month...), a typed range checked, and
the UTC offsets that turn stored instants into local days and hours.

Pure: no Flask, no database. A report's range is two local dates in the account zone, both
included; what is stored is UTC, so grouping by local day or hour needs the zone's offset at each
instant. Within a range the offset changes only at DST transitions, so the range is cut into
*segments* of one offset each (:func:`offset_segments`) and the database adds the segment's
offset to the instant: ``local seconds = epoch seconds + offset``, exact to the second whatever
the zone (half-hour offsets included), and the same on SQLite and PostgreSQL.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo

from sipflask.core import localclock

PRESETS = ("today", "yesterday", "last7", "last30", "this_month", "last_month", "custom")
PRESET_LABELS = {"today": "Today", "yesterday": "Yesterday", "last7": "Last 7 days",
                 "last30": "Last 30 days", "this_month": "This month",
                 "last_month": "Last month", "custom": "Custom"}
MAX_DAYS = 366  # a longer range would read years of calls in one request
EPOCH = date(1970, 1, 1)
# Local seconds since 1970 are positive from here on (SQL's integer division truncates toward
# zero), and every date up to the last one has a next day.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(9998, 12, 31)


def preset_range(name: str, today: date) -> tuple[date, date]:
    """The local dates (first, last, both included) a preset stands for on ``today``; "custom"
    (and anything unknown) gives the last 7 days, the page's default."""
    if name == "today":
        return today, today
    if name == "yesterday":
        day = today - timedelta(days=1)
        return day, day
    if name == "last30":
        return today - timedelta(days=29), today
    if name == "this_month":
        return today.replace(day=1), today
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    return today - timedelta(days=6), today


def preset_of(date_from: date, date_to: date, today: date) -> str:
    """The preset that gives exactly this range on ``today``, else "custom"."""
    for name in PRESETS[:-1]:
        if preset_range(name, today) == (date_from, date_to):
            return name
    return "custom"


def check_range(date_from: date, date_to: date) -> tuple[str, str] | None:
    """None when the range can be reported, else (argument, message)."""
    if date_from < FIRST_DAY:
        return "from", f"Choose a date from {FIRST_DAY.isoformat()} on."
    if date_to < date_from:
        return "to", "The end date is before the start date."
    if date_to > LAST_DAY:
        return "to", f"Choose an end date up to {LAST_DAY.isoformat()}."
    if (date_to - date_from).days + 1 > MAX_DAYS:
        return "to", f"Choose at most {MAX_DAYS} days."
    return None


def offset_segments(tz: tzinfo, start: datetime, end: datetime
                    ) -> list[tuple[datetime, int]]:
    """``[(segment end, offset seconds), ...]`` covering ``[start, end)`` (aware UTC) in order:
    an instant before a segment's end (and after the previous one's) has that offset."""
    if not isinstance(tz, localclock.ZoneInfo):
        offset = tz.utcoffset(None) or timedelta(0)
        return [(end, int(offset.total_seconds()))]
    return [(b, int(off.total_seconds())) for _a, b, off in localclock.segments(tz, start, end)]


def local_day(day_number: int) -> date:
    """The local date a ``local seconds // 86400`` bucket stands for."""
    return EPOCH + timedelta(days=day_number)


def hour_start(hour_number: int, offset: int) -> datetime:
    """The instant (aware UTC) a ``local seconds // 3600`` bucket read with ``offset`` begins."""
    return datetime.fromtimestamp(hour_number * 3600 - offset, timezone.utc)
