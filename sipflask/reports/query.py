"""A report: the calls of a range of local dates grouped one way, with the figures of each group
and their totals (docs/reports.md defines every figure).

:func:`parse_args` checks what a page or script asked for (:class:`ReportError` names the bad
argument), :func:`build_report` runs the queries (``reports/facts.py`` for the SQL,
``reports/details.py`` for the top reasons and SIP codes), :func:`report_json` is the
``/reports.json`` contract and :func:`call_log_args` the call log filtered to one group.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Mapping

from sipflask.account.clock import day_range
from sipflask.account.settings import account_zone
from sipflask.core.validation import TAG_KEY_RE
from sipflask.reports import details, facts, grouping, ranges
from sipflask.reports.rows import Report, ReportError, ReportTimeout, Row  # noqa: F401 (API)

GROUPS = ("campaign", "publisher", "sub_id", "buyer", "number", "day", "hour", "state")
GROUP_LABELS = {"campaign": "Campaign", "publisher": "Publisher", "sub_id": "Sub ID",
                "buyer": "Buyer", "number": "Tracking number", "day": "Day",
                "hour": "Hour of day", "state": "Caller state"}
DEFAULT_GROUP = "campaign"
METRICS = ("calls", "routed", "connected", "no_buyer", "converted", "revenue", "talk_seconds")


def check_group(group: str) -> str:
    if group in GROUPS:
        return group
    if group.startswith("tag:"):
        if TAG_KEY_RE.match(group[4:]):
            return group
        raise ReportError("A tag key is 1-64 lowercase letters, digits or _ (tag:caller_zip).",
                          "group")
    raise ReportError("Group by one of " + ", ".join(GROUPS) + " or tag:<key>.", "group")


def _date(args: Mapping[str, str], name: str) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ReportError("Use a date like 2026-01-31.", name) from None


def local_today() -> date:
    return datetime.now(account_zone()).date()


def parse_args(args: Mapping[str, str]) -> tuple[str, date, date]:
    """(group, first date, last date) from query arguments ``group``, ``from``, ``to``;
    defaults: by campaign, the last 7 days. Raises :class:`ReportError`."""
    group = check_group((args.get("group") or DEFAULT_GROUP).strip())
    date_from, date_to = _date(args, "from"), _date(args, "to")
    if date_from is None or date_to is None:
        first, last = ranges.preset_range("last7", local_today())
        if date_from is None and date_to is None:
            date_from, date_to = first, last
        elif date_from is None:
            date_from = min(first, date_to)
        else:
            date_to = max(last, date_from)
    problem = ranges.check_range(date_from, date_to)
    if problem:
        raise ReportError(problem[1], problem[0])
    return group, date_from, date_to


def build_report(group: str, date_from: date, date_to: date) -> Report:
    """The report of local dates ``date_from`` to ``date_to`` (both included, account zone)."""
    group = check_group(group)
    problem = ranges.check_range(date_from, date_to)
    if problem:
        raise ReportError(problem[1], problem[0])
    tz = account_zone()
    start, end = day_range(date_from, date_to, tz)
    segments = ranges.offset_segments(tz, start, end)
    with facts.timeouts_reported():
        rows, totals = grouping.rows_of(group, start, end, segments, date_from, date_to)
        details.add_details(group, rows, totals, start, end, segments)
    return Report(group, date_from, date_to, tz.key, rows, totals)


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def row_json(row: Row) -> dict:
    return {"calls": row.calls, "routed": row.routed, "connected": row.connected,
            "no_buyer": row.no_buyer, "converted": row.converted, "revenue": money(row.revenue),
            "talk_seconds": row.talk_seconds}


def report_json(report: Report) -> dict:
    """The ``/reports.json`` answer (a contract: keep its names and shapes)."""
    return {"group": report.group, "from": report.date_from.isoformat(),
            "to": report.date_to.isoformat(), "time_zone": report.time_zone,
            "rows": [{"key": r.key, "label": r.label, **row_json(r)} for r in report.rows],
            "totals": row_json(report.totals)}


def call_log_args(report: Report, row: Row) -> dict:
    """The ``/calls/`` query arguments that list the calls behind ``row``: the report's dates
    (one day for a ``day`` row) and the group's filter where the call log has one."""
    out = {"date_from": report.date_from.isoformat(), "date_to": report.date_to.isoformat()}
    name = {"campaign": "campaign_id", "publisher": "publisher_id", "buyer": "buyer_id",
            "number": "number_id"}.get(report.group)
    if name and row.ident is not None:
        out[name] = str(row.ident)
    elif report.group == "day" and row.key:
        out["date_from"] = out["date_to"] = row.key
    elif report.group == "sub_id" and row.key:
        out["sub_id"] = row.key
    elif (report.group == "state" or report.group.startswith("tag:")) and row.key:
        out["tag"] = f"{'caller_state' if report.group == 'state' else report.group[4:]}:{row.key}"
    return out
