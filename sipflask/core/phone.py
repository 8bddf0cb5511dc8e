"""Phone numbers: E.164 normalisation and the digits-only token escape.

Everything sipflask stores or dials as a phone number is E.164
(``+14155552671``). Validation uses ``phonenumbers.is_valid_number`` rather
than ``is_possible_number``: "possible" only checks the length, so a typo in
an area code would pass and fail later at call time.

This module is pure: no Flask, no database.
"""

from __future__ import annotations

import re

import phonenumbers

__all__ = ["PhoneError", "normalise_e164", "digits_only", "e164_number"]

_EXAMPLE = "+14155552671"


class PhoneError(ValueError):
    """A phone number that cannot be used; ``str(err)`` is shown to the user."""


def normalise_e164(raw: str, default_region: str | None = None) -> str:
    """Return ``raw`` as an E.164 string, or raise :class:`PhoneError`.

    ``default_region`` (ISO 3166 code such as ``"US"``) lets national formats
    like ``415-555-2671`` through; without it a ``+`` and country code are
    required. Extensions are refused: E.164 cannot carry them, and dialling
    the main number instead would silently reach the wrong person.
    """
    text = (raw or "").strip()
    if not text:
        raise PhoneError("Enter a phone number, for example " + _EXAMPLE + ".")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            detail = "start it with + and the country code"
        else:
            detail = "check the digits"
        raise PhoneError(
            f'"{text}" is not a valid phone number ({detail}, e.g. {_EXAMPLE}).'
        ) from None
    if parsed.extension:
        raise PhoneError(f'"{text}" has an extension; extensions cannot be dialled here.')
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneError(
            f'"{text}" is not a valid phone number (no such number range, '
            f"e.g. {_EXAMPLE})."
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def digits_only(value: str) -> str:
    """Keep only ASCII ``0-9`` -- the escape for a token landing in a phone number.

    Everything else goes, including ``+``, letters, ``;ext=``, ``w`` pauses
    and non-ASCII digits (``str.isdigit`` would accept Arabic-Indic digits,
    which ``phonenumbers`` then reinterprets). A value can therefore only add
    digits to the number, never change its structure.
    """
    return "".join(ch for ch in value if "0" <= ch <= "9")


_E164_SHAPE = re.compile(r"\+[1-9][0-9]{0,14}\Z")


def e164_number(caller) -> int | None:
    """The digits of an E.164-shaped caller (``+14155552671`` -> 14155552671) as one integer,
    else None. One integer per caller and one caller per integer (no leading zero, at most 15
    digits: below 2**63), so counting distinct callers can count integers (reports)."""
    if isinstance(caller, str) and _E164_SHAPE.match(caller):
        return int(caller[1:])
    return None
