"""The delivery log as the pages show it: a webhook's deliveries (newest first, paged) and a
call's, each with its tries."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from sipflask.extensions import db
from sipflask.webhooks.model import Delivery, Webhook

__all__ = ["Page", "deliveries_for_webhook", "deliveries_for_call", "latest_for_webhooks",
           "PER_PAGE"]

PER_PAGE = 25


@dataclass
class Page:
    items: list[Delivery]
    page: int
    pages: int
    total: int


def deliveries_for_webhook(webhook_id: int, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One page of the webhook's deliveries, newest first, each with its tries loaded."""
    total = db.session.scalar(select(func.count()).select_from(Delivery)
                              .where(Delivery.webhook_id == webhook_id)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    items = list(db.session.scalars(
        select(Delivery).where(Delivery.webhook_id == webhook_id)
        .options(selectinload(Delivery.tries_made))
        .order_by(Delivery.id.desc()).offset((page - 1) * per_page).limit(per_page)))
    return Page(items, page, pages, total)


def deliveries_for_call(call_id: int) -> list[Delivery]:
    """Every delivery of the call's events, in the order they happened, with their webhook
    and tries loaded."""
    return list(db.session.scalars(
        select(Delivery).join(Webhook, Webhook.id == Delivery.webhook_id)
        .where(Delivery.call_id == call_id)
        .options(selectinload(Delivery.tries_made), selectinload(Delivery.webhook))
        .order_by(Delivery.id)))


def latest_for_webhooks(webhook_ids: list[int]) -> dict[int, Delivery]:
    """Each webhook's newest delivery (the list page's "last delivery"), in one query."""
    if not webhook_ids:
        return {}
    newest = (select(func.max(Delivery.id)).where(Delivery.webhook_id.in_(webhook_ids))
              .group_by(Delivery.webhook_id))
    rows = db.session.scalars(select(Delivery).where(Delivery.id.in_(newest)))
    return {d.webhook_id: d for d in rows}
