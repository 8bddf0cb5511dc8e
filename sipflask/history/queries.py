"""Reading the change history: a record's latest changes (the History section of the buyer,
campaign and number pages), the filtered admin list, and every row for ``export --history``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timezone, tzinfo
from typing import Any, Iterator, Mapping

from sqlalchemy import Select, or_, select

from sipflask.account.clock import day_range, iso_local
from sipflask.core import validation
from sipflask.extensions import db
from sipflask.history.model import ChangeRecord
from sipflask.history.snapshots import RECORD_TYPES

# Record types a member may read the history of: the ones their pages show and edit. Users,
# inbound SIP and account settings are admin business.
MEMBER_TYPES = ("buyer", "campaign", "number", "publisher", "webhook")
SECTION_SIZE = 10
MAX_TEXT = 100


def for_record(record_type: str, record_id: int | None, limit: int = SECTION_SIZE
               ) -> list[ChangeRecord]:
    """The latest changes of one record, newest first (empty for a record not saved yet)."""
    if record_id is None:
        return []
    return list(db.session.scalars(
        select(ChangeRecord).where(ChangeRecord.record_type == record_type,
                                   ChangeRecord.record_id == record_id)
        .order_by(ChangeRecord.id.desc()).limit(limit)))


@dataclass
class Filters:
    record_type: str = ""
    record_id: int | None = None
    actor: str = ""
    date_from: date | None = None
    date_to: date | None = None
    tz: tzinfo = timezone.utc
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Mapping[str, str], tz: tzinfo | None = None) -> "Filters":
        """Filters from query arguments (dates are local dates in ``tz``); a bad value is
        reported next to its field and ignored."""
        f = cls(tz=tz or timezone.utc)
        kind = (args.get("type") or "").strip()
        if kind in RECORD_TYPES or kind == "history":
            f.record_type = kind
        elif kind:
            f.errors["type"] = "Choose a record type from the list."
        raw_id = (args.get("record_id") or "").strip()
        if raw_id:
            f.record_id = validation.ascii_int(raw_id)
            if not f.record_id:
                f.errors["record_id"] = "Not a record id."
        f.actor = validation.CONTROL_RE.sub("", args.get("actor") or "").strip()[:MAX_TEXT]
        for name in ("date_from", "date_to"):
            raw = (args.get(name) or "").strip()
            if raw:
                try:
                    setattr(f, name, date.fromisoformat(raw))
                except ValueError:
                    f.errors[name] = "Use a date like 2026-01-31."
        if f.date_to and f.date_to >= date.max:
            f.errors["date_to"], f.date_to = "Choose an end date before 9999-12-31.", None
        if f.date_from and f.date_to and f.date_from > f.date_to:
            f.errors["date_to"], f.date_to = "The end date is before the start date.", None
        return f

    def args(self) -> dict[str, str]:
        out = {"type": self.record_type, "actor": self.actor,
               "record_id": str(self.record_id or ""),
               "date_from": self.date_from.isoformat() if self.date_from else "",
               "date_to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in out.items() if v}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def listing(f: Filters) -> Select:
    """The admin list's query, newest first."""
    stmt = select(ChangeRecord).order_by(ChangeRecord.id.desc())
    if f.record_type:
        stmt = stmt.where(ChangeRecord.record_type == f.record_type)
    if f.record_id:
        stmt = stmt.where(ChangeRecord.record_id == f.record_id)
    if f.actor:
        pattern = _like(f.actor)
        stmt = stmt.where(or_(ChangeRecord.actor_label.ilike(pattern, escape="\\"),
                              ChangeRecord.source.ilike(pattern, escape="\\")))
    start, end = day_range(f.date_from, f.date_to, f.tz)
    if start is not None:
        stmt = stmt.where(ChangeRecord.at >= start)
    if end is not None:
        stmt = stmt.where(ChangeRecord.at < end)
    return stmt


def as_dict(row: ChangeRecord) -> dict[str, Any]:
    """One change as the export writes it (times in UTC, ISO 8601)."""
    return {"id": row.id, "at": iso_local(row.at, timezone.utc), "actor_id": row.actor_id,
            "actor": row.actor_label, "source": row.source, "address": row.address,
            "record_type": row.record_type, "record_id": row.record_id,
            "record_ref": row.record_ref, "record_label": row.record_label,
            "action": row.action, "changes": row.changes or [], "snapshot": row.snapshot,
            "note": row.note}


def export_rows(batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every change, oldest first, read in batches (a long history need not fit in memory)."""
    last = 0
    while True:
        rows = list(db.session.scalars(select(ChangeRecord).where(ChangeRecord.id > last)
                                       .order_by(ChangeRecord.id).limit(batch)))
        if not rows:
            return
        for row in rows:
            yield as_dict(row)
        last = rows[-1].id
