"""A search for numbers to buy, checked before Twilio is asked: each field's problem in words,
next to the field that has it. Pure: no Flask, no database.

Twilio's rules followed here (AvailablePhoneNumbers): the country is an ISO 3166 code, the area
code is a North American one (US and Canada only), ``Contains`` takes digits, letters (matched
as on a phone keypad) and ``*`` for any one digit, and a search returns at most a page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from sipflask.core import phone

__all__ = ["TYPES", "Search", "check_search", "MAX_LIMIT"]

# The types a page and the CLI offer -> the ``twilio`` client's attribute for the list.
TYPES = {"local": "local", "toll-free": "toll_free", "mobile": "mobile"}
AREA_CODE_COUNTRIES = ("US", "CA")
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
_CONTAINS = re.compile(r"[0-9A-Za-z*]{2,16}")
_PLACE = re.compile(r"[^\W\d_](?:[^\W_]|[ .'-])*")  # letters first: "CA", "San Francisco"


@dataclass(frozen=True)
class Search:
    """A checked search: ``params()`` are the ``twilio`` client's list arguments."""

    country: str
    type: str = "local"
    area_code: str = ""
    contains: str = ""
    region: str = ""
    locality: str = ""
    near_number: str = ""
    limit: int = DEFAULT_LIMIT

    @property
    def resource(self) -> str:
        return TYPES[self.type]

    def params(self) -> dict:
        params: dict = {"limit": self.limit}
        for key, value in (("area_code", int(self.area_code) if self.area_code else None),
                           ("contains", self.contains), ("in_region", self.region),
                           ("in_locality", self.locality), ("near_number", self.near_number)):
            if value:
                params[key] = value
        return params

    def describe(self) -> str:
        """The search in words, for "no numbers match ..." messages."""
        parts = [f"{self.type} numbers in {self.country}"]
        for words, value in (("area code", self.area_code), ("containing", self.contains),
                             ("in region", self.region), ("in", self.locality),
                             ("near", self.near_number)):
            if value:
                parts.append(f"{words} {value}")
        return " ".join(parts)


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def _country(raw: str, errors: dict) -> str:
    country = raw.upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        errors["country"] = "Enter the country as its two-letter code, e.g. US, CA or GB."
    elif country not in phonenumbers.SUPPORTED_REGIONS:
        errors["country"] = f"{country} is not a country code phone numbers use (e.g. US, GB)."
    return country


def _area_code(raw: str, country: str, errors: dict) -> str:
    if not raw:
        return ""
    if not re.fullmatch(r"[0-9]{3}", raw):
        errors["area_code"] = "An area code is three digits, e.g. 415."
    elif country and country not in AREA_CODE_COUNTRIES and "country" not in errors:
        errors["area_code"] = ("Twilio searches by area code in the US and Canada only; use "
                               "Contains for other countries.")
    return raw


def _contains(raw: str, errors: dict) -> str:
    if raw and (not _CONTAINS.fullmatch(raw) or set(raw) == {"*"}):
        errors["contains"] = ("Contains takes 2 to 16 digits or letters (letters match as on "
                              "a phone keypad), with * for any one digit, e.g. 555 or STORE.")
    return raw


def _place(raw: str, field: str, words: str, errors: dict, longest: int) -> str:
    if raw and (len(raw) > longest or not _PLACE.fullmatch(raw)):
        errors[field] = f"{words} is a name in letters, at most {longest} characters."
    return raw


def _near(raw: str, country: str, errors: dict) -> str:
    if not raw:
        return ""
    try:
        return phone.normalise_e164(raw, country if len(country) == 2 else None)
    except phone.PhoneError as exc:
        errors["near_number"] = f"Near: {exc}"
        return raw


def _limit(raw, errors: dict) -> int:
    try:
        limit = int(_text(raw) or DEFAULT_LIMIT)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = f"Show between 1 and {MAX_LIMIT} numbers."
        return DEFAULT_LIMIT
    return limit


def check_search(country, type="local", area_code="", contains="", region="", locality="",
                 near_number="", limit=DEFAULT_LIMIT) -> tuple[Search | None, dict[str, str]]:
    """The checked search, or None and each field's problem (``{"area_code": "..."}``)."""
    errors: dict[str, str] = {}
    code = _country(_text(country), errors)
    kind = _text(type).lower() or "local"
    if kind not in TYPES:
        errors["type"] = "Choose the type: local, toll-free or mobile."
    search = Search(country=code, type=kind,
                    area_code=_area_code(_text(area_code), code, errors),
                    contains=_contains(_text(contains), errors),
                    region=_place(_text(region), "region", "Region", errors, 64),
                    locality=_place(_text(locality), "locality", "Locality", errors, 100),
                    near_number=_near(_text(near_number), code, errors),
                    limit=_limit(limit, errors))
    return (None, errors) if errors else (search, {})
