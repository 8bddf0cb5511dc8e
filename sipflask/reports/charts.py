"""The figures behind the report charts, as the small JSON documents ``static/reports.js`` draws:
calls per hour or day stacked by outcome, connect rate per buyer, revenue per day.

The table on the same page holds the same figures as text (grouped by day, hour or buyer), so
the charts add a picture, never a number only they show.
"""
from __future__ import annotations

from datetime import date
from typing import Mapping

from sipflask.reports import query, series
from sipflask.reports.query import ReportError

CHARTS = ("outcomes", "connect_rate", "revenue")
BUCKETS = ("hour", "day")
# Ranges up to this many days are drawn per hour by default (today, yesterday, two days).
HOURLY_DEFAULT_DAYS = 2
# Hourly buckets beyond this would be too thin to read (and a long list to send).
MAX_HOURLY_DAYS = 7
# Buyers shown by the connect-rate chart: the most dialled ones.
MAX_BUYERS = 25


def default_bucket(date_from: date, date_to: date) -> str:
    return "hour" if (date_to - date_from).days + 1 <= HOURLY_DEFAULT_DAYS else "day"


def read(args: Mapping[str, str]) -> tuple[str, date, date, str]:
    """(chart, first date, last date, bucket) from ``chart``, ``from``, ``to``, ``bucket``;
    raises :class:`ReportError` naming the bad argument."""
    chart = (args.get("chart") or "").strip()
    if chart not in CHARTS:
        raise ReportError("Choose a chart: " + ", ".join(CHARTS) + ".", "chart")
    _group, date_from, date_to = query.parse_args(
        {"from": args.get("from") or "", "to": args.get("to") or ""})
    bucket = (args.get("bucket") or "").strip() or default_bucket(date_from, date_to)
    if bucket not in BUCKETS:
        raise ReportError("Bucket by hour or day.", "bucket")
    if bucket == "hour" and (date_to - date_from).days + 1 > MAX_HOURLY_DAYS:
        raise ReportError(f"Hourly buckets cover at most {MAX_HOURLY_DAYS} days; "
                          "choose day.", "bucket")
    return chart, date_from, date_to, bucket


def chart_json(chart: str, date_from: date, date_to: date, bucket: str, time_zone: str) -> dict:
    head = {"chart": chart, "from": date_from.isoformat(), "to": date_to.isoformat(),
            "time_zone": time_zone}
    if chart == "outcomes":
        return {**head, "bucket": bucket, **series.outcome_series(date_from, date_to, bucket)}
    if chart == "revenue":
        return {**head, "bucket": "day", **series.revenue_series(date_from, date_to)}
    return {**head, **connect_rates(date_from, date_to)}


def connect_rates(date_from: date, date_to: date) -> dict:
    """Each dialled buyer's connect rate (answered / dialled calls), most dialled first."""
    rows = query.build_report("buyer", date_from, date_to).rows
    rows = sorted(rows, key=lambda r: (-r.routed, r.label.casefold()))[:MAX_BUYERS]
    return {"labels": [r.label for r in rows], "keys": [r.key for r in rows],
            "routed": [r.routed for r in rows], "connected": [r.connected for r in rows],
            "connect_rate": [round(r.connect_rate, 4) for r in rows]}
