"""Outbound webhooks in tests: a receiver fixture's helpers, webhooks saved through the real
writer, the deliveries and tries as plain data, a delivery run."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from sipflask.extensions import db
from sipflask.records import webhooks as webhook_records
from sipflask.webhooks import deliver
from sipflask.webhooks.model import Delivery, DeliveryTry, Webhook

SECRET = "whsec-0123456789abcdef"


def make_hook(app, event: str, url: str, ref: str | None = None, **fields) -> int:
    """Save a webhook through ``records.webhooks.save_webhook``; returns its id."""
    data = {"ref": ref or event.replace(".", "-").replace("_", "-"), "name": f"Hook {event}",
            "event": event, "url": url, "method": "POST",
            "body": '{"event": "[event]", "uuid": "[call_uuid]"}', **fields}
    with app.app_context():
        hook, report = webhook_records.save_webhook(None, data)
        assert hook is not None, report.errors
        return hook.id


def deliveries(app, event: str | None = None) -> list[dict]:
    with app.app_context():
        query = select(Delivery).order_by(Delivery.id)
        if event:
            query = query.where(Delivery.event == event)
        return [dict(id=d.id, uuid=d.uuid, event=d.event, state=d.state, tries=d.tries,
                     payload=dict(d.payload), call_id=d.call_id, webhook_id=d.webhook_id,
                     next_try_at=d.next_try_at, last_status=d.last_status,
                     last_error=d.last_error)
                for d in db.session.scalars(query)]


def tries_of(app, delivery_id: int) -> list[dict]:
    with app.app_context():
        return [dict(status=t.status, error=t.error, request=dict(t.request_summary),
                     body=t.response_body, headers=list(t.response_headers), at=t.at,
                     duration_ms=t.duration_ms)
                for t in db.session.scalars(select(DeliveryTry).where(
                    DeliveryTry.delivery_id == delivery_id).order_by(DeliveryTry.id))]


def run(app, at: datetime | None = None) -> dict:
    """One delivery job run, as the worker does it (``at``: the clock)."""
    with app.app_context():
        return deliver.deliver_round(at)


def hook_named(app, ref: str) -> Webhook:
    with app.app_context():
        return db.session.scalar(select(Webhook).where(Webhook.ref == ref))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)
