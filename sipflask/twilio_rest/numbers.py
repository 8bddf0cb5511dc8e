"""The account's phone numbers through Twilio's REST API (the ``twilio`` client): list them,
search numbers for sale, buy, configure, release. REST only: what sipflask stores about its
numbers is ``records/twilio_numbers.py`` and ``records/twilio_check.py``.

Every number sipflask manages gets the same configuration (:func:`expected_config`): calls go
to ``PUBLIC_URL/twilio/voice``, their progress to ``PUBLIC_URL/twilio/status``, and
``PUBLIC_URL/twilio/fallback`` answers when the voice URL fails. A purchase sets it in the
purchase's own request, so no bought number is ever left pointing elsewhere.

Every failure is a :class:`~sipflask.twilio_rest.number_errors.NumbersError` whose message is
one line in the user's words; the results are plain dataclasses a page or the CLI shows as
they are.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from flask import current_app

from sipflask.core import number_config, number_search
from sipflask.core.number_config import NumberConfig
from sipflask.twilio_rest.client import (PAGE_SIZE, TwilioError, as_text, is_not_found,
                                         make_client, webhook_url)
from sipflask.twilio_rest.number_errors import NumbersError, explain

__all__ = ["AccountNumber", "AvailableNumber", "NumbersError", "expected_config",
           "list_account_numbers", "find_account_number", "search_available", "buy",
           "configure", "release", "drift"]

log = logging.getLogger("sipflask.twilio.numbers")

CAPABILITIES = ("voice", "sms", "mms", "fax")
# Where each webhook goes: the endpoints of blueprints/webhook.py.
ENDPOINTS = {"voice_url": "webhook.voice", "status_callback": "webhook.status",
             "voice_fallback_url": "webhook.fallback_url"}


def _capabilities(raw: Any) -> dict[str, bool]:
    # IncomingPhoneNumbers say "sms"; AvailablePhoneNumbers say "SMS" (and may omit fax).
    found = {str(k).lower(): bool(v) for k, v in (raw or {}).items()} if isinstance(
        raw, dict) else {}
    return {name: found.get(name, False) for name in CAPABILITIES}


def capability_words(capabilities: dict[str, bool]) -> str:
    words = {"voice": "voice", "sms": "SMS", "mms": "MMS", "fax": "fax"}
    return ", ".join(words[k] for k in CAPABILITIES if capabilities.get(k)) or "none"


@dataclass(frozen=True)
class AccountNumber:
    """One IncomingPhoneNumber of the account, as Twilio has it now."""

    sid: str
    phone_number: str
    friendly_name: str = ""
    capabilities: dict[str, bool] = field(default_factory=dict)
    voice_url: str = ""
    voice_method: str = ""
    status_callback: str = ""
    status_callback_method: str = ""
    voice_fallback_url: str = ""
    voice_fallback_method: str = ""
    voice_application_sid: str = ""
    trunk_sid: str = ""
    voice_receive_mode: str = ""

    @classmethod
    def from_twilio(cls, record: Any) -> AccountNumber:
        def text(name: str) -> str:
            value = getattr(record, name, None)
            return as_text(getattr(value, "value", value))
        return cls(sid=text("sid"), phone_number=text("phone_number"),
                   friendly_name=text("friendly_name"),
                   capabilities=_capabilities(getattr(record, "capabilities", None)),
                   **{name: text(name) for name in (
                       "voice_url", "voice_method", "status_callback", "status_callback_method",
                       "voice_fallback_url", "voice_fallback_method", "voice_application_sid",
                       "trunk_sid", "voice_receive_mode")})

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AvailableNumber:
    """A number for sale, from a search."""

    phone_number: str
    friendly_name: str = ""
    locality: str = ""
    region: str = ""
    iso_country: str = ""
    capabilities: dict[str, bool] = field(default_factory=dict)
    # none | any | local | foreign: whether Twilio needs an address on file to sell it.
    address_requirements: str = ""

    @classmethod
    def from_twilio(cls, record: Any) -> AvailableNumber:
        def text(name: str) -> str:
            return as_text(getattr(record, name, None))
        return cls(phone_number=text("phone_number"), friendly_name=text("friendly_name"),
                   locality=text("locality"), region=text("region"),
                   iso_country=text("iso_country"),
                   capabilities=_capabilities(getattr(record, "capabilities", None)),
                   address_requirements=text("address_requirements"))

    def as_dict(self) -> dict:
        return asdict(self)


# --- requests -----------------------------------------------------------------------------------

def _client(client=None):
    if client is not None:
        return client
    try:
        return make_client()
    except TwilioError as exc:
        raise NumbersError(str(exc), kind="config") from None


def _request(step: str, fn: Callable[[], Any], about: str = "The number",
             missing_ok: bool = False):
    """``fn()`` as the named step; any failure a :class:`NumbersError` in the user's words.
    With ``missing_ok`` a 404 (gone already) returns None.

    The failure is logged as its one line; the traceback only at debug level, so that the
    command line (whose unconfigured logging prints warnings with their tracebacks) shows
    the ``Error:`` line and nothing else."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001  every failure becomes one line in words
        if missing_ok and is_not_found(exc):
            return None
        error = explain(exc, step, about)
        log.info("numbers: %s failed: %s", step, error)
        log.debug("numbers: %s failed", step, exc_info=True)
        raise error from None


