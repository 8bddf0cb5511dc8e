"""The SQL a report is made of: the range's calls (or, by buyer, attempts) with what each counts
for, the group key of each grouping, local days and hours, and the sums over a group.

What a call counts for is kept on its row by ``callflow/store.py`` as its attempts are written
(docs/reports.md "Definitions"): ``routed`` (an attempt was placed: Twilio was asked to dial it),
``connected`` (one was answered), ``answered_buyer_id``, ``talk_seconds`` (the answered
attempts' durations), ``fail_codes``, ``skip_kinds``. A report reads them from
``ix_calls_report`` alone (attempts: ``ix_attempts_report``), never the wide rows, except for
groupings by tag (the tags live in the row).

Distinct callers are counted as integers (``caller_num``, the E.164 digits), which sorts 2-3x
faster than text; callers that are not E.164 have none and are counted by their text apart
(:func:`text_callers`), then added: an E.164 caller and a non-E.164 one are never the same.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import (BigInteger, Integer, and_, case, cast, func, literal_column, select,
                        text, tuple_)
from sqlalchemy.exc import OperationalError

from sipflask.extensions import db
from sipflask.models import Attempt, Call
from sipflask.reports.rows import ReportTimeout

A = Attempt


def dialect() -> str:
    return db.session.get_bind().dialect.name


def tune() -> None:
    """PostgreSQL, this transaction: sorts of a month of calls stay in memory, and no JIT
    compilation (70 ms per query here, for queries that take less)."""
    if dialect() == "postgresql":
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
        db.session.execute(text("SET LOCAL jit = off"))


@contextmanager
def timeouts_reported():
    """A statement the database cancelled for taking too long (PostgreSQL's SQLSTATE 57014,
    ``DB_STATEMENT_TIMEOUT``) becomes :class:`ReportTimeout`; other errors pass."""
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "57014":
            raise
        db.session.rollback()
        raise ReportTimeout() from exc


def epoch_seconds(column):
    """Whole seconds since 1970 of a stored (UTC) instant."""
    if dialect() == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    # date_part is a double (extract's numeric is 2x slower here); a whole second is exact in
    # a double, so floor() never moves an instant across a bucket's edge.
    return cast(func.floor(func.date_part("epoch", column)), BigInteger)


def offset_expr(column, segments: list[tuple[datetime, int]]):
    """The account zone's UTC offset (seconds) at the stored instant ``column``."""
    if len(segments) == 1:
        return literal_column(str(int(segments[0][1])))
    whens = [(column < seg_end, literal_column(str(int(off)))) for seg_end, off in segments[:-1]]
    return case(*whens, else_=literal_column(str(int(segments[-1][1]))))


def local_seconds(column, segments):
    """Seconds since 1970 on the account's wall clock at ``column``."""
    return epoch_seconds(column) + offset_expr(column, segments)


def in_range(start: datetime, end: datetime, column=Call.created_at) -> list:
    return [column >= start, column < end]


def flag(condition):
    return case((condition, 1), else_=0)


def cents(amount):
    """Revenue in whole cents: SQLite keeps Numeric as a float, so sums are done on integers."""
    return cast(func.round(amount * 100, 0), BigInteger)


