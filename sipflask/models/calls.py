"""What happened to a call: the call, each attempt to reach a buyer, and buyers' postbacks."""
from __future__ import annotations

import secrets
import uuid as uuidlib
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, Numeric,
                        String, Text, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sipflask.core.phone import e164_number
from sipflask.extensions import db
from sipflask.models.columns import TZDateTime, utcnow

if TYPE_CHECKING:  # relationships find their classes by name at run time
    from sipflask.models.routing import Buyer, Campaign, Number, Publisher


def new_call_key() -> str:
    # 256 bits; SPEC asks for at least 128.
    return secrets.token_hex(32)


class Call(db.Model):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True,
                                      default=lambda: str(uuidlib.uuid4()))
    key: Mapped[str] = mapped_column(String(64), default=new_call_key)
    # Twilio's CallSid is 34 characters ("CA" + 32 hex); a longer one is stored as its digest
    # (see callflow.params.call_sid), so a hostile value never fails the insert.
    call_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    # Whole, whatever their length: later attempts route with them (tokens, plugins).
    caller: Mapped[str] = mapped_column(Text, default="")
    called: Mapped[str] = mapped_column(Text, default="")
    number_id: Mapped[int | None] = mapped_column(ForeignKey("numbers.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("publishers.id", ondelete="SET NULL"), index=True)
    sub_id: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    # Where each tag came from ("number", "twilio", "sip", "plugin:<name>").
    tag_sources: Mapped[dict] = mapped_column(JSON, default=dict)
    # ringing -> routing -> in-progress -> completed | failed | no-answer | rejected | ...
    status: Mapped[str] = mapped_column(String(32), default="ringing", index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    duration: Mapped[int | None] = mapped_column(Integer)
    converted: Mapped[bool] = mapped_column(Boolean, default=False)
    revenue: Mapped[float | None] = mapped_column(Numeric(12, 2))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # What reports count, kept with the call by callflow/store.py as its attempts are written
    # (docs/reports.md): one of its attempts was dialled (routed) or answered (connected), by
    # whom, their talk time; the SIP failure codes of its attempts ("480:1 486:2"); on a
    # no-buyer call, the kinds of reasons buyers were passed over ("cap paused").
    routed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    connected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    answered_buyer_id: Mapped[int | None] = mapped_column(Integer)  # no FK: a record of the past
    talk_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    fail_codes: Mapped[str | None] = mapped_column(String(400))
    skip_kinds: Mapped[str | None] = mapped_column(String(100))
    # The caller as an integer when it is E.164-shaped (core/phone.py e164_number): reports count
    # distinct integers, 2-3x faster than distinct text.
    caller_num: Mapped[int | None] = mapped_column(
        BigInteger, default=lambda ctx: e164_number(ctx.get_current_parameters().get("caller")))
    # Who said the call ended: "callback" (Twilio's status callback), "twilio-api" (the lease
    # sweeper asked Twilio's Calls API), "lease-expired" (nobody could say; slots given back).
    # Empty for calls sipflask ended itself (rejected, no buyer).
    state_source: Mapped[str | None] = mapped_column(String(16))

    campaign: Mapped[Campaign | None] = relationship()
    publisher: Mapped[Publisher | None] = relationship()
    number: Mapped[Number | None] = relationship()
    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="call", order_by="Attempt.position", cascade="all, delete-orphan")

    __table_args__ = (
        # Open calls only: what the lease sweeper scans every minute stays small.
        Index("ix_calls_open", "created_at", postgresql_where=text("ended_at IS NULL"),
              sqlite_where=text("ended_at IS NULL")),
        # The call log's order and every report's range: a report reads only this index
        # (PostgreSQL: an index-only scan), never the wide rows (bench/reports.py).
        Index("ix_calls_report", "created_at", "id", "campaign_id", "publisher_id", "number_id",
              "status", "routed", "connected", "converted", "revenue", "talk_seconds",
              "answered_buyer_id", "caller_num", "sub_id"),
        # Callers that are not E.164 (no caller_num) are counted by their text, which may be
        # any length and so stays out of indexes: these index entries lead to their rows.
        Index("ix_calls_report_text", "created_at", postgresql_where=text("caller_num IS NULL"),
              sqlite_where=text("caller_num IS NULL")),
        # The few calls with a SIP failure or nobody to take them: the reports' "why" columns.
        Index("ix_calls_report_why", "created_at", "campaign_id", "publisher_id", "number_id",
              "sub_id", "status", "routed", "fail_codes", "skip_kinds",
              postgresql_where=text("fail_codes IS NOT NULL OR skip_kinds IS NOT NULL"),
              sqlite_where=text("fail_codes IS NOT NULL OR skip_kinds IS NOT NULL")),
    )


class Attempt(db.Model):
    """One buyer dialled (or passed over) for a call, in order."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("buyers.id", ondelete="SET NULL"))
    buyer_name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(8), default="sip")  # sip | number
    # What was dialled, never with credentials; the SIP username (not password) is kept apart.
    dialled: Mapped[str] = mapped_column(Text, default="")
    sip_username: Mapped[str] = mapped_column(String(128), default="")
    headers_sent: Mapped[list] = mapped_column(JSON, default=list)
    headers_dropped: Mapped[list] = mapped_column(JSON, default=list)
    plugin_errors: Mapped[list] = mapped_column(JSON, default=list)
    # Buyers passed over before this one was chosen, with the reason.
    skipped: Mapped[list] = mapped_column(JSON, default=list)
    dial_status: Mapped[str | None] = mapped_column(String(32))
    sip_code: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[int | None] = mapped_column(Integer)
    # True while this attempt holds one of the buyer's concurrency slots, until the lease
    # expires at the latest: past it the slot no longer counts (callflow/caps.py).
    holds_slot: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_expires_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # True while this ringing attempt holds a place against a buyer's connected-counting caps
    # (given back if it ends unanswered), and the windows that place is in (callflow/caps.py).
    cap_place: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    cap_hour: Mapped[str | None] = mapped_column(String(32))
    cap_day: Mapped[date | None] = mapped_column(Date)
    cap_month: Mapped[str | None] = mapped_column(String(7))
    # The TwiML that dials this attempt, and the TwiML its dial-action answered: a repeated
    # voice webhook or dial-action gets exactly the answer the first one got.
    twiml: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # For reports by buyer without reading the calls: whether Twilio was asked to dial it (not
    # when sipflask could not build the number), and its call's start and caller_num.
    placed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    call_created_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    caller_num: Mapped[int | None] = mapped_column(BigInteger)

    call: Mapped[Call] = relationship(back_populates="attempts")
    buyer: Mapped[Buyer | None] = relationship()

    __table_args__ = (
        Index("ix_attempts_call_position", "call_id", "position"),
        # Covers buyer health (calls offered, answered, last SIP code per buyer over 24 h):
        # SQLite answers it from the index alone, 6x faster on 100 k calls (bench/buyer_health.py).
        Index("ix_attempts_buyer_health", "buyer_id", "started_at", "dial_status", "sip_code"),
        # Held slots only: finding a buyer's expired leases costs an index probe.
        Index("ix_attempts_held_leases", "buyer_id", "lease_expires_at",
              postgresql_where=text("holds_slot"), sqlite_where=text("holds_slot = 1")),
        # Reports by buyer: each buyer's attempts of the range from this index alone, in buyer
        # order (grouping them needs no sort).
        Index("ix_attempts_report", "buyer_id", "call_created_at", "placed", "caller_num",
              "call_id"),
        Index("ix_attempts_report_text", "call_created_at",
              postgresql_where=text("caller_num IS NULL"), sqlite_where=text("caller_num IS NULL")),
        Index("ix_attempts_report_why", "call_created_at", "buyer_id", "sip_code",
              postgresql_where=text("sip_code >= 300"), sqlite_where=text("sip_code >= 300")),
    )


class Postback(db.Model):
    """A buyer's conversion report for a call, kept as received (without the key)."""

    __tablename__ = "postbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the normalised parameters: a repeated identical postback is recognised.
    digest: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8), default="POST")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    revenue: Mapped[float | None] = mapped_column(Numeric(12, 2))
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    call: Mapped[Call] = relationship()

    __table_args__ = (db.UniqueConstraint("call_id", "digest", name="uq_postbacks_call_digest"),)
