"""The account's numbers through Twilio's REST API (``twilio_rest/numbers.py``), through the real
``twilio`` client and a recording fake of Twilio's phone-number resources: the exact requests
(a list across a page boundary, searches, a purchase with its configuration, a fix, a release)
and every failure in the user's words (400/401/404/429/500, connection errors, time-outs).
``test_twilio_numbers_prism.py`` sends the same requests to Twilio's own OpenAPI spec.
"""
from __future__ import annotations

import pytest
import requests

from sipflask.core.number_config import NumberConfig
from sipflask.twilio_rest import numbers
from sipflask.twilio_rest.number_errors import NumbersError
from tests.support.fake_twilio_numbers import FakeNumbers

VOICE = "https://sipflask.test/twilio/voice"
STATUS = "https://sipflask.test/twilio/status"
FALLBACK = "https://sipflask.test/twilio/fallback"
CONFIG_DATA = {"VoiceUrl": VOICE, "VoiceMethod": "POST", "StatusCallback": STATUS,
               "StatusCallbackMethod": "POST", "VoiceFallbackUrl": FALLBACK,
               "VoiceFallbackMethod": "POST"}


@pytest.fixture
def fake(app):
    twilio = FakeNumbers()
    app.config["TWILIO_HTTP_CLIENT"] = twilio
    return twilio


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def test_expected_config_points_every_webhook_at_public_url(ctx):
    assert numbers.expected_config() == NumberConfig(voice_url=VOICE, status_callback=STATUS,
                                                     voice_fallback_url=FALLBACK)


def test_expected_config_says_public_url_is_needed(ctx):
    ctx.config["PUBLIC_URL"] = ""
    with ctx.test_request_context(base_url="https://elsewhere.test"):
        with pytest.raises(NumbersError) as err:
            numbers.expected_config()
    assert err.value.kind == "config"
    assert "Set PUBLIC_URL" in str(err.value)


def test_the_list_follows_next_page_uri_across_pages(ctx, fake):
    fake.max_page = 2
    for e164 in ("+14155550101", "+14155550102", "+14155550103"):
        fake.own(e164, voice_url="https://old.example/x")
    found = numbers.list_account_numbers()
    assert [n.phone_number for n in found] == ["+14155550101", "+14155550102", "+14155550103"]
    assert fake.log == [
        ("GET", "IncomingPhoneNumbers.json?PageSize=1000"),
        ("GET", "IncomingPhoneNumbers.json?Page=1&PageSize=2&PageToken=PA1")]
    first = found[0]
    assert first.sid == "PN" + "0" * 31 + "1"
    assert first.capabilities == {"voice": True, "sms": True, "mms": False, "fax": False}
    assert (first.voice_url, first.voice_method, first.status_callback,
            first.voice_fallback_url) == ("https://old.example/x", "POST", "", "")
    assert first.as_dict()["friendly_name"] == "+14155550101"


def test_thousands_of_numbers_come_in_pages_of_a_thousand(ctx, fake):
    for i in range(2500):
        fake.own(f"+1415555{i:04d}")
    assert len(numbers.list_account_numbers()) == 2500
    assert [m for m, _ in fake.log] == ["GET"] * 3


def test_find_account_number_asks_for_that_number(ctx, fake):
    sid = fake.own("+14155550101")
    assert numbers.find_account_number("+14155550101").sid == sid
    assert numbers.find_account_number("+14155550199") is None
    assert fake.log[0] == ("GET", "IncomingPhoneNumbers.json?PageSize=1000"
                                  "&PhoneNumber=%2B14155550101")


@pytest.mark.parametrize("kind, path", [("local", "Local"), ("toll-free", "TollFree"),
                                        ("mobile", "Mobile")])
def test_search_asks_the_list_of_the_type(ctx, fake, kind, path):
    fake.sell("US", kind, "+14155550123", "+14155550999")
    found = numbers.search_available("us", kind, contains="0123", limit=5)
    assert [n.phone_number for n in found] == ["+14155550123"]
    assert found[0].capabilities == {"voice": True, "sms": True, "mms": True, "fax": False}
    assert (found[0].locality, found[0].region) == ("San Francisco", "CA")
    assert fake.log == [("GET", f"AvailablePhoneNumbers/US/{path}.json?Contains=0123"
                                "&PageSize=5")]


def test_search_sends_every_criterion(ctx, fake):
    numbers.search_available("US", "local", area_code="415", contains="55*", region="CA",
                             locality="San Francisco", near_number="+14155552671", limit=30)
    assert fake.log == [("GET", "AvailablePhoneNumbers/US/Local.json?AreaCode=415&Contains=55%2A"
                                "&InLocality=San+Francisco&InRegion=CA"
                                "&NearNumber=%2B14155552671&PageSize=30")]


def test_no_results_is_an_empty_list(ctx, fake):
    assert numbers.search_available("US", "local", area_code="415") == []


