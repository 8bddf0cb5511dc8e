"""Unit tests for sipflask.attempts.plan_attempt (SIP and phone buyers)."""

import xml.etree.ElementTree as ET
from urllib.parse import unquote

from sipflask.core.dialplan import (AttemptPlan, BuyerSpec, buyer_headers, default_headers,
                                    plan_attempt)
from sipflask.core.sipheaders import HEADER_PART_LIMIT, Header

ACTION = "https://app.example.com/twilio/dial-result?call=u1"
VALUES = {
    "call_uuid": "0b6d2c1e-1111-4222-8333-444455556666",
    "call_key": "k3y",
    "afid": "pub7",
    "sub_id": "",
    "caller_number": "+14155552671",
    "lead_score": "87",
}


def sip_of(plan):
    return ET.fromstring(plan.twiml).find("Dial/Sip")


def test_buyer_spec_defaults_are_independent():
    a, b = BuyerSpec(1, "A", "+1"), BuyerSpec(2, "B", "+1")
    a.sip_headers.append(("X-A", "1"))
    assert b.sip_headers == []
    assert a.timeout == 30 and a.sip_username == "" and a.sip_password == ""


def test_default_headers():
    hs = default_headers(VALUES)
    assert [(h.name, h.value, h.source) for h in hs] == [
        ("X-PH-RetreaverUUID", VALUES["call_uuid"], "default"),
        ("X-PH-RetreaverKey", "k3y", "default"),
        ("X-PH-RetreaverAFID", "pub7", "default"),
    ]
    hs = default_headers({"call_uuid": "u", "call_key": "k", "sub_id": "s1"})
    assert [h.name for h in hs] == ["X-PH-RetreaverUUID", "X-PH-RetreaverKey", "X-PH-RetreaverSID"]


def test_buyer_headers_expand_without_escaping():
    buyer = BuyerSpec(1, "B", "sip:q@h.com", sip_headers=[("X-Score", "[lead_score] & more"),
                                                          ("X-None", "[missing]")])
    assert buyer_headers(buyer, VALUES) == [
        Header("X-Score", "87 & more", "buyer"),
        Header("X-None", "", "buyer"),
    ]


def test_sip_plan_full():
    buyer = BuyerSpec(
        5, "Acme", "sip:[caller_number]@pbx.example.com;transport=tcp",
        sip_headers=[("X-Score", "[lead_score]"), ("X-Note", "a b&c"), ("X-Empty", "[missing]")],
        timeout=25,
    )
    plugin = [Header("X-Plugin", "p+1", "plugin:geo")]
    plan = plan_attempt(buyer, VALUES, plugin, action=ACTION)
    assert isinstance(plan, AttemptPlan)
    assert plan.error is None and plan.kind == "sip"
    assert plan.target == (
        "sip:+14155552671@pbx.example.com;transport=tcp"
        f"?X-PH-RetreaverUUID={VALUES['call_uuid']}&X-PH-RetreaverKey=k3y"
        "&X-PH-RetreaverAFID=pub7&X-Plugin=p%2B1&X-Score=87&X-Note=a%20b%26c"
    )
    assert [h.name for h in plan.sent] == [
        "X-PH-RetreaverUUID", "X-PH-RetreaverKey", "X-PH-RetreaverAFID", "X-Plugin", "X-Score", "X-Note",
    ]
    assert plan.dropped == []
    root = ET.fromstring(plan.twiml)
    assert root.find("Dial").attrib == {"action": ACTION, "method": "POST", "timeout": "25"}
    assert sip_of(plan).text == plan.target
    assert sip_of(plan).attrib == {}


def test_sip_credentials_only_when_both_set():
    both = BuyerSpec(1, "B", "sip:q@h.com", sip_username="us", sip_password="pw")
    assert sip_of(plan_attempt(both, VALUES, [], action=ACTION)).attrib == {"username": "us", "password": "pw"}
    only_user = BuyerSpec(1, "B", "sip:q@h.com", sip_username="us")
    assert sip_of(plan_attempt(only_user, VALUES, [], action=ACTION)).attrib == {}


def test_sip_token_value_cannot_add_params_or_headers():
    values = dict(VALUES, lead_score="x;transport=udp?X-Evil=1&y=2@evil.com")
    buyer = BuyerSpec(1, "B", "sip:q[lead_score]@h.com;transport=tls")
    plan = plan_attempt(buyer, values, [], action=ACTION)
    assert plan.error is None
    base, headers = plan.target.split("?", 1)
    assert base == "sip:qx%3Btransport%3Dudp%3FX-Evil%3D1%26y%3D2%40evil.com@h.com;transport=tls"
    assert [kv.split("=", 1)[0] for kv in headers.split("&")] == [
        "X-PH-RetreaverUUID", "X-PH-RetreaverKey", "X-PH-RetreaverAFID",
    ]


def test_sip_buyer_header_overrides_plugin_and_default():
    buyer = BuyerSpec(1, "B", "sip:q@h.com", sip_headers=[("X-PH-RETREAVERAFID", "mine")])
    plan = plan_attempt(buyer, VALUES, [Header("X-PH-RetreaverAFID", "plug", "plugin:a")], action=ACTION)
    assert plan.target.endswith("&X-PH-RETREAVERAFID=mine")
    assert "plug" not in plan.target


