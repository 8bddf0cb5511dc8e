"""The Twilio voice webhook, dial-action and status callbacks, through signed HTTP requests."""
import logging
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select, text

from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call
from tests.support.webhook import (AUTO, BASE, CALLER, MEDICARE, dial_action, parse, pause_all_but,
                                   post, sign, sip_headers, the_call, voice)

# --- signatures ---------------------------------------------------------------------------------

def test_unsigned_request_is_refused_and_logged(client, demo, caplog):
    with caplog.at_level(logging.WARNING, "sipflask.webhook"):
        response = post(client, "/twilio/voice", {"To": AUTO, "From": CALLER}, signature="")
    assert response.status_code == 403
    assert "invalid X-Twilio-Signature" in caplog.text
    with demo.app_context():
        assert db.session.scalar(select(Call)) is None


def test_signature_over_other_url_or_params_is_refused(client, demo):
    data = {"To": AUTO, "From": CALLER}
    wrong_url = sign("http://localhost/twilio/voice", data)
    assert post(client, "/twilio/voice", data, signature=wrong_url).status_code == 403
    tampered = sign(BASE + "/twilio/voice", {**data, "From": "+12125550100"})
    assert post(client, "/twilio/voice", data, signature=tampered).status_code == 403
    assert post(client, "/twilio/voice", data).status_code == 200


@pytest.mark.app_config(PUBLIC_URL=None)
def test_without_public_url_the_request_url_is_signed(client, demo):
    response = post(client, "/twilio/voice", {"To": AUTO, "From": CALLER, "CallSid": "CA1"},
                    base="http://localhost")
    assert parse(response).find("Dial") is not None


@pytest.mark.app_config(TWILIO_AUTH_TOKEN="")
def test_no_auth_token_configured_refuses_everything(client, demo, caplog):
    response = post(client, "/twilio/voice", {"To": AUTO}, signature="x")
    assert response.status_code == 403
    assert "TWILIO_AUTH_TOKEN is not configured" in caplog.text


def test_webhook_needs_no_login_or_csrf(client, demo):
    # Twilio has neither a session nor a CSRF token; the signature is its authentication.
    assert voice(client).status_code == 200


# --- routing ------------------------------------------------------------------------------------

def test_sip_buyer_gets_default_and_buyer_headers(client, demo):
    pause_all_but(demo, "queue")
    root = parse(voice(client, FromState="CA"))
    dial = root.find("Dial")
    assert dial.get("timeout") == "30" and dial.get("method") == "POST"
    sip = dial.find("Sip")
    assert sip.get("username") is None and sip.get("password") is None
    base, headers = sip_headers(sip.text)
    assert base == "sip:agentqueue@pbx.example.com"
    call = the_call(demo)
    with demo.app_context():
        call = db.session.get(Call, call.id)
        assert headers["X-PH-RetreaverUUID"] == call.uuid
        assert headers["X-PH-RetreaverKey"] == call.key and len(call.key) >= 32
        assert headers["X-PH-RetreaverAFID"] == "5678"
        assert headers["X-PH-RetreaverSID"] == "fb-12"
        assert headers["X-Campaign-ID"] == str(call.campaign_id)
        assert headers["X-Caller-State"] == "CA"
        assert headers["X-Lead-Score"] == "72"  # a tag of the number
        assert call.status == "routing" and call.call_sid == "CA" + "1" * 32
        assert call.tags["caller_state"] == "CA" and call.tag_sources["caller_state"] == "twilio"
        attempt = call.attempts[0]
        assert attempt.kind == "sip" and attempt.dialled == sip.text and attempt.holds_slot
        assert [h["name"] for h in attempt.headers_sent][:2] == ["X-PH-RetreaverUUID",
                                                                 "X-PH-RetreaverKey"]
        sources = {h["name"]: h["source"] for h in attempt.headers_sent}
        assert sources["X-PH-RetreaverAFID"] == "default" and sources["X-Campaign-ID"] == "buyer"
        assert db.session.get(Buyer, attempt.buyer_id).active_calls == 1


