"""The webhook pages in tests: the editor's form as a browser posts it, stored webhooks,
calls and deliveries to show in the log, and pieces of the pages (a field's messages, the
Send test panel, one delivery)."""
from __future__ import annotations

import re
import uuid as uuidlib
from datetime import timedelta

from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Call, utcnow
from sipflask.records.webhooks import save_webhook
from sipflask.webhooks.model import Delivery, DeliveryTry, Webhook

SECRET_HEADER = "Bearer sk-live-0123456789abcdef"
SIGNING_SECRET = "whsec-9f8e7d6c5b4a39281706"


def record(**overrides) -> dict:
    """A webhook in the import/export shape (save_webhook's input)."""
    rec = {"ref": "conversions", "name": "Conversions", "event": "call.completed",
           "url": "https://crm.example.com/hook?id=[call_uuid]", "method": "POST",
           "body_format": "json", "body": '{"call": "[call_uuid]", "status": "[call_status]"}',
           "headers": [{"name": "X-Campaign", "value": "[campaign_id]"},
                       {"name": "Authorization", "value": SECRET_HEADER, "secret": True}],
           "enabled": True, "signing_secret": SIGNING_SECRET}
    rec.update(overrides)
    return rec


def make_webhook(app, **overrides) -> int:
    with app.app_context():
        webhook, report = save_webhook(None, record(**overrides))
        assert webhook is not None, report.errors
        return webhook.id


def form_data(**overrides) -> dict:
    """The new-webhook form as a browser posts it (a secret header typed)."""
    data = {"name": "Conversions", "ref": "", "event": "call.completed",
            "url": "https://crm.example.com/hook?id=[call_uuid]", "method": "POST",
            "body_format": "json", "body": '{"call": "[call_uuid]"}', "enabled": "y",
            "headers-0-name": "X-Campaign", "headers-0-value": "[campaign_id]",
            "headers-1-name": "Authorization", "headers-1-value": SECRET_HEADER,
            "headers-1-secret": "y", "signing_secret": "", "filter_campaign": "",
            "filter_publisher": "", "filter_buyer": "", "filter_tag_key": "",
            "filter_tag_value": "", "test_call": "sample", "action": "save"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def edit_data(app, webhook_id: int, **overrides) -> dict:
    """The edit form of a stored webhook as the browser posts it unchanged (secrets empty)."""
    with app.app_context():
        w = db.session.get(Webhook, webhook_id)
        data = {"name": w.name, "ref": w.ref, "event": w.event, "url": w.url,
                "method": w.method, "body_format": w.body_format or "json", "body": w.body,
                "signing_secret": "", "filter_campaign": "", "filter_publisher": "",
                "filter_buyer": "", "filter_tag_key": w.filter_tag_key,
                "filter_tag_value": w.filter_tag_value, "test_call": "sample", "action": "save"}
        if w.enabled:
            data["enabled"] = "y"
        for i, h in enumerate(w.headers):
            data[f"headers-{i}-name"] = h.name
            data[f"headers-{i}-value"] = "" if h.secret else h.value
            if h.secret:
                data[f"headers-{i}-secret"] = "y"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def stored(app, webhook_id: int | None = None, ref: str | None = None) -> dict | None:
    """A stored webhook's values, secrets decrypted (what a save really kept)."""
    with app.app_context():
        stmt = select(Webhook).where(Webhook.id == webhook_id) if webhook_id is not None \
            else select(Webhook).where(Webhook.ref == ref)
        w = db.session.scalar(stmt)
        if w is None:
            return None
        return {"id": w.id, "ref": w.ref, "name": w.name, "url": w.url, "enabled": w.enabled,
                "event": w.event, "method": w.method, "body": w.body,
                "signing_secret": w.signing_secret if w.has_signing_secret else "",
                "headers": [(h.name, h.secret_value if h.secret else h.value, h.secret)
                            for h in w.headers]}


def count(app, model=Webhook) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def make_call(app, **fields) -> tuple[int, str, str]:
    """A finished call in the log: its id, uuid and postback key."""
    with app.app_context():
        call = Call(caller="+14155550100", called="+18885550100", status="completed",
                    duration=42, tags={"caller_state": "CA"}, **fields)
        db.session.add(call)
        db.session.commit()
        return call.id, call.uuid, call.key


def make_delivery(app, webhook_id: int, call_id: int | None = None, *, state="failed",
                  tries=(), event="call.completed", payload=None) -> int:
    """A delivery with its tries: each try a dict of DeliveryTry's columns."""
    with app.app_context():
        d = Delivery(webhook_id=webhook_id, call_id=call_id, event=event, state=state,
                     payload=payload or {"call_uuid": "x", "event": event}, tries=len(tries),
                     next_try_at=utcnow() + timedelta(minutes=5) if state == "pending" else None,
                     last_status=(tries[-1].get("status") if tries else None),
                     last_error=(tries[-1].get("error", "") if tries else ""))
        d.uuid = str(uuidlib.uuid4())
        db.session.add(d)
        db.session.flush()
        for t in tries:
            db.session.add(DeliveryTry(delivery_id=d.id, **t))
        db.session.commit()
        return d.id


def msg_div(body: str, field_id: str) -> str:
    m = re.search(rf'<div class="msgs" id="msg-{re.escape(field_id)}"[^>]*>(.*?)</div>', body,
                  re.S)
    assert m, f"no messages for {field_id}"
    return m.group(1)


def is_fragment(body: str) -> bool:
    return "<html" not in body and "<!doctype" not in body.lower()


def section(body: str, element_id: str) -> str:
    """The element with this id up to the next element of the same kind's end (enough for the
    tests' substring checks: from its start to the end of the body)."""
    start = body.find(f'id="{element_id}"')
    assert start >= 0, f"no #{element_id}"
    return body[start:]
