"""invite.py: the INVITE a buyer's PBX receives, decoded from the plan's dial string (pure)."""
import pytest

from sipflask.core import dialplan as attempts
from sipflask.core import invite
from sipflask.core.sipheaders import Header

VALUES = {"call_uuid": "11111111-2222-4333-8444-555555555555", "call_key": "k" * 64,
          "afid": "5678", "sub_id": "fb 12&x=1", "campaign_id": "7", "caller_number": "+14155552671"}
ACTION = "https://sipflask.test/twilio/dial-action/u/0"


def plan(number, headers=(), plugin_headers=(), username="", password=""):
    spec = attempts.BuyerSpec(id=1, name="b", number=number, sip_username=username,
                              sip_password=password, sip_headers=list(headers))
    return attempts.plan_attempt(spec, VALUES, list(plugin_headers), action=ACTION)


def test_request_line_and_twilio_headers():
    inv = invite.build_invite(plan("sip:agentqueue@pbx.example.com"), "+14155552671")
    assert inv.request_line == "INVITE sip:agentqueue@pbx.example.com SIP/2.0"
    assert inv.request_uri == "sip:agentqueue@pbx.example.com"
    names = [h.name for h in inv.headers]
    assert names[:8] == ["Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact",
                         "Content-Type"]
    assert all(h.source == invite.TWILIO for h in inv.headers[:8])
    assert inv.header("To").value == "<sip:agentqueue@pbx.example.com>"
    assert inv.header("From").value.startswith('"+14155552671" <sip:+14155552671@')
    assert inv.header("CSeq").value == "1 INVITE"
    assert inv.header("Max-Forwards").value == "70"
    assert inv.header("Via").value.startswith("SIP/2.0/UDP ")
    text = inv.text()
    assert text.startswith("INVITE sip:agentqueue@pbx.example.com SIP/2.0\r\nVia: ")
    assert text.endswith("\r\n")


def test_headers_are_decoded_with_their_sources():
    p = plan("sip:q@example.com", headers=[("X-Sub", "[sub_id]"), ("X-Plus", "+1 555"),
                                           ("User-to-User", "a;b=c")],
             plugin_headers=[Header("X-Plug", "p&q", "plugin:crm")])
    assert "X-Sub=fb%2012%26x%3D1" in p.target  # encoded on the wire
    inv = invite.build_invite(p, "+14155552671")
    custom = [(h.name, h.value, h.source) for h in inv.headers if h.source != invite.TWILIO]
    assert custom == [
        ("X-PH-RetreaverUUID", VALUES["call_uuid"], "default"),
        ("X-PH-RetreaverKey", VALUES["call_key"], "default"),
        ("X-PH-RetreaverAFID", "5678", "default"),
        ("X-PH-RetreaverSID", "fb 12&x=1", "default"),
        ("X-Plug", "p&q", "plugin:crm"),
        ("X-Sub", "fb 12&x=1", "buyer"),
        ("X-Plus", "+1 555", "buyer"),
        ("User-to-User", "a;b=c", "buyer"),
    ]
    # the decoded values are exactly what the plan meant to send
    assert [(h.name, h.value) for h in p.sent] == [(n, v) for n, v, _ in custom]


def test_buyer_header_replaces_default_and_keeps_source():
    inv = invite.build_invite(plan("sip:q@example.com", headers=[("X-PH-RetreaverAFID", "mine")]),
                              "+1")
    assert inv.header("X-PH-RetreaverAFID").value == "mine"
    assert inv.header("X-PH-RetreaverAFID").source == "buyer"


@pytest.mark.parametrize("number,transport", [
    ("sip:q@example.com", "UDP"), ("sip:q@example.com;transport=tcp", "TCP"),
    ("sips:q@example.com", "TLS"), ("sip:q@example.com;region=ie1;transport=udp", "UDP")])
def test_via_transport(number, transport):
    inv = invite.build_invite(plan(number), "+1")
    assert inv.header("Via").value.startswith(f"SIP/2.0/{transport} ")
    assert inv.request_uri == number  # URI parameters kept as typed


def test_auth_username_only_with_both():
    assert invite.build_invite(plan("sip:q@e.com", username="u", password="p"), "+1",
                               sip_username="u", has_password=True).auth_username == "u"
    assert invite.build_invite(plan("sip:q@e.com", username="u"), "+1",
                               sip_username="u", has_password=False).auth_username is None


def test_dropped_headers_are_listed():
    p = plan("sip:q@example.com", headers=[("X-Small", "s"), ("X-Big", "x" * 1200)])
    inv = invite.build_invite(p, "+1")
    assert [h.name for h, _ in inv.dropped] == ["X-Big"]
    assert "header limit" in inv.dropped[0][1]
    assert inv.header("X-Big") is None and inv.header("X-Small").value == "s"


def test_no_invite_for_phone_or_failed_plans():
    assert invite.build_invite(plan("+14155552671"), "+1") is None
    failed = plan("sip:[nothing]@example.com")
    assert failed.error and invite.build_invite(failed, "+1") is None


def test_anonymous_caller_and_quoting():
    inv = invite.build_invite(plan("sip:q@example.com"), "")
    assert inv.header("From").value.startswith('"Anonymous" <sip:anonymous@')
    inv = invite.build_invite(plan("sip:q@example.com"), 'a"b c')
    assert inv.header("From").value.startswith('"a\\"b c" <sip:a%22b%20c@')


def test_split_dial_uri_keeps_plus():
    assert invite.split_dial_uri("sip:+1@h;transport=tcp?X-A=%2B1+2&X-B=") == (
        "sip:+1@h;transport=tcp", [("X-A", "+1+2"), ("X-B", "")])
    assert invite.split_dial_uri("sip:q@h") == ("sip:q@h", [])
