"""A report's rows: the grouped sums (``reports/facts.py``), each group's key and label, the
days and hours with no calls filled in, and the totals.

Every grouping but ``buyer`` splits the range's calls into groups (a call without a value has
the group ``""``, shown as "(none)"), so its totals are the range's calls. A call can reach
several buyers, so ``buyer`` counts a call once per buyer dialled, and its totals count each
routed call once.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Buyer, Campaign, Number, Publisher
from sipflask.reports import facts, ranges
from sipflask.reports.rows import Row

_RECORDS = {"campaign": (Campaign, "No campaign"), "publisher": (Publisher, "No publisher"),
            "buyer": (Buyer, "Deleted buyer"), "number": (Number, "Unknown number")}
NONE_LABEL = "(none)"


def figures(row: Row, values) -> Row:
    """Fill ``row`` from a result row of ``facts.metric_columns``."""
    m = values._mapping
    row.calls = int(m["calls"] or 0)
    row.unique_callers = int(m["unique_callers"] or 0)
    row.routed = int(m["routed"] or 0)
    row.connected = int(m["connected"] or 0)
    row.no_buyer = int(m["no_buyer"] or 0)
    row.converted = int(m["converted"] or 0)
    row.revenue = (Decimal(int(m["cents"] or 0)) / 100).quantize(Decimal("0.01"))
    row.talk_seconds = int(m["talk_seconds"] or 0)
    return row


def _record_names(group: str, ids) -> dict:
    model, _ = _RECORDS[group]
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    if model is Number:
        return {n.id: (n.number, n.number)
                for n in db.session.execute(select(Number.id, Number.number)
                                            .where(Number.id.in_(wanted)))}
    return {r.id: (r.ref, r.name)
            for r in db.session.execute(select(model.id, model.ref, model.name)
                                        .where(model.id.in_(wanted)))}


def _keyed(group: str, found: dict, date_from, date_to) -> list[Row]:
    """Rows with keys and labels, from {group value: result row}; days and hours complete."""
    if group in _RECORDS:
        names = _record_names(group, found)
        rows = []
        for ident, values in found.items():
            key, label = names.get(ident, ("", _RECORDS[group][1]))
            rows.append(figures(Row(key, label, ident=ident), values))
        return sorted(rows, key=lambda r: (-r.calls, r.label.lower(), r.key))
    if group == "day":
        days = (date_to - date_from).days + 1
        wanted = [date_from + timedelta(days=i) for i in range(days)]
        by_day = {ranges.local_day(int(k)): v for k, v in found.items() if k is not None}
        return [_filled(d.isoformat(), d.isoformat(), by_day.get(d)) for d in wanted]
    if group == "hour":
        by_hour = {int(k): v for k, v in found.items() if k is not None}
        return [_filled(f"{h:02d}", f"{h:02d}:00", by_hour.get(h)) for h in range(24)]
    rows = [figures(Row(k or "", k or NONE_LABEL), v) for k, v in found.items()]
    return sorted(rows, key=lambda r: (-r.calls, r.key == "", r.key))


def _filled(key: str, label: str, values) -> Row:
    row = Row(key, label)
    return figures(row, values) if values is not None else row


def rows_of(group: str, start: datetime, end: datetime, segments, date_from, date_to
            ) -> tuple[list[Row], Row]:
    if group == "buyer":
        src = facts.buyer_source(start, end)
    else:
        src = facts.call_source(start, end, facts.call_group_key(group, segments))
    found = {r.k: r for r in db.session.execute(
        select(src.c.k, *facts.metric_columns(src)).group_by(src.c.k))}
    rows = _keyed(group, found, date_from, date_to)
    whole = facts.call_source(start, end)
    totals_query = select(*facts.metric_columns(whole))
    if group == "buyer":
        totals_query = totals_query.where(whole.c.routed == 1)
    totals = figures(Row("", "Total"), db.session.execute(totals_query).one())
    return rows, totals
