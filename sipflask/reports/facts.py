"""The SQL a report is made of: each call's facts (routed, connected, talk time) from its
attempts, the group key of each grouping, and the sums over a group.

One definition for every report, page and export (docs/reports.md "Definitions"):

- an attempt was *dialled* unless sipflask could not build its number (such an attempt is
  stored, failed, with no TwiML and no SIP code, and its buyer passed over "not dialled");
- it was *answered* when its dial status is one of ``store.ANSWERED``;
- a call is *routed* when one of its attempts was dialled, *connected* when one was answered,
  *no buyer* when it ended "no-buyer" without any attempt dialled;
- its talk time is the sum of its answered attempts' durations;
- it *converted* when a postback marked it and it connected; its revenue counts only then.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, Integer, and_, case, cast, func, literal_column, or_,
                        select)

from sipflask.callflow.store import ANSWERED
from sipflask.extensions import db
from sipflask.models import Attempt, Call

A = Attempt


def dialect() -> str:
    return db.session.get_bind().dialect.name


def epoch_seconds(column):
    """Whole seconds since 1970 of a stored (UTC) instant."""
    if dialect() == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def offset_expr(column, segments: list[tuple[datetime, int]]):
    """The account zone's UTC offset (seconds) at the stored instant ``column``."""
    if len(segments) == 1:
        return literal_column(str(int(segments[0][1])))
    whens = [(column < seg_end, literal_column(str(int(off)))) for seg_end, off in segments[:-1]]
    return case(*whens, else_=literal_column(str(int(segments[-1][1]))))


def local_seconds(column, segments):
    """Seconds since 1970 on the account's wall clock at ``column``."""
    return epoch_seconds(column) + offset_expr(column, segments)


def in_range(start: datetime, end: datetime) -> list:
    return [Call.created_at >= start, Call.created_at < end]


def attempt_dialled():
    return or_(A.twiml.is_not(None), A.sip_code.is_not(None),
               func.coalesce(A.dial_status, "") != "failed")


def attempt_answered():
    return A.dial_status.in_(ANSWERED)


def flag(condition):
    return case((condition, 1), else_=0)


def call_facts(start: datetime, end: datetime):
    """Per call in the range: routed, connected (0/1) and talk seconds, from its attempts."""
    answered = attempt_answered()
    return (select(A.call_id.label("call_id"),
                   func.max(flag(attempt_dialled())).label("routed"),
                   func.max(flag(answered)).label("connected"),
                   func.sum(case((answered, func.coalesce(A.duration, 0)), else_=0))
                   .label("talk"))
            .where(A.call_id.in_(select(Call.id).where(*in_range(start, end))))
            .group_by(A.call_id).subquery("facts"))


def cents(amount):
    """Revenue in whole cents: SQLite keeps Numeric as a float, so sums are done on integers."""
    return cast(func.round(amount * 100, 0), BigInteger)


def metric_columns(src):
    """The sums of a group over ``src``, one row per call (per buyer and call for buyers) with
    its caller, status, converted, revenue, routed and connected (0/1) and talk seconds."""
    converted = and_(src.c.connected == 1, src.c.converted.is_(True))
    return [
        func.count().label("calls"),
        func.count(src.c.caller.distinct()).label("unique_callers"),
        func.sum(src.c.routed).label("routed"),
        func.sum(src.c.connected).label("connected"),
        func.sum(flag(and_(src.c.status == "no-buyer", src.c.routed == 0))).label("no_buyer"),
        func.sum(flag(converted)).label("converted"),
        func.sum(case((converted, cents(func.coalesce(src.c.revenue, 0))), else_=0))
        .label("cents"),
        func.sum(src.c.talk).label("talk_seconds"),
    ]


def call_source(start: datetime, end: datetime, key=None, *, with_id: bool = False,
                extra=()):
    """Every call of the range with its facts (and its group ``key``), as a subquery."""
    facts = call_facts(start, end)
    cols = [Call.caller.label("caller"), Call.status.label("status"),
            Call.converted.label("converted"), Call.revenue.label("revenue"),
            func.coalesce(facts.c.routed, 0).label("routed"),
            func.coalesce(facts.c.connected, 0).label("connected"),
            func.coalesce(facts.c.talk, 0).label("talk")]
    if key is not None:
        cols.insert(0, key.label("k"))
    if with_id:
        cols += [Call.id.label("id"), Call.reason.label("reason")]
    cols += list(extra)
    return (select(*cols).select_from(Call).outerjoin(facts, facts.c.call_id == Call.id)
            .where(*in_range(start, end)).subquery("src"))


def buyer_source(start: datetime, end: datetime):
    """One row per buyer and call it was dialled on in the range: that buyer's answer only."""
    answered = attempt_answered()
    per = (select(A.buyer_id.label("buyer_id"), A.call_id.label("call_id"),
                  func.max(flag(answered)).label("connected"),
                  func.sum(case((answered, func.coalesce(A.duration, 0)), else_=0))
                  .label("talk"))
           .where(attempt_dialled(),
                  A.call_id.in_(select(Call.id).where(*in_range(start, end))))
           .group_by(A.buyer_id, A.call_id).subquery("per"))
    return (select(per.c.buyer_id.label("k"), Call.caller.label("caller"),
                   Call.status.label("status"), Call.converted.label("converted"),
                   Call.revenue.label("revenue"), literal_column("1").label("routed"),
                   per.c.connected.label("connected"), per.c.talk.label("talk"))
            .select_from(per).join(Call, Call.id == per.c.call_id).subquery("src"))


def call_group_key(group: str, segments):
    """The SQL expression a call-based grouping groups on (None: the call has no value)."""
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
