"""The pure rules behind Twilio numbers: what differs from the expected configuration, in words
(``core/number_config.py``), and a search checked field by field (``core/number_search.py``)."""
from __future__ import annotations

import pytest

from sipflask.core import number_config, number_search
from sipflask.core.number_config import NumberConfig

EXPECTED = NumberConfig(voice_url="https://calls.example.com/twilio/voice",
                        status_callback="https://calls.example.com/twilio/status",
                        voice_fallback_url="https://calls.example.com/twilio/fallback")


def remote(**changes):
    record = dict(EXPECTED.params(), voice_application_sid="", trunk_sid=None,
                  voice_receive_mode="voice")
    record.update(changes)
    return record


def test_a_matching_number_has_no_drift():
    assert number_config.drift(remote(), EXPECTED) == []
    assert number_config.drift(remote(voice_method="post", status_callback_method=None),
                               EXPECTED) == []


def test_each_difference_is_one_phrase():
    found = number_config.drift(remote(voice_url="https://old.example/x", status_callback=None,
                                       voice_fallback_method="GET"), EXPECTED)
    assert found == [
        "voice URL is https://old.example/x, expected https://calls.example.com/twilio/voice",
        "status callback is not set, expected https://calls.example.com/twilio/status",
        "fallback URL method is GET, expected POST"]


def test_what_overrides_the_voice_url_is_drift():
    found = number_config.drift(remote(voice_application_sid="AP" + "1" * 32,
                                       trunk_sid="TK" + "2" * 32,
                                       voice_receive_mode="fax"), EXPECTED)
    assert found == [f"calls go to SIP trunk TK{'2' * 32}, not to the voice URL",
                     f"calls go to TwiML app AP{'1' * 32}, not to the voice URL",
                     "set to receive faxes, not voice calls"]


def test_objects_work_like_dicts():
    class Record:
        voice_url = "https://old.example/x"

    assert number_config.drift(Record(), EXPECTED)[0].startswith("voice URL is https://old")


def test_fix_params_clear_only_what_is_set():
    assert number_config.fix_params(remote(), EXPECTED) == EXPECTED.params()
    assert number_config.fix_params(remote(trunk_sid="TK" + "2" * 32), EXPECTED) == {
        **EXPECTED.params(), "trunk_sid": ""}


def test_drift_text_fits_the_column():
    text = number_config.drift_text(["x" * 300, "y" * 300])
    assert len(text) == number_config.DRIFT_MAX and text.endswith("…")
    assert number_config.drift_text([]) == ""


def test_a_good_search_becomes_the_clients_arguments():
    search, errors = number_search.check_search(" us ", "Toll-Free", contains="800*",
                                                limit="10")
    assert errors == {}
    assert (search.country, search.resource) == ("US", "toll_free")
    assert search.params() == {"limit": 10, "contains": "800*"}
    assert search.describe() == "toll-free numbers in US containing 800*"


def test_near_number_is_read_in_the_searched_country():
    search, _ = number_search.check_search("US", near_number="(415) 555-2671",
                                           area_code="415")
    assert search.params() == {"limit": 20, "area_code": 415, "near_number": "+14155552671"}


@pytest.mark.parametrize("kwargs, field, words", [
    ({"country": "U"}, "country", "two-letter code"),
    ({"country": "ZZ"}, "country", "not a country code"),
    ({"country": "US", "type": "fax"}, "type", "local, toll-free or mobile"),
    ({"country": "US", "area_code": "41"}, "area_code", "three digits"),
    ({"country": "GB", "area_code": "207"}, "area_code", "US and Canada only"),
    ({"country": "US", "contains": "5"}, "contains", "2 to 16 digits or letters"),
    ({"country": "US", "contains": "55-5"}, "contains", "2 to 16"),
    ({"country": "US", "contains": "**"}, "contains", "2 to 16"),
    ({"country": "US", "region": "C@"}, "region", "letters"),
    ({"country": "US", "locality": "x" * 101}, "locality", "at most 100"),
    ({"country": "US", "near_number": "12"}, "near_number", "Near:"),
    ({"country": "US", "limit": 0}, "limit", "between 1 and 100"),
    ({"country": "US", "limit": "lots"}, "limit", "between 1 and 100"),
])
def test_each_bad_field_says_what_is_wrong(kwargs, field, words):
    search, errors = number_search.check_search(**kwargs)
    assert search is None
    assert list(errors) == [field]
    assert words in errors[field]
