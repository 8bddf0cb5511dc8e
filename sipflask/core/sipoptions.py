"""SIP OPTIONS, strictly: the request a probe sends (RFC 3261 section 11), the reply it reads,
and what counts as alive.

A reply is read only if it is well formed and answers our request (same top Via branch, Call-ID
and CSeq): anything else is refused with a reason, so a stray or broken message can never make
a dead endpoint look alive. What counts as alive follows Kamailio's ``ds_ping_reply_codes``: a
200, or a code the buyer accepts, since many PBXs answer OPTIONS with 404 or 401 while taking
INVITEs.

This module is pure: no Flask, no database, no sockets.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

__all__ = ["OptionsRequest", "Reply", "SipMessageError", "build_options", "parse_reply",
           "head_complete", "is_alive", "check_accepted_codes", "DEFAULT_ACCEPTED", "USER_AGENT"]

DEFAULT_ACCEPTED = (200, 401, 403, 404, 405, 407, 488, 501)
USER_AGENT = "sipflask-probe"
MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 branch prefix
VIA_TRANSPORT = {"udp": "UDP", "tcp": "TCP", "tls": "TLS"}
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")  # RFC 3261 token (header names)
_STATUS_RE = re.compile(r"SIP/2\.0 ([1-6][0-9][0-9]) ([^\r\n]*)\Z")
_CSEQ_RE = re.compile(r"([0-9]{1,10})[ \t]+([A-Za-z]+)\Z")
# RFC 3261 section 7.3.3 compact forms that a reply to OPTIONS may use.
COMPACT = {"v": "via", "i": "call-id", "f": "from", "t": "to", "l": "content-length",
           "m": "contact", "c": "content-type", "k": "supported", "s": "subject"}
MAX_MESSAGE = 65535


class SipMessageError(ValueError):
    """A request that cannot be built, or a reply that is malformed or not ours."""


@dataclass(frozen=True)
class OptionsRequest:
    text: str
    branch: str
    call_id: str
    cseq: int

    def wire(self) -> bytes:
        return self.text.encode("utf-8")


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = field(default=())

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive, compact forms understood)."""
        wanted = name.lower()
        for key, value in self.headers:
            if COMPACT.get(key.lower(), key.lower()) == wanted:
                return value
        return None

    @property
    def status_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"


def _safe_value(name: str, value: str) -> str:
    if any(ch in value for ch in "\r\n\0") or any(ord(ch) < 32 and ch != "\t" for ch in value):
        raise SipMessageError(f"header {name}: its value holds a line break or control character")
    return value


def build_options(request_uri: str, transport: str, local: tuple[str, int],
                  extra_headers=(), from_user: str = "sipflask", cseq: int = 1,
                  token=secrets.token_hex) -> OptionsRequest:
    """An OPTIONS for ``request_uri`` sent from ``local`` (ip, port) over ``transport``;
    ``extra_headers`` are the buyer's (name, value) pairs as the INVITE would carry them."""
    if transport not in VIA_TRANSPORT:
        raise SipMessageError(f"transport {transport!r} is not one the probe speaks")
    if any(ch in request_uri for ch in " \r\n\0<>"):
        raise SipMessageError("the request URI holds a space, line break or angle bracket")
    host, port = local
    sent_by = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    branch = MAGIC_COOKIE + token(12)
    call_id = f"{token(16)}@sipflask"
    scheme = "sips" if transport == "tls" else "sip"
    lines = [
        f"OPTIONS {request_uri} SIP/2.0",
        f"Via: SIP/2.0/{VIA_TRANSPORT[transport]} {sent_by};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <{scheme}:{from_user}@{sent_by}>;tag={token(8)}",
        f"To: <{request_uri}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} OPTIONS",
        f"Contact: <{scheme}:{from_user}@{sent_by};transport={transport}>",
        "Accept: application/sdp",
        f"User-Agent: {USER_AGENT}",
    ]
    taken = {line.split(":", 1)[0].lower() for line in lines[1:]}
    for name, value in extra_headers:
        if not _TOKEN_RE.match(name or "") or name.lower() in taken | set(COMPACT):
            raise SipMessageError(f"header name {name!r} cannot be sent")
        lines.append(f"{name}: {_safe_value(name, str(value))}")
    lines.append("Content-Length: 0")
    return OptionsRequest("\r\n".join(lines) + "\r\n\r\n", branch, call_id, cseq)