def _numbers(client):
    return client.api.v2010.account.incoming_phone_numbers


def expected_config() -> NumberConfig:
    """The configuration every sipflask number gets; needs ``PUBLIC_URL`` (Twilio must reach
    this address whoever asks: a page, the CLI or a job)."""
    if not current_app.config.get("PUBLIC_URL"):
        raise NumbersError(
            "Set PUBLIC_URL (the https address Twilio reaches sipflask at, e.g. "
            "https://calls.example.com) before configuring numbers: their webhooks point there.",
            kind="config")
    return NumberConfig(**{name: webhook_url(endpoint) for name, endpoint in ENDPOINTS.items()})


def drift(remote: Any, config: NumberConfig | None = None) -> list[str]:
    """What differs between ``remote`` and the expected configuration, in words."""
    return number_config.drift(remote, config or expected_config())


def list_account_numbers(client=None) -> list[AccountNumber]:
    """Every IncomingPhoneNumber of the account, all pages (1000 a request, Twilio's most)."""
    client = _client(client)
    records = _request("listing the account's phone numbers",
                       lambda: list(_numbers(client).stream(page_size=PAGE_SIZE)))
    return [AccountNumber.from_twilio(r) for r in records]


def find_account_number(phone_number: str, client=None) -> AccountNumber | None:
    """The account's number ``phone_number`` (E.164), or None when the account has none."""
    client = _client(client)
    records = _request(f"looking up {phone_number} in the account",
                       lambda: _numbers(client).list(phone_number=phone_number,
                                                     page_size=PAGE_SIZE), phone_number)
    exact = [r for r in records if as_text(r.phone_number) == phone_number]
    return AccountNumber.from_twilio(exact[0]) if exact else None


def search_available(country, type="local", area_code="", contains="", region="",
                     locality="", near_number="", limit=number_search.DEFAULT_LIMIT,
                     client=None) -> list[AvailableNumber]:
    """Numbers for sale that match; [] when none do. Checks the search first: a bad field is
    a ``NumbersError`` of kind ``input`` whose ``fields`` say which and why."""
    search, errors = number_search.check_search(country, type, area_code, contains, region,
                                                locality, near_number, limit)
    if search is None:
        raise NumbersError(" ".join(errors.values()), kind="input", fields=errors)
    client = _client(client)
    resource = getattr(client.api.v2010.account.available_phone_numbers(search.country),
                       search.resource)
    try:
        records = _request(f"searching {search.describe()}",
                           lambda: resource.list(**search.params()))
    except NumbersError as exc:
        if exc.kind == "gone":  # Twilio has no such list: that country or type is not sold
            raise NumbersError(f"Twilio sells no {search.type} numbers in {search.country}.",
                               kind="input", status=404,
                               fields={"type": "Not sold in that country."}) from None
        raise
    return [AvailableNumber.from_twilio(r) for r in records]


def buy(phone_number: str, config: NumberConfig | None = None, client=None) -> AccountNumber:
    """Buy ``phone_number`` (E.164) with the expected configuration, in one request."""
    config = config or expected_config()
    client = _client(client)
    record = _request(f"buying {phone_number}",
                      lambda: _numbers(client).create(phone_number=phone_number,
                                                      **config.params()), phone_number)
    return AccountNumber.from_twilio(record)


def configure(sid: str, remote: Any = None, config: NumberConfig | None = None,
              client=None, about: str = "") -> AccountNumber:
    """Set the expected configuration on number ``sid`` (the "Fix"); ``remote``, the number
    as last read, says whether a trunk, TwiML app or fax mode has to be cleared too.
    ``about`` names the number in messages (its E.164; the SID when not given)."""
    config = config or expected_config()
    params = number_config.fix_params(remote, config) if remote is not None else config.params()
    client = _client(client)
    record = _request(f"configuring {about or sid}",
                      lambda: _numbers(client)(sid).update(**params), about or "The number")
    return AccountNumber.from_twilio(record)


def release(sid: str, client=None, about: str = "") -> bool:
    """Release number ``sid`` from the account; False when Twilio says it is gone already."""
    client = _client(client)
    done = _request(f"releasing {about or sid}", lambda: _numbers(client)(sid).delete(),
                    about or "The number", missing_ok=True)
    return done is not None
