"""Plan one dial attempt to one buyer: tokens, escaping, headers, TwiML.

Both the voice webhook and the buyer editor's preview call
:func:`plan_attempt`, so what the preview shows is exactly what Twilio gets.

Order of work for a SIP buyer (SPEC "Tokens", "Outbound SIP"):

1. expand tokens in the buyer's URI, percent-encoding each value with
   :func:`~sipflask.core.sipheaders.pct_encode_user` (a value cannot add a parameter, a
   header, a login or a host);
2. merge headers: defaults, then plugin headers, then the buyer's own, each
   buyer value token-expanded *without* escaping -- the whole value is
   percent-encoded once, when the URI is built;
3. :func:`~sipflask.core.sipheaders.build_dial_uri` validates the URI, checks Twilio's
   limits and drops headers (recording why) if they do not fit;
4. ``<Dial><Sip>`` TwiML, with credentials only when both are set.

For a phone buyer, token values are reduced to digits, the result is
normalised to E.164 and dialled with ``<Number>``; no headers.

Any problem with the expanded result (an invalid URI or number) gives a plan
with ``error`` set and empty ``twiml``: the caller records it and moves on to
the next buyer instead of failing the call.

This module is pure: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sipflask.core.phone import digits_only, normalise_e164
from sipflask.core.sip import is_sip
from sipflask.core.sipheaders import Header, build_dial_uri, merge_headers, pct_encode_user
from sipflask.core.tokens import expand
from sipflask.core.twiml import dial_number, dial_sip

__all__ = [
    "BuyerSpec",
    "AttemptPlan",
    "default_headers",
    "buyer_headers",
    "plan_attempt",
]


@dataclass
class BuyerSpec:
    """What :func:`plan_attempt` needs to know about a buyer.

    ``number`` is an E.164 number or a SIP URI, either possibly with tokens.
    ``sip_headers`` are ``(name, value template)`` pairs in the user's order.
    ``sip_password`` is the decrypted password (never shown back to users).
    """

    id: int
    name: str
    number: str
    sip_username: str = ""
    sip_password: str = field(default="", repr=False)  # never in a repr that may be logged
    sip_headers: list[tuple[str, str]] = field(default_factory=list)
    timeout: int = 30


@dataclass
class AttemptPlan:
    """The outcome of planning one attempt.

    ``target`` is the full SIP URI with headers, or the E.164 number (on
    error: whatever the buyer's number expanded to, for the log). ``sent`` and
    ``dropped`` list the SIP headers; both are empty for phone buyers.
    """

    kind: Literal["sip", "number"]
    target: str
    twiml: str
    sent: list[Header] = field(default_factory=list)
    dropped: list[tuple[Header, str]] = field(default_factory=list)
    error: str | None = None


def default_headers(values: Mapping[str, str]) -> list[Header]:
    """The headers every SIP attempt carries (SPEC "Default headers").

    ``values["call_uuid"]`` and ``values["call_key"]`` must be present (a
    KeyError here is a programming error, not a user one). AFID and SID are
    omitted when the call has none.
    """
    headers = [
        Header("X-PH-RetreaverUUID", values["call_uuid"], "default"),
        Header("X-PH-RetreaverKey", values["call_key"], "default"),
    ]
    if values.get("afid"):
        headers.append(Header("X-PH-RetreaverAFID", values["afid"], "default"))
    if values.get("sub_id"):
        headers.append(Header("X-PH-RetreaverSID", values["sub_id"], "default"))
    return headers


def buyer_headers(buyer: BuyerSpec, values: Mapping[str, str]) -> list[Header]:
    """The buyer's own headers with tokens expanded (not yet escaped)."""
    return [Header(name, expand(value, values), "buyer") for name, value in buyer.sip_headers]


def phone_value(value: str) -> str:
    """A token value in a phone number: digits only, keeping a leading ``+``.

    So ``[caller_number]`` dials ``+4520123456`` as given; nothing else a value
    holds (letters, ``;``, ``,`` pauses, ``w`` waits) can reach the dial string.
    """
    value = value.strip()
    return ("+" if value.startswith("+") else "") + digits_only(value)


def plan_attempt(
    buyer: BuyerSpec,
    values: Mapping[str, str],
    plugin_headers: Sequence[Header],
    *,
    action: str,
    caller_id: str | None = None,
    default_region: str | None = None,
    defaults: Sequence[Header] | None = None,
    own_headers: Sequence[Header] | None = None,
) -> AttemptPlan:
    """Plan dialling ``buyer`` for a call whose token values are ``values``.

    ``plugin_headers`` come already ordered by plugin name. ``action`` is the
    ``<Dial action>`` URL (the next-buyer callback). ``default_region`` is
    passed to :func:`~sipflask.phone.normalise_e164` for phone buyers; the
    default ``None`` insists on ``+`` and a country code after expansion, so a
    number template for a whole-number token is written ``+[caller_number]``
    (guessing a country could dial a stranger); a value that itself starts with
    ``+`` keeps it (see :func:`phone_value`).

    ``defaults`` and ``own_headers`` let the caller pass the default and buyer
    headers it collected through the plugin hooks (the built-in plugins make
    them with :func:`default_headers` and :func:`buyer_headers`); when left
    out they are computed here.
    """
    number = buyer.number.strip()
    if is_sip(number):
        target = number
        try:
            target = expand(number, values, escape=pct_encode_user)
            headers = merge_headers(
                default_headers(values) if defaults is None else defaults,
                plugin_headers,
                buyer_headers(buyer, values) if own_headers is None else own_headers,
            )
            dial = build_dial_uri(target, headers)
            twiml = dial_sip(
                dial.uri,
                action=action,
                timeout=buyer.timeout,
                username=buyer.sip_username or None,
                password=buyer.sip_password or None,
                caller_id=caller_id,
            )
        except ValueError as exc:  # SipUriError, bad UTF-8, XML-illegal chars
            return AttemptPlan("sip", target, "", error=str(exc))
        return AttemptPlan("sip", dial.uri, twiml, dial.sent, dial.dropped)

    target = number
    try:
        target = expand(number, values, escape=phone_value)
        # Only a leading "+" means anything: "+[caller_number]" with a value of "+1415..." is
        # one number, and a value's "+" in the middle of a template must not survive.
        target = ("+" if target.startswith("+") else "") + target.replace("+", "")
        e164 = normalise_e164(target, default_region)
        twiml = dial_number(e164, action=action, timeout=buyer.timeout, caller_id=caller_id)
    except ValueError as exc:  # PhoneError, XML-illegal caller id
        return AttemptPlan("number", target, "", error=str(exc))
    return AttemptPlan("number", e164, twiml)
