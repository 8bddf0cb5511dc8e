"""Inbound SIP settings as stored: read, export, and the one writer behind both the settings
page (``save_page``) and an import's ``inbound`` section (``apply_settings``)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sipflask import history
from sipflask.core.inbound import normalise_name
from sipflask.core.ip_whitelist import check_ip_list, ip_sort_key
from sipflask.extensions import db
from sipflask.models import InboundCredential, InboundIp, InboundSettings, utcnow


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
    history.track(row)
    changed = not existed
    if "enabled" in doc and bool(doc["enabled"]) != bool(row.enabled):
        row.enabled, changed = bool(doc["enabled"]), True
    if "name" in doc:
        name = normalise_name(doc.get("name"))
        if name != (row.name or ""):
            row.name, changed = name, True
    if "ip_whitelist" in doc:
        wanted = [e.text for e in check_ip_list(doc.get("ip_whitelist") or [])[0] if e]
        changed = replace_ips(wanted) or changed
    if not existed:
        return "created"
    return "updated" if changed else "unchanged"


def replace_ips(wanted: list[str]) -> bool:
    """Make the whitelist exactly ``wanted``; entries already stored keep their Twilio SIDs.
    Returns whether anything changed (no commit)."""
    current = {ip.cidr: ip for ip in db.session.scalars(select(InboundIp))}
    gone = [ip for text, ip in current.items() if text not in wanted]
    for ip in gone:
        db.session.delete(ip)
    db.session.flush()
    new = [text for text in dict.fromkeys(wanted) if text not in current]
    for text in new:
        db.session.add(InboundIp(cidr=text))
    return bool(gone or new)


def stored_credentials() -> dict[int, InboundCredential]:
    return {c.id: c for c in db.session.scalars(
        select(InboundCredential).order_by(InboundCredential.username))}


def save_page(enabled: bool, name: str, credentials: list[tuple[int | None, str, str]],
              ip_whitelist: list[str]) -> None:
    """Store the checked settings page and commit.

    ``credentials`` are ``(id, username, password)``: a stored one (``id`` set) keeps its
    username, gets the password when one is typed, and is marked for the next sync (Twilio
    can't tell which password it holds); stored ones not listed are removed.
    """
    settings = get_settings()
    history.track(settings)
    settings.enabled = enabled
    settings.name = name
    stored = stored_credentials()
    posted_ids = {cred_id for cred_id, _u, _p in credentials if cred_id is not None}
    for cred_id, cred in stored.items():
        if cred_id not in posted_ids:
            db.session.delete(cred)
    db.session.flush()  # a removed username may come back as a new row
    for cred_id, username, password in credentials:
        if cred_id is not None:
            if password:
                stored[cred_id].password = password
                stored[cred_id].twilio_sid = None
        elif username:
            cred = InboundCredential(username=username)
            cred.password = password
            db.session.add(cred)
    replace_ips(ip_whitelist)
    settings.updated_at = utcnow()
    db.session.commit()
