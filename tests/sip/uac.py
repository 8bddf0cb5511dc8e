"""A minimal RFC 3261 UAC over UDP, playing Twilio's part in tests (standard library only).

``call(twiml)`` reads the ``<Dial><Sip>`` TwiML sipflask produced and does what Twilio does with it:
the URI's ``?name=value&...`` part becomes SIP headers (values percent-DECODED with
``urllib.parse.unquote``: ``+`` stays ``+``), the INVITE goes to the URI's host/port, a 401/407
challenge is answered once with RFC 2617 MD5 digest (``qop=auth`` when offered) using the
``<Sip username= password=>`` attributes, a 2xx is ACKed and the call hung up with BYE, and a
final error response is ACKed and reported.

Test code only: one call at a time, UDP only, no forking, no TCP/TLS; ACK and BYE go to the
URI's host:port (no Record-Route / Contact routing), which is where sipp answers from.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import unquote

T1 = 0.5  # RFC 3261 timer T1 (seconds)
LOCAL_IP = "127.0.0.1"


class SipError(Exception):
    """The call could not be carried out (bad TwiML/URI, timeout, protocol error)."""


# --------------------------------------------------------------------------------------------
# TwiML -> what Twilio would dial


@dataclass
class SipTarget:
    uri: str  # the <Sip> text as written (after XML unescaping), headers included
    request_uri: str  # the URI without the ?headers part
    headers: list[tuple[str, str]]  # decoded (name, value) pairs, in order
    username: str | None = None
    password: str | None = None
    host: str = ""
    port: int = 5060
    transport: str = "udp"


def parse_sip_uri_target(uri: str) -> tuple[str, list[tuple[str, str]], str, int, str]:
    """Split ``sip:user@host[:port][;params][?h=v&...]`` into its parts.

    Returns (request_uri, headers, host, port, transport). Header values are percent-decoded
    with ``unquote`` (never ``unquote_plus``: ``+`` is literal in SIP).
    """
    uri = uri.strip()
    request_uri, sep, header_part = uri.partition("?")
    headers: list[tuple[str, str]] = []
    if sep and header_part:
        for item in header_part.split("&"):
            if not item:
                continue
            name, eq, value = item.partition("=")
            name = unquote(name)
            value = unquote(value) if eq else ""
            if any(c in name for c in "\r\n :") or not name:
                raise SipError(f"bad SIP header name in URI: {name!r}")
            if "\r" in value or "\n" in value:
                raise SipError(f"header {name} value contains CR/LF: {value!r}")
            headers.append((name, value))

    m = re.match(r"^(sips?):(?:([^@]*)@)?([^;?]+)(;.*)?$", request_uri, re.IGNORECASE)
    if not m:
        raise SipError(f"not a SIP URI: {request_uri!r}")
    scheme, _user, hostport, params = m.groups()
    if scheme.lower() == "sips":
        raise SipError("sips: is not supported by this test UAC")
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 5060
    elif ":" in hostport:
        host, _, p = hostport.rpartition(":")
        port = int(p)
    else:
        host, port = hostport, 5060
    transport = "udp"
    for param in (params or "").split(";"):
        k, _, v = param.partition("=")
        if k.strip().lower() == "transport" and v:
            transport = v.strip().lower()
    return request_uri, headers, host, port, transport


def parse_twiml(twiml: str) -> SipTarget:
    """The first ``<Dial><Sip>`` of a TwiML document as a SipTarget."""
    root = ET.fromstring(twiml.encode("utf-8") if isinstance(twiml, str) else twiml)
    sip = root.find(".//Dial/Sip")
    if sip is None:
        raise SipError("no <Dial><Sip> in TwiML")
    uri = (sip.text or "").strip()
    request_uri, headers, host, port, transport = parse_sip_uri_target(uri)
    return SipTarget(
        uri=uri,
        request_uri=request_uri,
        headers=headers,
        username=sip.get("username"),
        password=sip.get("password"),
        host=host,
        port=port,
        transport=transport,
    )


# --------------------------------------------------------------------------------------------
# SIP messages


@dataclass
class SipResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        wanted = {name.lower(), _COMPACT.get(name.lower(), name.lower())}
        return [v for k, v in self.headers if k.lower() in wanted]

    @property
    def cseq(self) -> tuple[int, str]:
        num, _, method = (self.header("CSeq") or "0 ?").strip().partition(" ")
        return int(num), method.strip().upper()


_COMPACT = {
    "via": "v",
    "from": "f",
    "to": "t",
    "call-id": "i",
    "contact": "m",
    "content-length": "l",
    "content-type": "c",
}


def parse_response(data: bytes) -> SipResponse | None:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    m = re.match(r"^SIP/2\.0 (\d{3}) ?(.*)$", lines[0])
    if not m:
        return None  # a request (or garbage): this UAC serves no requests
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded line
            k, v = headers[-1]
            headers[-1] = (k, v + " " + line.strip())
            continue
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return SipResponse(int(m.group(1)), m.group(2), headers, body, data)


def _tag_of(header_value: str | None) -> str | None:
    if not header_value:
        return None
    m = re.search(r";\s*tag=([^;>\s]+)", header_value)
    return m.group(1) if m else None


def _uri_in(header_value: str | None) -> str | None:
    if not header_value:
        return None
    m = re.search(r"<([^>]+)>", header_value)
    return m.group(1) if m else header_value.split(";")[0].strip()


# --------------------------------------------------------------------------------------------
# Digest (RFC 2617)


def parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]+)', rest):
        params[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return scheme, params


def _md5(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


def digest_authorization(
    challenge: str, method: str, digest_uri: str, username: str, password: str, nc: int = 1,
    cnonce: str | None = None,
) -> str:
    """The Authorization value answering a ``Digest`` challenge (MD5; qop=auth if offered).

    Parameter order puts ``nonce`` before ``cnonce``: sipp 3.6's parameter lookup is a
    substring search, so a ``cnonce`` ahead of ``nonce`` would be read as the nonce.
    """
    scheme, p = parse_challenge(challenge)
    if scheme.lower() != "digest":
        raise SipError(f"unsupported auth scheme {scheme!r}")
    algorithm = p.get("algorithm", "MD5")
    if algorithm.upper() != "MD5":
        raise SipError(f"unsupported digest algorithm {algorithm!r}")
    realm, nonce = p.get("realm", ""), p.get("nonce", "")
    qops = [q.strip().lower() for q in p.get("qop", "").split(",") if q.strip()]
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{digest_uri}")
    parts = [
        f'username="{username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{digest_uri}"',
    ]
    if "auth" in qops:
        cnonce = cnonce or secrets.token_hex(8)
        ncs = f"{nc:08x}"
        response = _md5(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
        parts += [f'response="{response}"', "algorithm=MD5", f'cnonce="{cnonce}"', f"nc={ncs}", "qop=auth"]
    elif qops:
        raise SipError(f"no supported qop in {qops!r}")
    else:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
        parts += [f'response="{response}"', "algorithm=MD5"]
    if "opaque" in p:
        parts.append(f'opaque="{p["opaque"]}"')
    return "Digest " + ", ".join(parts)


# --------------------------------------------------------------------------------------------
# The call


@dataclass
class CallResult:
    final_codes: list[int] = field(default_factory=list)  # final INVITE responses, in order
    provisional_codes: list[int] = field(default_factory=list)
    bye_code: int | None = None  # final response to our BYE (None: no BYE sent)
    sent_headers: list[tuple[str, str]] = field(default_factory=list)  # the X-/URI headers sent
    invites: list[bytes] = field(default_factory=list)  # every INVITE as sent (first send)
    responses: list[SipResponse] = field(default_factory=list)
    authenticated: bool = False  # an Authorization was sent

    @property
    def final_code(self) -> int | None:
        return self.final_codes[-1] if self.final_codes else None

    @property
    def answered(self) -> bool:
        return self.final_code is not None and 200 <= self.final_code < 300


SDP = (
    "v=0\r\n"
    "o=sipflask 1 1 IN IP4 127.0.0.1\r\n"
    "s=sipflask-test\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)


class _Dialog:
    def __init__(self, sock: socket.socket, target: SipTarget, deadline: float):
        self.sock = sock
        self.target = target
        self.dest = (target.host, target.port)
        self.deadline = deadline
        self.local_port = sock.getsockname()[1]
        self.call_id = f"{secrets.token_hex(12)}@{LOCAL_IP}"
        self.from_tag = secrets.token_hex(6)
        self.cseq = 1

    # -- helpers
    def _remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _build(self, method: str, ruri: str, branch: str, cseq: int, to_tag: str | None,
               extra: list[tuple[str, str]] = (), body: str = "") -> bytes:
        body_b = body.encode("utf-8")
        to = f"<{self.target.request_uri}>" + (f";tag={to_tag}" if to_tag else "")
        hdrs = [
            ("Via", f"SIP/2.0/UDP {LOCAL_IP}:{self.local_port};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f'"sipflask test" <sip:+14155552671@{LOCAL_IP}>;tag={self.from_tag}'),
            ("To", to),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Contact", f"<sip:sipflask@{LOCAL_IP}:{self.local_port}>"),
            ("User-Agent", "sipflask-test-uac"),
            *extra,
        ]
        if body_b:
            hdrs.append(("Content-Type", "application/sdp"))
        hdrs.append(("Content-Length", str(len(body_b))))
        head = f"{method} {ruri} SIP/2.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs) + "\r\n"
        return head.encode("utf-8") + body_b

    def _send(self, data: bytes) -> None:
        self.sock.sendto(data, self.dest)

    def _recv(self, timeout: float) -> SipResponse | None:
        timeout = min(timeout, self._remaining())
        if timeout <= 0:
            raise SipError("call timed out")
        self.sock.settimeout(timeout)
        try:
            data, _addr = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        resp = parse_response(data)
        if resp is None or resp.header("Call-ID") != self.call_id:
            return None
        return resp

    def transaction(self, request: bytes, method: str, cseq: int, result: CallResult,
                    on_final_retransmit=None) -> SipResponse:
        """Send a non-ACK request with UDP retransmissions (timers A/E) and wait for its final
        response, recording provisionals."""
        self._send(request)
        interval, next_tx, proceeding = T1, time.monotonic() + T1, False
        while True:
            wait = next_tx - time.monotonic() if not proceeding else self._remaining()
            resp = self._recv(max(wait, 0.01))
            if resp is None:
                if not proceeding and time.monotonic() >= next_tx:
                    self._send(request)
                    interval = min(interval * 2, 4.0)  # T2 cap; fine for both timers A and E
                    next_tx = time.monotonic() + interval
                if self._remaining() <= 0:
                    raise SipError(f"no final response to {method} (cseq {cseq})")
                continue
            num, rmethod = resp.cseq
            if (num, rmethod) != (cseq, method):
                if on_final_retransmit and resp.status >= 200:
                    on_final_retransmit(resp)  # e.g. a 2xx retransmission of an earlier INVITE
                continue
            result.responses.append(resp)
            if resp.status < 200:
                if method == "INVITE":
                    result.provisional_codes.append(resp.status)
                    proceeding = True
                continue
            return resp

    def ack_for_error(self, invite_branch: str, cseq: int, resp: SipResponse) -> bytes:
        # RFC 3261 17.1.1.3: same branch as the INVITE, To from the response, same R-URI.
        to_tag = _tag_of(resp.header("To"))
        ack = self._build("ACK", self.target.request_uri, invite_branch, cseq, to_tag)
        self._send(ack)
        return ack


def call(twiml: str, timeout: float = 5.0) -> CallResult:
    """Dial the ``<Sip>`` of ``twiml`` as Twilio would; return what happened.

    Raises SipError on protocol problems or when ``timeout`` (seconds, whole call) runs out.
    """
    target = parse_twiml(twiml)
    if target.transport != "udp":
        raise SipError(f"transport {target.transport} not supported by this test UAC")
    result = CallResult(sent_headers=list(target.headers))
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((LOCAL_IP, 0))
        d = _Dialog(sock, target, deadline)
        auth_header: tuple[str, str] | None = None
        answered_acks: dict[int, bytes] = {}

        def reack(resp: SipResponse) -> None:
            num, method = resp.cseq
            if method == "INVITE" and num in answered_acks:
                d._send(answered_acks[num])

        while True:
            cseq = d.cseq
            branch = "z9hG4bK" + secrets.token_hex(8)
            extra = list(target.headers)
            if auth_header:
                extra.append(auth_header)
            invite = d._build("INVITE", target.request_uri, branch, cseq, None, extra, SDP)
            result.invites.append(invite)
            resp = d.transaction(invite, "INVITE", cseq, result, reack)
            result.final_codes.append(resp.status)

            if resp.status >= 300:
                answered_acks[cseq] = d.ack_for_error(branch, cseq, resp)
                challenge_hdr = {401: "WWW-Authenticate", 407: "Proxy-Authenticate"}.get(resp.status)
                if (challenge_hdr and auth_header is None and target.username
                        and target.password is not None and resp.header(challenge_hdr)):
                    value = digest_authorization(
                        resp.header(challenge_hdr), "INVITE", target.request_uri,
                        target.username, target.password,
                    )
                    auth_header = ("Authorization" if resp.status == 401
                                   else "Proxy-Authorization", value)
                    result.authenticated = True
                    d.cseq += 1
                    continue
                return result

            # 2xx: ACK (new transaction, to the remote target), then BYE.
            to_tag = _tag_of(resp.header("To"))
            remote = _uri_in(resp.header("Contact")) or target.request_uri
            ack = d._build("ACK", remote, "z9hG4bK" + secrets.token_hex(8), cseq, to_tag)
            answered_acks[cseq] = ack
            d._send(ack)
            d.cseq += 1
            bye = d._build("BYE", remote, "z9hG4bK" + secrets.token_hex(8), d.cseq, to_tag)
            bye_resp = d.transaction(bye, "BYE", d.cseq, result, reack)
            result.bye_code = bye_resp.status
            return result
    finally:
        sock.close()
