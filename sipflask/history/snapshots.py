"""Each kind of recorded row as a version the history keeps: a dict of JSON values in the
shape ``flask export`` uses, with secrets only as whether one is set (``"(set)"`` or ``""``).

Each ``snapshot`` returns that dict and, apart, the secrets' stored forms (ciphertexts, a
password hash): those stay in memory, only to tell whether a secret changed, and are never
written anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import select

from sipflask.core import health_rules
from sipflask.extensions import db
from sipflask.models import (AccountSettings, Buyer, Campaign, InboundCredential, InboundIp,
                             InboundSettings, Number, Publisher, User)
from sipflask.webhooks.model import Webhook

SET = "(set)"
Snapshot = tuple[dict[str, Any], dict[str, Any]]


def _flag(stored: str | None) -> str:
    return SET if stored else ""


def buyer(row: Buyer) -> Snapshot:
    return {
        "ref": row.ref, "name": row.name, "number": row.number,
        "sip_username": row.sip_username or "",
        "sip_password": _flag(row.sip_password_encrypted),
        "sip_headers": [{"name": h.name, "value": h.value} for h in row.headers],
        "priority": row.priority, "weight": row.weight, "timeout": row.timeout,
        "paused": bool(row.paused),
        "concurrency_cap": row.concurrency_cap, "hourly_cap": row.hourly_cap,
        "daily_cap": row.daily_cap, "monthly_cap": row.monthly_cap,
        "total_cap": row.total_cap, "cap_counts": row.cap_counts or "dialled",
        "time_zone": row.time_zone or "UTC", "hours": row.hours,
        "closures": list(row.closures or []), "health": health_rules.health_export(row),
    }, {"sip_password": row.sip_password_encrypted or ""}


def campaign(row: Campaign) -> Snapshot:
    return {"ref": row.ref, "name": row.name,
            "buyers": [e.buyer.ref for e in row.routing if e.buyer is not None],
            "settings": dict(row.settings or {})}, {}


def number(row: Number) -> Snapshot:
    return {"number": row.number,
            "campaign": row.campaign.ref if row.campaign else None,
            "publisher": row.publisher.ref if row.publisher else None,
            "sub_id": row.sub_id, "tags": dict(row.tags or {})}, {}


def publisher(row: Publisher) -> Snapshot:
    return {"ref": row.ref, "name": row.name, "afid": row.afid}, {}


def inbound(row: InboundSettings) -> Snapshot:
    creds = sorted(db.session.scalars(select(InboundCredential)), key=lambda c: c.username)
    ips = sorted(db.session.scalars(select(InboundIp.cidr)))
    return {"enabled": bool(row.enabled), "name": row.name or "", "ip_whitelist": ips,
            "credentials": [c.username for c in creds]}, \
        {"credential_passwords": tuple((c.username, c.password_encrypted) for c in creds)}


def account(row: AccountSettings) -> Snapshot:
    twilio = {"twilio_account_sid": row.twilio_account_sid or "",
              "twilio_auth_token": _flag(row.twilio_auth_token_encrypted),
              "twilio_api_key_sid": row.twilio_api_key_sid or "",
              "twilio_api_secret": _flag(row.twilio_api_secret_encrypted)}
    # The Twilio fields only when set: saving the time zone alone is a time zone change.
    return {"time_zone": row.time_zone, **{k: v for k, v in twilio.items() if v}}, \
        {"twilio_auth_token": row.twilio_auth_token_encrypted or "",
         "twilio_api_secret": row.twilio_api_secret_encrypted or ""}


def webhook(row: Webhook) -> Snapshot:
    def ref(obj):
        return obj.ref if obj is not None else None
    return {"ref": row.ref, "name": row.name, "event": row.event, "url": row.url,
            "method": row.method, "body_format": row.body_format or "", "body": row.body or "",
            "headers": [{"name": h.name, "value": _flag(h.value_encrypted) if h.secret
                         else h.value, "secret": bool(h.secret)} for h in row.headers],
            "include_key": bool(row.include_key), "enabled": bool(row.enabled),
            "filters": {"campaign": ref(row.filter_campaign),
                        "publisher": ref(row.filter_publisher), "buyer": ref(row.filter_buyer),
                        "tag_key": row.filter_tag_key or "",
                        "tag_value": row.filter_tag_value or ""},
            "signing_secret": _flag(row.signing_secret_encrypted)}, \
        {"signing_secret": row.signing_secret_encrypted or "",
         "secret_headers": tuple((h.name, h.value_encrypted) for h in row.headers if h.secret)}


def user(row: User) -> Snapshot:
    return {"email": row.email, "role": row.role}, {"password": row.password_hash or ""}


@dataclass(frozen=True)
class Kind:
    name: str
    snapshot: Callable[[Any], Snapshot]
    ref: Callable[[Any], str]
    label: Callable[[Any], str]
    # Relationships to read again after the flush: they can change without the row's own
    # object seeing it (a routing entry added by campaign id; a publisher deleted under a
    # number). The rest of the row in memory is what was just stored.
    refresh: tuple[str, ...] = ()


KINDS: dict[type, Kind] = {
    Buyer: Kind("buyer", buyer, lambda r: r.ref, lambda r: r.name),
    Campaign: Kind("campaign", campaign, lambda r: r.ref, lambda r: r.name, ("routing",)),
    Number: Kind("number", number, lambda r: r.number, lambda r: r.number,
                 ("campaign", "publisher")),
    Publisher: Kind("publisher", publisher, lambda r: r.ref, lambda r: r.name),
    InboundSettings: Kind("inbound", inbound, lambda r: r.name or "",
                          lambda r: "Inbound SIP settings"),
    AccountSettings: Kind("account", account, lambda r: "", lambda r: "Account settings"),
    User: Kind("user", user, lambda r: r.email, lambda r: r.email),
    Webhook: Kind("webhook", webhook, lambda r: r.ref, lambda r: r.name,
                  ("filter_campaign", "filter_publisher", "filter_buyer")),
}
RECORD_TYPES = tuple(k.name for k in KINDS.values())


def kind_of(row) -> Kind:
    return KINDS[type(row)]
