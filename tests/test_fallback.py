"""Outage routing and ``POST /twilio/fallback``: answering from the routing snapshot without
the database, and quiet refusals of webhooks that fail their checks."""
from __future__ import annotations

import glob
import json
import logging
import os

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from sipflask.callflow import directory, journal
from sipflask.extensions import db
from sipflask.models import Buyer
from tests.support.webhook import AUTO, BASE, CALLER, parse, post, voice

SID = "CA" + "7" * 32


def fallback(client, sid=SID, to=AUTO, **extra):
    return post(client, "/twilio/fallback", {"CallSid": sid, "From": CALLER, "To": to,
                                             "ErrorCode": "11205", **extra})


@pytest.fixture
def outage(monkeypatch):
    """``outage()``: from now on every statement fails as on a database that can't be reached;
    returns the list of statements tried."""
    tried = []

    def fail(self, *args, **kwargs):
        tried.append(args[:1])
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    def start():
        for name in ("execute", "_execute_internal"):
            monkeypatch.setattr(Session, name, fail)
        return tried
    return start


@pytest.fixture
def down(outage):
    return outage()


def entries(app):
    """Every journalled entry, oldest first (a replay that failed moved some aside)."""
    live = journal.path(app)
    found = []
    for name in [*sorted(glob.glob(live + ".*.replay")), live]:
        if os.path.exists(name):
            with open(name) as fh:
                found += [json.loads(line) for line in fh]
    return found


def first_buyer_by_priority(app, campaign_ref="auto"):
    with app.app_context():
        number = directory.find_number(AUTO)
        rows = directory.campaign_buyers(number.campaign_id)
        return sorted((b for b in rows if not b.paused), key=lambda b: b.priority)[0]


def test_voice_during_an_outage_with_no_snapshot_says_sorry_and_journals(client, demo, down,
                                                                         caplog):
    # no call has read the number in this process yet: nothing to route from
    with caplog.at_level(logging.ERROR, "sipflask.outage"):
        root = parse(voice(client))
    assert "can't connect your call" in root.find("Say").text
    assert "not in this process's routing snapshot" in caplog.text
    [entry] = entries(demo)
    assert entry["call_sid"] == "CA" + "1" * 32 and entry["status"] == "no-buyer"


def test_outage_routing_uses_the_snapshot(client, demo, outage, caplog):
    buyer = first_buyer_by_priority(demo)  # reads the database: the snapshot is warm now
    outage()
    with caplog.at_level(logging.ERROR, "sipflask.outage"):
        root = parse(voice(client))
    dial = root.find("Dial")
    assert dial is not None and dial.get("action").startswith(BASE + "/twilio/dial-action/")
    assert "DATABASE UNREACHABLE" in caplog.text and "caps not checked" in caplog.text
    [entry] = entries(demo)
    assert entry["kind"] == "call" and entry["call_sid"] == "CA" + "1" * 32
    assert entry["attempt"]["buyer_id"] == buyer.id and entry["params"]["To"] == AUTO


def test_a_statement_the_database_refused_is_not_an_outage(client, demo, monkeypatch):
    first_buyer_by_priority(demo)
    boom = ProgrammingError("SELECT", {}, Exception("relation does not exist"))
    monkeypatch.setattr(Session, "execute", lambda *a, **k: (_ for _ in ()).throw(boom))
    root = parse(voice(client))
    assert "can't connect your call" in root.find("Say").text
    assert not journal.pending(demo)


