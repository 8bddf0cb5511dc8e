"""``flask numbers twilio-list|import-twilio|search|buy|check|release``, a contract scripts rely
on: the ``--json`` shapes, exit 0 done / 1 refused / 2 bad input, one-line errors and never a
traceback; bad input asks Twilio nothing. Through a recording fake of Twilio."""
from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Campaign, Number
from tests.support.fake_twilio_numbers import FakeNumbers

A, B = "+14155550101", "+14155550102"
CONFIG = {"voice_url": "https://sipflask.test/twilio/voice",
          "status_callback": "https://sipflask.test/twilio/status",
          "voice_fallback_url": "https://sipflask.test/twilio/fallback"}


@pytest.fixture
def fake(app):
    twilio = FakeNumbers()
    app.config["TWILIO_HTTP_CLIENT"] = twilio
    with app.app_context():
        db.session.add(Campaign(ref="auto", name="Auto"))
        db.session.commit()
    return twilio


def run(runner, *args, **kwargs):
    result = runner.invoke(args=["numbers", *args], **kwargs)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def numbers(app):
    with app.app_context():
        return [(n.number, n.campaign.ref, n.sub_id, n.twilio_sid) for n in
                db.session.scalars(select(Number).order_by(Number.number))]


def add_number(app, e164, **fields):
    with app.app_context():
        campaign = db.session.scalar(select(Campaign))
        db.session.add(Number(number=e164, campaign=campaign, **fields))
        db.session.commit()


def test_twilio_list_json_shape(app, runner, fake):
    fake.own(A, voice_url="https://old.example/x")
    fake.own(B, **CONFIG)
    add_number(app, B)
    result = run(runner, "twilio-list", "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [(i["phone_number"], i["in_sipflask"], i["campaign"]) for i in items] == [
        (A, False, None), (B, True, "auto")]
    assert set(items[0]) >= {"sid", "phone_number", "friendly_name", "capabilities",
                             "voice_url", "voice_method", "status_callback",
                             "voice_fallback_url", "in_sipflask", "campaign", "drift"}
    assert items[0]["capabilities"] == {"voice": True, "sms": True, "mms": False, "fax": False}
    assert items[0]["drift"][0].startswith("voice URL is https://old.example/x")
    assert items[1]["drift"] == []


def test_twilio_list_text(runner, fake):
    fake.own(A)
    result = run(runner, "twilio-list")
    assert result.exit_code == 0
    assert f"{A}  {A}  [voice, SMS]  not in sipflask" in result.output
    assert "1 numbers in the Twilio account, 0 of them in sipflask." in result.output


def test_twilio_list_failure_is_one_line(runner, fake):
    fake.fail("GET", "IncomingPhoneNumbers", status=401, code=20003, message="Authenticate")
    result = run(runner, "twilio-list", "--json")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Twilio refused the account's credentials")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_import_twilio(app, runner, fake):
    sid = fake.own(A)
    result = run(runner, "import-twilio", A, "--campaign", "auto", "--sub-id", "s1")
    assert result.exit_code == 0, result.output
    assert f"{A}: imported into campaign auto and configured" in result.output
    assert "Imported 1, already in sipflask 0, failed 0." in result.output
    assert numbers(app) == [(A, "auto", "s1", sid)]


def test_import_twilio_of_a_number_not_in_the_account_exits_1(app, runner, fake):
    result = run(runner, "import-twilio", A, "--campaign", "auto")
    assert result.exit_code == 1
    assert "not in the Twilio account" in result.output and numbers(app) == []


