"""The Twilio account's settings as typed on the settings page: their shapes, and what a save
does with the secrets (keep, replace, clear), given what is stored.

The secrets (auth token, API secret) are write-only, like a buyer's SIP password: an empty field
keeps the stored one, a typed one replaces it, "Clear it" removes it. No message ever repeats a
typed value: a token pasted into the wrong field must not come back in the page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sipflask.core.validation import Report

ACCOUNT_SID_RE = re.compile(r"AC[0-9a-fA-F]{32}\Z")  # Twilio's spec: ^AC[0-9a-fA-F]{32}$
API_KEY_SID_RE = re.compile(r"SK[0-9a-fA-F]{32}\Z")
HEX32_RE = re.compile(r"[0-9a-fA-F]{32}\Z")
SECRET_RE = re.compile(r"[\x21-\x7e]+\Z")  # printable ASCII, no spaces
SECRET_MIN, SECRET_MAX = 16, 128
KEEP, CLEAR = "keep", "clear"
CONSOLE = "the Twilio console (Account → API keys & tokens)"


@dataclass(frozen=True)
class Stored:
    """What is saved now (the secrets only as whether they are set)."""

    account_sid: str = ""
    has_token: bool = False
    api_key_sid: str = ""
    has_secret: bool = False


@dataclass(frozen=True)
class Change:
    """A checked save. A secret: None keeps the stored one, "" clears it, text replaces it."""

    account_sid: str
    auth_token: str | None
    api_key_sid: str
    api_secret: str | None


def sid_problem(value: str, prefix: str, what: str) -> str | None:
    """Why ``value`` is not a SID of this kind (``AC`` or ``SK`` and 32 hex digits), or None."""
    pattern = ACCOUNT_SID_RE if prefix == "AC" else API_KEY_SID_RE
    if pattern.match(value):
        return None
    if HEX32_RE.match(value):
        return (f"That looks like a token or secret, not the {what}: the {what} starts with "
                f"{prefix}. It was not kept in the field.")
    if value[:2] != prefix:
        found = "does not start with " + prefix
    elif len(value) != 34:
        found = f"has {len(value) - 2} characters after {prefix}"
    else:
        found = "has characters other than 0-9 and a-f after " + prefix
    return (f"The {what} is {prefix} followed by 32 hexadecimal digits (0-9, a-f), as "
            f"{CONSOLE} shows it; this one {found}.")


def looks_like_secret(value: str) -> bool:
    """A value typed into a SID field that must not be shown again."""
    return bool(HEX32_RE.match(value))


def secret_problem(value: str, what: str) -> str | None:
    """Why ``value`` can't be an auth token or API secret (a paste error, mostly), or None."""
    if not SECRET_RE.match(value):
        return (f"The {what} has a space or a character that is not plain ASCII in it: copy it "
                f"again from {CONSOLE}.")
    if not SECRET_MIN <= len(value) <= SECRET_MAX:
        return (f"The {what} is {len(value)} characters long; Twilio's are 32. Copy it again "
                f"from {CONSOLE}.")
    return None


def _secret(report: Report, typed: str, action: str, has: bool, field: str,
            what: str) -> str | None:
    if typed:
        problem = secret_problem(typed, what)
        if problem:
            report.error(field, problem)
        return typed
    return "" if action == CLEAR and has else None


def _will_have(change_value: str | None, has: bool) -> bool:
    return bool(change_value) or (change_value is None and has)


def check_account(typed: dict, stored: Stored) -> tuple[Report, Change]:
    """Check the settings page's Twilio fields against what is stored. ``typed`` holds
    ``account_sid``, ``auth_token``, ``token_action``, ``api_key_sid``, ``api_secret`` and
    ``secret_action`` (text; surrounding spaces are a paste artefact and dropped)."""
    report = Report()
    sid = (typed.get("account_sid") or "").strip()
    key_sid = (typed.get("api_key_sid") or "").strip()
    if sid and (problem := sid_problem(sid, "AC", "Account SID")):
        report.error("account_sid", problem)
    if key_sid and (problem := sid_problem(key_sid, "SK", "API Key SID")):
        report.error("api_key_sid", problem)
    token = _secret(report, (typed.get("auth_token") or "").strip(), typed.get("token_action"),
                    stored.has_token, "auth_token", "Auth Token")
    secret = _secret(report, (typed.get("api_secret") or "").strip(),
                     typed.get("secret_action"), stored.has_secret, "api_secret", "API secret")
    if not key_sid and secret is None and stored.has_secret:
        secret = ""  # no key, no secret: emptying the key SID removes its secret too
    elif not key_sid and secret:
        report.error("api_key_sid", "Enter the API Key SID (SK…) this secret belongs to, or "
                                    "leave the secret empty.")
    elif key_sid and not _will_have(secret, stored.has_secret):
        report.error("api_secret", "Enter the API key's secret too (Twilio shows it once, when "
                                   "the key is made).")
    elif key_sid and secret is None and stored.api_key_sid and key_sid != stored.api_key_sid:
        report.error("api_secret", "A secret belongs to one API key: enter the secret of the "
                                   "new API Key SID too.")
    if not sid and (_will_have(token, stored.has_token) or key_sid):
        report.error("account_sid", "Enter the Account SID (AC…): the Auth Token and the API key "
                                    "belong to one account. To disconnect Twilio, clear them "
                                    "too.")
    return report, Change(sid, token, key_sid, secret)