def test_missing_caller_state_uses_the_fallback_and_publisherless_number_omits_afid(client, demo):
    pause_all_but(demo, "queue")
    root = parse(voice(client, to=MEDICARE))
    _, headers = sip_headers(root.find("Dial/Sip").text)
    assert headers["X-Caller-State"] == "unknown"
    assert "X-PH-RetreaverAFID" not in headers and "X-PH-RetreaverSID" not in headers
    assert "X-Lead-Score" not in headers  # empty after tokens: left out


def test_credentials_only_for_the_buyer_that_has_them(client, demo):
    pause_all_but(demo, "secure")
    sip = parse(voice(client)).find("Dial/Sip")
    assert sip.get("username") == "sipflask-acme"
    assert sip.get("password") == "Demo-Password-2026"
    assert sip.text.startswith("sip:1001@pbx.acme-insure.example:5080?")
    call = the_call(demo)
    with demo.app_context():
        attempt = db.session.get(Call, call.id).attempts[0]
        assert "Demo-Password" not in attempt.dialled
        assert attempt.sip_username == "sipflask-acme"


def test_phone_buyer_gets_number(client, demo):
    pause_all_but(demo, "phone")
    dial = parse(voice(client)).find("Dial")
    assert dial.find("Number").text == "+14155552671" and dial.find("Sip") is None
    assert dial.get("timeout") == "40"


def test_sip_header_params_become_tags_and_tokens(client, demo):
    with demo.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        queue.headers[2].value = "[lead_score]"
        db.session.commit()
    pause_all_but(demo, "queue")
    root = parse(voice(client, to=MEDICARE, **{"SipHeader_X-Lead-Score": "87"}))
    assert sip_headers(root.find("Dial/Sip").text)[1]["X-Lead-Score"] == "87"
    with demo.app_context():
        call = db.session.get(Call, the_call(demo).id)
        assert call.tags["lead_score"] == "87" and call.tag_sources["lead_score"] == "sip"


def test_failover_busy_then_next_then_completed(client, demo):
    pause_all_but(demo, "queue", "secure", "phone")
    first = parse(voice(client))
    assert "agentqueue" in first.find("Dial/Sip").text  # priority 1
    second = parse(dial_action(client, first, "busy", 486))
    assert "1001@pbx.acme-insure.example" in second.find("Dial/Sip").text  # priority 2
    third = parse(dial_action(client, second, "no-answer", 480))
    assert third.find("Dial/Number").text == "+14155552671"  # priority 3
    done = parse(dial_action(client, third, "completed", duration="95"))
    assert done.find("Hangup") is not None and done.find("Dial") is None
    with demo.app_context():
        call = db.session.get(Call, the_call(demo).id)
        assert [(a.dial_status, a.sip_code) for a in call.attempts] == [
            ("busy", 486), ("no-answer", 480), ("completed", None)]
        assert call.attempts[2].duration == 95
        assert call.status == "completed"
        assert not any(a.holds_slot for a in call.attempts)
        assert all(b.active_calls == 0 for b in db.session.scalars(select(Buyer)))


def test_all_buyers_fail_then_polite_goodbye(client, demo):
    pause_all_but(demo, "queue")
    first = parse(voice(client))
    last = parse(dial_action(client, first, "failed", 503))
    assert "nobody is available" in last.find("Say").text
    assert last.find("Hangup") is not None
    with demo.app_context():
        call = db.session.get(Call, the_call(demo).id)
        assert call.status == "no-buyer"
        reasons = {s["buyer"]: s["reason"] for s in call.attempts[-1].skipped}
        assert reasons["Sales desk (phone)"] == "paused"


def test_repeated_dial_action_gets_the_first_answer(client, demo):
    # Issue 15 changes this: a repeat used to hang up ("nobody") after the first dialled B.
    pause_all_but(demo, "queue", "phone")
    first = parse(voice(client))
    second = dial_action(client, first, "busy")
    again = dial_action(client, first, "busy")
    assert again.data == second.data
    with demo.app_context():
        assert len(db.session.get(Call, the_call(demo).id).attempts) == 2
    assert parse(second).find("Dial/Number") is not None


