"""The two "why" columns of a report: the top reasons buyers were passed over on no-buyer calls,
and the SIP failure codes its attempts got most.

A skip reason is counted once per no-buyer call and kind (paused, closed, a cap reached,
unreachable, not dialled), whatever number of buyers were passed over for it. A SIP code
counts every attempt that ended with it (300 and above: 200 is an answer).
"""
from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import func, select

from sipflask.callflow.caps import refusal_kind
from sipflask.core.callstory import NOT_DIALLED
from sipflask.extensions import db
from sipflask.models import Attempt, Call
from sipflask.reports import facts, ranges
from sipflask.reports.rows import Row

TOP = 3
KIND_LABELS = {"paused": "paused", "hours": "closed (opening hours)", "cap": "cap reached",
               "unreachable": "unreachable", "not dialled": "could not be dialled",
               "no buyers": "no buyer on the campaign", "other": "other"}
_NO_BUYER_PREFIX = "no buyer available"
_CHUNK = 500


def reason_kind(reason: str) -> str:
    """The kind of one skip reason as routing words it."""
    if str(reason).startswith(NOT_DIALLED):
        return "not dialled"
    return refusal_kind(str(reason))


def kinds_of(reason: str, skipped_lists) -> set[str]:
    """The kinds of the skips of one no-buyer call: from its attempts' skip lists, else (no
    attempt) from its stored reason, ``no buyer available: <buyer>: <reason>; ...``."""
    found = {reason_kind(s.get("reason", "")) for skipped in skipped_lists
             for s in skipped or () if s.get("reason") != "already tried"}
    if found or skipped_lists:
        return found or {"other"}
    text = (reason or "").strip()
    if text == _NO_BUYER_PREFIX or not text.startswith(_NO_BUYER_PREFIX + ": "):
        return {"no buyers"}
    parts = text[len(_NO_BUYER_PREFIX) + 2:].split("; ")
    return {reason_kind(p.split(": ", 1)[-1]) for p in parts}


def lookup(group: str, rows: list[Row]):
    """raw group value (as SQL gives it) -> the report's row."""
    if group in ("campaign", "publisher", "buyer", "number"):
        by = {r.ident: r for r in rows}
        return lambda raw: by.get(raw)
    by_key = {r.key: r for r in rows}
    if group == "day":
        return lambda raw: by_key.get(ranges.local_day(int(raw)).isoformat())
    if group == "hour":
        return lambda raw: by_key.get(f"{int(raw):02d}")
    return lambda raw: by_key.get(raw or "")


def _top(counter: Counter) -> list:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]


def sip_codes(group: str, start, end, segments, find, totals: Row, rows: list[Row]) -> None:
    key = Attempt.buyer_id if group == "buyer" else facts.call_group_key(group, segments)
    src = (select(key.label("k"), Attempt.sip_code.label("code"))
           .select_from(Attempt).join(Call, Call.id == Attempt.call_id)
           .where(Attempt.sip_code >= 300, *facts.in_range(start, end)).subquery())
    per_row: dict[int, Counter] = defaultdict(Counter)
    whole: Counter = Counter()
    for k, code, n in db.session.execute(
            select(src.c.k, src.c.code, func.count()).group_by(src.c.k, src.c.code)):
        row = find(k)
        if row is not None:
            per_row[id(row)][int(code)] += n
        whole[int(code)] += n
    for row in rows:
        row.sip_codes = _top(per_row.get(id(row), Counter()))
    totals.sip_codes = _top(whole)


def skip_reasons(group: str, start, end, segments, find, totals: Row, rows: list[Row]) -> None:
    if group == "buyer":
        return  # a buyer's calls were all routed: none of them is a no-buyer call
    src = facts.call_source(start, end, facts.call_group_key(group, segments), with_id=True)
    calls = db.session.execute(select(src.c.k, src.c.id, src.c.reason)
                               .where(src.c.status == "no-buyer", src.c.routed == 0)).all()
    skipped: dict[int, list] = defaultdict(list)
    ids = [c.id for c in calls]
    for i in range(0, len(ids), _CHUNK):
        for call_id, lst in db.session.execute(
                select(Attempt.call_id, Attempt.skipped)
                .where(Attempt.call_id.in_(ids[i:i + _CHUNK]))):
            skipped[call_id].append(lst)
    per_row: dict[int, Counter] = defaultdict(Counter)
    whole: Counter = Counter()
    for k, call_id, reason in calls:
        kinds = {KIND_LABELS[x] for x in kinds_of(reason, skipped.get(call_id, []))}
        row = find(k)
        if row is not None:
            per_row[id(row)].update(kinds)
        whole.update(kinds)
    for row in rows:
        row.skip_reasons = _top(per_row.get(id(row), Counter()))
    totals.skip_reasons = _top(whole)


def add_details(group: str, rows: list[Row], totals: Row, start, end, segments) -> None:
    find = lookup(group, rows)
    sip_codes(group, start, end, segments, find, totals, rows)
    skip_reasons(group, start, end, segments, find, totals, rows)
