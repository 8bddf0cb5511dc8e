"""Buyer health: calls offered and answered and the last SIP code per buyer over the last
24 hours, computed by the database in one statement; and :func:`explain`, the database's plan
for a statement (for the tests and bench/buyer_health.py that keep that statement on its index).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from sipflask.core.sipcodes import ANSWERED_DIAL_STATUSES, SipExplanation, explain_sip
from sipflask.extensions import db
from sipflask.models import Attempt, utcnow

HEALTH_WINDOW = timedelta(hours=24)


@dataclass
class Health:
    buyer_id: int
    offered: int = 0        # attempts (calls sent to the buyer) in the window
    answered: int = 0       # of which answered
    pending: int = 0        # of which still ringing (no DialCallStatus yet)
    last_sip_code: int | None = None
    last_sip_at: datetime | None = None
    since: datetime | None = None

    @property
    def finished(self) -> int:
        return self.offered - self.pending

    @property
    def answer_rate(self) -> float | None:
        """Answered share of the attempts that have ended (None when none has)."""
        return self.answered / self.finished if self.finished else None

    @property
    def sip(self) -> SipExplanation | None:
        return explain_sip(self.last_sip_code)


def health_statements(since: datetime, buyer_ids: list[int] | None = None):
    """The aggregate: one GROUP BY over ``attempts`` (index ``(buyer_id, started_at)``), joined
    back on that same index to read the SIP code of each buyer's latest coded attempt."""
    a = Attempt.__table__
    conds = [a.c.started_at >= since]
    if buyer_ids is not None:
        conds.append(a.c.buyer_id.in_(buyer_ids))
    else:
        conds.append(a.c.buyer_id.is_not(None))
    agg = (select(a.c.buyer_id.label("buyer_id"),
                  func.count().label("offered"),
                  func.sum(case((a.c.dial_status.in_(ANSWERED_DIAL_STATUSES), 1),
                                else_=0)).label("answered"),
                  func.sum(case((a.c.dial_status.is_(None), 1), else_=0)).label("pending"),
                  func.max(case((a.c.sip_code.is_not(None), a.c.started_at))).label("last_at"))
           .where(*conds).group_by(a.c.buyer_id).subquery("h"))
    last = a.alias("last")
    return (select(agg.c.buyer_id, agg.c.offered, agg.c.answered, agg.c.pending,
                   last.c.sip_code, last.c.started_at, last.c.ended_at)
            .select_from(agg.outerjoin(last, and_(last.c.buyer_id == agg.c.buyer_id,
                                                  last.c.started_at == agg.c.last_at,
                                                  last.c.sip_code.is_not(None))))
            .order_by(agg.c.buyer_id, last.c.id.desc()))


def buyer_health(buyer_ids: Iterable[int] | None = None, since: datetime | None = None,
                 ) -> dict[int, Health]:
    """Calls offered, answered and the last SIP code per buyer since ``since`` (default 24 h).

    Computed by the database in one statement. With ``buyer_ids`` every id asked for is in the
    result (zeros when the buyer had no calls); without, only buyers that had calls.
    """
    since = since or utcnow() - HEALTH_WINDOW
    ids = None if buyer_ids is None else sorted({int(i) for i in buyer_ids})
    result: dict[int, Health] = {}
    if ids is not None:
        if not ids:
            return result
        result = {i: Health(i, since=since) for i in ids}
    for row in db.session.execute(health_statements(since, ids)):
        if row.buyer_id in result and result[row.buyer_id].offered:
            continue  # a tie on the latest started_at: the first (highest id) row won
        result[row.buyer_id] = Health(
            row.buyer_id, offered=int(row.offered), answered=int(row.answered or 0),
            pending=int(row.pending or 0), last_sip_code=row.sip_code,
            last_sip_at=(row.ended_at or row.started_at) if row.sip_code is not None else None,
            since=since)
    return result


# --- query plans -----------------------------------------------------------------------------

class _Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement, analyze: bool = False):
        self.statement, self.analyze = statement, analyze


@compiles(_Explain)
def _compile_explain(element, compiler, **kw):
    inner = compiler.process(element.statement, **kw)
    if compiler.dialect.name == "sqlite":
        return "EXPLAIN QUERY PLAN " + inner
    return ("EXPLAIN (ANALYZE, BUFFERS) " if element.analyze else "EXPLAIN ") + inner


def explain(statement, analyze: bool = False) -> str:
    """The database's plan for ``statement`` (bound values go through the column types)."""
    rows = db.session.execute(_Explain(statement, analyze)).all()
    if db.engine.dialect.name == "sqlite":
        return "\n".join(f"{r[0]}|{r[1]}| {r[-1]}" for r in rows)
    return "\n".join(r[0] for r in rows)