def test_paused_and_capped_buyers_are_skipped_with_reason(client, demo):
    pause_all_but(demo, "queue", "phone")
    with demo.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        queue.concurrency_cap = 1
        db.session.commit()
    parse(voice(client, sid="CA" + "a" * 32))
    root = parse(voice(client, sid="CA" + "b" * 32, caller="+12125550100"))
    assert root.find("Dial/Number") is not None
    with demo.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == "CA" + "b" * 32))
        reasons = {s["buyer"]: s["reason"] for s in call.attempts[0].skipped}
        assert reasons["Agent queue (Asterisk)"] == "concurrency cap reached (1/1)"


def test_status_callback_closes_call_and_frees_slot(client, demo):
    pause_all_but(demo, "queue")
    parse(voice(client))
    response = post(client, "/twilio/status", {"CallSid": "CA" + "1" * 32,
                                               "CallStatus": "completed", "CallDuration": "42"})
    assert response.status_code == 204
    with demo.app_context():
        call = db.session.get(Call, the_call(demo).id)
        assert call.duration == 42 and call.ended_at is not None
        assert not call.attempts[0].holds_slot
        assert db.session.scalar(select(Buyer).where(Buyer.ref == "queue")).active_calls == 0


def test_unknown_number_says_goodbye_and_is_logged(client, demo, caplog):
    with caplog.at_level(logging.WARNING, "sipflask.calls"):
        root = parse(voice(client, to="+12125550100"))
    assert "not in service" in root.find("Say").text and root.find("Hangup") is not None
    assert "unknown number" in caplog.text
    call = the_call(demo)
    assert call.status == "rejected" and "unknown number" in call.reason


def test_campaign_without_buyers(client, demo):
    with demo.app_context():
        db.session.execute(text("DELETE FROM campaign_buyers"))
        db.session.commit()
    root = parse(voice(client))
    assert "nobody is available" in root.find("Say").text


def test_database_trouble_still_answers_twiml(client, demo, caplog):
    with demo.app_context():
        db.session.execute(text("DROP TABLE attempts"))
        db.session.commit()
    with caplog.at_level(logging.ERROR, "sipflask.webhook"):
        root = parse(voice(client))
    assert "can't connect your call" in root.find("Say").text
    assert "database error" in caplog.text
    assert "Traceback" not in ET.tostring(root, encoding="unicode")


def test_buyer_whose_number_expands_badly_is_skipped(client, demo):
    with demo.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        queue.number = "sip:agent@[missing]"
        db.session.commit()
    pause_all_but(demo, "queue", "phone")
    root = parse(voice(client))
    assert root.find("Dial/Number") is not None
    with demo.app_context():
        call = db.session.get(Call, the_call(demo).id)
        assert call.attempts[0].dial_status == "failed"
        assert "not dialled" in call.attempts[0].skipped[-1]["reason"]
        assert not call.attempts[0].holds_slot


def test_dial_action_for_unknown_call_hangs_up(client, demo):
    root = parse(post(client, "/twilio/dial-action/nope/1", {"DialCallStatus": "busy"}))
    assert root.find("Hangup") is not None


def test_repeated_voice_webhook_dials_the_same_buyer_again(client, demo):
    """Twilio retried (or used the fallback URL): the first answer never reached it, so the
    same buyer is dialled with the slot it already holds, not passed over."""
    pause_all_but(demo, "queue", "phone")
    first = parse(voice(client))
    again = parse(voice(client))
    assert again.find("Dial/Sip").text.split("?")[0] == first.find("Dial/Sip").text.split("?")[0]
    assert again.find("Dial").get("action") == first.find("Dial").get("action")
    with demo.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Call)) == 1
        assert db.session.scalar(select(db.func.count()).select_from(Attempt)) == 1
        assert db.session.scalar(select(Buyer).where(Buyer.ref == "queue")).active_calls == 1


