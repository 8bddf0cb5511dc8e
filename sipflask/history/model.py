"""The ``change_records`` table: one row per create, change, delete or restore of a setup
record or a user, written in the same transaction as the change itself.

Kept apart from ``sipflask/models/`` because nothing else refers to it: it is an append-only
log that outlives the rows it describes, so ``record_id`` and ``actor_id`` are plain integers,
not foreign keys (a deleted buyer's or user's history stays, with the labels it had then).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sipflask.extensions import db
from sipflask.models import TZDateTime, utcnow


class ChangeRecord(db.Model):
    __tablename__ = "change_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, index=True)
    # Who: the signed-in user's id and email at the time, or "cli" / "system" with no id.
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    # From where: web, cli, import, api, system; the client address for web.
    source: Mapped[str] = mapped_column(String(16), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    # What: buyer, campaign, number, publisher, inbound, account, user; its id, its key
    # (ref, E.164 number, email) and name as they were at the time.
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int | None] = mapped_column(Integer)
    record_ref: Mapped[str] = mapped_column(String(254), default="")
    record_label: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(8))  # create | update | delete | restore
    # [{"field", "before", "after"}] or [{"field", "secret": true, "change": "changed"}].
    changes: Mapped[list] = mapped_column(JSON, default=list)
    # The record as it was after the change (before it, for a delete); secrets only as whether
    # one is set, never a value.
    snapshot: Mapped[dict | None] = mapped_column(JSON)
    # Why, when the change says more than its fields (e.g. "restored from change 12").
    note: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (Index("ix_change_records_record", "record_type", "record_id", "id"),)
