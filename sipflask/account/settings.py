"""The account's settings as stored (one ``account_settings`` row), and their one writer: the
account time zone (the saved setting when there is one, else the ``TIME_ZONE`` configuration,
``SIPFLASK_TIME_ZONE``, default UTC) and the Twilio account saved on the settings page (which
account is in use is :mod:`sipflask.twilio_rest.account`'s business).

The zone is read once per request (pages print many times: the call log, buyer health) and
kept on the request object, not on ``g``: ``g`` belongs to the app context, which can outlive
a request (pytest-flask keeps one for a whole test). Outside a request it is read each time.
"""
from __future__ import annotations

import logging

from flask import current_app, has_request_context, request
from sqlalchemy import select

from sipflask import history
from sipflask.core import localclock
from sipflask.core import twilio_account as twilio_rules
from sipflask.core.localclock import ZoneInfo
from sipflask.core.schedule_rules import check_time_zone
from sipflask.core.validation import Report
from sipflask.extensions import db
from sipflask.models import AccountSettings
from sipflask.twilio_rest import account as twilio_account

log = logging.getLogger(__name__)

DEFAULT_ZONE = "UTC"
_CACHE = "_sipflask_account_zone"


class ConfigError(RuntimeError):
    """A configuration value sipflask cannot start with."""


def check_config(config) -> str:
    """The IANA spelling of ``config["TIME_ZONE"]`` (empty or absent: UTC), written back into
    ``config``; :class:`ConfigError` naming the setting when it is not a zone."""
    raw = config.get("TIME_ZONE")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        name = DEFAULT_ZONE
    else:
        name = localclock.canonical_zone(raw)
    if name is None:
        raise ConfigError(
            f"TIME_ZONE (environment variable SIPFLASK_TIME_ZONE) is {raw!r}, which is not an "
            "IANA time zone: use a name such as UTC, America/New_York or Europe/London.")
    config["TIME_ZONE"] = name
    return name


def configured_zone() -> str:
    """The zone the configuration names (checked at start-up by :func:`check_config`)."""
    return current_app.config.get("TIME_ZONE") or DEFAULT_ZONE


def load_settings() -> AccountSettings | None:
    """The settings row, or None when nothing was ever saved (nothing is created)."""
    return db.session.scalar(select(AccountSettings).order_by(AccountSettings.id).limit(1))


def stored_zone() -> str | None:
    """The saved account zone, or None: nothing saved ("use the configuration"). A saved name
    the zone data no longer knows is logged and ignored rather than breaking every page."""
    row = load_settings()
    if row is None or not row.time_zone:
        return None
    name = localclock.canonical_zone(row.time_zone)
    if name is None:
        log.warning("account time zone %r is not a known zone: using %s", row.time_zone,
                    configured_zone())
    return name


def _read_zone_name() -> str:
    return stored_zone() or configured_zone()


def zone_name() -> str:
    """The account time zone's IANA name, read once per request."""
    if not has_request_context():
        return _read_zone_name()
    req = request._get_current_object()
    if not hasattr(req, _CACHE):
        setattr(req, _CACHE, _read_zone_name())
    return getattr(req, _CACHE)


def account_zone() -> ZoneInfo:
    """The account time zone: every time the UI shows is on this clock."""
    return localclock.zone(zone_name())


def save_time_zone(value: str | None) -> Report:
    """Check and save the account zone (empty: use the configuration) and commit; nothing is
    written when the report has errors (its message is under ``time_zone``)."""
    report = Report()
    text = (value or "").strip()
    name = check_time_zone(report, text) if text else None
    if not report.ok:
        return report
    row = load_settings()
    if row is None:
        row = AccountSettings()
        db.session.add(row)
    history.track(row)
    row.time_zone = name
    db.session.commit()
    if has_request_context():
        setattr(request._get_current_object(), _CACHE, name or configured_zone())
    log.info("account time zone set to %s", name or f"the configuration ({configured_zone()})")
    return report


# --- the Twilio account ---------------------------------------------------------------------------

def stored_twilio() -> twilio_rules.Stored:
    """What the settings page has saved of the Twilio account (secrets only as set or not)."""
    row = load_settings()
    if row is None:
        return twilio_rules.Stored()
    return twilio_rules.Stored(row.twilio_account_sid or "",
                               bool(row.twilio_auth_token_encrypted),
                               row.twilio_api_key_sid or "",
                               bool(row.twilio_api_secret_encrypted))


def _set_secret(row: AccountSettings, name: str, value: str | None) -> str:
    """Apply one write-only secret; what happened to it, for the log (never the value)."""
    encrypted = f"{name}_encrypted"
    if value is None:
        return "kept" if getattr(row, encrypted) else "not set"
    if value == "":
        if not getattr(row, encrypted):
            return "not set"
        setattr(row, encrypted, "")
        return "cleared"
    if getattr(row, encrypted) and getattr(row, name) == value:
        return "kept"  # the same again: no new ciphertext, so the history shows no change
    setattr(row, name, value)
    return "replaced"


def save_twilio(change: twilio_rules.Change) -> None:
    """Save a checked Twilio account (:func:`sipflask.core.twilio_account.check_account`) and
    commit; this process forgets its copy of the saved account at once."""
    row = load_settings()
    if row is None:
        row = AccountSettings()
        db.session.add(row)
    history.track(row)
    row.twilio_account_sid = change.account_sid
    token = _set_secret(row, "twilio_auth_token", change.auth_token)
    row.twilio_api_key_sid = change.api_key_sid
    secret = _set_secret(row, "twilio_api_secret", change.api_secret)
    db.session.commit()
    twilio_account.forget()
    log.info("Twilio account saved on the settings page: account %s, auth token %s, API key %s, "
             "API secret %s", _short(change.account_sid), token,
             change.api_key_sid or "none", secret)


def _short(sid: str) -> str:
    return f"{sid[:2]}…{sid[-4:]}" if sid else "none"
