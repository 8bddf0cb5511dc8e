"""Account-wide settings: the account's clock and Twilio connection, inbound SIP domains and the
credentials and addresses they accept."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sipflask import crypto
from sipflask.extensions import db
from sipflask.models.columns import TZDateTime, utcnow


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
