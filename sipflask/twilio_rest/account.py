"""The Twilio account sipflask talks to, and the auth token Twilio signs its webhooks with.

Two places can hold the account: the configuration (``TWILIO_ACCOUNT_SID``,
``TWILIO_AUTH_TOKEN``, optionally ``TWILIO_API_KEY_SID`` / ``TWILIO_API_SECRET``; in the
environment ``SIPFLASK_TWILIO_...``) and the settings page (the ``account_settings`` row, the
secrets encrypted at rest). When any of those settings is in the configuration, the
configuration is the account (source ``"environment"``) and the saved one is not used at all:
mixing a configured SID with a saved token would give refusals nobody could explain.

:func:`signing_token` is on every webhook's path. With the token in the configuration it reads
nothing; otherwise each process keeps what it last read for ``TWILIO_ACCOUNT_CACHE_SECONDS``
(a save in this process forgets it at once: :func:`forget`), and when the database can't be
reached it goes on with that copy, so a webhook still answers during an outage
(docs/reliability.md). The read uses a connection of its own, given back at once, so the
webhook's own database time is bounded apart (``callflow/deadline.py``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from sipflask import crypto
from sipflask.extensions import db
from sipflask.models import AccountSettings

log = logging.getLogger(__name__)

ENVIRONMENT = "environment"
SETTINGS = "settings"
NONE = ""
CONFIG_KEYS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY_SID",
               "TWILIO_API_SECRET")
DEFAULT_CACHE_SECONDS = 5.0
_BOX = "sipflask.twilio_account"


@dataclass(frozen=True)
class Credentials:
    """One Twilio account's credentials and where they come from. The secrets stay out of
    ``repr`` (a repr ends up in logs and tracebacks)."""

    account_sid: str = ""
    auth_token: str = field(default="", repr=False)
    api_key_sid: str = ""
    api_secret: str = field(default="", repr=False)
    source: str = NONE

    @property
    def uses_api_key(self) -> bool:
        """REST calls authenticate with the API key pair (Twilio's advice), not the token."""
        return bool(self.api_key_sid and self.api_secret)

    @property
    def rest_ready(self) -> bool:
        return bool(self.account_sid and (self.uses_api_key or self.auth_token))

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.auth_token, self.api_secret) if s)


def _text(value) -> str:
    # The environment's values are parsed as JSON when they can be: keep them as text.
    return "" if value is None else str(value).strip()


def from_config(config) -> Credentials | None:
    """The configuration's account, or None when it names none (the saved one applies)."""
    values = [_text(config.get(key)) for key in CONFIG_KEYS]
    if not any(values):
        return None
    return Credentials(*values, source=ENVIRONMENT)


def missing_in_config(config) -> list[str]:
    """The settings the configuration lacks while it names an account (SID and token)."""
    if from_config(config) is None:
        return []
    return [key for key in CONFIG_KEYS[:2] if not _text(config.get(key))]


# --- the saved account, per process ---------------------------------------------------------------

@dataclass(frozen=True)
class _Copy:
    creds: Credentials
    at: float


def _box(app) -> dict:
    return app.extensions.setdefault(_BOX, {})


def _decrypt(app, stored: str, what: str) -> str:
    try:
        return crypto.decrypt(app.config["SECRET_KEY"], stored or "")
    except crypto.SecretError:
        log.error("the saved Twilio %s can't be decrypted (was SECRET_KEY changed?): treated as "
                  "not set; save it again on the settings page", what)
        return ""


def _read(app) -> Credentials:
    columns = (AccountSettings.twilio_account_sid, AccountSettings.twilio_auth_token_encrypted,
               AccountSettings.twilio_api_key_sid, AccountSettings.twilio_api_secret_encrypted)
    # A connection of its own, back in the pool at once: nothing stays checked out for the rest
    # of the request (the webhook's budget watches only the connections it takes itself).
    with db.engine.connect() as conn:
        row = conn.execute(select(*columns).order_by(AccountSettings.id).limit(1)).first()
    if row is None:
        return Credentials()
    sid, token, key_sid, secret = row
    creds = Credentials(_text(sid), _decrypt(app, token, "auth token"), _text(key_sid),
                        _decrypt(app, secret, "API secret"))
    if any((creds.account_sid, creds.auth_token, creds.api_key_sid, creds.api_secret)):
        return replace(creds, source=SETTINGS)
    return creds


def stored() -> Credentials:
    """The account saved on the settings page (source ``"settings"``, or empty), as this
    process last read it if that is recent. With the database unreachable: the last copy
    read, else the error (``SQLAlchemyError``)."""
    app = current_app._get_current_object()
    box = _box(app)
    ttl = float(app.config.get("TWILIO_ACCOUNT_CACHE_SECONDS", DEFAULT_CACHE_SECONDS) or 0)
    copy: _Copy | None = box.get("copy")
    now = time.monotonic()
    if copy is not None and now - copy.at < ttl:
        return copy.creds
    try:
        creds = _read(app)
    except SQLAlchemyError as exc:
        if copy is None:
            raise
        # Keep the copy for another while: during an outage only one webhook per cache period
        # pays for finding the database gone.
        box["copy"] = _Copy(copy.creds, now)
        log.warning("could not read the saved Twilio account (%s): using the copy this process "
                    "read %.0f s ago", type(exc).__name__, now - copy.at)
        return copy.creds
    box["copy"] = _Copy(creds, time.monotonic())
    return creds


def forget() -> None:
    """Drop this process's copy: the next read sees what was just saved."""
    _box(current_app._get_current_object()).pop("copy", None)


def credentials() -> Credentials:
    """The account to use: the configuration's when it names one, else the saved one."""
    return from_config(current_app.config) or stored()


def signing_token() -> str:
    """The auth token Twilio signs webhooks with (the account in use's), or "" when none is
    configured or none could be read; never raises."""
    env = from_config(current_app.config)
    if env is not None:
        return env.auth_token
    try:
        return stored().auth_token
    except SQLAlchemyError as exc:
        log.error("could not read the saved Twilio auth token (%s) and this process has no copy "
                  "of it yet", type(exc).__name__)
        return ""


@dataclass(frozen=True)
class InUse:
    """What the pages say about the account in use: no secret, only whether one is there."""

    source: str
    account_sid: str
    has_token: bool
    api_key_sid: str
    uses_api_key: bool
    missing: tuple[str, ...]  # configuration settings lacking while it names an account

    @property
    def webhooks_refused(self) -> bool:
        return not self.has_token


def in_use() -> InUse:
    creds = credentials()
    return InUse(creds.source, creds.account_sid, bool(creds.auth_token), creds.api_key_sid,
                 creds.uses_api_key, tuple(missing_in_config(current_app.config)))
