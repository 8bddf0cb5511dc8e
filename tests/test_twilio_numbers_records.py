"""Tracking numbers from the Twilio account, database side (``records/twilio_numbers.py``,
``records/twilio_check.py``): import, buy, release and the drift check, through the real
``twilio`` client and a recording fake of Twilio. Exact request sequences; a purchase that
fails halfway keeps what Twilio bought and says what it did not; sipflask's rows match the
account afterwards, and are unchanged by every failure. SQLite and PostgreSQL.
"""
from __future__ import annotations

import logging

import pytest
import requests
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.history.model import ChangeRecord
from sipflask.models import Campaign, Number, Publisher
from sipflask.records import twilio_check, twilio_numbers
from tests.support.fake_twilio_numbers import FakeNumbers

VOICE = "https://sipflask.test/twilio/voice"
CONFIG = {"voice_url": VOICE, "status_callback": "https://sipflask.test/twilio/status",
          "voice_fallback_url": "https://sipflask.test/twilio/fallback"}
A, B, C = "+14155550101", "+14155550102", "+14155550103"


@pytest.fixture
def fake(app):
    twilio = FakeNumbers()
    app.config["TWILIO_HTTP_CLIENT"] = twilio
    return twilio


@pytest.fixture
def ctx(app):
    with app.app_context():
        db.session.add_all([Campaign(ref="auto", name="Auto"),
                            Publisher(ref="acme", name="Acme", afid="5678")])
        db.session.commit()
        yield app


def add_number(e164, **fields):
    campaign = db.session.scalar(select(Campaign).where(Campaign.ref == "auto"))
    db.session.add(Number(number=e164, campaign=campaign, **fields))
    db.session.commit()


def rows():
    """Every number row as (number, campaign, publisher, sub_id, sid, drift, missing)."""
    db.session.expire_all()
    return [(n.number, n.campaign.ref, n.publisher.ref if n.publisher else None, n.sub_id,
             n.twilio_sid, n.twilio_drift, n.twilio_missing)
            for n in db.session.scalars(select(Number).order_by(Number.number))]


def account(fake):
    return sorted((r["phone_number"], r["sid"]) for r in fake.numbers.values())


def texts(lines):
    return [str(line) for line in lines]


# --- import -------------------------------------------------------------------------------------

def test_import_configures_each_number_then_saves_it(ctx, fake):
    sid_a = fake.own(A, voice_url="https://old.example/x")
    sid_b = fake.own(B)
    fake.own(C)
    add_number(C)
    report = twilio_numbers.import_numbers([A, "(415) 555-0102", C, "+14155550199"], "auto",
                                           publisher="acme", sub_id="fb-1")
    assert fake.log == [("GET", "IncomingPhoneNumbers.json?PageSize=1000"),
                        ("POST", "IncomingPhoneNumbers/PN1.json"),
                        ("POST", "IncomingPhoneNumbers/PN2.json")]
    assert texts(report.done) == [f"{A}: imported into campaign auto and configured",
                                  f"{B}: imported into campaign auto and configured"]
    assert texts(report.skipped) == [f"{C}: already a tracking number (campaign auto): "
                                     "left as it is"]
    assert texts(report.errors) == ["+14155550199: not in the Twilio account: nothing imported"]
    assert not report.ok
    assert rows() == [(A, "auto", "acme", "fb-1", sid_a, "", False),
                      (B, "auto", "acme", "fb-1", sid_b, "", False),
                      (C, "auto", None, None, None, "", False)]
    assert fake.numbers[sid_a]["voice_url"] == VOICE
    notes = db.session.scalars(select(ChangeRecord.note).where(
        ChangeRecord.record_type == "number")).all()
    assert notes == ["imported from Twilio"] * 2


def test_import_takes_a_sid_over_from_a_stale_link(ctx, fake):
    sid = fake.own(A)
    add_number(B, twilio_sid=sid)  # B's link is stale: the SID is A's at Twilio
    assert twilio_numbers.import_numbers(A, "auto").ok
    assert [(r[0], r[4]) for r in rows()] == [(A, sid), (B, None)]