def call_group_key(group: str, segments):
    """The SQL expression a call-based grouping groups on."""
    if group == "campaign":
        return Call.campaign_id
    if group == "publisher":
        return Call.publisher_id
    if group == "sub_id":
        return func.coalesce(Call.sub_id, "")
    if group == "number":
        return Call.number_id
    if group == "day":
        return local_seconds(Call.created_at, segments) // 86400
    if group == "hour":
        return (local_seconds(Call.created_at, segments) // 3600) % 24
    if group == "state" or group.startswith("tag:"):
        # A tag never set and one set empty are one group, "(none)".
        name = "caller_state" if group == "state" else group[4:]
        return func.coalesce(Call.tags[name].as_string(), "")
    raise ValueError(group)


def call_source(start: datetime, end: datetime, key=None, *, where=(), extra=()):
    """The range's calls (with their group ``key`` as ``k``), as a subquery: grouping on a
    subquery's column keeps PostgreSQL from seeing a key with parameters as two expressions."""
    cols = [Call.caller_num.label("caller_num"), Call.status.label("status"),
            Call.converted.label("converted"), Call.revenue.label("revenue"),
            Call.routed.label("routed"), Call.connected.label("connected"),
            Call.talk_seconds.label("talk")]
    if key is not None:
        cols.insert(0, key.label("k"))
    return (select(*cols, *extra).where(*in_range(start, end), *where).subquery("src"))


def metric_columns(src, *, distinct_calls=None):
    """The sums of a group of ``src`` rows (one per call; by buyer, one per attempt with
    ``distinct_calls`` its call id)."""
    converted = and_(src.c.connected.is_(True), src.c.converted.is_(True))
    calls = func.count() if distinct_calls is None else func.count(distinct_calls.distinct())
    return [
        calls.label("calls"),
        func.count(src.c.caller_num.distinct()).label("unique_callers"),
        func.count().filter(src.c.routed.is_(True)).label("routed"),
        func.count().filter(src.c.connected.is_(True)).label("connected"),
        func.count().filter(and_(src.c.status == "no-buyer", src.c.routed.is_(False)))
        .label("no_buyer"),
        func.count().filter(converted).label("converted"),
        func.sum(case((converted, cents(func.coalesce(src.c.revenue, 0))), else_=0))
        .label("cents"),
        func.sum(src.c.talk).label("talk_seconds"),
    ]


def grouped_with_totals(src, columns):
    """``(rows by k, totals)`` in one pass where the database can (PostgreSQL's GROUPING SETS),
    else two."""
    if dialect() == "postgresql":
        stmt = (select(src.c.k, func.grouping(src.c.k).label("whole"), *columns)
                .group_by(func.grouping_sets(tuple_(src.c.k), tuple_())))
        found, totals = {}, None
        for row in db.session.execute(stmt):
            if row.whole:
                totals = row
            else:
                found[row.k] = row
        return found, totals
    found = {r.k: r for r in db.session.execute(select(src.c.k, *columns).group_by(src.c.k))}
    return found, db.session.execute(select(*columns)).one()


def text_callers(start: datetime, end: datetime, key, *, where=()) -> set[tuple]:
    """Distinct (group value, caller) of the range's calls whose caller is not E.164."""
    src = (select(key.label("k"), Call.caller.label("caller"))
           .where(*in_range(start, end), Call.caller_num.is_(None), *where).subquery())
    return {tuple(r) for r in db.session.execute(select(src.c.k, src.c.caller).distinct())}


def buyer_source(start: datetime, end: datetime, buyer_ids):
    """The range's placed attempts (by their call's start) of ``buyer_ids`` (None: of buyers
    deleted since, whose attempts lost their buyer), one row per attempt. Naming the buyers
    lets PostgreSQL read ``ix_attempts_report`` buyer by buyer, already grouped."""
    who = A.buyer_id.is_(None) if buyer_ids is None else A.buyer_id.in_(buyer_ids)
    return (select(A.buyer_id.label("k"), A.call_id.label("call_id"),
                   A.caller_num.label("caller_num"))
            .where(who, *in_range(start, end, A.call_created_at), A.placed.is_(True))
            .subquery("src"))


def buyer_columns(src, *, deleted: bool = False):
    """A buyer's calls and callers. Routing never dials a buyer twice on one call (it passes
    over the buyers the call has tried), so its calls are its placed attempts; the attempts of
    buyers deleted since share one NULL buyer, and there the calls are counted distinct."""
    calls = func.count(src.c.call_id.distinct()) if deleted else func.count()
    return [calls.label("calls"), func.count(src.c.caller_num.distinct()).label("unique_callers")]


def buyer_text_callers(start: datetime, end: datetime) -> set[tuple]:
    """Distinct (buyer, caller) of the range's placed attempts whose caller is not E.164."""
    stmt = (select(A.buyer_id, Call.caller).join(Call, Call.id == A.call_id)
            .where(*in_range(start, end, A.call_created_at), A.placed.is_(True),
                   A.caller_num.is_(None)).distinct())
    return {tuple(r) for r in db.session.execute(stmt)}