@pytest.mark.parametrize("args, words", [
    (["import-twilio", A, "--campaign", "nope"], "No campaign with ref 'nope'."),
    (["import-twilio", "12", "--campaign", "auto"], "is not a valid phone number"),
    (["buy", A, "--campaign", "auto", "--publisher", "x"], "No publisher with ref 'x'."),
    (["search", "--country", "USA"], "two-letter code"),
    (["search", "--country", "US", "--type", "landline"], "local, toll-free or mobile"),
    (["search", "--country", "US", "--area-code", "4155"], "three digits"),
    (["release", "not-a-number"], "is not a valid phone number"),
    (["release", A, "--yes"], "neither a tracking number nor in the Twilio account"),
])
def test_bad_input_exits_2_in_one_line_asking_twilio_nothing(runner, fake, args, words):
    result = run(runner, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: ") and words in result.stderr
    assert result.stderr.count("\n") == 1
    assert [m for m, _ in fake.log if m != "GET"] == []
    if args[0] != "release":
        assert fake.log == []


def test_search_json_and_text(runner, fake):
    fake.sell("US", "toll-free", "+18005550100", address_requirements="any")
    result = run(runner, "search", "--country", "US", "--type", "toll-free", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [{
        "phone_number": "+18005550100", "friendly_name": "+18005550100",
        "locality": "San Francisco", "region": "CA", "iso_country": "US",
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
        "address_requirements": "any"}]
    text = run(runner, "search", "--country", "US", "--type", "toll-free").output
    assert "+18005550100  +18005550100  San Francisco, CA  [voice, SMS, MMS]  " \
           "(needs an address: any)" in text


def test_search_without_results(runner, fake):
    result = run(runner, "search", "--country", "US", "--area-code", "415")
    assert result.exit_code == 0
    assert "No numbers for sale match" in result.output
    assert json.loads(run(runner, "search", "--country", "US", "--json").stdout) == []


def test_buy_halfway_exits_1_and_says_both(app, runner, fake):
    fake.sell("US", "local", A)
    result = run(runner, "buy", A, B, "--campaign", "auto")
    assert result.exit_code == 1
    assert f"{A}: bought into campaign auto and configured" in result.output
    assert f"{B}: not bought: {B} is no longer available" in result.output
    assert "Bought 1, already in sipflask 0, failed 1." in result.output
    assert numbers(app) == [(A, "auto", None, fake.by_number(A)["sid"])]


def test_buy_without_public_url_exits_1(app, runner, fake):
    app.config["PUBLIC_URL"] = ""
    result = run(runner, "buy", A, "--campaign", "auto")
    assert result.exit_code == 1 and "Set PUBLIC_URL" in result.stderr


def test_check_exit_codes_and_fix(app, runner, fake):
    sid = fake.own(A, **{**CONFIG, "voice_url": "https://old.example/x"})
    add_number(app, A, twilio_sid=sid)
    result = run(runner, "check")
    assert result.exit_code == 1
    assert f"{A}: voice URL is https://old.example/x" in result.output
    assert "1 checked, 1 drifted, 0 missing from the account." in result.output
    data = json.loads(run(runner, "check", "--json").stdout)
    assert data["ok"] is False and data["drifted"] == 1
    assert data["numbers"][0]["number"] == A and data["numbers"][0]["sid"] == sid
    fixed = run(runner, "check", "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert f"{A}: configured (fixed)" in fixed.output
    assert run(runner, "check").exit_code == 0


def test_check_flags_a_missing_number(app, runner, fake):
    add_number(app, A, twilio_sid="PN" + "9" * 32)
    result = run(runner, "check")
    assert result.exit_code == 1 and f"{A}: no longer in the Twilio account" in result.output
    # --fix can't bring it back: still 1, so a cron job hears of it.
    assert run(runner, "check", "--fix").exit_code == 1


def test_check_failure_is_one_line(runner, fake):
    fake.fail("GET", "IncomingPhoneNumbers", exc=requests.ConnectionError("down"))
    result = run(runner, "check")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Could not reach Twilio's API")


def test_release_asks_first(app, runner, fake):
    sid = fake.own(A)
    add_number(app, A, twilio_sid=sid)
    declined = run(runner, "release", A, input="n\n")
    assert declined.exit_code == 1 and "Not released." in declined.stderr
    no_stdin = run(runner, "release", A, input="")
    assert no_stdin.exit_code == 1 and "pass --yes" in no_stdin.stderr
    assert fake.log == [] and len(numbers(app)) == 1
    result = run(runner, "release", A, input="y\n")
    assert result.exit_code == 0, result.output
    assert f"{A}: released from the Twilio account and deleted from sipflask" in result.output
    assert numbers(app) == [] and fake.numbers == {}


def test_release_yes_and_a_refusal(app, runner, fake):
    sid = fake.own(A)
    add_number(app, A, twilio_sid=sid)
    fake.fail("DELETE", "IncomingPhoneNumbers", status=429, code=20429, message="Slow down")
    result = run(runner, "release", A, "--yes")
    assert result.exit_code == 1
    assert f"{A}: not released: Twilio is limiting requests" in result.output
    assert len(numbers(app)) == 1
