"""What one OPTIONS probe found (``ProbeResult``), and the verdict in plain words with a fix hint.

``failure`` names why no usable reply came, each with its own hint: ``timeout`` (UDP: nothing
came back after the retransmissions), ``refused`` (ICMP port unreachable on UDP, RST on TCP),
``connect-timeout`` (TCP/TLS: the connection was never accepted), ``tls`` / ``tls-cert`` (the
TLS handshake or the certificate check failed), ``closed`` (the peer hung up before replying),
``unreachable`` (no route, network down), ``malformed`` (only replies we had to refuse).

This module is pure: no Flask, no database, no sockets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["ProbeResult", "describe", "verdict", "RETRY_ON"]

#: RFC 3263 section 4.3: a client moves on to the next target on these replies.
RETRY_ON = (503,)


@dataclass
class ProbeResult:
    host: str
    address: str
    port: int
    transport: str
    alive: bool = False
    status: int | None = None
    reason: str = ""
    failure: str | None = None
    detail: str = ""
    rtt_ms: float | None = None
    connect_ms: float | None = None
    retransmits: int = 0
    sent: str = ""
    reply_headers: dict = field(default_factory=dict)
    ignored: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def where(self) -> str:
        return f"{self.transport.upper()} {self.address}:{self.port}"


_HINTS = {
    "timeout": "the PBX or a firewall drops packets; if it whitelists IPs, have it allow "
               "Twilio's signalling ranges",
    "refused": "nothing listens there",
    "connect-timeout": "a firewall drops the connection, or the host is down",
    "tls-cert": "the certificate does not match the host name or is not trusted",
    "tls": "the TLS handshake failed",
    "closed": "the PBX closed the connection without answering",
    "unreachable": "there is no route to that address",
    "malformed": "the PBX answered with something that is not a valid SIP reply",
    "unsupported": "sipflask cannot probe this transport",
}

_CODE_HINTS = {
    401: "the PBX wants authentication (normal for OPTIONS on many PBXs)",
    403: "the PBX refuses us: check its IP whitelist or credentials",
    404: "the extension or queue does not exist",
    405: "the PBX does not answer OPTIONS but is up",
    407: "the proxy wants authentication",
    408: "the PBX could not reach the next hop",
    480: "the user is not available right now",
    486: "busy",
    488: "the PBX did not accept the request's media offer",
    501: "the PBX does not implement OPTIONS but is up",
    503: "the PBX is overloaded or in maintenance",
}


def describe(result: ProbeResult, user: str = "") -> str:
    """One probe in plain words: ``UDP 127.0.0.1:5060 timed out: the PBX or ...``."""
    if result.failure:
        text = {"timeout": "timed out", "refused": "refused",
                "connect-timeout": "connection timed out"}.get(result.failure, result.failure)
        hint = _HINTS.get(result.failure, "")
        detail = f" ({result.detail})" if result.detail and result.failure not in (
            "timeout", "refused") else ""
        return f"{result.where} {text}{detail}" + (f": {hint}" if hint else "")
    code = result.status
    words = f"{result.where} answered {code} {result.reason}"
    if code == 404 and user:
        words = f"{result.where}: 404 for user {user}"
    hint = _CODE_HINTS.get(code)
    rtt = f" in {result.rtt_ms:.0f} ms" if result.rtt_ms is not None else ""
    state = "alive" if result.alive else "down"
    return f"{words}{rtt} ({state}" + (f": {hint})" if hint else ")")


def verdict(resolution_error: str | None, results: list[ProbeResult], user: str = "") -> str:
    """The one sentence a user reads first."""
    if resolution_error:
        return resolution_error
    if not results:
        return "no target to probe"
    last = results[-1]
    if last.alive:
        return "alive: " + describe(last, user)
    return "down: " + "; ".join(describe(r, user) for r in results)
