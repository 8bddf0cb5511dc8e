"""Unit tests for sipflask.twiml: structure, escaping, auth attributes."""

import xml.etree.ElementTree as ET

import pytest

from sipflask.core.twiml import dial_number, dial_sip, reject, say_and_hangup

ACTION = "https://app.example.com/twilio/dial-result?call=abc&n=1"


def parse(xml):
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    return root


def test_dial_sip_without_auth():
    uri = "sip:q@h.com;transport=tcp?X-PH-RetreaverUUID=u&X-A=a%26b"
    root = parse(dial_sip(uri, action=ACTION, timeout=30))
    (dial,) = list(root)
    assert dial.tag == "Dial"
    assert dial.attrib == {"action": ACTION, "method": "POST", "timeout": "30"}
    (sip,) = list(dial)
    assert sip.tag == "Sip"
    assert sip.attrib == {}
    assert sip.text == uri


@pytest.mark.parametrize("username, password", [("u", None), (None, "p"), ("", "p"), ("u", "")])
def test_dial_sip_auth_needs_both(username, password):
    root = parse(dial_sip("sip:q@h.com", action=ACTION, timeout=30, username=username, password=password))
    assert root.find("Dial/Sip").attrib == {}


def test_dial_sip_with_auth_escapes_xml():
    xml = dial_sip("sip:q@h.com", action=ACTION, timeout=45, username="user", password='p<&>"')
    sip = parse(xml).find("Dial/Sip")
    assert sip.attrib == {"username": "user", "password": 'p<&>"'}
    assert parse(xml).find("Dial").attrib["timeout"] == "45"


def test_dial_sip_caller_id():
    dial = parse(dial_sip("sip:q@h.com", action=ACTION, timeout=30, caller_id="+14155552671")).find("Dial")
    assert dial.attrib["callerId"] == "+14155552671"


def test_xml_illegal_characters_refused():
    with pytest.raises(ValueError):
        dial_sip("sip:q@h.com", action=ACTION, timeout=30, username="u", password="p\x00")
    with pytest.raises(ValueError):
        dial_sip("sip:q\x01@h.com", action=ACTION, timeout=30)


def test_timeout_must_be_positive():
    with pytest.raises(ValueError):
        dial_number("+14155552671", action=ACTION, timeout=0)


def test_dial_number():
    root = parse(dial_number("+14155552671", action=ACTION, timeout=20))
    dial = root.find("Dial")
    assert dial.attrib == {"action": ACTION, "method": "POST", "timeout": "20"}
    (number,) = list(dial)
    assert number.tag == "Number"
    assert number.text == "+14155552671"


def test_say_and_hangup():
    root = parse(say_and_hangup("Sorry, <nobody> & no one\x07 is available."))
    assert [el.tag for el in root] == ["Say", "Hangup"]
    assert root.find("Say").text == "Sorry, <nobody> & no one is available."


@pytest.mark.parametrize("reason", ["rejected", "busy"])
def test_reject(reason):
    root = parse(reject(reason))
    assert [(el.tag, el.attrib) for el in root] == [("Reject", {"reason": reason})]


def test_reject_default_and_invalid():
    assert parse(reject()).find("Reject").attrib == {"reason": "rejected"}
    with pytest.raises(ValueError):
        reject("hangup")
