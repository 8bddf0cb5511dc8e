"""Hostile but legal webhook values are stored, not fatal, on both databases: NUL bytes,
over-long From and To, an over-long CallSid. The call routes and is recorded."""
import pytest
from sqlalchemy import select

from sipflask.callflow import params
from sipflask.extensions import db
from sipflask.models import Call
from tests.support.webhook import AUTO, dial_action, parse, pause_all_but, post, voice

LONG_SIP_FROM = "sip:" + "a" * 300 + "@partner.example.com"
SORRY = b"can't connect your call"


def _stored(app, sid):
    with app.app_context():
        return db.session.scalar(select(Call).where(Call.call_sid == params.call_sid(
            {"CallSid": sid})))


@pytest.mark.parametrize("caller", [LONG_SIP_FROM, "+1" + "5" * 254],
                         ids=["sip-300", "from-256"])
def test_long_from_routes_and_is_kept_whole(client, demo, caller):
    pause_all_but(demo, "queue")
    response = voice(client, caller=caller, sid="CA" + "2" * 32)
    assert SORRY not in response.data and parse(response).find("Dial") is not None
    call = _stored(demo, "CA" + "2" * 32)
    assert call.caller == caller and call.status == "routing"  # whole: later attempts use it


def test_over_long_call_sid_routes_is_recorded_and_found_again(client, demo):
    pause_all_but(demo, "queue", "phone")
    sid = "CA" + "f" * 63  # 65 characters
    first = parse(voice(client, sid=sid))
    assert first.find("Dial") is not None
    call = _stored(demo, sid)
    assert call is not None and len(call.call_sid) == 34 and call.call_sid.startswith("CX")
    assert voice(client, sid=sid).data == voice(client, sid=sid).data  # a repeat is recognised
    post(client, "/twilio/status", {"CallSid": sid, "CallStatus": "completed"})
    assert _stored(demo, sid).ended_at is not None


def test_nul_bytes_are_replaced_not_fatal(client, demo):
    pause_all_but(demo, "queue")
    response = voice(client, caller="+1415\x005552671", sid="CA" + "3" * 32,
                     **{"SipHeader_X-Lead\x00Source": "tv", "SipHeader_X-Lead-Score": "7\x002",
                        "FromCity": "San\x00Jose"})
    assert SORRY not in response.data and parse(response).find("Dial") is not None
    call = _stored(demo, "CA" + "3" * 32)
    assert call.caller == "+1415\ufffd5552671"
    assert call.tags["lead_score"] == "7\ufffd2" and call.tags["caller_city"] == "San\ufffdJose"
    root = parse(response)
    nxt = dial_action(client, root, "busy\x00", code="486\x00")
    assert SORRY not in nxt.data
    assert post(client, "/twilio/status", {"CallSid": "CA" + "3" * 32,
                                           "CallStatus": "completed"}).status_code == 204


def test_nul_in_to_is_recorded_as_an_unknown_number(client, demo):
    response = voice(client, to=AUTO + "\x00", sid="CA" + "4" * 32)
    assert SORRY not in response.data and b"not in service" in response.data
    call = _stored(demo, "CA" + "4" * 32)
    assert call.status == "rejected" and call.called == AUTO + "\ufffd"


def test_long_dial_status_and_reason_fit_their_columns(client, demo):
    pause_all_but(demo, "queue")
    root = parse(voice(client, sid="CA" + "5" * 32))
    nxt = dial_action(client, root, "x" * 300)
    assert SORRY not in nxt.data
    call = _stored(demo, "CA" + "5" * 32)
    with demo.app_context():
        call = db.session.get(Call, call.id)
        assert len(call.attempts[0].dial_status) == 32 and call.attempts[0].dial_status[-1] == "…"


def test_fit_marks_what_it_cuts():
    assert params.fit("abc", 3) == "abc"
    assert params.fit("abcd", 3) == "ab…"
    assert params.storable("a\x00b\ud800") == "a\ufffdb\ufffd"