def test_outage_routing_skips_paused_buyers_and_dials_the_next_on_busy(client, demo, outage):
    with demo.app_context():
        first = first_buyer_by_priority(demo)
        db.session.get(Buyer, first.id).paused = True
        db.session.commit()
    second = first_buyer_by_priority(demo)
    assert second.id != first.id
    outage()
    root = parse(voice(client))
    assert entries(demo)[0]["attempt"]["buyer_id"] == second.id
    action = root.find("Dial").get("action")
    again = parse(post(client, action[len(BASE):], {"CallSid": "CA" + "1" * 32,
                                                   "DialCallStatus": "busy"}))
    dial_entry = entries(demo)[1]
    assert dial_entry["kind"] == "dial" and dial_entry["params"]["DialCallStatus"] == "busy"
    if dial_entry["attempt"] is None:
        assert again.find("Hangup") is not None  # no other open buyer in the snapshot
    else:
        assert again.find("Dial") is not None and dial_entry["attempt"]["position"] == 1
        assert dial_entry["attempt"]["buyer_id"] not in (first.id, second.id)


def test_fallback_url_with_no_snapshot_says_sorry_without_the_database(client, demo, down):
    root = parse(fallback(client))
    assert "can't connect your call" in root.find("Say").text
    assert down == [], "the fallback URL must not use the database"


def test_fallback_url_with_a_warm_snapshot_dials(client, demo, outage):
    buyer = first_buyer_by_priority(demo)
    used = outage()
    root = parse(fallback(client))
    assert root.find("Dial") is not None and used == []
    [entry] = entries(demo)
    assert entry["source"] == "fallback" and entry["attempt"]["buyer_id"] == buyer.id


@pytest.mark.app_config(OUTAGE_ROUTING=False)
def test_fallback_url_without_outage_routing_says_sorry(client, demo):
    first_buyer_by_priority(demo)
    root = parse(fallback(client))
    assert "can't connect your call" in root.find("Say").text
    assert not journal.pending(demo)


def test_fallback_url_refuses_sip_calls(client, demo):
    root = parse(fallback(client, to="sip:+18882223333@acme.sip.twilio.com",
                          SipDomain="acme.sip.twilio.com"))
    assert root.find("Reject") is not None


# --- quiet refusals ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/status", "/twilio/fallback",
                                  "/twilio/dial-action/abc/0"])
def test_a_bad_signature_gets_a_plain_403_without_a_cookie(client, demo, path):
    response = post(client, path, {"CallSid": SID, "To": AUTO}, signature="forged")
    assert response.status_code == 403
    assert response.mimetype == "text/plain" and b"<" not in response.data
    assert "Set-Cookie" not in response.headers


def test_other_webhook_errors_are_plain_too(client, demo):
    for response in (client.get("/twilio/voice"), client.post("/twilio/nothing-here")):
        assert response.status_code in (403, 404, 405)
        assert response.mimetype == "text/plain" and b"<html" not in response.data.lower()
        assert "Set-Cookie" not in response.headers


# --- database time bounds -------------------------------------------------------------------------

def test_engine_options_bound_the_database_time():
    from sipflask.extensions import engine_options
    pg = engine_options({
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@db/x?options=-csearch_path%3Ds",
        "DB_CONNECT_TIMEOUT": 2, "DB_STATEMENT_TIMEOUT": 3, "DB_POOL_TIMEOUT": 1,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}})
    assert pg["connect_args"] == {"connect_timeout": 2,
                                  "options": "-csearch_path=s -c statement_timeout=3000"}
    assert pg["pool_timeout"] == 1 and pg["pool_pre_ping"] and pg["hide_parameters"]
    lite = engine_options({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db",
                           "DB_STATEMENT_TIMEOUT": 3})
    assert lite["connect_args"] == {"timeout": 3} and "pool_timeout" not in lite
    own = engine_options({"SQLALCHEMY_DATABASE_URI": "postgresql://u@db/x",
                          "DB_CONNECT_TIMEOUT": 0, "DB_STATEMENT_TIMEOUT": 0,
                          "DB_POOL_TIMEOUT": 0, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_timeout": 9}})
    assert own == {"pool_timeout": 9, "hide_parameters": True}


def test_overview_lists_the_three_urls_to_paste_into_twilio(admin_client):
    page = admin_client.get("/").get_data(as_text=True)
    for path in ("/twilio/voice", "/twilio/status", "/twilio/fallback"):
        assert path in page
    assert "Primary handler fails" in page
