"""A report as CSV: every figure of every row (rates and averages too), the totals row last,
cells a spreadsheet shows as text (``calllog.export.csv_safe``)."""
from __future__ import annotations

import csv
import io
import re

from sipflask.calllog.export import csv_safe
from sipflask.reports.rows import Report, Row

CSV_HEADER = ("group", "key", "label", "calls", "unique_callers", "routed", "connected",
              "connect_rate", "no_buyer", "top_skip_reasons", "converted", "conversion_rate",
              "revenue", "talk_seconds", "avg_talk_seconds", "top_sip_codes", "from", "to",
              "time_zone")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def _rate(value: float) -> str:
    return f"{value:.4f}"


def csv_row(report: Report, row: Row, group: str) -> list[str]:
    cells = [group, row.key, row.label, row.calls, row.unique_callers, row.routed, row.connected,
             _rate(row.connect_rate), row.no_buyer,
             "; ".join(f"{reason} ({n})" for reason, n in row.skip_reasons), row.converted,
             _rate(row.conversion_rate), f"{row.revenue:.2f}", row.talk_seconds,
             f"{row.avg_talk_seconds:.1f}",
             "; ".join(f"{code} ({n})" for code, n in row.sip_codes),
             report.date_from.isoformat(), report.date_to.isoformat(), report.time_zone]
    return [csv_safe(c) for c in cells]


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in report.rows:
        writer.writerow(csv_row(report, row, report.group))
    writer.writerow(csv_row(report, report.totals, "total"))
    return out.getvalue()


def filename(report: Report) -> str:
    """``report-campaign-2026-03-01-2026-03-31.csv`` (``tag:lead_score`` -> ``tag-lead_score``)."""
    group = _UNSAFE_NAME.sub("-", report.group)
    return f"report-{group}-{report.date_from.isoformat()}-{report.date_to.isoformat()}.csv"
