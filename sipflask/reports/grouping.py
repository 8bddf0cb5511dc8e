"""A report's rows: the grouped sums (``reports/facts.py``), each group's key and label, the
days and hours with no calls filled in, and the totals.

Every grouping but ``buyer`` splits the range's calls into groups (a call without a value has
the group ``""``, shown as "(none)"), so its totals are the range's calls. A call can reach
several buyers, so ``buyer`` counts a call once per buyer dialled, and its totals count each
routed call once. A buyer's calls and callers come from its placed attempts; what it answered
(connected, converted, revenue, talk time) from the calls it answered (``answered_buyer_id``:
routing stops at the first answer, so a call has at most one).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, select

from sipflask.extensions import db
from sipflask.models import Buyer, Call, Campaign, Number, Publisher
from sipflask.reports import facts, ranges
from sipflask.reports.rows import Row

RECORDS = {"campaign": (Campaign, "No campaign"), "publisher": (Publisher, "No publisher"),
           "buyer": (Buyer, "Deleted buyer"), "number": (Number, "Unknown number")}
NONE_LABEL = "(none)"
_FIGURES = ("calls", "unique_callers", "routed", "connected", "no_buyer", "converted",
            "talk_seconds")


def figures(row: Row, values, extra_callers: int = 0) -> Row:
    """Add a result row of ``facts.metric_columns`` (or a dict) to ``row``."""
    m = values if isinstance(values, dict) else values._mapping
    for name in _FIGURES:
        setattr(row, name, getattr(row, name) + int(m.get(name) or 0))
    row.unique_callers += extra_callers
    cents = Decimal(int(m.get("cents") or 0)) / 100
    row.revenue = (row.revenue + cents).quantize(Decimal("0.01"))
    return row


def record_names(group: str, ids) -> dict:
    model, _ = RECORDS[group]
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


def _keyed(group: str, found: dict, callers: dict, date_from, date_to) -> list[Row]:
    """Rows with keys and labels, from {group value: figures}; days and hours complete."""
    def row(key, label, raw, ident=None):
        out = Row(key, label, ident=ident)
        if raw in found:
            figures(out, found[raw], len(callers.get(raw, ())))
        return out

    if group == "day":
        by_day = {ranges.local_day(int(k)): k for k in found if k is not None}
        days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
        return [row(d.isoformat(), d.isoformat(), by_day.get(d)) for d in days]
    if group == "hour":
        by_hour = {int(k): k for k in found if k is not None}
        return [row(f"{h:02d}", f"{h:02d}:00", by_hour.get(h)) for h in range(24)]
    if group in RECORDS:
        names = record_names(group, found)
        rows = [row(*names.get(i, ("", RECORDS[group][1])), i, ident=i) for i in found]
        return sorted(rows, key=lambda r: (-r.calls, r.label.lower(), r.key))
    rows = [row(k or "", k or NONE_LABEL, k) for k in found]
    return sorted(rows, key=lambda r: (-r.calls, r.key == "", r.key))


def _by_value(pairs) -> dict:
    out: dict = defaultdict(set)
    for value, caller in pairs:
        out[value].add(caller)
    return out


def call_rows(group: str, start: datetime, end: datetime, segments, date_from, date_to):
    key = facts.call_group_key(group, segments)
    src = facts.call_source(start, end, key)
    found, totals = facts.grouped_with_totals(src, facts.metric_columns(src))
    pairs = facts.text_callers(start, end, key)
    rows = _keyed(group, found, _by_value(pairs), date_from, date_to)
    total = figures(Row("", "Total"), totals, len({caller for _k, caller in pairs}))
    return rows, total


def _known_buyers(ids) -> dict:
    """{stored buyer id: the id, or None for a buyer deleted since}."""
    names = record_names("buyer", ids)
    return {i: (i if i in names else None) for i in ids}


def _dialled(start: datetime, end: datetime) -> tuple[dict, int | None]:
    """{buyer id or None: calls, callers} and the distinct E.164 callers of them all (None when
    deleted buyers had calls too: then the calls tell)."""
    ids = list(db.session.scalars(select(Buyer.id)))
    src = facts.buyer_source(start, end, ids)
    dialled, whole = facts.grouped_with_totals(src, facts.buyer_columns(src)) if ids else ({}, None)
    gone = facts.buyer_source(start, end, None)
    deleted = db.session.execute(select(*facts.buyer_columns(gone, deleted=True))).one()
    if deleted.calls:
        dialled[None] = deleted
        return dialled, None
    return dialled, int(whole.unique_callers or 0) if whole is not None else 0


def _routed_callers(start: datetime, end: datetime) -> int:
    return int(db.session.scalar(select(func.count(Call.caller_num.distinct())).where(
        *facts.in_range(start, end), Call.routed.is_(True))) or 0)


def buyer_rows(start: datetime, end: datetime) -> tuple[list[Row], Row]:
    dialled, callers_num = _dialled(start, end)
    if callers_num is None:
        callers_num = _routed_callers(start, end)
    converted = and_(Call.connected.is_(True), Call.converted.is_(True))
    # Every routed call once, by the buyer that answered it (None: nobody did).
    answered = db.session.execute(
        select(Call.answered_buyer_id.label("k"), func.count().label("routed"),
               func.count().filter(Call.connected.is_(True)).label("connected"),
               func.count().filter(converted).label("converted"),
               func.sum(case((converted, facts.cents(func.coalesce(Call.revenue, 0))), else_=0))
               .label("cents"), func.sum(Call.talk_seconds).label("talk_seconds"))
        .where(*facts.in_range(start, end), Call.routed.is_(True))
        .group_by(Call.answered_buyer_id)).all()
    pairs = facts.buyer_text_callers(start, end)
    known = _known_buyers(set(dialled) | {r.k for r in answered} | {b for b, _ in pairs})
    found: dict = defaultdict(dict)
    for k, r in dialled.items():  # a deleted buyer's attempts lost their buyer: one None row
        found[known[k]].update(calls=r.calls, routed=r.calls, unique_callers=r.unique_callers)
    totals = Row("", "Total")
    for r in answered:
        figures(totals, {**r._mapping, "calls": r.routed})
        if r.k is not None:
            f = found[known[r.k]]
            for name in ("connected", "converted", "cents", "talk_seconds"):
                f[name] = f.get(name, 0) + int(getattr(r, name) or 0)
    totals.unique_callers = callers_num + len({c for _b, c in pairs})
    callers = _by_value((known[b], caller) for b, caller in pairs)
    return _keyed("buyer", dict(found), callers, None, None), totals


def rows_of(group: str, start: datetime, end: datetime, segments, date_from, date_to
            ) -> tuple[list[Row], Row]:
    facts.tune()
    if group == "buyer":
        return buyer_rows(start, end)
    return call_rows(group, start, end, segments, date_from, date_to)