def test_import_refuses_bad_input_before_asking_twilio(ctx, fake):
    report = twilio_numbers.import_numbers(["+1415", A], "nope", publisher="nobody",
                                           sub_id="x\x00")
    assert set(report.fields) == {"numbers", "campaign", "publisher", "sub_id"}
    assert report.bad_input and not report.ok
    assert fake.log == [] and rows() == []


def test_import_stops_at_a_refusal_of_the_whole_account(ctx, fake):
    fake.own(A)
    fake.own(B)
    fake.fail("POST", "IncomingPhoneNumbers/PN1", status=401, code=20003,
              message="Authenticate")
    report = twilio_numbers.import_numbers([A, B], "auto")
    assert [m for m, _ in fake.log] == ["GET", "POST"]
    assert texts(report.errors)[0].startswith(f"{A}: not imported: Twilio refused the "
                                              "account's credentials")
    assert texts(report.errors)[1].startswith(f"{B}: not tried: Twilio refused")
    assert rows() == []


def test_import_without_public_url_asks_nothing(ctx, fake):
    ctx.config["PUBLIC_URL"] = ""
    report = twilio_numbers.import_numbers([A], "auto")
    assert "Set PUBLIC_URL" in report.problem and fake.log == [] and rows() == []


# --- buy ----------------------------------------------------------------------------------------

def test_a_buy_that_fails_halfway_keeps_what_twilio_bought(ctx, fake):
    fake.sell("US", "local", A)  # B is not for sale any more: Twilio says 21422
    report = twilio_numbers.buy_numbers([A, B], "auto", sub_id="s1")
    assert fake.log == [("POST", "IncomingPhoneNumbers.json")] * 2
    assert fake.data[0]["PhoneNumber"] == A and fake.data[0]["VoiceUrl"] == VOICE
    assert texts(report.done) == [f"{A}: bought into campaign auto and configured"]
    assert len(report.errors) == 1
    assert texts(report.errors)[0].startswith(f"{B}: not bought: {B} is no longer available")
    assert "Twilio error 21422" in texts(report.errors)[0]
    sid = fake.by_number(A)["sid"]
    assert rows() == [(A, "auto", None, "s1", sid, "", False)]
    assert account(fake) == [(A, sid)]  # the database matches the account


def test_a_buy_stops_after_a_fatal_refusal(ctx, fake):
    fake.sell("US", "local", A, B, C)
    fake.fail("POST", r"IncomingPhoneNumbers\.json", status=429, code=20429,
              message="Too many requests")
    report = twilio_numbers.buy_numbers([A, B, C], "auto")
    assert fake.log == [("POST", "IncomingPhoneNumbers.json")]
    assert texts(report.errors)[0].startswith(f"{A}: not bought: Twilio is limiting requests")
    assert [str(line).split(":")[0] for line in report.errors] == [A, B, C]
    assert "not tried" in texts(report.errors)[2]
    assert rows() == [] and account(fake) == []


def test_a_lost_answer_is_looked_up_and_an_unknown_outcome_said(ctx, fake):
    fake.sell("US", "local", A, B)
    fake.fail("POST", r"IncomingPhoneNumbers\.json", exc=requests.ConnectionError("reset"))
    fake.fail("GET", r"IncomingPhoneNumbers\.json", exc=requests.ConnectionError("reset"))
    report = twilio_numbers.buy_numbers([A, B], "auto")
    assert fake.log == [("POST", "IncomingPhoneNumbers.json"),
                        ("GET", "IncomingPhoneNumbers.json?PageSize=1000"
                                "&PhoneNumber=%2B14155550101")]
    assert "Whether Twilio bought it is not known" in texts(report.errors)[0]
    assert "not tried" in texts(report.errors)[1]
    assert rows() == []


def test_a_purchase_twilio_made_before_failing_is_saved(ctx, fake):
    fake.sell("US", "local", A)
    original = fake.create

    def bought_then_failed(data):
        original(data)
        return fake.error(502, 20500, "Bad gateway")
    fake.create = bought_then_failed
    report = twilio_numbers.buy_numbers([A], "auto")
    assert [m for m, _ in fake.log] == ["POST", "GET"]
    assert texts(report.done) == [f"{A}: bought into campaign auto and configured"]
    assert rows() == [(A, "auto", None, None, fake.by_number(A)["sid"], "", False)]


