"""Unit tests for sipflask.core.sip: recognising and parsing SIP URIs."""

import pytest

from sipflask.core.sip import SipUri, SipUriError, is_sip, parse_sip_uri

# ---------------------------------------------------------------- is_sip


@pytest.mark.parametrize("text", ["sip:a@b.com", "SIP:a@b.com", " sips:a@b.com", "SiPs:x"])
def test_is_sip_true(text):
    assert is_sip(text)


@pytest.mark.parametrize("text", ["+14155552671", "", "tel:+1415", "sipx:a@b", "[caller_number]"])
def test_is_sip_false(text):
    assert not is_sip(text)


# ---------------------------------------------------------------- parse


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sip:agentqueue@example.com", SipUri("sip", "agentqueue", "example.com", None, "")),
        ("sips:a@example.com:5061", SipUri("sips", "a", "example.com", 5061, "")),
        (
            "sip:1001@pbx.example.com:5060;transport=tcp;region=ie1",
            SipUri("sip", "1001", "pbx.example.com", 5060, ";transport=tcp;region=ie1"),
        ),
        ("SIP:a@example.com", SipUri("sip", "a", "example.com", None, "")),
        ("sip:a@192.0.2.10", SipUri("sip", "a", "192.0.2.10", None, "")),
        ("sip:a@[2001:db8::1]:5060", SipUri("sip", "a", "[2001:db8::1]", 5060, "")),
        ("sip:a@[::1]", SipUri("sip", "a", "[::1]", None, "")),
        ("sip:+14155552671@example.com", SipUri("sip", "+14155552671", "example.com", None, "")),
        ("sip:a%20b@example.com", SipUri("sip", "a%20b", "example.com", None, "")),
        ("sip:a-_.!~*'()&=+$,;/@h.example", SipUri("sip", "a-_.!~*'()&=+$,;/", "h.example", None, "")),
        ("sip:a@example.com.", SipUri("sip", "a", "example.com.", None, "")),
        ("sip:a@localhost;lr", SipUri("sip", "a", "localhost", None, ";lr")),
        ("sip:a@h.com;x-a=%41;maddr=[::1]", SipUri("sip", "a", "h.com", None, ";x-a=%41;maddr=[::1]")),
        ("  sip:a@h.com  ", SipUri("sip", "a", "h.com", None, "")),
    ],
)
def test_parse_ok(text, expected):
    assert parse_sip_uri(text) == expected


def test_str_round_trip():
    text = "sip:1001@pbx.example.com:5060;transport=tcp;region=ie1"
    assert str(parse_sip_uri(text)) == text
    assert str(parse_sip_uri("sip:a@[::1]:7")) == "sip:a@[::1]:7"


def test_sipuri_is_frozen():
    uri = parse_sip_uri("sip:a@h.com")
    with pytest.raises(AttributeError):
        uri.user = "b"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("tel:+14155552671", 'start with "sip:"'),
        ("sip:example.com", "no user part"),
        ("sip:@example.com", "empty user part"),
        ("sip:a@h.com?X-A=1", "SIP Headers rows"),
        ("sip:a?b@h.com", "SIP Headers rows"),
        ("sip:user:pw@h.com", "password"),
        ("sip:a b@h.com", "a space"),
        ("sip:a\r\nX-Evil: 1@h.com", "CR"),
        ("sip:a%2@h.com", "hex digits"),
        ("sip:a%zz@h.com", "hex digits"),
        ("sip:a<b@h.com", "'<'"),
        ("sip:a@b@h.com", "more than one"),
        ("sip:a@", "no host"),
        ("sip:a@-bad.com", "not a valid host"),
        ("sip:a@bad-.com", "not a valid host"),
        ("sip:a@h..com", "not a valid host"),
        ("sip:a@123", "not a valid host"),
        ("sip:a@h_x.com", "not a valid host"),
        ("sip:a@" + "a" * 64 + ".com", "not a valid host"),
        ("sip:a@999.0.0.1", "IPv4"),
        ("sip:a@[2001:db8::zz]", "IPv6"),
        ("sip:a@[::1", "closing ]"),
        ("sip:a@[::1]x", "Unexpected"),
        ("sip:a@h.com:0", "1 to 65535"),
        ("sip:a@h.com:65536", "1 to 65535"),
        ("sip:a@h.com:", "1 to 65535"),
        ("sip:a@h.com:50a", "1 to 65535"),
        ("sip:a@h.com:+5", "1 to 65535"),
        ("sip:a@h.com;", "empty"),
        ("sip:a@h.com;;lr", "empty"),
        ("sip:a@h.com;=x", "invalid name"),
        ("sip:a@h.com;x=", "invalid value"),
        ("sip:a@h.com;x=a b", "a space"),
        ("sip:a@h.com;x=a=b", "invalid value"),
        ("sip:a@h.com;x=%", "hex digits"),
    ],
)
def test_parse_errors(text, fragment):
    with pytest.raises(SipUriError) as info:
        parse_sip_uri(text)
    assert fragment in str(info.value)


def test_port_boundaries():
    assert parse_sip_uri("sip:a@h.com:1").port == 1
    assert parse_sip_uri("sip:a@h.com:65535").port == 65535
