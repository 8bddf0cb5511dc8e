"""The one writer of webhooks (and their headers): the webhook editor saves through
:func:`save_webhook`, ``flask import`` through :func:`check_refs` and :func:`write_webhook`.

Secrets are write-only, like a buyer's SIP password: a secret header sent with an empty value
keeps the stored value of the secret header of the same name, and an empty signing secret keeps
the stored one (``clear_signing_secret`` removes it). Every write is tracked for the change
history (:mod:`sipflask.history`), secrets only as "changed".
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sipflask import history
from sipflask.core import webhook_rules
from sipflask.core.validation import Report
from sipflask.extensions import db
from sipflask.models import Buyer, Campaign, Number, Publisher
from sipflask.records.write import REFUSED, assign, commit
from sipflask.webhooks.model import Webhook, WebhookHeader

__all__ = ["save_webhook", "delete_webhook", "write_webhook", "check_refs", "check_secrets",
           "webhook_record", "export_webhooks", "known_tags", "FILTER_MODELS", "set_enabled"]

FIELDS = ("ref", "name", "event", "url", "method", "body_format", "body", "include_key",
          "enabled")
# Each filter's key in the record, its model and the Webhook relationship it sets.
FILTER_MODELS = {"campaign": (Campaign, "filter_campaign"),
                 "publisher": (Publisher, "filter_publisher"),
                 "buyer": (Buyer, "filter_buyer")}


def known_tags() -> set[str]:
    """Tag keys stored on numbers: token names the checks know (an unknown one is a warning)."""
    return {k for tags in db.session.scalars(select(Number.tags)) for k in (tags or {})}


def check_refs(report: Report, clean: dict, pending: dict[str, set] | None = None,
               path: str = "") -> None:
    """An error for each filter naming a campaign, publisher or buyer that is neither stored
    nor in ``pending`` (the refs of an import document)."""
    for key, (model, _) in FILTER_MODELS.items():
        ref = clean["filters"].get(key)
        if ref is None or ref in (pending or {}).get(key, set()):
            continue
        if db.session.scalar(select(model.id).where(model.ref == ref)) is None:
            report.error(f"{path}filters.{key}", f"No {key} with ref {ref!r}.")


def check_secrets(report: Report, clean: dict, stored: Webhook | None, path: str = "") -> None:
    """A secret header with no value needs a stored value under its name to keep."""
    kept = {h.name.lower() for h in (stored.headers if stored is not None else [])
            if h.secret and h.value_encrypted}
    for i, header in enumerate(clean["headers"]):
        if header.secret and not header.value and header.name.lower() not in kept:
            report.error(f"{path}headers[{i}].value", f"Enter the value of the secret header "
                                                      f"{header.name}.")


def _filters(webhook: Webhook, filters: dict) -> dict:
    values = {"filter_tag_key": filters["tag_key"], "filter_tag_value": filters["tag_value"]}
    for key, (model, attr) in FILTER_MODELS.items():
        ref = filters.get(key)
        target = db.session.scalar(select(model).where(model.ref == ref)) if ref else None
        if getattr(webhook, attr) is not target:
            values[attr] = target
    return values


def _write_headers(webhook: Webhook, wanted: list) -> bool:
    stored = {h.name.lower(): h for h in webhook.headers if h.secret}
    current = [(h.name, h.value if not h.secret else None, h.secret, h.value_encrypted)
               for h in webhook.headers]
    rows: list[WebhookHeader] = []
    for i, spec in enumerate(wanted):
        row = WebhookHeader(position=i, name=spec.name, secret=spec.secret, value="",
                            value_encrypted="")
        if not spec.secret:
            row.value = spec.value
        elif spec.value:
            old = stored.get(spec.name.lower())
            same = old is not None and old.value_encrypted and old.secret_value == spec.value
            row.value_encrypted = old.value_encrypted if same else ""
            if not same:
                row.secret_value = spec.value
        else:
            row.value_encrypted = stored[spec.name.lower()].value_encrypted
        rows.append(row)
    new = [(r.name, r.value if not r.secret else None, r.secret, r.value_encrypted)
           for r in rows]
    if new == current:
        return False
    webhook.headers = rows
    return True


def write_webhook(webhook: Webhook, clean: dict, *, clear_signing_secret: bool = False) -> bool:
    """Store a clean record (``check_webhook``'s, refs checked) on ``webhook``; no commit.
    Returns whether anything changed."""
    history.track(webhook)
    changed = assign(webhook, {key: clean[key] for key in FIELDS})
    changed = assign(webhook, _filters(webhook, clean["filters"])) or changed
    changed = _write_headers(webhook, clean["headers"]) or changed
    typed = clean.get("signing_secret")
    if clear_signing_secret and not typed:
        if webhook.signing_secret_encrypted:
            webhook.signing_secret_encrypted = ""
            changed = True
    elif typed and (not webhook.has_signing_secret or webhook.signing_secret != typed):
        webhook.signing_secret = typed
        changed = True
    return changed


def save_webhook(webhook: Webhook | None, data: dict, *, clear_signing_secret: bool = False
                 ) -> tuple[Webhook | None, Report]:
    """Check ``data`` (the import/export shape), then create (``webhook`` None) or update the
    webhook and commit. Returns the stored webhook, or None and the report with the errors
    (each at its field's path) when nothing was written."""
    report, clean = webhook_rules.check_webhook(data, known_tokens=known_tags())
    if clean["ref"]:
        taken = db.session.scalar(select(Webhook.id).where(Webhook.ref == clean["ref"]))
        if taken is not None and (webhook is None or taken != webhook.id):
            report.error("ref", f"Another webhook already has the ref {clean['ref']!r}.")
    if report.ok:
        check_refs(report, clean)
        check_secrets(report, clean, webhook)
    if not report.ok:
        return None, report
    target = webhook if webhook is not None else Webhook()
    if webhook is None:
        db.session.add(target)
    write_webhook(target, clean, clear_signing_secret=clear_signing_secret)
    if not commit():
        report.error("$", REFUSED)
        return None, report
    return target, report


def delete_webhook(webhook: Webhook) -> None:
    """Delete the webhook, its headers and its delivery log, and commit."""
    history.track_delete(webhook)
    db.session.delete(webhook)
    db.session.commit()


def webhook_record(webhook: Webhook, with_secrets: bool = False) -> dict[str, Any]:
    """A webhook in the import/export shape; secrets only ``with_secrets``."""
    headers = []
    for h in webhook.headers:
        row = {"name": h.name, "value": h.value}
        if h.secret:
            row = {"name": h.name, "value": h.secret_value if with_secrets else "",
                   "secret": True}
        headers.append(row)
    return {
        "id": webhook.id, "ref": webhook.ref, "name": webhook.name, "event": webhook.event,
        "url": webhook.url, "method": webhook.method, "body_format": webhook.body_format,
        "body": webhook.body, "headers": headers, "include_key": bool(webhook.include_key),
        "filters": {
            "campaign": webhook.filter_campaign.ref if webhook.filter_campaign else None,
            "publisher": webhook.filter_publisher.ref if webhook.filter_publisher else None,
            "buyer": webhook.filter_buyer.ref if webhook.filter_buyer else None,
            "tag_key": webhook.filter_tag_key or "", "tag_value": webhook.filter_tag_value or ""},
        "enabled": bool(webhook.enabled),
        "signing_secret": webhook.signing_secret if with_secrets else "",
    }


def export_webhooks(with_secrets: bool = False) -> list[dict[str, Any]]:
    return [webhook_record(w, with_secrets)
            for w in db.session.scalars(select(Webhook).order_by(Webhook.id))]


def set_enabled(webhook: Webhook, enabled: bool) -> bool:
    """Turn the webhook on or off (the list page's toggle) and commit; whether it changed."""
    if bool(webhook.enabled) == enabled:
        return False
    history.track(webhook)
    webhook.enabled = enabled
    db.session.commit()
    return True
