"""The configuration sipflask sets on each of its Twilio numbers, and how a number's
configuration at Twilio differs from it, in words a page and the CLI show as they are.

Pure: no Flask, no database. ``twilio_rest/numbers.py`` builds the expected configuration from
``PUBLIC_URL`` and reads the numbers; ``records/twilio_check.py`` stores the words.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["NumberConfig", "drift", "drift_text", "fix_params", "DRIFT_MAX"]

DRIFT_MAX = 500  # Number.twilio_drift's length
# Twilio's default method of every webhook, and what it reports when a method was never set.
DEFAULT_METHOD = "POST"

# Each webhook sipflask sets: the field holding its URL, its words, the field holding its method.
WEBHOOKS = (("voice_url", "voice URL", "voice_method"),
            ("status_callback", "status callback", "status_callback_method"),
            ("voice_fallback_url", "fallback URL", "voice_fallback_method"))


@dataclass(frozen=True)
class NumberConfig:
    """What every sipflask number has at Twilio: its calls come to the voice webhook, their
    progress to the status webhook, and the fallback URL answers when the voice one fails."""

    voice_url: str
    status_callback: str
    voice_fallback_url: str
    voice_method: str = DEFAULT_METHOD
    status_callback_method: str = DEFAULT_METHOD
    voice_fallback_method: str = DEFAULT_METHOD

    def params(self) -> dict[str, str]:
        """The keyword arguments of the ``twilio`` client's create and update calls."""
        return asdict(self)


def _get(remote: Any, name: str) -> str:
    value = remote.get(name) if isinstance(remote, dict) else getattr(remote, name, None)
    value = getattr(value, "value", value)  # the client's enums (voice_receive_mode)
    return "" if value is None else str(value)


def _overrides(remote: Any) -> list[str]:
    """What sends the number's calls elsewhere whatever its voice URL says."""
    found = []
    trunk, app = _get(remote, "trunk_sid"), _get(remote, "voice_application_sid")
    if trunk:
        found.append(f"calls go to SIP trunk {trunk}, not to the voice URL")
    if app:
        found.append(f"calls go to TwiML app {app}, not to the voice URL")
    if _get(remote, "voice_receive_mode").lower() == "fax":
        found.append("set to receive faxes, not voice calls")
    return found


def drift(remote: Any, expected: NumberConfig) -> list[str]:
    """What differs between ``remote`` (a number as Twilio has it: a dict or an object with
    the IncomingPhoneNumber's fields) and ``expected``, one phrase each; [] when it matches.

    URLs are compared exactly (Twilio stores what it was given); methods ignore case, and an
    unset method is Twilio's default, POST.
    """
    problems = _overrides(remote)
    for field, words, method_field in WEBHOOKS:
        have, want = _get(remote, field), getattr(expected, field)
        if have != want:
            problems.append(f"{words} is {have or 'not set'}, expected {want}")
        have_method = (_get(remote, method_field) or DEFAULT_METHOD).upper()
        want_method = getattr(expected, method_field).upper()
        if have_method != want_method:
            problems.append(f"{words} method is {have_method}, expected {want_method}")
    return problems


def drift_text(problems: list[str]) -> str:
    """The phrases as one line that fits ``Number.twilio_drift``."""
    text = "; ".join(problems)
    return text if len(text) <= DRIFT_MAX else text[:DRIFT_MAX - 1] + "…"


def fix_params(remote: Any, expected: NumberConfig) -> dict[str, str]:
    """The update that gives ``remote`` the expected configuration: the webhooks, and, only
    when set, the trunk or TwiML app cleared and voice calls received again (sending those
    every time would be a change to numbers that never had them)."""
    params = expected.params()
    if _get(remote, "trunk_sid"):
        params["trunk_sid"] = ""
    if _get(remote, "voice_application_sid"):
        params["voice_application_sid"] = ""
    if _get(remote, "voice_receive_mode").lower() == "fax":
        params["voice_receive_mode"] = "voice"
    return params
