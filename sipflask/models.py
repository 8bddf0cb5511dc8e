"""Database models (Flask-SQLAlchemy 3, SQLAlchemy 2 typed style).

Words follow SPEC.md: Campaign, Publisher, Number, Buyer, Call, Attempt, Tags.
"""
from __future__ import annotations

import secrets
import uuid as uuidlib
from datetime import date, datetime, timezone

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, DateTime, ForeignKey,
                        Index, Integer, Numeric, String, Text, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from sipflask import crypto
from sipflask.core import sip
from sipflask.core.phone import e164_number
from sipflask.extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TZDateTime(db.TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="member")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    # Part of every session and remember-me cookie (``get_id``): a new token, set by
    # records.users on logout, password or role change and "sign out everywhere", makes every
    # cookie issued before it worthless, on every machine, without a server-side session store.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)

    __table_args__ = (CheckConstraint("role IN ('admin', 'member')", name="role"),)

    def get_id(self) -> str:
        # Flask-Login's "alternative id": what the cookies carry, and what load_user checks.
        return f"{self.id}:{self.session_token}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(
            password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Publisher(db.Model):
    __tablename__ = "publishers"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    afid: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    numbers: Mapped[list[Number]] = relationship(back_populates="publisher")


class CampaignBuyer(db.Model):
    """One entry of a campaign's routing list; ``position`` keeps the order the user chose."""

    __tablename__ = "campaign_buyers"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"),
                                          primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    campaign: Mapped[Campaign] = relationship(back_populates="routing")
    buyer: Mapped[Buyer] = relationship(back_populates="routing")


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Free-form settings that plugins read (e.g. the campaign-metadata example plugin).
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    routing: Mapped[list[CampaignBuyer]] = relationship(
        back_populates="campaign", order_by="CampaignBuyer.position",
        cascade="all, delete-orphan")
    numbers: Mapped[list[Number]] = relationship(back_populates="campaign")

    @property
    def buyers(self) -> list[Buyer]:
        return [entry.buyer for entry in self.routing]


class Number(db.Model):
    __tablename__ = "numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"))
    publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("publishers.id", ondelete="SET NULL"))
    sub_id: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    # The number at Twilio (records/twilio_numbers.py, records/twilio_check.py): its
    # IncomingPhoneNumber SID, when the drift check last compared it, what differs from the
    # configuration sipflask sets, in words ("" = matches), and whether it has left the account.
    twilio_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    twilio_checked_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    twilio_drift: Mapped[str] = mapped_column(String(500), default="", server_default="")
    twilio_missing: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=text("false"))

    campaign: Mapped[Campaign] = relationship(back_populates="numbers")
    publisher: Mapped[Publisher | None] = relationship(back_populates="numbers")


class Buyer(db.Model):
    __tablename__ = "buyers"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # E.164 number or SIP URI, either possibly holding tokens.
    number: Mapped[str] = mapped_column(String(1024))
    sip_username: Mapped[str] = mapped_column(String(128), default="")
    sip_password_encrypted: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[int] = mapped_column(Integer, default=1)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    timeout: Mapped[int] = mapped_column(Integer, default=30)
    concurrency_cap: Mapped[int | None] = mapped_column(Integer)
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    hourly_cap: Mapped[int | None] = mapped_column(Integer)
    monthly_cap: Mapped[int | None] = mapped_column(Integer)
    total_cap: Mapped[int | None] = mapped_column(Integer)
    # What the hourly/daily/monthly/lifetime caps count: "dialled" or "connected"
    # (core/capwindows.py).
    cap_counts: Mapped[str] = mapped_column(String(16), default="dialled", server_default="dialled")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Opening hours on the buyer's own clock (core/schedule.py): hours None = open 24/7.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    hours: Mapped[dict | None] = mapped_column(JSON)
    closures: Mapped[list] = mapped_column(JSON, default=list)
    # Cap counters, changed only by single conditional UPDATEs (see caps.py) so that several
    # app processes can never push a buyer past its caps. Each window's counter belongs to the
    # window key beside it (the buyer's local hour, date, month; core/capwindows.py).
    active_calls: Mapped[int] = mapped_column(Integer, default=0)
    calls_hour: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    calls_hour_key: Mapped[str | None] = mapped_column(String(32))
    calls_today: Mapped[int] = mapped_column(Integer, default=0)
    calls_day: Mapped[date | None] = mapped_column(Date)
    calls_month: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    calls_month_key: Mapped[str | None] = mapped_column(String(7))
    calls_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Health-aware routing (docs/sip-health.md): "off", "options" (OPTIONS probes and failed
    # calls) or "calls" (failed calls only, for PBXs that ignore OPTIONS). health_codes: the
    # OPTIONS replies that count as alive, "200,404,..."; empty = the default set. The state
    # itself lives in siphealth/model.py, apart from the row caps lock on every call.
    health_check: Mapped[str] = mapped_column(String(8), default="off", server_default="off")
    health_codes: Mapped[str] = mapped_column(String(200), default="", server_default="")
    health_down_after: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    health_up_after: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)

    headers: Mapped[list[BuyerHeader]] = relationship(
        back_populates="buyer", order_by="BuyerHeader.position", cascade="all, delete-orphan")
    routing: Mapped[list[CampaignBuyer]] = relationship(
        back_populates="buyer", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("priority >= 0", name="priority"),
        CheckConstraint("weight >= 0", name="weight"),
        CheckConstraint("timeout BETWEEN 5 AND 600", name="timeout"),
        CheckConstraint("concurrency_cap IS NULL OR concurrency_cap >= 0", name="concurrency_cap"),
        CheckConstraint("daily_cap IS NULL OR daily_cap >= 0", name="daily_cap"),
        CheckConstraint("hourly_cap IS NULL OR hourly_cap >= 0", name="hourly_cap"),
        CheckConstraint("monthly_cap IS NULL OR monthly_cap >= 0", name="monthly_cap"),
        CheckConstraint("total_cap IS NULL OR total_cap >= 0", name="total_cap"),
        CheckConstraint("cap_counts IN ('dialled', 'connected')", name="cap_counts"),
        CheckConstraint("health_check IN ('off', 'options', 'calls')", name="health_check"),
        CheckConstraint("health_down_after BETWEEN 1 AND 100", name="health_down_after"),
        CheckConstraint("health_up_after BETWEEN 1 AND 100", name="health_up_after"),
    )

    @property
    def is_sip(self) -> bool:
        return sip.is_sip(self.number)

    @property
    def has_sip_password(self) -> bool:
        return bool(self.sip_password_encrypted)

    @property
    def sip_password(self) -> str:
        return crypto.decrypt(current_app.config["SECRET_KEY"], self.sip_password_encrypted)

    @sip_password.setter
    def sip_password(self, value: str) -> None:
        self.sip_password_encrypted = crypto.encrypt(current_app.config["SECRET_KEY"], value or "")

    @property
    def auth_mode(self) -> str:
        if not self.is_sip:
            return "phone"
        return "credentials" if self.sip_username and self.has_sip_password else "none / IP"

    @property
    def campaigns(self) -> list[Campaign]:
        return [entry.campaign for entry in self.routing]


