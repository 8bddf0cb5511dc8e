"""The rules of sending a webhook: the signature, which results are retried and when, and which
addresses a request may go to. Pure: no Flask, no database, no network.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

__all__ = ["signature", "retry_delay", "parse_retry_after", "Outcome", "outcome",
           "address_refusal", "METADATA_ADDRESSES", "DEFAULT_MAX_TRIES", "FIRST_DELAY",
           "MAX_RETRY_AFTER"]

DEFAULT_MAX_TRIES = 6
# 2, 4, 8, 16 and 32 minutes between the 6 tries: the last one about an hour after the first.
FIRST_DELAY = timedelta(minutes=2)
MAX_DELAY = timedelta(hours=1)
# A receiver's Retry-After is honoured up to this: it must not park a delivery for days.
MAX_RETRY_AFTER = timedelta(hours=1)

# Cloud instance metadata services: never a target, whatever WEBHOOKS_ALLOW_PRIVATE says.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",   # AWS, GCP, Azure, OpenStack, DigitalOcean...
    "169.254.170.2",     # AWS ECS task metadata
    "100.100.100.200",   # Alibaba Cloud
    "fd00:ec2::254",     # AWS over IPv6
))


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 over ``timestamp + "." + body`` (docs/webhooks.md)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def retry_delay(tries: int, retry_after: timedelta | None = None) -> timedelta:
    """How long to wait after the ``tries``-th try failed: doubling from 2 minutes, never
    sooner than the receiver's Retry-After (capped at an hour)."""
    delay = min(FIRST_DELAY * (2 ** max(tries - 1, 0)), MAX_DELAY)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After as seconds or as an HTTP date; None when absent or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=min(int(value[:12]), 10**9))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(when - now, timedelta(0))


@dataclass(frozen=True)
class Outcome:
    """What one try's result means: the delivery's new state, and whether to try again."""
    state: str   # "delivered", "pending" (tried again later), "failed"
    retry: bool
    reason: str


def outcome(status: int | None, error: str, tries: int, max_tries: int) -> Outcome:
    """2xx delivered; 429, 5xx, timeouts and connection errors tried again until ``max_tries``;
    any other status (a 3xx is not followed, a 4xx says the request itself is wrong) is final."""
    if status is not None and 200 <= status < 300:
        return Outcome("delivered", False, "")
    retryable = status is None or status == 429 or status >= 500
    if status is None:
        reason = error or "no response"
    elif 300 <= status < 400:
        reason = f"HTTP {status}: redirects are not followed"
    else:
        reason = f"HTTP {status}"
    if not retryable:
        return Outcome("failed", False, reason)
    if tries >= max_tries:
        return Outcome("failed", False, f"{reason}; gave up after {tries} tries")
    return Outcome("pending", True, reason)


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_link_local:
        return "link-local"
    if ip.is_loopback:
        return "loopback"
    if isinstance(ip, ipaddress.IPv6Address) and ip in ipaddress.ip_network("fc00::/7"):
        return "unique-local"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "private"
    return None


def address_refusal(address: str, allow_private: bool = False) -> str | None:
    """Why a request may not go to ``address`` (an IP), or None when it may.

    Refused: loopback, link-local, private, unique-local, multicast, unspecified and reserved
    addresses, and the cloud metadata services. ``allow_private`` (``WEBHOOKS_ALLOW_PRIVATE``)
    lets private, unique-local and loopback ones through, for a CRM on the same network;
    metadata, link-local, multicast and unspecified stay refused. An IPv4 address mapped into
    IPv6 is judged as the IPv4 address it is."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    kind = _kind(ip)
    if kind is None:
        return None
    if allow_private and kind in ("private", "unique-local", "loopback"):
        return None
    hint = "" if kind not in ("private", "unique-local", "loopback") else (
        " (SIPFLASK_WEBHOOKS_ALLOW_PRIVATE=true allows private and loopback addresses)")
    return f"{ip} is {kind}: webhooks are not sent there{hint}"
