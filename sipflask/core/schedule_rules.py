"""Checks for a buyer's time zone, weekly hours and closures (the import/export JSON shape),
shared by the buyer editor and JSON import: a :class:`~sipflask.core.validation.Report` keyed
by path (``time_zone``, ``hours.mon[1]``, ``closures[0].date``) and the clean data.

Decisions: times may be written ``9:00`` (stored ``09:00``); day keys are ``mon``..``sun``
exactly; overlapping ranges are errors, including an overnight range running into the next
day's early range (Sunday's runs into Monday's). A closure's ranges that overlap an overnight
range from the day before (which still runs, see :mod:`sipflask.core.schedule`) or that run
overnight into the next day's ranges are warnings: the result is simply the union. A closure
date before ``today`` (the buyer's local date) is a warning.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

from sipflask.core import localclock, schedule
from sipflask.core.schedule import DAY_NAMES, DAYS, MINUTES_A_DAY, Range, RangeError
from sipflask.core.validation import Report

MAX_RANGES_A_DAY = 12
MAX_CLOSURES = 400
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
WEEK = 7 * MINUTES_A_DAY
# First in the editor's zone picker; the rest follow alphabetically.
COMMON_ZONES = (
    "UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Toronto",
    "America/Mexico_City", "America/Sao_Paulo", "Europe/London", "Europe/Dublin",
    "Europe/Paris", "Europe/Berlin", "Asia/Kolkata", "Asia/Manila", "Asia/Singapore",
    "Asia/Tokyo", "Australia/Sydney",
)


def zone_choices() -> list[str]:
    """Every zone name, the common ones first."""
    rest = sorted(localclock.zone_names() - set(COMMON_ZONES))
    return [z for z in COMMON_ZONES if z in localclock.zone_names()] + rest


def check_time_zone(report: Report, value) -> str:
    """The IANA spelling of ``value``; absent or empty means UTC."""
    if value is None or value == "":
        return "UTC"
    name = localclock.canonical_zone(value)
    if name is None:
        shown = value.strip() if isinstance(value, str) else value
        report.error("time_zone", f"Unknown time zone {shown!r}: use an IANA name such as "
                                  "America/New_York or Europe/London.")
        return "UTC"
    return name


def _ranges(report: Report, path: str, values) -> list[tuple[str, Range]]:
    """Parsed ``(path, range)`` pairs of one list of range texts; errors go to ``report``."""
    if not isinstance(values, list):
        report.error(path, "Must be a list of ranges like [\"09:00-17:00\"] ([] = closed).")
        return []
    if len(values) > MAX_RANGES_A_DAY:
        report.error(path, f"At most {MAX_RANGES_A_DAY} ranges a day (it has {len(values)}).")
        return []
    parsed = []
    for i, text in enumerate(values):
        try:
            parsed.append((f"{path}[{i}]", schedule.parse_range(text)))
        except RangeError as exc:
            report.error(f"{path}[{i}]", str(exc))
    return parsed


def _span(offset: int, rng: Range) -> tuple[int, int]:
    start, end = rng
    return offset + start, offset + end + (MINUTES_A_DAY if end < start else 0)


def _overlap(a: tuple[int, int], b: tuple[int, int], cycle: int = 0) -> bool:
    shifts = (-cycle, 0, cycle) if cycle else (0,)
    return any(a[0] < b[1] + s and b[0] + s < a[1] for s in shifts)


def _check_overlaps(report: Report, items: list[tuple[int, str, Range]], cycle: int) -> None:
    """Error on the later of each overlapping pair; ``items`` are ``(day, path, range)``."""
    for j, (day_b, path_b, rng_b) in enumerate(items):
        for day_a, _, rng_a in items[:j]:
            if _overlap(_span(day_a * MINUTES_A_DAY, rng_a), _span(day_b * MINUTES_A_DAY, rng_b),
                        cycle):
                whose = "" if day_a == day_b else f"{DAY_NAMES[day_a]}'s "
                report.error(path_b, f"{schedule.format_range(rng_b)} overlaps {whose}"
                                     f"{schedule.format_range(rng_a)}.")
                break


def check_hours(report: Report, hours) -> dict | None:
    """Clean weekly hours: None (24/7) or all seven days, each sorted ``HH:MM-HH:MM`` texts."""
    if hours is None:
        return None
    if not isinstance(hours, dict):
        report.error("hours", "Hours must be an object with days mon..sun (null = open 24/7).")
        return None
    for key in hours:
        if key not in DAYS:
            report.error(f"hours.{key}", f"Unknown day {key!r}: use "
                                         f"{', '.join(DAYS[:-1])} or {DAYS[-1]}.")
    items = [(d, path, rng) for d, day in enumerate(DAYS) if day in hours
             for path, rng in _ranges(report, f"hours.{day}", hours[day])]
    _check_overlaps(report, items, WEEK)
    clean = {day: [schedule.format_range(r) for r in sorted(rng for d, _, rng in items
                                                           if DAYS[d] == day)]
             for day in DAYS}
    if report.ok and not any(clean.values()):
        report.warn("hours", "No open hours in the week: the buyer takes no calls "
                             "(except on closure dates with hours).")
    return clean


def _closure_date(report: Report, path: str, value, seen: dict, today) -> date | None:
    if not isinstance(value, str) or not DATE_RE.match(value.strip()):
        report.error(path, "Date must be written YYYY-MM-DD, e.g. 2026-12-25.")
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        report.error(path, f"{value.strip()} is not a date on the calendar.")
        return None
    if day in seen:
        report.error(path, f"{day} already has a closure ({seen[day]}).")
        return None
    seen[day] = path.rpartition(".")[0]
    if today is not None and day < today:
        report.warn(path, f"{day} is in the past: this closure no longer changes anything.")
    return day


def check_closures(report: Report, closures, today: date | None = None
                   ) -> list[tuple[date, list[tuple[str, Range]]]]:
    """Parsed closures ``(date, [(path, range)])``; ``today`` (buyer-local) enables the
    past-date warning."""
    if closures is None:
        return []
    if not isinstance(closures, list):
        report.error("closures", "Closures must be a list of {\"date\": ..., \"hours\": [...]}.")
        return []
    if len(closures) > MAX_CLOSURES:
        report.error("closures", f"At most {MAX_CLOSURES} closures (there are {len(closures)}).")
        return []
    out, seen = [], {}
    for i, item in enumerate(closures):
        path = f"closures[{i}]"
        if not isinstance(item, dict):
            report.error(path, "A closure must be {\"date\": \"YYYY-MM-DD\", \"hours\": [...]}.")
            continue
        for key in item:
            if key not in ("date", "hours"):
                report.error(f"{path}.{key}", f"Unknown field {key!r}: a closure has "
                                              "'date' and 'hours' ([] = closed all day).")
        day = _closure_date(report, f"{path}.date", item.get("date"), seen, today)
        ranges = _ranges(report, f"{path}.hours", item.get("hours", []))
        _check_overlaps(report, [(0, p, r) for p, r in ranges], 0)
        if day is not None:
            out.append((day, ranges))
    return out


def _warn_spills(report: Report, sched: schedule.Schedule, closures) -> None:
    """Warn where a closure's ranges meet the overnight range of the day before, or run
    overnight into the next day's ranges (harmless: the hours are the union)."""
    for day, ranges in closures:
        before = [r for r in sched.ranges_on(day - timedelta(days=1)) if schedule.overnight(r)]
        after = sched.ranges_on(day + timedelta(days=1))
        for path, rng in ranges:
            mine = _span(0, rng)
            for prev in before:
                if _overlap(mine, (0, prev[1])):
                    report.warn(path, f"The day before's overnight range "
                                      f"{schedule.format_range(prev)} still runs into {day} "
                                      "and overlaps this one.")
            if schedule.overnight(rng):
                for nxt in after:
                    if _overlap((0, rng[1]), _span(0, nxt)):
                        report.warn(path, f"Runs overnight into {day + timedelta(days=1)} and "
                                          f"overlaps its {schedule.format_range(nxt)}.")


def check_schedule(rec: dict, today: date | None = None) -> tuple[Report, dict]:
    """Check ``time_zone``, ``hours`` and ``closures`` of a buyer record; the report and the
    clean ``{"time_zone": str, "hours": dict | None, "closures": [{"date", "hours"}]}``
    (closures sorted by date). Pass ``today`` as the buyer's local date
    (``capwindows.local_date(zone, now)``) to get past-date warnings."""
    report = Report()
    zone = check_time_zone(report, rec.get("time_zone"))
    hours = check_hours(report, rec.get("hours"))
    parsed = check_closures(report, rec.get("closures"), today)
    closures = [{"date": day.isoformat(),
                 "hours": [schedule.format_range(r) for r in sorted(r for _, r in ranges)]}
                for day, ranges in sorted(parsed, key=lambda item: item[0])]
    if report.ok:
        _warn_spills(report, schedule.build(zone, hours, closures), parsed)
    return report, {"time_zone": zone, "hours": hours, "closures": closures}
