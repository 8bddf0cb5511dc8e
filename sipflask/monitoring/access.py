"""Who may read ``/metrics``: loopback, the networks in METRICS_ALLOW, or a bearer token."""
from __future__ import annotations

import hmac
from functools import lru_cache
from ipaddress import ip_address, ip_network

# A request through a local proxy arrives from loopback too; these headers mark it as proxied,
# so the loopback rule must not let the whole internet in behind nginx.
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


@lru_cache(maxsize=8)
def _parse(spec: str) -> tuple:
    return tuple(ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def allowed_networks(setting) -> tuple:
    """METRICS_ALLOW as networks: a comma-separated string or a list of CIDRs."""
    if not setting:
        return ()
    if not isinstance(setting, str):
        setting = ",".join(str(s) for s in setting)
    return _parse(setting)


def token_matches(header: str | None, token) -> bool:
    if not token or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), str(token).encode())


def metrics_allowed(request, config) -> bool:
    if token_matches(request.headers.get("Authorization"), config.get("METRICS_TOKEN")):
        return True
    try:
        addr = ip_address(request.remote_addr or "")
    except ValueError:
        return False
    addr = getattr(addr, "ipv4_mapped", None) or addr
    if addr.is_loopback and not any(h in request.headers for h in PROXY_HEADERS):
        return True
    return any(addr.version == net.version and addr in net
               for net in allowed_networks(config.get("METRICS_ALLOW")))