def test_repeated_webhook_for_an_unknown_number_answers_the_same(client, demo, caplog):
    for _ in range(2):
        root = parse(voice(client, to="+12125550100", sid="CA" + "d" * 32))
        assert "not in service" in root.find("Say").text
    assert "Traceback" not in caplog.text
    with demo.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Call)) == 1


def test_buyer_whose_password_cannot_be_decrypted_is_skipped(client, demo):
    pause_all_but(demo, "secure", "phone")
    with demo.app_context():
        db.session.execute(text("UPDATE buyers SET sip_password_encrypted = 'gAAAAAnotvalid' "
                                "WHERE ref = 'secure'"))
        db.session.commit()
    root = parse(voice(client))
    assert root.find("Dial/Number") is not None
    with demo.app_context():
        call = db.session.scalar(select(Call))
        assert call.attempts[0].dial_status == "failed"
        assert "can't be decrypted" in call.attempts[0].skipped[-1]["reason"]


def test_absurd_numbers_from_twilio_are_ignored_not_fatal(client, demo):
    pause_all_but(demo, "queue", "phone")
    first = parse(voice(client))
    nxt = parse(dial_action(client, first, "busy", code="9" * 30, duration="9" * 30))
    assert nxt.find("Dial/Number") is not None
    response = post(client, "/twilio/status", {"CallSid": "CA" + "1" * 32,
                                               "CallStatus": "completed", "CallDuration": "9" * 30})
    assert response.status_code == 204
    with demo.app_context():
        call = db.session.scalar(select(Call))
        assert call.attempts[0].sip_code is None and call.duration is None
        assert all(b.active_calls == 0 for b in db.session.scalars(select(Buyer)))


def test_database_errors_never_log_parameter_values(app, client, demo, caplog):
    """A failed statement's message would carry the call's key and SIP URI: hidden."""
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["hide_parameters"] is True
    pause_all_but(demo, "queue")
    with demo.app_context():
        db.session.execute(text("CREATE TABLE IF NOT EXISTS x (id integer)"))
        db.session.execute(text("DROP TABLE attempts"))
        db.session.commit()
    parse(voice(client))
    assert "database error" in caplog.text
    assert "X-PH-RetreaverKey=" not in caplog.text and "[parameters:" not in caplog.text


def _metric(name, **labels):
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value(name, labels) or 0


def test_the_call_path_counts_its_metrics(client, demo):
    pause_all_but(demo, "queue")
    with demo.app_context():
        db.session.scalar(select(Buyer).where(Buyer.ref == "queue")).concurrency_cap = 1
        db.session.commit()
    before = {"busy": _metric("sipflask_attempts_total", sip_code="486"),
              "paused": _metric("sipflask_buyer_skips_total", reason="paused"),
              "cap": _metric("sipflask_buyer_skips_total", reason="cap"),
              "no-buyer": _metric("sipflask_calls_total", outcome="no-buyer"),
              "completed": _metric("sipflask_calls_total", outcome="completed")}
    first = parse(voice(client))
    parse(voice(client, sid="CA" + "e" * 32))  # queue is full: skipped for its cap
    parse(dial_action(client, first, "busy", 486))  # the others are paused: no buyer
    post(client, "/twilio/status", {"CallSid": "CA" + "e" * 32, "CallStatus": "completed"})
    assert _metric("sipflask_attempts_total", sip_code="486") == before["busy"] + 1
    assert _metric("sipflask_buyer_skips_total", reason="cap") >= before["cap"] + 1
    assert _metric("sipflask_buyer_skips_total", reason="paused") >= before["paused"] + 2
    assert _metric("sipflask_calls_total", outcome="no-buyer") == before["no-buyer"] + 2
    # Both calls ended with "no buyer": the status callback does not count them again.
    assert _metric("sipflask_calls_total", outcome="completed") == before["completed"]
