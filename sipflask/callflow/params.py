"""What Twilio's voice parameters say about a call: the number called, its tags, its kind.

``To`` becomes the tracking number (E.164, or a SIP URI's user part); Twilio's caller data and
inbound ``SipHeader_X-*`` parameters become tags; SIP-originated calls are classified against
the inbound settings before anything else happens.
"""
from __future__ import annotations

import hashlib
import re
from typing import Mapping

from sipflask.callflow.directory import NumberRow
from sipflask.core import inbound, sip
from sipflask.records import inbound as inbound_settings

# Twilio's caller-data parameters and the tags (and tokens) they become.
TWILIO_CALLER_TAGS = {"FromState": "caller_state", "FromZip": "caller_zip",
                      "FromCity": "caller_city", "FromCountry": "caller_country"}
_SIP_HEADER_PREFIX = "SipHeader_X-"
# What PostgreSQL refuses in text (NUL) and what no encoder can write (lone surrogates).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
CALL_SID_LENGTH = 34  # Twilio: "CA" + 32 hex digits


def storable(value: str) -> str:
    """``value`` with every character a database refuses replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value


def cleaned(form: Mapping[str, str]) -> dict[str, str]:
    """Twilio's parameters, first value of each, with unstorable characters replaced.

    Done once where a webhook comes in, so every value routed and stored downstream (tags,
    headers, the caller) is one the database accepts: a NUL from a SIP partner is not fatal.
    """
    items = form.items() if not hasattr(form, "to_dict") else form.to_dict().items()
    return {storable(str(k)): storable(str(v)) for k, v in items}


def call_sid(form: Mapping[str, str]) -> str | None:
    """The CallSid as stored: as sent when it fits Twilio's 34 characters, else a digest of it
    ("CX" + 32 hex), so an over-long one still routes, is recorded and is found again by the
    status callback."""
    sid = form.get("CallSid") or ""
    if not sid:
        return None
    if len(sid) <= CALL_SID_LENGTH:
        return sid
    return "CX" + hashlib.sha256(sid.encode("utf-8", "replace")).hexdigest()[:32]


def fit(value: str | None, length: int) -> str:
    """A display-only value cut to its column, marked with "…" when cut."""
    value = value or ""
    return value if len(value) <= length else value[:length - 1] + "…"


def sip_header_tag(header: str) -> str:
    """``X-Lead-Score`` -> ``lead_score`` (SPEC: inbound SIP header passthrough)."""
    name = header[2:] if header[:2].lower() == "x-" else header
    return name.lower().replace("-", "_")


def called_number(to: str) -> str:
    """The tracking number a call was made to: E.164 from ``To``, or a SIP URI's user part."""
    to = (to or "").strip()
    if sip.is_sip(to):
        try:
            return sip.parse_sip_uri(to.split("?", 1)[0]).user
        except sip.SipUriError:
            return ""
    return to


def tags_from(number: NumberRow | None, params: Mapping[str, str]) -> tuple[dict, dict]:
    """The call's tags and where each came from: the number, Twilio's caller data, SIP headers."""
    tags: dict[str, str] = {}
    sources: dict[str, str] = {}
    if number is not None:
        for k, v in number.tags.items():
            tags[k], sources[k] = str(v), "number"
    for param, tag in TWILIO_CALLER_TAGS.items():
        if params.get(param):
            tags[tag], sources[tag] = params[param], "twilio"
    for key, value in params.items():
        if key.startswith(_SIP_HEADER_PREFIX) and len(key) > len(_SIP_HEADER_PREFIX):
            tag = sip_header_tag(key[len("SipHeader_"):])
            if tag and all(c.isalnum() or c == "_" for c in tag):
                tags[tag], sources[tag] = value, "sip"
    return tags, sources


def classify(params: Mapping[str, str]) -> inbound.Decision:
    """Whether an inbound call may proceed, and the number it is for (SPEC "Inbound SIP")."""
    # Only SIP-originated calls need the inbound settings: phone calls skip that query.
    if params.get("SipDomain") or sip.is_sip(params.get("To", "")):
        settings = inbound_settings.load_settings()
        return inbound.classify(params, settings.name if settings else None,
                                bool(settings and settings.enabled))
    return inbound.classify(params, None, False)


def short(value, limit: int = 80) -> str:
    """For log lines: a caller-supplied value, quoted and cut short (a 200 KB ``To`` is not a
    log line)."""
    return inbound.short(str(value), limit)
