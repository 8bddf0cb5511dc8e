"""Inbound SIP settings as stored: read, export, apply an import's ``inbound`` section."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sipflask.core.inbound import normalise_name
from sipflask.core.ip_whitelist import check_ip_list, ip_sort_key
from sipflask.extensions import db
from sipflask.models import InboundIp, InboundSettings


def load_settings():
    """The settings row, or None when inbound SIP was never set up (nothing is created)."""
    return db.session.scalar(select(InboundSettings).order_by(InboundSettings.id).limit(1))


def get_settings():
    """The settings row, added to the session (not committed) when there is none yet."""
    row = load_settings()
    if row is None:
        row = InboundSettings(enabled=False, name="")
        db.session.add(row)
    return row


def stored_ips() -> list:
    rows = list(db.session.scalars(select(InboundIp)))
    return sorted(rows, key=lambda r: ip_sort_key(r.cidr))


def export_settings() -> dict[str, Any]:
    """``{"enabled": true, "name": "acme", "ip_whitelist": ["203.0.113.0/24"]}``.

    Never credentials: passwords are not exported, and usernames without them are no use.
    """
    row = load_settings()
    return {
        "enabled": bool(row.enabled) if row else False,
        "name": row.name if row else "",
        "ip_whitelist": [ip.cidr for ip in stored_ips()],
    }


def apply_settings(doc: dict[str, Any]) -> str:
    """Store a checked ``inbound`` section (no commit; the caller commits).

    Missing keys keep what is stored. The IP whitelist is replaced: entries already stored keep
    their Twilio SIDs. Credentials are not touched. Returns ``"created"``, ``"updated"`` or
    ``"unchanged"``; run a sync afterwards to apply the result at Twilio.
    """

    existed = load_settings() is not None
    if not existed and not doc.get("enabled") and not doc.get("name") \
            and not doc.get("ip_whitelist"):
        # What an export writes for a never-configured install: importing it back must leave
        # the database exactly as it was.
        return "unchanged"
    row = get_settings()
    changed = not existed
    if "enabled" in doc and bool(doc["enabled"]) != bool(row.enabled):
        row.enabled, changed = bool(doc["enabled"]), True
    if "name" in doc:
        name = normalise_name(doc.get("name"))
        if name != (row.name or ""):
            row.name, changed = name, True
    if "ip_whitelist" in doc:
        wanted = [e.text for e in check_ip_list(doc.get("ip_whitelist") or [])[0] if e]
        current = {ip.cidr: ip for ip in stored_ips()}
        for text, ip in current.items():
            if text not in wanted:
                db.session.delete(ip)
                changed = True
        for text in wanted:
            if text not in current:
                db.session.add(InboundIp(cidr=text))
                changed = True
    if not existed:
        return "created"
    return "updated" if changed else "unchanged"
