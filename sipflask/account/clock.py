"""Times on the account's clock: what the UI prints for a stored (aware, UTC) instant, and the
UTC instants a local date filter stands for.

A printed time carries its zone's abbreviation for that instant (``2026-12-01 17:42:05 EST``,
``EDT`` in summer, ``UTC``); zones whose data has only a numeric abbreviation get it as an
offset (``2026-12-01 19:42 UTC-03:00``), so a time is never shown without its zone and the two
01:30s of a fall-back night read differently. Column headers and labels name the zone itself
(``Time (America/New_York)``). What is stored stays UTC.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo

from sipflask.account.settings import account_zone
from sipflask.core import localclock

UTC = timezone.utc
DATE = "%Y-%m-%d"
MINUTES = "%Y-%m-%d %H:%M"
SECONDS = "%Y-%m-%d %H:%M:%S"


def _aware(when: datetime) -> datetime:
    # Stored times are UTC; a naive one (a row built in memory) is read as UTC too.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def offset_text(offset: timedelta) -> str:
    """``+05:30``, ``-03:00``, ``+00:00``."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_label(local: datetime) -> str:
    """The short zone name of an aware local time: ``EST``, ``IST``, ``UTC``; ``UTC-03:00``
    where the zone data has only a number (``-03``)."""
    name = local.tzname() or ""
    if not name or name[0] in "+-":
        return "UTC" + offset_text(local.utcoffset())
    return name


def format_local(when: datetime | None, tz: tzinfo, fmt: str = SECONDS, *,
                 with_zone: bool = True) -> str:
    """``when`` on ``tz``'s clock as ``fmt``, then its zone label; "" for None."""
    if when is None:
        return ""
    local = _aware(when).astimezone(tz)
    text = local.strftime(fmt)
    return f"{text} {zone_label(local)}" if with_zone else text


def iso_local(when: datetime | None, tz: tzinfo) -> str:
    """ISO 8601 with ``tz``'s offset: ``2026-12-01T17:42:05-05:00`` ("" for None)."""
    return "" if when is None else _aware(when).astimezone(tz).isoformat()


def day_start(d: date, tz: tzinfo) -> datetime:
    """The first instant (aware UTC) of local date ``d`` in ``tz``: local midnight, or where a
    DST jump skips midnight, the instant the day begins."""
    guess = datetime.combine(d, time.min, tz).astimezone(UTC)
    if not isinstance(tz, localclock.ZoneInfo):
        return guess
    candidates = [guess, *localclock.transitions(tz, guess - localclock.DAY, guess)]
    return min(c for c in candidates if c.astimezone(tz).date() >= d)


def day_range(first: date | None, last: date | None, tz: tzinfo
              ) -> tuple[datetime | None, datetime | None]:
    """``[start, end)`` in UTC for the local dates ``first`` to ``last``, both included; an open
    end is None."""
    start = day_start(first, tz) if first else None
    end = day_start(last + timedelta(days=1), tz) if last else None
    return start, end


# --- on the account's clock (the template filters) ---------------------------------------------

def localtime(when: datetime | None, fmt: str = SECONDS, with_zone: bool = True) -> str:
    """Jinja ``|localtime``: ``2026-12-01 17:42:05 EST`` on the account's clock;
    ``|localtime('%H:%M')`` for a shorter form, ``with_zone=False`` without the label."""
    return format_local(when, account_zone(), fmt, with_zone=with_zone)


def localdate(when: datetime | None) -> str:
    """Jinja ``|localdate``: the account's local date, ``2026-12-01``."""
    return format_local(when, account_zone(), DATE, with_zone=False)


def same_local_day(a: datetime | None, b: datetime | None) -> bool:
    """Whether ``a`` and ``b`` fall on one local date on the account's clock."""
    if a is None or b is None:
        return False
    tz = account_zone()
    return _aware(a).astimezone(tz).date() == _aware(b).astimezone(tz).date()
