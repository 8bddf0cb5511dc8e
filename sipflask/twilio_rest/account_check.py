"""The settings page's "Check": one authenticated request to Twilio (fetch the account), and
what it found in plain words: the account's name and status, or the exact problem.

The request is made with the auth token when there is one: that is the token Twilio signs its
webhooks with, so it is the one that must be right. Without one, the API key pair is used (a
Standard API key may not read the account: Twilio keeps that for Main keys, and the answer says
so). The account Twilio returns carries its auth token: it is never kept, shown or logged.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sipflask.twilio_rest import account
from sipflask.twilio_rest.client import (HTTP_TIMEOUT, clean_text, client_for,
                                        describe_error)

log = logging.getLogger(__name__)

OK, WARN, PROBLEM = "ok", "warn", "problem"
STEP = "fetching the account"
CONSOLE = "the Twilio console (Account → API keys & tokens)"


@dataclass(frozen=True)
class CheckResult:
    tone: str  # ok | warn | problem
    title: str
    detail: str = ""
    friendly_name: str = ""
    status: str = ""

    @property
    def ok(self) -> bool:
        return self.tone == OK


def _short(sid: str) -> str:
    return f"{sid[:2]}…{sid[-4:]}" if len(sid) > 6 else sid


def check() -> CheckResult:
    """Fetch the account in use (:func:`account.credentials`) and say what Twilio answered."""
    creds = account.credentials()
    where = ("in the environment (SIPFLASK_TWILIO_...)" if creds.source == account.ENVIRONMENT
             else "on this page")
    if not creds.account_sid:
        return CheckResult(PROBLEM, "Nothing to check: no Account SID.",
                           f"Save the Account SID and Auth Token {where} first.")
    if creds.auth_token:
        client, used = client_for(creds.account_sid, creds.auth_token), "the Auth Token"
    elif creds.uses_api_key:
        client = client_for(creds.api_key_sid, creds.api_secret, creds.account_sid)
        used = f"the API key {creds.api_key_sid}"
    else:
        return CheckResult(PROBLEM, "Nothing to check: no Auth Token or API key.",
                           f"Save the Auth Token {where} first.")
    try:
        found = client.api.v2010.accounts(creds.account_sid).fetch()
    except Exception as exc:  # noqa: BLE001  every failure becomes a sentence for the page
        result = failure(exc, creds, used)
        log.warning("Twilio account check failed: %s %s", result.title, result.detail)
        return result
    result = from_account(found, creds)
    log.info("Twilio account check: %s", result.title)
    return result


def from_account(found, creds: account.Credentials) -> CheckResult:
    """What the fetched account says (only its name, status and type are read)."""
    name = clean_text(str(getattr(found, "friendly_name", "") or "")) or "(no name)"
    status = str(getattr(found, "status", "") or "")
    trial = " It is a trial account: calls play Twilio's trial message first and can only " \
            "reach verified numbers." if getattr(found, "type", None) == "Trial" else ""
    webhooks = "" if creds.auth_token else (
        " There is no Auth Token, though: Twilio's webhooks are refused until one is saved.")
    if status == "active":
        return CheckResult(OK if not webhooks else WARN, f"Connected to “{name}” (active).",
                           f"Twilio accepted the credentials.{trial}{webhooks}", name, status)
    if status == "suspended":
        return CheckResult(PROBLEM, f"The account “{name}” is suspended.",
                           "Twilio refuses its calls and requests until it is reactivated: see "
                           "the account's status and billing in the Twilio console, or ask "
                           "Twilio support.", name, status)
    if status == "closed":
        return CheckResult(PROBLEM, f"The account “{name}” is closed.",
                           "A closed account can't be used again: connect another account.",
                           name, status)
    return CheckResult(WARN, f"Twilio answered for “{name}” with status {clean_text(status)!r}.",
                       "sipflask does not know that status; see the Twilio console.", name,
                       status)


def failure(exc: BaseException, creds: account.Credentials, used: str) -> CheckResult:
    """The problem ``exc`` shows, in the user's words."""
    import requests

    status, code = _status_and_code(exc)
    sid = _short(creds.account_sid)
    if status == 401 or code == 20003:
        if used.startswith("the API key"):
            return CheckResult(PROBLEM, "Twilio refused the API key (HTTP 401, Twilio error "
                               "20003).", f"The API Key SID or its secret is wrong, or the key "
                               f"was deleted, or it does not belong to account {sid}. Make a "
                               f"new key in {CONSOLE}, or save the Auth Token.")
        return CheckResult(PROBLEM, "Wrong Auth Token: Twilio refused it (HTTP 401, Twilio error "
                           "20003).", f"The Auth Token does not belong to account {sid} (or the "
                           f"Account SID is not yours). Copy both again from {CONSOLE}; after "
                           "a token is rotated, the old one stops working.")
    if status == 404:
        return CheckResult(PROBLEM, f"Wrong Account SID: Twilio has no account {sid} for these "
                           "credentials (HTTP 404).", "Copy the Account SID again from the top "
                           f"of {CONSOLE}: AC followed by 32 hexadecimal digits.")
    if code == 20005 or (status == 403 and not used.startswith("the API key")):
        return CheckResult(PROBLEM, f"Twilio refused: account {sid} is not active "
                           f"(HTTP {status}{', Twilio error ' + str(code) if code else ''}).",
                           "A suspended or closed account can't be used: see its status in "
                           "the Twilio console.")
    if status == 403:
        return CheckResult(PROBLEM, "Twilio refused the API key (HTTP 403).",
                           "A Standard API key may not read the account: use a Main key, or "
                           "save the Auth Token (the Check uses it when there is one).")
    if status == 429:
        return CheckResult(PROBLEM, "Twilio asked to slow down (HTTP 429): too many requests "
                           "from this account just now.", "Nothing was checked. Try again in a "
                           "minute.")
    if isinstance(exc, requests.Timeout):
        return CheckResult(PROBLEM, f"Twilio did not answer within {HTTP_TIMEOUT} seconds.",
                           "Nothing was checked. Try again in a moment; if it keeps happening, "
                           "check this server's network path to api.twilio.com (firewall, "
                           "proxy).")
    if isinstance(exc, (requests.ConnectionError, ConnectionError, OSError)):
        return CheckResult(PROBLEM, "No connection to Twilio: this server could not reach "
                           "api.twilio.com.", "Nothing was checked. Check the server's network "
                           "connection, DNS and firewall, then try again.")
    return CheckResult(PROBLEM, "The check failed.", describe_error(exc, STEP))


def _status_and_code(exc: BaseException) -> tuple[int | None, int | None]:
    status, code = getattr(exc, "status", None), getattr(exc, "code", None)
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    return (status if isinstance(status, int) else None), code
