"""Inbound SIP calls through the signed voice webhook (SPEC "Inbound SIP").

A SIP call arrives on one of sipflask's two Twilio SIP domains with ``To`` = the SIP URI the
caller dialled and ``SipDomain`` = the domain. It routes by the URI's user part (the tracking
number in E.164); anything else is refused with ``<Reject>`` and a reason on the call.
These need ``callflow.start_call`` to call ``inbound.classify`` first.
"""
import logging

import pytest
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Buyer, Call, InboundSettings
from tests.support.webhook import AUTO, CALLER, parse, pause_all_but, sip_headers, the_call, voice

CRED_DOMAIN = "acme.sip.twilio.com"
IP_DOMAIN = "acme-ip.sip.twilio.com"
DOMAIN_SID = "SD" + "1" * 32


@pytest.fixture
def inbound_on(demo):
    with demo.app_context():
        db.session.add(InboundSettings(enabled=True, name="acme", domain_sid=DOMAIN_SID))
        db.session.commit()
    pause_all_but(demo, "queue")
    return demo


def sip_call(client, user=AUTO, domain=CRED_DOMAIN, sip_domain=None, **extra):
    """What Twilio posts for a call to sip:<user>@<domain> on a SIP domain."""
    params = {"To": f"sip:{user}@{domain}", "From": f"sip:partner@{domain}",
              "SipDomain": sip_domain or domain, "SipDomainSid": DOMAIN_SID,
              "SipCallId": "a84b4c76e66710@pc33.example.com", "SipSourceIp": "203.0.113.9",
              "Direction": "inbound", **extra}
    return voice(client, **params)


def assert_rejected(app, response, reason_part):
    root = parse(response)
    assert root.find("Reject") is not None, response.get_data(as_text=True)
    assert root.find("Dial") is None
    call = the_call(app)
    assert call.status == "rejected"
    assert reason_part in call.reason
    return call


def test_call_on_the_credentials_domain_routes_by_the_user_part(client, inbound_on):
    root = parse(sip_call(client))
    assert root.find("Dial/Sip") is not None
    call = the_call(inbound_on)
    assert call.called == AUTO and call.status == "routing"
    with inbound_on.app_context():
        assert db.session.get(Call, call.id).number.number == AUTO


def test_call_on_the_ip_domain_routes_too(client, inbound_on):
    root = parse(sip_call(client, domain=IP_DOMAIN))
    assert root.find("Dial/Sip") is not None
    assert the_call(inbound_on).called == AUTO


def test_user_part_without_plus_is_rejected_with_reason(client, inbound_on, caplog):
    with caplog.at_level(logging.INFO):
        response = sip_call(client, user="18882223333")
    call = assert_rejected(inbound_on, response, "E.164")
    assert "+ and the country code" in call.reason
    assert "E.164" in caplog.text


def test_unknown_number_over_sip_is_rejected(client, inbound_on):
    root = parse(sip_call(client, user="+12125550100"))
    assert root.find("Dial") is None
    call = the_call(inbound_on)
    assert call.status == "rejected" and "unknown number" in call.reason


def test_a_domain_that_is_not_ours_is_rejected(client, inbound_on):
    assert_rejected(inbound_on, sip_call(client, domain="other.sip.twilio.com"),
                    "not one of sipflask's inbound SIP domains")


def test_sip_calls_are_rejected_while_inbound_sip_is_disabled(client, inbound_on):
    with inbound_on.app_context():
        db.session.scalar(select(InboundSettings)).enabled = False
        db.session.commit()
    assert_rejected(inbound_on, sip_call(client), "inbound SIP is disabled")


def test_x_headers_pass_through_to_the_buyer_as_tokens(client, inbound_on):
    with inbound_on.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        queue.headers[2].value = "[lead_score]"  # X-Lead-Score: [lead_score]
        db.session.commit()
    root = parse(sip_call(client, domain=IP_DOMAIN, **{"SipHeader_X-Lead-Score": "87"}))
    _, headers = sip_headers(root.find("Dial/Sip").text)
    assert headers["X-Lead-Score"] == "87"
    call = the_call(inbound_on)
    assert call.tags["lead_score"] == "87" and call.tag_sources["lead_score"] == "sip"


def test_phone_calls_are_not_affected(client, inbound_on):
    root = parse(voice(client, to=AUTO, caller=CALLER))
    assert root.find("Dial/Sip") is not None
    assert the_call(inbound_on).called == AUTO