def test_sip_drops_are_recorded():
    buyer = BuyerSpec(1, "B", "sip:q@h.com", sip_headers=[("X-Big", "[big]")])
    plugin = [Header("X-P", "p" * 500, "plugin:a")]
    plan = plan_attempt(buyer, dict(VALUES, big="b" * 700), plugin, action=ACTION)
    assert plan.error is None
    assert [h.name for h, _ in plan.dropped] == ["X-P"]
    assert len(plan.target.split("?", 1)[1]) < HEADER_PART_LIMIT


def test_sip_invalid_after_expansion_is_an_error_plan():
    buyer = BuyerSpec(1, "B", "sip:[missing]@h.com")
    plan = plan_attempt(buyer, VALUES, [], action=ACTION)
    assert plan.kind == "sip" and plan.twiml == "" and plan.target == "sip:@h.com"
    assert "user part" in plan.error
    too_long = plan_attempt(BuyerSpec(1, "B", "sip:[big]@h.com"), dict(VALUES, big="x" * 300), [], action=ACTION)
    assert too_long.twiml == "" and "254" in too_long.error


def test_sip_fallback_literal_is_escaped():
    buyer = BuyerSpec(1, "B", 'sip:[missing|"queue 1"]@h.com')
    plan = plan_attempt(buyer, VALUES, [], action=ACTION)
    assert plan.target.startswith("sip:queue%201@h.com?")


def test_phone_plan():
    buyer = BuyerSpec(2, "Phone", " +1 (888) 222-3333 ", timeout=15)
    plan = plan_attempt(buyer, VALUES, [Header("X-P", "p", "plugin:a")], action=ACTION)
    assert plan == AttemptPlan("number", "+18882223333", plan.twiml, [], [], None)
    root = ET.fromstring(plan.twiml)
    assert root.find("Dial").attrib["timeout"] == "15"
    assert root.find("Dial/Number").text == "+18882223333"
    assert root.find("Dial/Sip") is None


def test_phone_token_is_digits_only():
    buyer = BuyerSpec(2, "Phone", "+[caller_number]")
    plan = plan_attempt(buyer, dict(VALUES, caller_number="+1 415-555-2671<Hangup/>"), [], action=ACTION)
    assert plan.error is None and plan.target == "+14155552671"
    plan = plan_attempt(BuyerSpec(2, "P", "[caller_number]"), VALUES, [], action=ACTION, default_region="US")
    assert plan.target == "+14155552671"


def test_phone_token_keeps_a_leading_plus_of_its_value():
    plan = plan_attempt(BuyerSpec(2, "P", "[caller_number]"), VALUES, [], action=ACTION)
    assert plan.error is None and plan.target == VALUES["caller_number"]
    plan = plan_attempt(BuyerSpec(2, "P", "+[caller_number]"), VALUES, [], action=ACTION)
    assert plan.error is None and plan.target == VALUES["caller_number"]
    plan = plan_attempt(BuyerSpec(2, "P", "[caller_number]"),
                        dict(VALUES, caller_number="1+4;w155552671"), [], action=ACTION)
    # Only digits of a value reach the dial string: no pause, no second '+'.
    assert plan.target == "14155552671" and plan.error


def test_phone_invalid_is_an_error_plan():
    plan = plan_attempt(BuyerSpec(2, "P", "[caller_number]"),
                        dict(VALUES, caller_number="4155552671"), [], action=ACTION)
    assert plan.kind == "number" and plan.twiml == "" and "country code" in plan.error
    plan = plan_attempt(BuyerSpec(2, "P", "+1555[missing]"), VALUES, [], action=ACTION)
    assert plan.error and plan.target == "+1555"


def test_caller_id_passed_through():
    plan = plan_attempt(BuyerSpec(2, "P", "+18882223333"), VALUES, [], action=ACTION, caller_id="+14155552671")
    assert ET.fromstring(plan.twiml).find("Dial").attrib["callerId"] == "+14155552671"


def test_bad_password_characters_give_error_plan():
    buyer = BuyerSpec(1, "B", "sip:q@h.com", sip_username="u", sip_password="p\x00")
    plan = plan_attempt(buyer, VALUES, [], action=ACTION)
    assert plan.twiml == "" and "control characters" in plan.error


def test_header_decodes_back():
    buyer = BuyerSpec(1, "B", "sip:q@h.com", sip_headers=[("X-V", "[v]")])
    value = "a+b c%2B&d=é\r\n"
    plan = plan_attempt(buyer, dict(VALUES, v=value), [], action=ACTION)
    last = plan.target.split("?", 1)[1].split("&")[-1]
    name, encoded = last.split("=", 1)
    assert name == "X-V" and unquote(encoded) == value


def test_lone_surrogate_value_gives_error_plan():
    buyer = BuyerSpec(1, "B", "sip:q@h.com", sip_headers=[("X-V", "[v]")])
    plan = plan_attempt(buyer, dict(VALUES, v="\ud800"), [], action=ACTION)
    assert plan.twiml == "" and plan.error
