"""Calls in progress now, for the overview's live strip: per campaign, and per buyer against
its concurrency cap.

Both reads stay cheap however many calls are stored: live calls are the open ones
(``ended_at IS NULL``, the partial index ``ix_calls_open`` the lease sweeper uses too), and a
buyer's calls in progress are its ``active_calls`` counter, the one the concurrency cap is
checked against when routing (callflow/caps.py). A page load never writes: expired slot leases
are given back by the sweeper and by routing, not here.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from sipflask.core.sipcodes import LIVE_STATUSES
from sipflask.extensions import db
from sipflask.models import Buyer, Call, Campaign

# Enough for a glance; the strip says when there are more.
MAX_ROWS = 12


@dataclass
class LiveCampaign:
    campaign_id: int | None
    label: str
    live: int       # ringing, routing or talking
    talking: int    # a buyer answered ("in-progress")


@dataclass
class LiveBuyer:
    buyer_id: int
    label: str
    active: int
    cap: int | None
    paused: bool

    @property
    def full(self) -> bool:
        return self.cap is not None and self.active >= self.cap


@dataclass
class LiveStrip:
    campaigns: list[LiveCampaign]
    buyers: list[LiveBuyer]
    live_calls: int
    more_campaigns: int = 0
    more_buyers: int = 0


def campaigns_live() -> list[LiveCampaign]:
    talking = func.sum(case((Call.status == "in-progress", 1), else_=0))
    rows = db.session.execute(
        select(Call.campaign_id, Campaign.name, func.count(), talking)
        .outerjoin(Campaign, Campaign.id == Call.campaign_id)
        .where(Call.ended_at.is_(None), Call.status.in_(LIVE_STATUSES))
        .group_by(Call.campaign_id, Campaign.name)).all()
    found = [LiveCampaign(cid, name or "(no campaign)", int(n), int(t or 0))
             for cid, name, n, t in rows]
    return sorted(found, key=lambda c: (-c.live, c.label))


def buyers_live() -> list[LiveBuyer]:
    """Buyers on a call now, fullest first (against their cap, then by count)."""
    rows = db.session.execute(
        select(Buyer.id, Buyer.name, Buyer.active_calls, Buyer.concurrency_cap, Buyer.paused)
        .where(Buyer.active_calls > 0)).all()
    found = [LiveBuyer(bid, name, int(active), cap, bool(paused))
             for bid, name, active, cap, paused in rows]
    return sorted(found, key=lambda b: (not b.full, -b.active, b.label))


def live_strip() -> LiveStrip:
    campaigns, buyers = campaigns_live(), buyers_live()
    return LiveStrip(campaigns=campaigns[:MAX_ROWS], buyers=buyers[:MAX_ROWS],
                     live_calls=sum(c.live for c in campaigns),
                     more_campaigns=max(0, len(campaigns) - MAX_ROWS),
                     more_buyers=max(0, len(buyers) - MAX_ROWS))