def head_complete(data: bytes) -> int | None:
    """For a stream: the total length of the first message in ``data`` once it is all there
    (head plus Content-Length body), else None. Raises SipMessageError for a broken head."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > MAX_MESSAGE:
            raise SipMessageError("no end of headers in the first 64 KiB")
        return None
    length = _content_length(_split_head(data[:end])[1], required=True)
    total = end + 4 + length
    return total if len(data) >= total else None


def _split_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipMessageError("the reply's headers are not UTF-8") from None
    if "\n" in text.replace("\r\n", "") or "\r" in text.replace("\r\n", ""):
        raise SipMessageError("a line of the reply does not end with CRLF")
    first, *rest = text.split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in rest:
        if line[:1] in (" ", "\t"):  # folded continuation (RFC 3261 section 7.3.1)
            if not headers:
                raise SipMessageError("the reply starts its headers with a continuation line")
            name, value = headers.pop()
            headers.append((name, f"{value} {line.strip()}"))
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _TOKEN_RE.match(name):
            raise SipMessageError(f"malformed header line {line[:60]!r}")
        headers.append((name, value.strip(" \t")))
    return first, headers


def _content_length(headers, required: bool) -> int:
    values = [v for k, v in headers if COMPACT.get(k.lower(), k.lower()) == "content-length"]
    if not values:
        if required:
            raise SipMessageError("a reply over a stream must have Content-Length")
        return 0
    if len(set(values)) > 1 or not values[0].isdigit() or int(values[0]) > MAX_MESSAGE:
        raise SipMessageError(f"bad Content-Length {values[0]!r}")
    return int(values[0])


def _check_ours(reply: Reply, request: OptionsRequest) -> None:
    via = reply.header("via")
    if via is None or reply.header("call-id") is None or reply.header("cseq") is None:
        raise SipMessageError("the reply lacks Via, Call-ID or CSeq")
    branch = re.search(r";\s*branch\s*=\s*([^;,\s]+)", via.split(",")[0], re.IGNORECASE)
    if not branch or branch.group(1) != request.branch:
        raise SipMessageError("the reply's Via branch is not our request's")
    if reply.header("call-id") != request.call_id:
        raise SipMessageError("the reply's Call-ID is not our request's")
    cseq = _CSEQ_RE.match(reply.header("cseq"))
    if not cseq or int(cseq.group(1)) != request.cseq or cseq.group(2) != "OPTIONS":
        raise SipMessageError(f"the reply's CSeq {reply.header('cseq')!r} is not our request's")


def parse_reply(data: bytes, request: OptionsRequest, stream: bool = False) -> Reply:
    """The reply in ``data`` (one UDP datagram, or one framed stream message), checked against
    ``request``. Raises SipMessageError when it is malformed or answers something else."""
    if len(data) > MAX_MESSAGE:
        raise SipMessageError("the reply is larger than 64 KiB")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipMessageError("the reply has no blank line after its headers")
    first, headers = _split_head(head)
    if first.startswith(tuple(f"{m} " for m in ("OPTIONS", "INVITE", "ACK", "BYE", "CANCEL",
                                                 "REGISTER", "NOTIFY", "MESSAGE", "INFO"))):
        raise SipMessageError("a request arrived, not a reply")
    status = _STATUS_RE.match(first)
    if not status:
        raise SipMessageError(f"malformed status line {first[:60]!r}")
    if len(body) < _content_length(headers, required=stream):
        raise SipMessageError("the reply's body is shorter than its Content-Length")
    reply = Reply(int(status.group(1)), status.group(2), tuple(headers))
    _check_ours(reply, request)
    return reply


def is_alive(status: int, accepted=DEFAULT_ACCEPTED) -> bool:
    """A 200, or a final code the buyer accepts. 1xx is not an answer; 503 (unavailable, the
    code that asks clients to go elsewhere) and 6xx are never alive; other 5xx only when
    accepted, like the default 501 ("OPTIONS not implemented" comes from a PBX that is up)."""
    return status == 200 or (200 <= status < 600 and status != 503
                             and status in set(accepted))


def check_accepted_codes(text) -> tuple[int, ...]:
    """``"200, 404 407"`` or a list -> the codes; refuses what could never mean alive."""
    items = re.split(r"[\s,]+", text.strip()) if isinstance(text, str) else list(text)
    codes = []
    for item in items:
        if item == "":
            continue
        # ASCII digits only, and few: int() refuses "²" and over 4300 digits (a 500, not a
        # message), and reads Arabic-Indic digits.
        digits = str(item)
        if (not (digits.isascii() and digits.isdigit() and len(digits) <= 6)
                or not 200 <= int(digits) <= 599 or int(digits) == 503):
            shown = item if len(digits) <= 20 else digits[:20] + "…"
            raise SipMessageError(f"{shown!r}: an accepted reply code is a number from 200 to "
                                  "599 other than 503 (a timeout, a 503 or a 6xx always means "
                                  "down)")
        codes.append(int(digits))
    return tuple(sorted(set(codes)))
