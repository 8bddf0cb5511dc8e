"""The call log: filters, CSV rows, what SIP codes and dial statuses mean, and buyer health.

Kept free of request handling so the pieces can be tested (and benchmarked) on their own; the
``calls`` blueprint turns request arguments into a :class:`CallFilters` and renders.

Secrets: nothing here reads a SIP password except :func:`secrets_for`, which exists only so pages
can *mask* a password should one ever have been typed into a recorded value (a buyer header, a
URI). CSV rows carry no dialled URIs, header values or call keys at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Iterable, Iterator, Mapping

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.expression import ClauseElement, Executable

from sipflask.core.redact import MIN_MASKED_LENGTH
from sipflask.core.validation import ascii_int
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call, Campaign, Publisher, utcnow

# --- statuses -------------------------------------------------------------------------------

# A call in one of these is still going: its page and the list refresh themselves.
LIVE_STATUSES = ("ringing", "routing", "in-progress")
# Every status callflow.py can set, in the order the filter offers them.
STATUSES = ("ringing", "routing", "in-progress", "completed", "busy", "no-answer", "failed",
            "canceled", "no-buyer", "rejected")
ANSWERED_DIAL_STATUSES = ("completed", "answered")

DIAL_STATUS_MEANINGS = {
    "completed": "answered by the buyer, then hung up",
    "answered": "answered by the buyer",
    "busy": "the buyer was busy",
    "no-answer": "the buyer did not answer within the ring timeout",
    "failed": "the call could not be placed (see the SIP code)",
    "canceled": "the caller hung up before the buyer answered",
    "unknown": "Twilio sent no DialCallStatus",
}


def is_live(status: str | None) -> bool:
    return status in LIVE_STATUSES


def dial_status_meaning(status: str | None) -> str:
    if not status:
        return "still ringing (no result from Twilio yet)"
    return DIAL_STATUS_MEANINGS.get(status, "")


# --- SIP response codes ----------------------------------------------------------------------

@dataclass(frozen=True)
class SipExplanation:
    code: int
    meaning: str
    hint: str  # what to do about it; empty when nothing needs doing


SIP_CODES: dict[int, tuple[str, str]] = {
    200: ("OK: the buyer answered", ""),
    401: ("Unauthorized: the PBX asked for credentials",
          "Set the buyer's SIP Username and SIP Password to what the PBX expects, or ask the buyer "
          "to whitelist Twilio's signalling IPs instead."),
    403: ("Forbidden: the PBX refused our credentials or our IP is not whitelisted",
          "Check the buyer's SIP Username and SIP Password; if the buyer authenticates by IP, ask "
          "them to whitelist all of Twilio's signalling ranges (see the buyer page)."),
    404: ("Not Found: no such user or extension in the URI",
          "Check the user part of the buyer's SIP URI (before the @): the extension, queue or DID "
          "must exist on the PBX, and tokens in it must expand to a real value."),
    407: ("Proxy Authentication Required: a SIP proxy asked for credentials",
          "Set the buyer's SIP Username and SIP Password, or ask the buyer to whitelist Twilio's "
          "signalling IPs on the proxy."),
    408: ("Request Timeout: the buyer's PBX did not answer the INVITE in time",
          "The host is unreachable or drops packets: check the host and port in the URI, the "
          "transport (;transport=tcp/udp) and the buyer's firewall for Twilio's IPs."),
    480: ("Temporarily Unavailable: the user or extension is not reachable now",
          "The extension exists but nobody is registered or logged in (agents offline, queue "
          "closed). Ask the buyer to check their agents, or pause the buyer."),
    484: ("Address Incomplete: the number or user in the URI is incomplete",
          "Check the user part of the URI: a missing digit or a token that expanded to nothing."),
    486: ("Busy Here: the buyer is busy",
          "Nothing is wrong with the setup; lower the buyer's concurrency cap if it happens often."),
    487: ("Request Terminated: the call was cancelled before it was answered",
          "Usually the caller hung up, or the ring timeout ran out; raise the buyer's timeout if "
          "they answer slowly."),
    488: ("Not Acceptable Here: the PBX refused the media (codecs) offered",
          "Ask the buyer to allow PCMU/PCMA (G.711) and Twilio's media range 168.86.128.0/18."),
    500: ("Server Internal Error: the buyer's PBX failed",
          "A problem on the buyer's side: tell the buyer, with the time of the call."),
    502: ("Bad Gateway: a proxy or gateway in front of the buyer failed",
          "A problem on the buyer's side (their carrier or SBC): tell the buyer."),
    503: ("Service Unavailable: the buyer's PBX is overloaded or down",
          "The buyer cannot take calls right now; pause them or rely on the next buyer."),
    504: ("Server Time-out: a gateway behind the buyer's PBX did not answer",
          "A problem beyond the buyer's PBX (their carrier): tell the buyer."),
    600: ("Busy Everywhere: every destination of the buyer is busy",
          "The buyer is at capacity; lower their concurrency cap."),
    603: ("Decline: the buyer's PBX rejected the call",
          "The buyer refuses calls from us or from this caller: check with the buyer (caller "
          "ID rules, blocked numbers, business hours)."),
}

_CLASS_MEANINGS = {
    1: ("Provisional response", ""),
    2: ("Success", ""),
    3: ("Redirection: the buyer's PBX sent the call elsewhere",
        "Twilio does not follow SIP redirects: use the URI the buyer redirects to."),
    4: ("Request failure: the buyer's PBX refused this call",
        "Check the buyer's URI and credentials with the buyer."),
    5: ("Server failure on the buyer's side", "Tell the buyer, with the time of the call."),
    6: ("Global failure: the buyer refuses the call everywhere", "Check with the buyer."),
}


def explain_sip(code: int | None) -> SipExplanation | None:
    """What a ``DialSipResponseCode`` means and how to fix it (None for no code)."""
    if code is None:
        return None
    if code in SIP_CODES:
        meaning, hint = SIP_CODES[code]
    else:
        meaning, hint = _CLASS_MEANINGS.get(code // 100, ("Unknown SIP response", ""))
    return SipExplanation(code, meaning, hint)


# --- where things came from ------------------------------------------------------------------

def source_label(source: str | None) -> str:
    """Human words for a header or tag source (``plugin:crm`` -> ``plugin crm``)."""
    if not source:
        return "unknown"
    if source.startswith("plugin:"):
        return "plugin " + source[len("plugin:"):]
    return {"default": "default", "buyer": "buyer", "number": "tracking number",
            "twilio": "Twilio caller data", "sip": "inbound SIP header",
            "postback": "buyer postback", "plugin": "plugin"}.get(source, source)


# --- masking ---------------------------------------------------------------------------------

def secrets_for(buyers: Iterable[Buyer | None]) -> list[str]:
    """The SIP passwords of ``buyers``, only to mask them in what a page shows."""
    found = []
    for buyer in buyers:
        if buyer is not None and buyer.has_sip_password:
            try:
                password = buyer.sip_password
            except Exception:  # noqa: BLE001  undecryptable (key changed): nothing to mask
                continue
            if len(password) >= MIN_MASKED_LENGTH:
                found.append(password)
    return sorted(set(found), key=len, reverse=True)


# --- filters ---------------------------------------------------------------------------------

MAX_INT = 2**31 - 1


@dataclass
class CallFilters:
    campaign_id: int | None = None
    publisher_id: int | None = None
    buyer_id: int | None = None
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "CallFilters":
        """Read filters from query arguments; a bad value is reported and ignored."""
        f = cls()
        for name in ("campaign_id", "publisher_id", "buyer_id"):
            raw = (args.get(name) or "").strip()
            if not raw:
                continue
            value = ascii_int(raw, MAX_INT)
            if value:
                setattr(f, name, value)
            else:
                f.errors[name] = "Choose one from the list."
        status = (args.get("status") or "").strip()
        if status == "live" or status in STATUSES:
            f.status = status
        elif status:
            f.errors["status"] = "Unknown status."
        for name in ("date_from", "date_to"):
            raw = (args.get(name) or "").strip()
            if not raw:
                continue
            try:
                setattr(f, name, date.fromisoformat(raw))
            except ValueError:
                f.errors[name] = "Use a date like 2026-01-31."
        if f.date_to and f.date_to >= date.max:  # the day after it can't be computed
            f.errors["date_to"] = "Choose an end date before 9999-12-31."
            f.date_to = None
        if f.date_from and f.date_to and f.date_from > f.date_to:
            f.errors["date_to"] = "The end date is before the start date."
            f.date_to = None
        return f

    def args(self) -> dict[str, str]:
        """The query arguments that reproduce these filters (for links, pager, CSV)."""
        out = {}
        for name in ("campaign_id", "publisher_id", "buyer_id"):
            if getattr(self, name) is not None:
                out[name] = str(getattr(self, name))
        if self.status:
            out["status"] = self.status
        if self.date_from:
            out["date_from"] = self.date_from.isoformat()
        if self.date_to:
            out["date_to"] = self.date_to.isoformat()
        return out

    def conditions(self) -> list:
        conds = []
        if self.campaign_id is not None:
            conds.append(Call.campaign_id == self.campaign_id)
        if self.publisher_id is not None:
            conds.append(Call.publisher_id == self.publisher_id)
        if self.buyer_id is not None:
            conds.append(exists().where(Attempt.call_id == Call.id,
                                        Attempt.buyer_id == self.buyer_id))
        if self.status == "live":
            conds.append(Call.status.in_(LIVE_STATUSES))
        elif self.status:
            conds.append(Call.status == self.status)
        # Dates are whole UTC days, both ends included.
        if self.date_from:
            conds.append(Call.created_at >= datetime.combine(self.date_from, time.min,
                                                             timezone.utc))
        if self.date_to:
            conds.append(Call.created_at < datetime.combine(self.date_to + timedelta(days=1),
                                                            time.min, timezone.utc))
        return conds


def calls_query(filters: CallFilters):
    """Calls matching ``filters``, newest first, with what the list shows loaded up front."""
    return (select(Call).where(*filters.conditions())
            .order_by(Call.created_at.desc(), Call.id.desc())
            .options(selectinload(Call.campaign), selectinload(Call.publisher),
                     selectinload(Call.attempts)))


def iter_calls(filters: CallFilters, batch: int = 500) -> Iterator[Call]:
    """Every matching call, newest first, fetched in keyset batches (for the CSV export)."""
    last: tuple[datetime, int] | None = None
    while True:
        stmt = calls_query(filters)
        if last is not None:
            created, ident = last
            stmt = stmt.where(or_(Call.created_at < created,
                                  and_(Call.created_at == created, Call.id < ident)))
        rows = db.session.scalars(stmt.limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        last = (rows[-1].created_at, rows[-1].id)
        db.session.expunge_all()  # keep memory flat on a large export


def filter_choices() -> dict[str, list[tuple[int, str]]]:
    return {
        "campaigns": [(c.id, c.name) for c in db.session.scalars(
            select(Campaign).order_by(Campaign.name, Campaign.id))],
        "publishers": [(p.id, f"{p.name} ({p.afid})") for p in db.session.scalars(
            select(Publisher).order_by(Publisher.name, Publisher.id))],
        "buyers": [(b.id, b.name) for b in db.session.scalars(
            select(Buyer).order_by(Buyer.name, Buyer.id))],
    }


# --- CSV -------------------------------------------------------------------------------------

CSV_HEADER = ("started_at", "uuid", "status", "reason", "caller", "tracking_number", "campaign",
              "publisher", "afid", "sub_id", "buyers_dialled", "answered_by", "dial_statuses",
              "last_sip_code", "duration", "converted", "revenue", "tags")
_NUMBER_LIKE = re.compile(r"[+-]?[0-9][0-9.]*\Z")


def csv_safe(value) -> str:
    """A cell a spreadsheet shows as text: formula-looking values get a leading apostrophe.

    ``+14155552671`` stays as is (a number); ``=HYPERLINK(..)``, ``@SUM``, ``-2+3`` don't.
    """
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r" and not _NUMBER_LIKE.match(text):
        return "'" + text
    return text


def csv_row(call: Call) -> list[str]:
    attempts = list(call.attempts)
    answered = [a.buyer_name for a in attempts if a.dial_status in ANSWERED_DIAL_STATUSES]
    codes = [a.sip_code for a in attempts if a.sip_code is not None]
    revenue = "" if call.revenue is None else f"{Decimal(call.revenue):.2f}"
    row = [
        call.created_at.isoformat() if call.created_at else "", call.uuid, call.status,
        call.reason, call.caller, call.called, call.campaign.name if call.campaign else "",
        call.publisher.name if call.publisher else "", call.publisher.afid if call.publisher else "",
        call.sub_id or "", "; ".join(a.buyer_name for a in attempts), "; ".join(answered),
        "; ".join(a.dial_status or "ringing" for a in attempts),
        str(codes[-1]) if codes else "", "" if call.duration is None else str(call.duration),
        "yes" if call.converted else "no", revenue,
        "; ".join(f"{k}={v}" for k, v in sorted((call.tags or {}).items())),
    ]
    return [csv_safe(v) for v in row]


def csv_rows(calls: Iterable[Call]) -> Iterator[list[str]]:
    """The header row, then one row per call. No keys, URIs or header values: nothing secret."""
    yield list(CSV_HEADER)
    for call in calls:
        yield csv_row(call)


# --- buyer health ----------------------------------------------------------------------------

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


# --- query plans (for tests and bench/buyer_health.py) ---------------------------------------

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
