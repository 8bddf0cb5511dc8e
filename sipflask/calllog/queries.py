"""Reading the call log: filters from query arguments, the list query, keyset batches for the
export, the filter choices, and the passwords a call page masks.

Kept free of request handling so the pieces can be tested (and benchmarked) on their own; the
``calls`` blueprint turns request arguments into a :class:`CallFilters` and renders.

Secrets: nothing here reads a SIP password except :func:`secrets_for`, which exists only so pages
can *mask* a password should one ever have been typed into a recorded value (a buyer header, a
URI).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from typing import Iterable, Iterator, Mapping

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import selectinload

from sipflask.account.clock import day_range
from sipflask.core.redact import MIN_MASKED_LENGTH
from sipflask.core.sipcodes import LIVE_STATUSES, STATUSES
from sipflask.core.validation import TAG_KEY_RE, ascii_int
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call, Campaign, Number, Publisher

MAX_INT = 2**31 - 1
_ID_FILTERS = ("campaign_id", "publisher_id", "buyer_id", "number_id")


@dataclass
class CallFilters:
    campaign_id: int | None = None
    publisher_id: int | None = None
    buyer_id: int | None = None
    number_id: int | None = None
    sub_id: str = ""
    tag: str = ""  # "key:value" (a report's row of a tag or the caller's state links here)
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    # The clock the dates are read on (the account's: a date is a local date).
    tz: tzinfo = timezone.utc
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Mapping[str, str], tz: tzinfo | None = None) -> "CallFilters":
        """Read filters from query arguments, dates as local dates in ``tz`` (default UTC); a
        bad value is reported and ignored."""
        f = cls(tz=tz or timezone.utc)
        for name in _ID_FILTERS:
            raw = (args.get(name) or "").strip()
            if not raw:
                continue
            value = ascii_int(raw, MAX_INT)
            if value:
                setattr(f, name, value)
            else:
                f.errors[name] = "Choose one from the list."
        f._text_filters(args)
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

    def _text_filters(self, args: Mapping[str, str]) -> None:
        sub_id = (args.get("sub_id") or "").strip()
        if len(sub_id) > 100:
            self.errors["sub_id"] = "A sub ID is at most 100 characters."
        else:
            self.sub_id = sub_id
        tag = (args.get("tag") or "").strip()
        key, sep, value = tag.partition(":")
        if tag and (not sep or not TAG_KEY_RE.match(key) or not value or len(value) > 500):
            self.errors["tag"] = "Write a tag as key:value, like caller_state:CA."
        else:
            self.tag = tag

    def args(self) -> dict[str, str]:
        """The query arguments that reproduce these filters (for links, pager, CSV)."""
        out = {}
        for name in _ID_FILTERS:
            if getattr(self, name) is not None:
                out[name] = str(getattr(self, name))
        for name in ("sub_id", "tag"):
            if getattr(self, name):
                out[name] = getattr(self, name)
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
        if self.number_id is not None:
            conds.append(Call.number_id == self.number_id)
        if self.sub_id:
            conds.append(Call.sub_id == self.sub_id)
        if self.tag:
            key, _, value = self.tag.partition(":")
            conds.append(Call.tags[key].as_string() == value)
        if self.buyer_id is not None:
            conds.append(exists().where(Attempt.call_id == Call.id,
                                        Attempt.buyer_id == self.buyer_id))
        if self.status == "live":
            conds.append(Call.status.in_(LIVE_STATUSES))
        elif self.status:
            conds.append(Call.status == self.status)
        # Dates are whole local days on the filters' clock, both ends included.
        start, end = day_range(self.date_from, self.date_to, self.tz)
        if start is not None:
            conds.append(Call.created_at >= start)
        if end is not None:
            conds.append(Call.created_at < end)
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
        "numbers": [(n.id, n.number) for n in db.session.execute(
            select(Number.id, Number.number).order_by(Number.number))],
    }


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