def test_a_number_already_tracked_is_not_bought(ctx, fake):
    add_number(A)
    report = twilio_numbers.buy_numbers([A], "auto")
    assert fake.log == [] and report.ok and len(report.skipped) == 1


# --- release ------------------------------------------------------------------------------------

def test_release_removes_the_number_from_twilio_then_sipflask(ctx, fake):
    sid = fake.own(A)
    add_number(A, twilio_sid=sid)
    report = twilio_numbers.release_number(A)
    assert fake.log == [("DELETE", "IncomingPhoneNumbers/PN1.json")]
    assert texts(report.done) == [f"{A}: released from the Twilio account and deleted from "
                                  "sipflask"]
    assert rows() == [] and account(fake) == []
    assert db.session.scalar(select(ChangeRecord.note).where(
        ChangeRecord.action == "delete")) == "released at Twilio"


def test_release_of_a_number_twilio_no_longer_has_deletes_it_here(ctx, fake):
    add_number(A, twilio_sid="PN" + "9" * 32)
    report = twilio_numbers.release_number(A)
    assert texts(report.done) == [f"{A}: was no longer in the Twilio account and deleted "
                                  "from sipflask"]
    assert rows() == []


def test_release_of_an_unlinked_number_looks_it_up_first(ctx, fake):
    fake.own(A)
    add_number(A)
    assert twilio_numbers.release_number(A).ok
    assert [m for m, _ in fake.log] == ["GET", "DELETE"]


def test_a_refused_release_changes_nothing(ctx, fake):
    sid = fake.own(A)
    add_number(A, twilio_sid=sid)
    fake.fail("DELETE", "IncomingPhoneNumbers", status=500, code=20500, message="Oops")
    report = twilio_numbers.release_number(A)
    assert texts(report.errors)[0].startswith(f"{A}: not released: Twilio refused releasing")
    assert rows() == [(A, "auto", None, None, sid, "", False)] and account(fake) == [(A, sid)]


def test_release_of_an_unknown_number_is_bad_input(ctx, fake):
    report = twilio_numbers.release_number(A)
    assert report.bad_input and "neither a tracking number nor in the Twilio account" in \
        report.problem


# --- the drift check ----------------------------------------------------------------------------

def setup_drift(fake):
    good = fake.own(A, **CONFIG)
    drifted = fake.own(B, **{**CONFIG, "voice_url": "https://old.example/x"})
    unlinked = fake.own(C, **CONFIG)
    add_number(A, twilio_sid=good)
    add_number(B, twilio_sid=drifted)
    add_number(C)  # in the account, not linked yet: linked by its number
    add_number("+14155550104", twilio_sid="PN" + "9" * 32)  # gone from the account
    add_number("+14155550105")  # another carrier's number: left alone
    return good, drifted, unlinked


def test_check_compares_links_and_flags(ctx, fake):
    good, drifted, unlinked = setup_drift(fake)
    report = twilio_check.check_numbers()
    assert fake.log == [("GET", "IncomingPhoneNumbers.json?PageSize=1000")]
    assert [s.number for s in report.drifted] == [B]
    assert [s.number for s in report.missing] == ["+14155550104"]
    assert not report.ok
    assert report.summary() == "4 checked, 1 drifted, 1 missing from the account."
    drift = f"voice URL is https://old.example/x, expected {VOICE}"
    assert [r[4:] for r in rows()] == [(good, "", False), (drifted, drift, False),
                                       (unlinked, "", False), ("PN" + "9" * 32, "", True),
                                       (None, "", False)]
    checked = db.session.scalars(select(Number.twilio_checked_at).order_by(Number.number)).all()
    assert [t is not None for t in checked] == [True, True, True, True, False]


