"""Talking to Twilio's REST API: the account's client, the URLs Twilio is given, and requests
taken as named steps whose failures become one-line messages fit to show.

Shared by everything that changes the Twilio account (the inbound SIP sync, and numbers next
to it): a failure never shows a traceback, the account SID or the auth token.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app

from sipflask.twilio_rest import account
from sipflask.urls import NoPublicUrl, endpoint_url

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # Twilio's maximum: one request per list in practice
HTTP_TIMEOUT = 20  # seconds per request to Twilio


class TwilioError(Exception):
    """A request to Twilio (or getting ready for one) failed; ``str(exc)`` is safe to show."""


def make_client():
    """A ``twilio.rest.Client`` for the account in use (:func:`account.credentials`: the
    configuration's, else the one saved on the settings page), authenticated with its API key
    pair when it has one (Twilio's advice for REST calls), else with its auth token.

    ``TWILIO_API_BASE_URL`` points the API domain elsewhere (tests use Prism) and
    ``TWILIO_HTTP_CLIENT`` replaces the HTTP client (tests record requests).
    """
    creds = account.credentials()
    if not creds.rest_ready:
        raise TwilioError(not_connected(creds))
    if creds.uses_api_key:
        return client_for(creds.api_key_sid, creds.api_secret, creds.account_sid)
    return client_for(creds.account_sid, creds.auth_token)


def client_for(username: str, password: str, account_sid: str | None = None):
    """A ``twilio.rest.Client`` authenticated as given, through the configured hooks."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    config = current_app.config
    http_client = config.get("TWILIO_HTTP_CLIENT") or TwilioHttpClient(timeout=HTTP_TIMEOUT)
    client = Client(username, password, account_sid, http_client=http_client)
    base = config.get("TWILIO_API_BASE_URL")
    if base:
        client.api.base_url = base.rstrip("/")
    return client


SETTINGS_PAGE = "the settings page (Settings → Twilio, /settings/)"


def not_connected(creds: account.Credentials) -> str:
    """Why ``creds`` can't make REST calls, and where to fix it."""
    if creds.source == account.ENVIRONMENT:
        missing = account.missing_in_config(current_app.config) or ["TWILIO_AUTH_TOKEN"]
        names = " and ".join(f"SIPFLASK_{name}" for name in missing)
        return (f"Twilio is not connected: the configuration names a Twilio account but not "
                f"{names} (with any SIPFLASK_TWILIO_... setting the environment wins and "
                f"{SETTINGS_PAGE} is not used). Set it, or remove the SIPFLASK_TWILIO_... "
                "settings and save the account on the settings page.")
    if creds.source == account.SETTINGS:
        lacking = "Account SID" if not creds.account_sid else "Auth Token (or API key pair)"
        return (f"Twilio is not connected: the account saved on {SETTINGS_PAGE} has no "
                f"{lacking}. Complete it there.")
    return (f"Twilio is not connected: save the Account SID and Auth Token on {SETTINGS_PAGE}, "
            "or set SIPFLASK_TWILIO_ACCOUNT_SID and SIPFLASK_TWILIO_AUTH_TOKEN in the "
            "environment.")


def webhook_url(endpoint: str) -> str:
    """The absolute URL Twilio calls for ``endpoint`` (see :func:`sipflask.urls.endpoint_url`)."""
    try:
        return endpoint_url(endpoint)
    except NoPublicUrl:
        raise TwilioError("Set PUBLIC_URL (the https address Twilio reaches sipflask at, e.g. "
                          "https://calls.example.com) before syncing from the command line."
                          ) from None


def as_text(value: Any) -> str:
    """A field of a Twilio resource as text (Twilio leaves unset fields None)."""
    return "" if value is None else str(value)


# --- requests as named steps ----------------------------------------------------------------------

@dataclass
class Change:
    action: str  # created | updated | deleted
    what: str

    def __str__(self) -> str:
        return f"{self.action.capitalize()} {self.what}"


class Steps:
    """Requests to Twilio, each taken for a named step, and the changes they made.

    ``job`` names the work in the log (``inbound SIP sync``); a failed step raises ``error``
    (a :class:`TwilioError`) saying which step failed.
    """

    def __init__(self, job: str, log: logging.Logger, error: type[TwilioError] = TwilioError):
        self.job, self.log, self.error = job, log, error
        self.changes: list[Change] = []

    def call(self, step: str, fn: Callable[[], Any], *, missing_ok: bool = False):
        """``fn()``; with ``missing_ok`` a 404 (already gone) returns None instead of failing."""
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001  turned into a message the page and CLI show
            if missing_ok and is_not_found(exc):
                return None
            self.log.warning("%s failed while %s", self.job, step, exc_info=True)
            raise self.error(describe_error(exc, step)) from exc

    def note(self, action: str, what: str) -> None:
        self.changes.append(Change(action, what))
        self.log.info("%s: %s %s", self.job, action, what)


# --- errors -------------------------------------------------------------------------------------

_ACCOUNT_SID_RE = re.compile(r"AC[0-9a-fA-F]{32}")


def _secrets() -> tuple[str, ...]:
    found = [str(current_app.config.get(key) or "")
             for key in ("TWILIO_AUTH_TOKEN", "TWILIO_API_SECRET")]
    try:
        found += account.credentials().secrets
    except Exception:  # noqa: BLE001  an error message is being built: the configuration's will do
        log.debug("could not read the saved Twilio account while cleaning a message",
                  exc_info=True)
    return tuple(s for s in found if s)


def _clean(text: str) -> str:
    text = _ACCOUNT_SID_RE.sub("AC…", str(text or ""))
    for secret in _secrets():
        text = text.replace(secret, "…")
    text = " ".join(text.split())
    return text[:300]


def clean_text(text: str) -> str:
    """``text`` from Twilio fit to show: one line, short, no account SID or secret in it."""
    return _clean(text)


def describe_error(exc: BaseException, step: str) -> str:
    """A one-line message about ``exc`` raised while ``step``; never a traceback or a secret."""
    import requests
    from twilio.base.exceptions import TwilioException

    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    text = getattr(exc, "msg", None) or ": ".join(
        t for t in (getattr(exc, "title", None), getattr(exc, "detail", None)) if t)
    if isinstance(exc, TwilioException) and status is None and len(exc.args) == 2 \
            and isinstance(getattr(exc.args[1], "status_code", None), int):
        # A failed list: the client raises TwilioException("Unable to fetch page", response).
        status, text, code = _from_response(str(exc.args[0]), exc.args[1])
    if isinstance(exc, TwilioException) and isinstance(status, int):
        # TwilioRestException (msg) or, for RFC 9457 answers, TwilioServiceException (title,
        # detail). The exception's own str() is a coloured multi-line dump with the URL: not used.
        code = f", Twilio error {code}" if code and code != status else ""
        hint = ""
        if status in (401, 403):
            hint = _credentials_hint()
        elif status >= 500:
            hint = " Twilio had a problem; try again in a moment."
        return f"Twilio refused {step} (HTTP {status}{code}): {_clean(text).rstrip('.')}.{hint}"
    if isinstance(exc, requests.Timeout):
        return f"Twilio did not answer in time while {step}. Try again in a moment."
    if isinstance(exc, (requests.ConnectionError, ConnectionError, OSError)):
        return (f"Could not reach Twilio's API while {step} ({type(exc).__name__}). Check the "
                "network connection of this server.")
    if isinstance(exc, TwilioException):
        return f"The Twilio client failed while {step}: {_clean(str(exc))}"
    return (f"Unexpected {type(exc).__name__} while {step}; the details are in the server log.")


def _credentials_hint() -> str:
    try:
        source = account.credentials().source
    except Exception:  # noqa: BLE001  the hint is a courtesy: never fail the message for it
        source = account.ENVIRONMENT
    if source == account.SETTINGS:
        return f" Check the Twilio account on {SETTINGS_PAGE} (its Check button says more)."
    return " Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."


def _from_response(what: str, response) -> tuple[int, str, Any]:
    """Status, message and Twilio error code of an error answer (Twilio's JSON or RFC 9457)."""
    status, message, code = response.status_code, what, None
    try:
        body = json.loads(response.text)
    except (TypeError, ValueError):
        return status, message, code
    if isinstance(body, dict):
        detail = body.get("message") or ": ".join(
            str(body[k]) for k in ("title", "detail") if body.get(k))
        if detail:
            message = f"{what}: {detail}"
        code = body.get("code")
    return status, message, code


def is_not_found(exc: BaseException) -> bool:
    """True when Twilio answered 404: what was to be deleted is gone already."""
    from twilio.base.exceptions import TwilioException
    if not isinstance(exc, TwilioException):
        return False
    status = getattr(exc, "status", None)
    if status is None and len(exc.args) == 2:
        status = getattr(exc.args[1], "status_code", None)
    return status == 404
