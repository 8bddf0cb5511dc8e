"""What the buyer pages show of health-aware routing (docs/sip-health.md): one buyer's health
panel, and which buyers of a list page are down. Reads only; ``siphealth/state.py`` writes.

The list asks once for the whole page (:func:`down_causes`), not once per row. A buyer whose
checks are off is never shown as down, even if a state row outlived the setting: routing
ignores that row too (``core.endpointhealth.unreachable``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Buyer
from sipflask.siphealth import state
from sipflask.siphealth.model import EndpointHealth, EndpointHealthEvent

__all__ = ["MODE_TEXT", "SOURCE_TEXT", "EVENTS_SHOWN", "Panel", "panel", "down_causes"]

MODE_TEXT = {"off": "Off", "options": "OPTIONS probes and failed calls",
             "calls": "Failed calls only (the PBX ignores OPTIONS)"}
SOURCE_TEXT = {"probes": "OPTIONS probes", "calls": "real calls", "settings": "settings changed"}
EVENTS_SHOWN = 20


@dataclass
class Panel:
    """One buyer's health as its page shows it: the mode, the state row (None: not checked
    yet, or checks off) and the last changes, newest first."""

    mode: str
    health: EndpointHealth | None = None
    events: list[EndpointHealthEvent] = field(default_factory=list)
    limit: int = EVENTS_SHOWN

    @property
    def on(self) -> bool:
        return self.mode != "off"

    @property
    def mode_text(self) -> str:
        return MODE_TEXT.get(self.mode, self.mode)

    @property
    def down(self) -> bool:
        return self.health is not None and self.health.state == "down"

    @property
    def state_text(self) -> str:
        if self.health is None:
            return "Not checked yet"
        return "Down" if self.down else "Up"

    @staticmethod
    def source_text(source: str) -> str:
        return SOURCE_TEXT.get(source, source)


def panel(buyer: Buyer) -> Panel:
    """The buyer's panel: its state only while checks are on; its changes always (the last one
    may say checks were turned off)."""
    events = list(db.session.scalars(
        select(EndpointHealthEvent).where(EndpointHealthEvent.buyer_id == buyer.id)
        .order_by(EndpointHealthEvent.at.desc(), EndpointHealthEvent.id.desc())
        .limit(EVENTS_SHOWN)))
    mode = buyer.health_check or "off"
    health = state.health_of(buyer.id) if mode != "off" else None
    return Panel(mode=mode, health=health, events=events)


def down_causes(buyer_ids: list[int]) -> dict[int, str]:
    """``{buyer id: cause}`` for the buyers among ``buyer_ids`` that health checks hold down."""
    if not buyer_ids:
        return {}
    rows = db.session.execute(
        select(EndpointHealth.buyer_id, EndpointHealth.cause)
        .join(Buyer, Buyer.id == EndpointHealth.buyer_id)
        .where(EndpointHealth.buyer_id.in_(buyer_ids), EndpointHealth.state == "down",
               Buyer.health_check != "off"))
    return {buyer_id: cause or "unreachable" for buyer_id, cause in rows}
