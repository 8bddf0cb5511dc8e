"""What the call log's words mean: call statuses, Twilio's dial statuses, SIP response codes
(with what to do about each) and where a header or tag came from.

Pure: the call pages, buyer health and the CSV export read these; nothing here touches the
database or the request.
"""
from __future__ import annotations

from dataclasses import dataclass

# A call in one of these is still going: its page and the list refresh themselves.
LIVE_STATUSES = ("ringing", "routing", "in-progress")
# Every status sipflask.callflow can set, in the order the filter offers them.
STATUSES = ("ringing", "routing", "in-progress", "completed", "busy", "no-answer", "failed",
            "canceled", "no-buyer", "rejected")
ANSWERED_DIAL_STATUSES = ("completed", "answered")

DIAL_STATUS_MEANINGS = {
    "completed": "answered by the buyer, then hung up",
    "answered": "answered by the buyer",
    "busy": "the buyer was busy",
    "no-answer": "the buyer did not answer within the ring timeout",
    "failed": "the call could not be placed (see the SIP code)",
    "canceled": "the caller hung up before the buyer answered",
    "unknown": "Twilio sent no DialCallStatus",
}


def is_live(status: str | None) -> bool:
    return status in LIVE_STATUSES


def dial_status_meaning(status: str | None) -> str:
    if not status:
        return "still ringing (no result from Twilio yet)"
    return DIAL_STATUS_MEANINGS.get(status, "")


# --- SIP response codes ----------------------------------------------------------------------

@dataclass(frozen=True)
class SipExplanation:
    code: int
    meaning: str
    hint: str  # what to do about it; empty when nothing needs doing


SIP_CODES: dict[int, tuple[str, str]] = {
    200: ("OK: the buyer answered", ""),
    401: ("Unauthorized: the PBX asked for credentials",
          "Set the buyer's SIP Username and SIP Password to what the PBX expects, or ask the buyer "
          "to whitelist Twilio's signalling IPs instead."),
    403: ("Forbidden: the PBX refused our credentials or our IP is not whitelisted",
          "Check the buyer's SIP Username and SIP Password; if the buyer authenticates by IP, ask "
          "them to whitelist all of Twilio's signalling ranges (see the buyer page)."),
    404: ("Not Found: no such user or extension in the URI",
          "Check the user part of the buyer's SIP URI (before the @): the extension, queue or DID "
          "must exist on the PBX, and tokens in it must expand to a real value."),
    407: ("Proxy Authentication Required: a SIP proxy asked for credentials",
          "Set the buyer's SIP Username and SIP Password, or ask the buyer to whitelist Twilio's "
          "signalling IPs on the proxy."),
    408: ("Request Timeout: the buyer's PBX did not answer the INVITE in time",
          "The host is unreachable or drops packets: check the host and port in the URI, the "
          "transport (;transport=tcp/udp) and the buyer's firewall for Twilio's IPs."),
    480: ("Temporarily Unavailable: the user or extension is not reachable now",
          "The extension exists but nobody is registered or logged in (agents offline, queue "
          "closed). Ask the buyer to check their agents, or pause the buyer."),
    484: ("Address Incomplete: the number or user in the URI is incomplete",
          "Check the user part of the URI: a missing digit or a token that expanded to nothing."),
    486: ("Busy Here: the buyer is busy",
          "Nothing is wrong with the setup; lower the buyer's concurrency cap if it happens often."),
    487: ("Request Terminated: the call was cancelled before it was answered",
          "Usually the caller hung up, or the ring timeout ran out; raise the buyer's timeout if "
          "they answer slowly."),
    488: ("Not Acceptable Here: the PBX refused the media (codecs) offered",
          "Ask the buyer to allow PCMU/PCMA (G.711) and Twilio's media range 168.86.128.0/18."),
    500: ("Server Internal Error: the buyer's PBX failed",
          "A problem on the buyer's side: tell the buyer, with the time of the call."),
    502: ("Bad Gateway: a proxy or gateway in front of the buyer failed",
          "A problem on the buyer's side (their carrier or SBC): tell the buyer."),
    503: ("Service Unavailable: the buyer's PBX is overloaded or down",
          "The buyer cannot take calls right now; pause them or rely on the next buyer."),
    504: ("Server Time-out: a gateway behind the buyer's PBX did not answer",
          "A problem beyond the buyer's PBX (their carrier): tell the buyer."),
    600: ("Busy Everywhere: every destination of the buyer is busy",
          "The buyer is at capacity; lower their concurrency cap."),
    603: ("Decline: the buyer's PBX rejected the call",
          "The buyer refuses calls from us or from this caller: check with the buyer (caller "
          "ID rules, blocked numbers, business hours)."),
}

_CLASS_MEANINGS = {
    1: ("Provisional response", ""),
    2: ("Success", ""),
    3: ("Redirection: the buyer's PBX sent the call elsewhere",
        "Twilio does not follow SIP redirects: use the URI the buyer redirects to."),
    4: ("Request failure: the buyer's PBX refused this call",
        "Check the buyer's URI and credentials with the buyer."),
    5: ("Server failure on the buyer's side", "Tell the buyer, with the time of the call."),
    6: ("Global failure: the buyer refuses the call everywhere", "Check with the buyer."),
}


def explain_sip(code: int | None) -> SipExplanation | None:
    """What a ``DialSipResponseCode`` means and how to fix it (None for no code)."""
    if code is None:
        return None
    if code in SIP_CODES:
        meaning, hint = SIP_CODES[code]
    else:
        meaning, hint = _CLASS_MEANINGS.get(code // 100, ("Unknown SIP response", ""))
    return SipExplanation(code, meaning, hint)


# --- where things came from ------------------------------------------------------------------

def source_label(source: str | None) -> str:
    """Human words for a header or tag source (``plugin:crm`` -> ``plugin crm``)."""
    if not source:
        return "unknown"
    if source.startswith("plugin:"):
        return "plugin " + source[len("plugin:"):]
    return {"default": "default", "buyer": "buyer", "number": "tracking number",
            "twilio": "Twilio caller data", "sip": "inbound SIP header",
            "postback": "buyer postback", "plugin": "plugin"}.get(source, source)