def test_a_bad_search_is_refused_field_by_field_before_twilio(ctx, fake):
    with pytest.raises(NumbersError) as err:
        numbers.search_available("USA", "landline", area_code="41", contains="5-5",
                                 limit=500)
    assert err.value.kind == "input"
    assert set(err.value.fields) == {"country", "type", "area_code", "contains", "limit"}
    assert fake.log == []


def test_a_country_twilio_does_not_sell_in_says_so(ctx, fake):
    fake.fail("GET", "AvailablePhoneNumbers", status=404, code=20404, message="Not found")
    with pytest.raises(NumbersError) as err:
        numbers.search_available("GB", "mobile")
    assert str(err.value) == "Twilio sells no mobile numbers in GB."
    assert err.value.fields == {"type": "Not sold in that country."}


def test_buy_sets_the_configuration_in_the_purchase(ctx, fake):
    fake.sell("US", "local", "+14155550123")
    bought = numbers.buy("+14155550123")
    assert fake.log == [("POST", "IncomingPhoneNumbers.json")]
    assert fake.data == [{"PhoneNumber": "+14155550123", **CONFIG_DATA}]
    assert numbers.drift(bought) == []
    assert bought.sid in fake.numbers


def test_configure_sets_the_webhooks_and_clears_only_what_overrides_them(ctx, fake):
    plain = fake.own("+14155550101", voice_url="https://old.example/x")
    routed = fake.own("+14155550102", voice_application_sid="AP" + "1" * 32,
                      trunk_sid="TK" + "2" * 32, voice_receive_mode="fax")
    remote = {n.sid: n for n in numbers.list_account_numbers()}
    fake.reset_log()
    assert numbers.drift(numbers.configure(plain, remote[plain])) == []
    assert numbers.drift(numbers.configure(routed, remote[routed])) == []
    assert [p for _, p in fake.log] == ["IncomingPhoneNumbers/PN1.json",
                                        "IncomingPhoneNumbers/PN2.json"]
    assert fake.data == [CONFIG_DATA, {**CONFIG_DATA, "TrunkSid": "",
                                       "VoiceApplicationSid": "", "VoiceReceiveMode": "voice"}]


def test_release_deletes_and_a_missing_number_is_already_released(ctx, fake):
    sid = fake.own("+14155550101")
    assert numbers.release(sid) is True
    assert numbers.release(sid) is False
    assert fake.log == [("DELETE", "IncomingPhoneNumbers/PN1.json")] * 2


@pytest.mark.parametrize("status, code, message, kind, words", [
    (400, 21422, "Phone number is not available", "refused",
     "+14155550123 is no longer available: it was bought by someone else"),
    (400, 21631, "Phone Number Requires an Address", "refused",
     "+14155550123 needs an address on file at Twilio"),
    (400, 21999, "Insufficient funds to purchase this number", "refused",
     "The Twilio account has insufficient funds or is not active"),
    (401, 20003, "Authenticate", "auth", "Twilio refused the account's credentials"),
    (429, 20429, "Too Many Requests", "rate", "Twilio is limiting requests"),
    (500, 20500, "Internal Server Error", "server", "Twilio had a problem; try again"),
    (400, 21212, "Invalid something", "refused",
     "(HTTP 400, Twilio error 21212): Unable to create record: Invalid something."),
])
def test_a_refused_purchase_is_said_in_words(ctx, fake, status, code, message, kind, words):
    fake.fail("POST", "IncomingPhoneNumbers", status=status, code=code, message=message)
    with pytest.raises(NumbersError) as err:
        numbers.buy("+14155550123")
    text = str(err.value)
    assert words in text
    assert err.value.kind == kind and err.value.status == status and err.value.code == code
    assert "\n" not in text and "Traceback" not in text and "AC000" not in text
    assert err.value.fatal == (kind in ("auth", "rate", "server"))


def test_a_refused_list_is_said_in_words(ctx, fake):
    fake.fail("GET", "IncomingPhoneNumbers", status=401, code=20003, message="Authenticate")
    with pytest.raises(NumbersError) as err:
        numbers.list_account_numbers()
    assert err.value.kind == "auth" and err.value.fatal
    assert str(err.value).startswith("Twilio refused the account's credentials")


@pytest.mark.parametrize("exc, words", [
    (requests.ConnectionError("refused"), "Could not reach Twilio's API while buying"),
    (requests.Timeout("slow"), "Twilio did not answer in time while buying"),
])
def test_network_failures_are_uncertain(ctx, fake, exc, words):
    fake.fail("POST", "IncomingPhoneNumbers", exc=exc)
    with pytest.raises(NumbersError) as err:
        numbers.buy("+14155550123")
    assert words in str(err.value)
    assert err.value.kind == "network" and err.value.fatal and err.value.uncertain


def test_no_credentials_is_a_config_error(ctx, fake):
    ctx.config["TWILIO_AUTH_TOKEN"] = ""
    with pytest.raises(NumbersError) as err:
        numbers.list_account_numbers()
    assert err.value.kind == "config" and err.value.fatal
    assert fake.log == []
