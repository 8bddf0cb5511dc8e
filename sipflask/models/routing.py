"""What routes a call: publishers, campaigns, tracking numbers, buyers and their SIP headers."""
from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sipflask import crypto
from sipflask.core import sip
from sipflask.extensions import db
from sipflask.models.columns import TZDateTime, utcnow


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