def test_check_fix_sets_the_drifted_back_and_checks_again(ctx, fake):
    _, drifted, _ = setup_drift(fake)
    report = twilio_check.check_numbers(fix=True)
    assert fake.log == [("GET", "IncomingPhoneNumbers.json?PageSize=1000"),
                        ("POST", "IncomingPhoneNumbers/PN2.json")]
    assert texts(report.done) == [f"{B}: configuration set back"]
    assert report.drifted == [] and fake.numbers[drifted]["voice_url"] == VOICE
    assert [r[5] for r in rows()] == ["", "", "", "", ""]


def test_a_failed_fix_keeps_the_drift(ctx, fake):
    setup_drift(fake)
    fake.fail("POST", "IncomingPhoneNumbers/PN2", status=500, code=20500, message="Oops")
    report = twilio_check.check_numbers(fix=True)
    assert texts(report.errors)[0].startswith(f"{B}: not fixed: Twilio refused configuring")
    assert rows()[1][5].startswith("voice URL is https://old.example/x")


def test_a_failed_list_changes_nothing(ctx, fake):
    setup_drift(fake)
    before = rows()
    fake.fail("GET", "IncomingPhoneNumbers", exc=requests.ConnectionError("down"))
    report = twilio_check.check_numbers()
    assert report.problem.startswith("Could not reach Twilio's API while listing")
    assert rows() == before


def test_a_sid_that_moved_to_another_number_is_relinked(ctx, fake):
    sid = fake.own(B, **CONFIG)
    add_number(A, twilio_sid=sid)  # stale: Twilio's sid is B's now
    add_number(B)
    twilio_check.check_numbers()
    assert [(r[0], r[4], r[6]) for r in rows()] == [(A, None, True), (B, sid, False)]


def test_fix_number_sets_one_number_back(ctx, fake):
    _, drifted, _ = setup_drift(fake)
    db.session.execute(Number.__table__.update().where(Number.number == B)
                       .values(twilio_drift="voice URL is wrong"))
    db.session.commit()
    report = twilio_check.fix_number(B)
    assert texts(report.done) == [f"{B}: configuration set back"] and report.ok
    assert fake.log == [("GET", "IncomingPhoneNumbers.json?PageSize=1000"
                                "&PhoneNumber=%2B14155550102"),
                        ("POST", "IncomingPhoneNumbers/PN2.json")]
    assert rows()[1][4:] == (drifted, "", False)


def test_fix_number_of_a_number_gone_from_the_account_flags_it(ctx, fake):
    setup_drift(fake)
    report = twilio_check.fix_number("+14155550104")
    assert texts(report.errors) == ["+14155550104: no longer in the Twilio account: nothing "
                                    "to fix"]
    assert rows()[3][6] is True


def test_a_refused_fix_number_changes_nothing(ctx, fake):
    setup_drift(fake)
    before = rows()
    fake.fail("POST", "IncomingPhoneNumbers/PN2", status=401, code=20003, message="Auth")
    report = twilio_check.fix_number(B)
    assert texts(report.errors)[0].startswith(f"{B}: not fixed: Twilio refused the account's")
    assert rows() == before
    assert twilio_check.fix_number("+14155550999").bad_input


# --- the periodic job ---------------------------------------------------------------------------

def test_the_job_skips_quietly_without_credentials(ctx, fake, caplog):
    ctx.config["TWILIO_AUTH_TOKEN"] = ""
    twilio_check._said.clear()
    with caplog.at_level(logging.INFO, logger="sipflask.twilio.numbers"):
        first = twilio_check.check_twilio_numbers()
        twilio_check.check_twilio_numbers()
    assert first == {"skipped": "no Twilio credentials are configured"}
    assert [r.message for r in caplog.records] == [
        "Twilio numbers check skipped: no Twilio credentials are configured"]
    assert fake.log == []


def test_the_job_runs_the_check(ctx, fake):
    setup_drift(fake)
    assert twilio_check.check_twilio_numbers() == {"checked": 4, "drifted": 1, "missing": 1}
    from sipflask import jobs
    assert jobs.JOBS["numbers.check_twilio"].schedule is not None


def test_new_numbers_start_unlinked(ctx):
    add_number(A)
    assert rows() == [(A, "auto", None, None, None, "", False)]
