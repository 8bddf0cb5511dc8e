"""Campaign routing lists as stored: every change to the order goes through here, so the
positions are always 0, 1, 2, ... in the order the user chose (the webhook dials in that order).
"""
from __future__ import annotations

from sqlalchemy import func, select

from sipflask import history
from sipflask.extensions import db
from sipflask.models import Buyer, Campaign, CampaignBuyer


def renumber(entries) -> None:
    for i, entry in enumerate(entries):
        entry.position = i


def append(campaign: Campaign, buyer: Buyer) -> None:
    history.track(campaign)
    campaign.routing.append(CampaignBuyer(buyer=buyer, position=len(campaign.routing)))


def move(campaign: Campaign, entry: CampaignBuyer, direction: str) -> None:
    """Swap ``entry`` with its neighbour above (``up``) or below; no commit."""
    history.track(campaign)
    entries = list(campaign.routing)
    i = entries.index(entry)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(entries):
        entries[i], entries[j] = entries[j], entries[i]
    renumber(entries)


def remove(campaign: Campaign, entry: CampaignBuyer) -> None:
    history.track(campaign)
    campaign.routing.remove(entry)
    renumber(campaign.routing)


def replace(campaign: Campaign, buyers: list[Buyer]) -> bool:
    """Make the routing list exactly ``buyers``, in that order; False when it already was."""
    if [e.buyer for e in campaign.routing] == buyers:
        return False
    history.track(campaign)
    campaign.routing.clear()
    db.session.flush()  # the old rows go first: (campaign, buyer) is unique
    for buyer in buyers:
        append(campaign, buyer)
    return True


def place_buyer(buyer: Buyer, campaign_ids: set[int]) -> None:
    """Put ``buyer`` at the end of these campaigns' lists (where it isn't yet) and off the
    others' lists, closing the gap it leaves."""
    current = {e.campaign_id: e for e in buyer.routing if e.campaign_id is not None}
    left = [cid for cid in current if cid not in campaign_ids]
    for cid in set(left) | (campaign_ids - set(current)):
        campaign = db.session.get(Campaign, cid)
        if campaign is not None:
            history.track(campaign)
    for cid in left:
        db.session.delete(current[cid])
    db.session.flush()
    for cid in sorted(campaign_ids - set(current)):
        last = db.session.scalar(select(func.max(CampaignBuyer.position))
                                 .where(CampaignBuyer.campaign_id == cid))
        db.session.add(CampaignBuyer(campaign_id=cid, buyer=buyer,
                                     position=0 if last is None else last + 1))
    for cid in left:
        renumber(db.session.scalars(select(CampaignBuyer).where(CampaignBuyer.campaign_id == cid)
                                    .order_by(CampaignBuyer.position)).all())
