"""The SIP INVITE a buyer's PBX receives for a planned attempt, for the buyer editor's preview.

Twilio turns ``<Sip>sip:user@host;params?H1=v1&H2=v2</Sip>`` into an INVITE whose Request-URI is
the URI without the ``?...`` part and whose extra headers are the ``name=value`` pairs,
percent-decoded. This module does that decoding on the dial string the plan actually built
(:attr:`sipflask.attempts.AttemptPlan.target`), so the preview shows what goes on the wire, not a
second rendering of the header rules. Each header carries its source: ``twilio`` for the
headers Twilio writes itself (Via, From, To, ...), and for the rest the source the plan recorded
(``default``, ``plugin:<name>``, ``buyer``).

Values Twilio picks per call (branch, tags, Call-ID, its own address) are shown as samples.

This module is pure: no Flask, no database.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from sipflask.core.dialplan import AttemptPlan
from sipflask.core.sip import SipUriError, parse_sip_uri
from sipflask.core.sipheaders import Header, pct_encode_user

__all__ = ["InviteHeader", "Invite", "split_dial_uri", "build_invite", "TWILIO"]

#: Source label of the headers Twilio itself writes.
TWILIO = "twilio"
#: Sample values for what Twilio chooses per call.
SAMPLE_TWILIO_HOST = "54.172.60.0"  # in Twilio's us1 signalling range (data/twilio_sip_ips.json)
SAMPLE_BRANCH = "z9hG4bK-sample-branch"
SAMPLE_FROM_TAG = "sample-from-tag"
SAMPLE_CALL_ID = "sample-call-id@twilio"


@dataclass(frozen=True)
class InviteHeader:
    name: str
    value: str
    source: str

    def line(self) -> str:
        return f"{self.name}: {self.value}"


@dataclass
class Invite:
    """An INVITE without its SDP body."""

    request_line: str
    headers: list[InviteHeader]
    dropped: list[tuple[Header, str]] = field(default_factory=list)
    #: The username Twilio answers a 401/407 challenge with (None: no credentials sent).
    auth_username: str | None = None

    @property
    def request_uri(self) -> str:
        return self.request_line.split(" ")[1]

    def text(self) -> str:
        lines = [self.request_line, *(h.line() for h in self.headers)]
        return "\r\n".join(lines) + "\r\n"

    def header(self, name: str) -> InviteHeader | None:
        key = name.casefold()
        return next((h for h in self.headers if h.name.casefold() == key), None)


def split_dial_uri(uri: str) -> tuple[str, list[tuple[str, str]]]:
    """``sip:u@h;p?A=1&B=x%20y`` -> ``("sip:u@h;p", [("A", "1"), ("B", "x y")])``.

    Values are decoded with ``unquote`` (never ``unquote_plus``: ``+`` is literal in SIP).
    """
    base, _, query = uri.partition("?")
    pairs: list[tuple[str, str]] = []
    if query:
        for part in query.split("&"):
            name, _, value = part.partition("=")
            pairs.append((name, unquote(value)))
    return base, pairs


def _transport(scheme: str, params: str) -> str:
    if scheme == "sips":
        return "TLS"
    for param in params[1:].split(";") if params else []:
        name, _, value = param.partition("=")
        if name.lower() == "transport" and value:
            return value.upper()
    return "UDP"


def build_invite(plan: AttemptPlan, caller: str, *, sip_username: str = "",
                 has_password: bool = False,
                 twilio_host: str = SAMPLE_TWILIO_HOST) -> Invite | None:
    """The INVITE for a SIP plan; None for a phone plan or a plan that failed."""
    if plan.kind != "sip" or plan.error or not plan.target:
        return None
    base, pairs = split_dial_uri(plan.target)
    try:
        uri = parse_sip_uri(base)
    except SipUriError:
        return None
    from_user = pct_encode_user(caller) if caller else "anonymous"
    display = caller.replace("\\", "\\\\").replace('"', '\\"') if caller else "Anonymous"
    headers = [
        InviteHeader("Via", f"SIP/2.0/{_transport(uri.scheme, uri.params)} {twilio_host}:5060;"
                            f"branch={SAMPLE_BRANCH}", TWILIO),
        InviteHeader("Max-Forwards", "70", TWILIO),
        InviteHeader("From", f'"{display}" <sip:{from_user}@{twilio_host}>;tag={SAMPLE_FROM_TAG}',
                     TWILIO),
        InviteHeader("To", f"<{base}>", TWILIO),
        InviteHeader("Call-ID", SAMPLE_CALL_ID, TWILIO),
        InviteHeader("CSeq", "1 INVITE", TWILIO),
        InviteHeader("Contact", f"<sip:{from_user}@{twilio_host}:5060>", TWILIO),
        InviteHeader("Content-Type", "application/sdp", TWILIO),
    ]
    # The source of each decoded header is the one the plan recorded for that name.
    sources = {h.name.casefold(): h.source for h in plan.sent}
    for name, value in pairs:
        headers.append(InviteHeader(name, value, sources.get(name.casefold(), "unknown")))
    auth = sip_username if sip_username and has_password else None
    return Invite(request_line=f"INVITE {base} SIP/2.0", headers=headers,
                  dropped=list(plan.dropped), auth_username=auth)
