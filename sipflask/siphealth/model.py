"""The health state of SIP buyers that opted in to health-aware routing, and its changes.

Kept apart from the ``buyers`` row on purpose: every routed call locks that row to count caps,
and probes every few seconds must neither wait for those locks nor make the routing cache
forget every buyer on each write. Routing reads ``state``/``cause``/``retry_at`` through the
routing list's query (callflow/directory.py); ``siphealth/state.py`` is the only writer.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from sipflask.extensions import db
from sipflask.models import Buyer, TZDateTime, utcnow


class EndpointHealth(db.Model):
    __tablename__ = "endpoint_health"

    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"),
                                          primary_key=True)
    state: Mapped[str] = mapped_column(String(8), default="up")  # "up" or "down"
    down_by: Mapped[str] = mapped_column(String(8), default="")  # "probes" or "calls"
    cause: Mapped[str] = mapped_column(String(300), default="")  # routing's skip reason
    changed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # Down by failed calls with no probes to bring it back: one call may try again from here.
    retry_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    probe_fails: Mapped[int] = mapped_column(Integer, default=0)
    probe_oks: Mapped[int] = mapped_column(Integer, default=0)
    probe_fails_since: Mapped[datetime | None] = mapped_column(TZDateTime)
    probe_fail_kind: Mapped[str] = mapped_column(String(80), default="")
    call_fails: Mapped[int] = mapped_column(Integer, default=0)
    call_fails_since: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_call_code: Mapped[int | None] = mapped_column(Integer)
    last_probe_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_probe_alive: Mapped[bool | None] = mapped_column(Boolean)
    last_probe: Mapped[str] = mapped_column(String(300), default="")
    # The probe claim: whoever moves this forward first probes; everyone else skips the buyer.
    next_probe_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    # Buyer.health: pages ask a Buyer whether routing would skip it (callflow/availability.py).
    buyer: Mapped[Buyer] = relationship(backref=backref("health", uselist=False,
                                                        passive_deletes=True))


class EndpointHealthEvent(db.Model):
    """One change of a buyer's health state (up -> down -> up), with its cause."""
    __tablename__ = "endpoint_health_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))  # "probes", "calls", "settings"
    cause: Mapped[str] = mapped_column(String(500), default="")

    __table_args__ = (Index("ix_endpoint_health_events_buyer_at", "buyer_id", "at"),)
