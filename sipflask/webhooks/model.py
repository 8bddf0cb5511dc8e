"""Outbound webhooks on call events: what the user set up (``webhooks``, ``webhook_headers``),
and what was sent (``webhook_deliveries`` and each of their tries).

``records/webhooks.py`` is the only writer of the setup tables. A delivery row is written in the
same transaction as the call's own write (``webhooks/events.py``: the outbox), so a call that is
rolled back sends nothing and a committed one is never forgotten; ``webhooks/deliver.py`` sends
it from the job runner and records every try. A delivery names its webhook by id without a
foreign key (see ``Delivery.webhook_id``).

The filters point at campaigns, publishers and buyers with ``ON DELETE CASCADE``: a webhook
filtered to a publisher must never start firing for every publisher's calls because its
publisher was deleted (and SQLite may give the next publisher the same id), so it goes too
(``records/webhooks.py`` records that in the change history).
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import (JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text,
                        delete, event, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sipflask import crypto
from sipflask.extensions import db
from sipflask.models import TZDateTime, utcnow

STATES = ("pending", "delivered", "failed", "refused")


def _secret_key() -> str:
    return current_app.config["SECRET_KEY"]


class Webhook(db.Model):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(32))  # core/webhook_rules.py EVENTS
    url: Mapped[str] = mapped_column(String(2048))  # a template: tokens in path and query
    method: Mapped[str] = mapped_column(String(4), default="POST")  # GET | POST
    body_format: Mapped[str] = mapped_column(String(4), default="json")  # form | json | ""
    body: Mapped[str] = mapped_column(Text, default="")  # a template
    # [call_key] (the postback secret) may only be sent when the user ticked this.
    include_key: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    filter_campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    filter_publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("publishers.id", ondelete="CASCADE"), index=True)
    filter_buyer_id: Mapped[int | None] = mapped_column(
        ForeignKey("buyers.id", ondelete="CASCADE"), index=True)
    filter_tag_key: Mapped[str] = mapped_column(String(64), default="")
    filter_tag_value: Mapped[str] = mapped_column(String(500), default="")
    # HMAC-SHA256 key for X-Sipflask-Signature; write-only, encrypted like SIP passwords.
    signing_secret_encrypted: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)

    headers: Mapped[list[WebhookHeader]] = relationship(
        back_populates="webhook", order_by="WebhookHeader.position",
        cascade="all, delete-orphan")
    filter_campaign = relationship("Campaign")
    filter_publisher = relationship("Publisher")
    filter_buyer = relationship("Buyer")

    __table_args__ = (
        CheckConstraint("method IN ('GET', 'POST')", name="method"),
        CheckConstraint("body_format IN ('', 'form', 'json')", name="body_format"),
    )

    @property
    def has_signing_secret(self) -> bool:
        return bool(self.signing_secret_encrypted)

    @property
    def signing_secret(self) -> str:
        return crypto.decrypt(_secret_key(), self.signing_secret_encrypted)

    @signing_secret.setter
    def signing_secret(self, value: str) -> None:
        self.signing_secret_encrypted = crypto.encrypt(_secret_key(), value or "")


class WebhookHeader(db.Model):
    """One custom request header; a secret one keeps its value only encrypted (``value`` empty),
    is sent as typed (no tokens) and is never shown again."""
    __tablename__ = "webhook_headers"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"),
                                            index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(String(1024), default="")
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    value_encrypted: Mapped[str] = mapped_column(Text, default="")

    webhook: Mapped[Webhook] = relationship(back_populates="headers")

    @property
    def secret_value(self) -> str:
        return crypto.decrypt(_secret_key(), self.value_encrypted)

    @secret_value.setter
    def secret_value(self, value: str) -> None:
        self.value_encrypted = crypto.encrypt(_secret_key(), value or "")


class Delivery(db.Model):
    """One event to send to one webhook (the outbox row), until it is delivered or given up.

    ``payload`` holds the event's token values as they were when it happened (never the call's
    key: that is read from the call when a webhook may send it). ``next_try_at`` is when it is
    due; ``sending_until`` is the claim a worker takes with one conditional UPDATE before it
    sends, so two workers never send one delivery at the same moment."""
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # X-Sipflask-Delivery. A fresh uuid4 each: unique by construction, so no index to keep up
    # on the call's path (nothing looks a delivery up by it).
    uuid: Mapped[str] = mapped_column(String(36))
    # Not a foreign key, on purpose: the call's transaction inserts this row, and a webhook
    # deleted by another process within its cache time must not fail the call. Deleting a
    # webhook deletes its deliveries (below); the job drops any left without one.
    webhook_id: Mapped[int] = mapped_column(Integer)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # The claim: a worker sending it now holds it until then (a worker that died lets go).
    sending_until: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(String(500), default="")

    webhook: Mapped[Webhook | None] = relationship(
        primaryjoin="foreign(Delivery.webhook_id) == Webhook.id", viewonly=True)
    tries_made: Mapped[list[DeliveryTry]] = relationship(
        back_populates="delivery", order_by="DeliveryTry.id", cascade="all, delete-orphan",
        passive_deletes=True)

    __table_args__ = (
        CheckConstraint("state IN ('pending', 'delivered', 'failed', 'refused')",
                           name="state"),
        # What the job reads every minute: the due ones only.
        Index("ix_webhook_deliveries_due", "next_try_at",
              postgresql_where=text("state = 'pending'"),
              sqlite_where=text("state = 'pending'")),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
        Index("ix_webhook_deliveries_call", "call_id"),
    )


class DeliveryTry(db.Model):
    """One request sent (or refused before sending) for a delivery, and what came back."""
    __tablename__ = "webhook_delivery_tries"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    # {"method", "url", "headers": [[name, value]], "body"} with every secret masked.
    request_summary: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(String(500), default="")
    response_headers: Mapped[list] = mapped_column(JSON, default=list)
    response_body: Mapped[str] = mapped_column(Text, default="")  # the first 2 kB

    delivery: Mapped[Delivery] = relationship(back_populates="tries_made")


@event.listens_for(Webhook, "after_delete")
def _deliveries_go_too(mapper, connection, target: Webhook) -> None:
    """A deleted webhook's deliveries (and, by their foreign key, their tries) go with it."""
    connection.execute(delete(Delivery.__table__).where(
        Delivery.__table__.c.webhook_id == target.id))
