"""TwiML responses, built with the ``twilio`` package.

``twilio`` XML-escapes text and attributes, which keeps values from adding XML
elements; it does not percent-encode, so SIP URIs arrive here already encoded
by :mod:`sipflask.sip`. What ``twilio`` does not do is refuse characters XML
1.0 cannot carry at all (NUL, most C0 controls, lone surrogates): it would
emit a document Twilio cannot parse. Those are refused here (ValueError), or,
for spoken text only, removed.

Every function returns the XML string with its declaration.

This module is pure: no Flask, no database.
"""

from __future__ import annotations

import re

from twilio.twiml.voice_response import Dial, VoiceResponse

__all__ = ["dial_sip", "dial_number", "say_and_hangup", "reject"]

# Characters outside the XML 1.0 `Char` production.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

REJECT_REASONS = ("rejected", "busy")


def _xml_safe(value: str, what: str) -> str:
    if _XML_ILLEGAL.search(value):
        raise ValueError(f"The {what} contains control characters that cannot be sent to Twilio.")
    return value


def _dial(action: str, timeout: int, caller_id: str | None) -> Dial:
    timeout = int(timeout)
    if timeout <= 0:
        raise ValueError("The ring timeout must be a positive number of seconds.")
    return Dial(
        action=_xml_safe(action, "action URL"),
        method="POST",
        timeout=timeout,
        caller_id=_xml_safe(caller_id, "caller ID") if caller_id else None,
    )


def dial_sip(
    uri: str,
    *,
    action: str,
    timeout: int,
    username: str | None = None,
    password: str | None = None,
    caller_id: str | None = None,
) -> str:
    """``<Dial action method="POST" timeout><Sip>uri</Sip></Dial>``.

    ``username``/``password`` become attributes only when both are non-empty
    (SPEC: SIP auth is sent only when both buyer fields are set; a lone
    username would be a useless half-login).
    """
    dial = _dial(action, timeout, caller_id)
    auth: dict[str, str] = {}
    if username and password:
        auth = {
            "username": _xml_safe(username, "SIP username"),
            "password": _xml_safe(password, "SIP password"),
        }
    dial.sip(_xml_safe(uri, "SIP URI"), **auth)
    response = VoiceResponse()
    response.append(dial)
    return response.to_xml()


def dial_number(
    number: str,
    *,
    action: str,
    timeout: int,
    caller_id: str | None = None,
) -> str:
    """``<Dial action method="POST" timeout><Number>number</Number></Dial>``."""
    dial = _dial(action, timeout, caller_id)
    dial.number(_xml_safe(number, "phone number"))
    response = VoiceResponse()
    response.append(dial)
    return response.to_xml()


def say_and_hangup(message: str) -> str:
    """``<Say>message</Say><Hangup/>`` -- e.g. when no buyer is left."""
    response = VoiceResponse()
    # Spoken text only: dropping unprintable control characters is harmless.
    response.say(_XML_ILLEGAL.sub("", message))
    response.hangup()
    return response.to_xml()


def hangup() -> str:
    """``<Hangup/>`` -- the call is over (answered and finished, or nothing left to do)."""
    response = VoiceResponse()
    response.hangup()
    return response.to_xml()


def reject(reason: str = "rejected") -> str:
    """``<Reject reason="rejected|busy"/>`` -- refuse the call without answering."""
    if reason not in REJECT_REASONS:
        raise ValueError(f"reason must be one of {REJECT_REASONS}, not {reason!r}")
    response = VoiceResponse()
    response.reject(reason=reason)
    return response.to_xml()
