"""Unit tests for sipflask.phone."""

import phonenumbers
import pytest

from sipflask.core.phone import PhoneError, digits_only, normalise_e164


def test_fixtures_are_really_valid():
    for n in ("+14155552671", "+18882223333", "+442071234567"):
        assert phonenumbers.is_valid_number(phonenumbers.parse(n))
    assert not phonenumbers.is_valid_number(phonenumbers.parse("+15555555555"))


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("+1 (415) 555-2671", None, "+14155552671"),
        ("+14155552671", None, "+14155552671"),
        ("  +1 888 222 3333 ", None, "+18882223333"),
        ("415-555-2671", "US", "+14155552671"),
        ("14155552671", "US", "+14155552671"),
        ("+44 20 7123 4567", "US", "+442071234567"),
    ],
)
def test_normalise_ok(raw, region, expected):
    assert normalise_e164(raw, region) == expected


@pytest.mark.parametrize(
    "raw, region, fragment",
    [
        ("415-555-2671", None, "country code"),
        ("+15555555555", None, "not a valid phone number"),
        ("abc", None, "not a valid phone number"),
        ("", None, "Enter a phone number"),
        ("   ", "US", "Enter a phone number"),
        ("+1 415 555 2671 ext. 12", None, "extension"),
    ],
)
def test_normalise_errors(raw, region, fragment):
    with pytest.raises(PhoneError) as info:
        normalise_e164(raw, region)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_digits_only():
    assert digits_only("+1 (415) 555-2671;ext=9w1") == "1415555267191"
    assert digits_only("٣٤") == ""  # non-ASCII digits are not digits here
    assert digits_only("") == ""