class BuyerHeader(db.Model):
    __tablename__ = "buyer_headers"

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(String(1024), default="")

    buyer: Mapped[Buyer] = relationship(back_populates="headers")


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


class InboundSettings(db.Model):
    """Inbound SIP (one row): the two Twilio SIP domains and the SIDs sipflask manages."""

    __tablename__ = "inbound_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Domain base name: <name>.sip.twilio.com (credentials) and <name>-ip.sip.twilio.com (IPs).
    name: Mapped[str] = mapped_column(String(63), default="")
    domain_sid: Mapped[str | None] = mapped_column(String(34))
    ip_domain_sid: Mapped[str | None] = mapped_column(String(34))
    credential_list_sid: Mapped[str | None] = mapped_column(String(34))
    ip_acl_sid: Mapped[str | None] = mapped_column(String(34))
    synced_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)


class AccountSettings(db.Model):
    """Account-wide settings (one row), edited on the admin settings page."""

    __tablename__ = "account_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The zone every time in the UI is shown in; None = the TIME_ZONE configuration (UTC).
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # The Twilio account (settings page; the TWILIO_* configuration wins when set). The auth
    # token and the API secret are write-only, encrypted at rest like Buyer.sip_password.
    twilio_account_sid: Mapped[str] = mapped_column(String(64), default="")
    twilio_auth_token_encrypted: Mapped[str] = mapped_column(Text, default="")
    twilio_api_key_sid: Mapped[str] = mapped_column(String(64), default="")
    twilio_api_secret_encrypted: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)

    @property
    def twilio_auth_token(self) -> str:
        return crypto.decrypt(current_app.config["SECRET_KEY"], self.twilio_auth_token_encrypted)

    @twilio_auth_token.setter
    def twilio_auth_token(self, value: str) -> None:
        self.twilio_auth_token_encrypted = crypto.encrypt(current_app.config["SECRET_KEY"],
                                                          value or "")

    @property
    def twilio_api_secret(self) -> str:
        return crypto.decrypt(current_app.config["SECRET_KEY"], self.twilio_api_secret_encrypted)

    @twilio_api_secret.setter
    def twilio_api_secret(self, value: str) -> None:
        self.twilio_api_secret_encrypted = crypto.encrypt(current_app.config["SECRET_KEY"],
                                                          value or "")


class InboundCredential(db.Model):
    __tablename__ = "inbound_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_encrypted: Mapped[str] = mapped_column(Text, default="")
    twilio_sid: Mapped[str | None] = mapped_column(String(34))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    @property
    def password(self) -> str:
        return crypto.decrypt(current_app.config["SECRET_KEY"], self.password_encrypted)

    @password.setter
    def password(self, value: str) -> None:
        self.password_encrypted = crypto.encrypt(current_app.config["SECRET_KEY"], value or "")


class InboundIp(db.Model):
    """One whitelisted IPv4 address or CIDR range (Twilio allows at most 100)."""

    __tablename__ = "inbound_ips"

    id: Mapped[int] = mapped_column(primary_key=True)
    cidr: Mapped[str] = mapped_column(String(43), unique=True)
    twilio_sid: Mapped[str | None] = mapped_column(String(34))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
