"""Postbacks: a buyer reports a conversion for a call it received.

The buyer's server sends the call's ``key`` (the ``X-PH-RetreaverKey`` header of the SIP INVITE)
and ``uuid`` (``X-PH-RetreaverUUID``), optionally a ``revenue`` amount, and any other parameter as
a tag. The call is marked converted, its revenue set, the tags added; the postback itself is kept
on the call (without the key).

Rules:
- A wrong key and an unknown uuid look exactly alike (:class:`Forbidden`), and take the same path:
  one lookup, one constant-time comparison.
- Everything is checked before anything is written: a bad revenue or tag name changes nothing.
- An identical postback repeated (same uuid, revenue and tags) is recognised by its digest and
  changes nothing the second time.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sipflask.core.validation import CONTROL_RE, TAG_KEY_RE
from sipflask.extensions import db
from sipflask.models import Call, Postback, utcnow
from sipflask.webhooks import events as webhook_events

log = logging.getLogger("sipflask.postbacks")

MAX_TAGS = 50
MAX_VALUE = 500
MAX_REVENUE = Decimal("9999999999.99")  # Numeric(12, 2)
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_REVENUE_RE = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?\Z")
# Looked up (and compared against) when the uuid is malformed, so that path costs the same.
_NO_UUID = "00000000-0000-0000-0000-000000000000"
_NO_KEY = "0" * 64


class PostbackError(Exception):
    status = 400


class Forbidden(PostbackError):
    """Wrong key or unknown uuid: deliberately says nothing more."""

    status = 403

    def __init__(self):
        super().__init__("forbidden")


@dataclass
class Request:
    """A postback's parameters, checked: what will be written if the key is right."""

    uuid: str
    key: str
    revenue: Decimal | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """Same uuid, revenue and tags -> same digest, whatever the method or parameter order."""
        canonical = json.dumps(
            {"uuid": self.uuid.lower(),
             "revenue": None if self.revenue is None else f"{self.revenue:.2f}",
             "tags": sorted(self.tags.items())},
            separators=(",", ":"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def public_params(self) -> dict[str, str]:
        """What the postback carried, minus the key."""
        params = {"uuid": self.uuid}
        if self.revenue is not None:
            params["revenue"] = f"{self.revenue:.2f}"
        params.update(self.tags)
        return params


def _text(name: str, value) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise PostbackError(f"Parameter {name!r} must be a string or a number.")
    text = value if isinstance(value, str) else str(value)
    try:
        # JSON can carry lone surrogates ("\ud800"): stored, they would break every page and
        # CSV that shows the call.
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PostbackError(f"Parameter {name[:64]!r} is not valid Unicode.") from None
    return text


def parse_revenue(raw: str) -> Decimal | None:
    raw = raw.strip()
    if not raw:
        return None
    if not _REVENUE_RE.match(raw):
        raise PostbackError(
            f"revenue {raw[:40]!r} is not an amount: use digits with at most 2 decimals and a "
            "dot, like 12.50 (no currency sign, no thousands separator, not negative).")
    value = Decimal(raw)
    if value > MAX_REVENUE:
        raise PostbackError(f"revenue must be at most {MAX_REVENUE}.")
    return value


def parse(params: list[tuple[str, object]]) -> Request:
    """Check a postback's parameters (name, value pairs in the order received).

    Raises :class:`PostbackError` (400) naming the first bad parameter.
    """
    seen: dict[str, str] = {}
    for name, value in params:
        if not isinstance(name, str):
            raise PostbackError("Parameter names must be strings.")
        _text("name", name)
        text = _text(name, value)
        if name in seen and seen[name] != text:
            raise PostbackError(f"Parameter {name[:64]!r} is given twice with different values.")
        seen[name] = text
    key, uuid = seen.pop("key", ""), seen.pop("uuid", "")
    if not key or not uuid:
        raise PostbackError("Parameters 'key' and 'uuid' are required.")
    revenue_raw = seen.pop("revenue", "")
    tags: dict[str, str] = {}
    for name, value in seen.items():
        if not TAG_KEY_RE.match(name):
            raise PostbackError(
                f"Parameter {name[:64]!r} is not a valid tag name: use 1-64 lowercase letters, "
                "digits or _.")
        if CONTROL_RE.search(value):
            raise PostbackError(f"Parameter {name!r} contains control characters.")
        if len(value) > MAX_VALUE:
            raise PostbackError(f"Parameter {name!r} is longer than {MAX_VALUE} characters.")
        tags[name] = value
    if len(tags) > MAX_TAGS:
        raise PostbackError(f"At most {MAX_TAGS} tags per postback.")
    return Request(uuid=uuid, key=key, revenue=parse_revenue(revenue_raw), tags=tags)


def authenticate(req: Request) -> Call:
    """The call ``req`` is about, or :class:`Forbidden`: one path whatever is wrong."""
    lookup = req.uuid.lower() if _UUID_RE.match(req.uuid) else _NO_UUID
    call = db.session.scalar(select(Call).where(Call.uuid == lookup))
    expected = call.key if call is not None else _NO_KEY
    good = hmac.compare_digest(req.key.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8"))
    if call is None or not good:
        raise Forbidden()
    return call


@dataclass
class Outcome:
    call: Call
    duplicate: bool
    postback: Postback | None


def apply(req: Request, method: str, remote_addr: str) -> Outcome:
    """Authenticate, then mark the call converted, set revenue, add tags, record the postback."""
    call = authenticate(req)
    call_id, digest = call.id, req.digest
    if db.session.scalar(select(Postback.id).where(Postback.call_id == call.id,
                                                   Postback.digest == digest)) is not None:
        return Outcome(call, True, None)
    postback = Postback(call_id=call.id, digest=digest, method=method[:8],
                        params=req.public_params(), revenue=req.revenue, tags=dict(req.tags),
                        remote_addr=(remote_addr or "")[:64], received_at=utcnow())
    first = not call.converted
    call.converted = True
    if req.revenue is not None:
        call.revenue = req.revenue
    if req.tags:
        tags, sources = dict(call.tags or {}), dict(call.tag_sources or {})
        for name, value in req.tags.items():
            tags[name], sources[name] = value, "postback"
        call.tags, call.tag_sources = tags, sources
    db.session.add(postback)
    if first:
        # Once per call: a later postback (a revenue correction) is not another conversion.
        webhook_events.call_converted(call)
    try:
        db.session.commit()
    except IntegrityError:
        # The same postback arrived twice at once and the other one was stored first.
        db.session.rollback()
        call = db.session.get(Call, call_id)
        return Outcome(call, True, None)
    log.info("call %s: postback from %s (revenue %s, tags %s)", call.uuid, remote_addr,
             req.revenue, ", ".join(sorted(req.tags)) or "none")
    return Outcome(call, False, postback)


def postbacks_for(call: Call) -> list[Postback]:
    return list(db.session.scalars(select(Postback).where(Postback.call_id == call.id)
                                   .order_by(Postback.received_at, Postback.id)))
