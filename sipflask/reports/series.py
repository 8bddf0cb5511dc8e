"""The charts' series: calls per local hour or day stacked by outcome, revenue per local day.

Outcomes split the calls (docs/reports.md): *connected* (a buyer answered), *not answered*
(routed, nobody answered), *no buyer* (nobody could be dialled), *rejected* (refused, or an
unknown number). Every bucket of the range is listed, empty ones with zeros. Hour buckets are
real hours: the night clocks go back has two "01:00" buckets, told apart by their zone label
(``2026-11-01 01:00 EDT``, ``2026-11-01 01:00 EST``).
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, select

from sipflask.account.clock import MINUTES, day_range, format_local
from sipflask.account.settings import account_zone
from sipflask.extensions import db
from sipflask.models import Call
from sipflask.reports import facts, ranges
from sipflask.reports.rows import ReportError

OUTCOMES = ("connected", "not_answered", "no_buyer", "rejected")
BUCKETS = ("hour", "day")


def _window(date_from: date, date_to: date):
    problem = ranges.check_range(date_from, date_to)
    if problem:
        raise ReportError(problem[1], problem[0])
    facts.tune()
    tz = account_zone()
    start, end = day_range(date_from, date_to, tz)
    return tz, start, end, ranges.offset_segments(tz, start, end)


def _sums(src):
    routed, connected = src.c.routed.is_(True), src.c.connected.is_(True)
    converted = and_(connected, src.c.converted.is_(True))
    return [func.count().filter(connected).label("connected"),
            func.count().filter(and_(routed, src.c.connected.is_(False))).label("not_answered"),
            func.count().filter(and_(src.c.status == "no-buyer", src.c.routed.is_(False)))
            .label("no_buyer"),
            func.count().filter(src.c.status == "rejected").label("rejected"),
            func.sum(case((converted, facts.cents(func.coalesce(src.c.revenue, 0))),
                          else_=0)).label("cents")]


def _by_day(date_from: date, date_to: date) -> tuple[list[str], dict]:
    _tz, start, end, segments = _window(date_from, date_to)
    key = facts.local_seconds(Call.created_at, segments) // 86400
    src = facts.call_source(start, end, key)
    found = {ranges.local_day(int(r.k)): r for r in db.session.execute(
        select(src.c.k, *_sums(src)).group_by(src.c.k))}
    days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    return [d.isoformat() for d in days], {d.isoformat(): found.get(d) for d in days}


def _hours(segments, start) -> list[tuple[int, int]]:
    """Every (local hour number, offset) bucket of the range, in order."""
    out, seg_start = [], start
    for seg_end, offset in segments:
        first = (int(seg_start.timestamp()) + offset) // 3600
        last = (int(seg_end.timestamp()) + offset - 1) // 3600
        out += [(n, offset) for n in range(first, last + 1)]
        seg_start = seg_end
    return out


def _by_hour(date_from: date, date_to: date) -> tuple[list[str], dict]:
    tz, start, end, segments = _window(date_from, date_to)
    offset = facts.offset_expr(Call.created_at, segments)
    hour = (facts.epoch_seconds(Call.created_at) + offset) // 3600
    src = facts.call_source(start, end, hour, extra=[offset.label("off")])
    found = {(int(r.k), int(r.off)): r for r in db.session.execute(
        select(src.c.k, src.c.off, *_sums(src)).group_by(src.c.k, src.c.off))}
    labels, values = [], {}
    for n, off in _hours(segments, start):
        label = format_local(ranges.hour_start(n, off), tz, MINUTES)
        labels.append(label)
        values[label] = found.get((n, off))
    return labels, values


def outcome_series(date_from: date, date_to: date, bucket: str) -> dict:
    """``{"buckets": [labels], "connected": [...], "not_answered": [...], "no_buyer": [...],
    "rejected": [...]}`` per local hour or day of the range."""
    if bucket not in BUCKETS:
        raise ReportError("Bucket by hour or day.", "bucket")
    with facts.timeouts_reported():
        labels, values = (_by_hour if bucket == "hour" else _by_day)(date_from, date_to)
    out: dict = {"buckets": labels}
    for name in OUTCOMES:
        out[name] = [int(getattr(values[b], name) or 0) if values[b] is not None else 0
                     for b in labels]
    return out


def revenue_series(date_from: date, date_to: date) -> dict:
    """``{"buckets": [local dates], "revenue": ["12.50", ...]}``: converted connected calls."""
    with facts.timeouts_reported():
        labels, values = _by_day(date_from, date_to)
    revenue = []
    for b in labels:
        cents = int(values[b].cents or 0) if values[b] is not None else 0
        revenue.append(f"{Decimal(cents) / 100:.2f}")
    return {"buckets": labels, "revenue": revenue}
