"""The two "why" columns of a report: the top reasons buyers were passed over on no-buyer calls,
and the SIP failure codes its attempts got most.

A skip reason is counted once per no-buyer call and kind (paused, closed, a cap reached,
unreachable, could not be dialled, no buyer on the campaign), whatever number of buyers were
passed over for it. A SIP code counts every attempt that ended with it (300 and above: 200 is an
answer). Both are kept on the call (``fail_codes``, ``skip_kinds``: ``callflow/store.py``) and
read through the partial index ``ix_calls_report_why`` (by buyer: ``ix_attempts_report``).
"""
from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import and_, func, literal_column, or_, select

from sipflask.extensions import db
from sipflask.models import Attempt, Call
from sipflask.reports import facts, ranges
from sipflask.reports.rows import Row

TOP = 3
KIND_LABELS = {"paused": "paused", "hours": "closed (opening hours)", "cap": "cap reached",
               "unreachable": "unreachable", "not_dialled": "could not be dialled",
               "no_buyers": "no buyer on the campaign", "other": "other"}


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


def parse_codes(text: str | None) -> Counter:
    """``"480:1 486:2"`` -> {480: 1, 486: 2}."""
    out: Counter = Counter()
    for part in (text or "").split():
        code, _, n = part.partition(":")
        if code.isdigit() and n.isdigit():
            out[int(code)] += int(n)
    return out


def _top(counter: Counter) -> list:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]


class _Tally:
    def __init__(self):
        self.codes: dict = defaultdict(Counter)
        self.skips: dict = defaultdict(Counter)

    def settle(self, rows: list[Row], totals: Row) -> None:
        whole_codes, whole_skips = Counter(), Counter()
        for c in self.codes.values():
            whole_codes.update(c)
        for c in self.skips.values():
            whole_skips.update(c)
        for row in rows:
            row.sip_codes = _top(self.codes.get(id(row), Counter()))
            row.skip_reasons = _top(self.skips.get(id(row), Counter()))
        totals.sip_codes, totals.skip_reasons = _top(whole_codes), _top(whole_skips)


def _by_buyer(start, end, find, tally: _Tally) -> None:
    stmt = (select(Attempt.buyer_id, Attempt.sip_code, func.count())
            .where(*facts.in_range(start, end, Attempt.call_created_at),
                   # as the partial index ix_attempts_report_why says it
                   Attempt.sip_code >= literal_column("300"))
            .group_by(Attempt.buyer_id, Attempt.sip_code))
    for buyer_id, code, n in db.session.execute(stmt):
        row = find(buyer_id)
        tally.codes[id(row) if row is not None else None][int(code)] += n


def _by_call(group, start, end, segments, find, tally: _Tally) -> None:
    no_buyer = and_(Call.status == "no-buyer", Call.routed.is_(False))
    src = (select(facts.call_group_key(group, segments).label("k"),
                  Call.fail_codes.label("codes"), Call.skip_kinds.label("kinds"),
                  facts.flag(no_buyer).label("nb"))
           .where(*facts.in_range(start, end),
                  # as the partial index says it, so that the index is used
                  or_(Call.fail_codes.is_not(None), Call.skip_kinds.is_not(None)))
           .subquery())
    stmt = (select(src.c.k, src.c.codes, src.c.kinds, src.c.nb, func.count())
            .group_by(src.c.k, src.c.codes, src.c.kinds, src.c.nb))
    for k, codes, kinds, nb, n in db.session.execute(stmt):
        row = find(k)
        slot = id(row) if row is not None else None
        for code, count in parse_codes(codes).items():
            tally.codes[slot][code] += count * n
        if nb and kinds:
            for kind in set(kinds.split()):
                tally.skips[slot][KIND_LABELS.get(kind, kind)] += n


def add_details(group: str, rows: list[Row], totals: Row, start, end, segments) -> None:
    find, tally = lookup(group, rows), _Tally()
    if group == "buyer":
        _by_buyer(start, end, find, tally)  # a buyer's calls were routed: none is no-buyer
    else:
        _by_call(group, start, end, segments, find, tally)
    tally.settle(rows, totals)
