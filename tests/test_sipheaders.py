"""Unit tests for sipflask.core.sipheaders: header rules, encoding, merging, the dial URI."""

from urllib.parse import unquote

import pytest

from sipflask.core.sip import URI_LIMIT, SipUriError
from sipflask.core.sipheaders import (HEADER_PART_LIMIT, PROTECTED, STANDARD_HEADERS, DialUri,
                                      Header, build_dial_uri, duplicate_header_names,
                                      header_name_problem, merge_headers, pct_encode_hvalue,
                                      pct_encode_user)

# ---------------------------------------------------------------- header names


@pytest.mark.parametrize(
    "name", ["X-Lead-ID", "X-a", "X-1", "X--", "X-PH-RetreaverUUID", *STANDARD_HEADERS,
             "user-to-user", "P-CALLED-PARTY-ID"],
)
def test_header_name_ok(name):
    assert header_name_problem(name) is None


@pytest.mark.parametrize(
    "name", ["", "X-", "Lead-ID", "X_Lead", "X-Lead ID", "X-A\r\n", "X-A?", "X-A&B", "X-A=1",
             " X-A", "X-Lé", "Contact", "From", "Y-Thing"],
)
def test_header_name_bad(name):
    problem = header_name_problem(name)
    assert problem
    if name:
        assert "CR, LF" in problem and "spaces" in problem


def test_duplicate_header_names():
    assert duplicate_header_names(["X-A", "x-a", "X-B", "X-A", "X-C", "x-c"]) == ["X-A", "X-C"]
    assert duplicate_header_names(["X-A", "X-B"]) == []
    assert duplicate_header_names([]) == []


# ---------------------------------------------------------------- encoding


def test_pct_encode_user():
    assert pct_encode_user("+14155552671") == "+14155552671"
    assert pct_encode_user("AZaz09-_.!~*'()") == "AZaz09-_.!~*'()"
    # Twilio: "+" only as the first character of the user part.
    assert pct_encode_user("1+2") == "1%2B2" and pct_encode_user("++1") == "+%2B1"
    assert pct_encode_user(";transport=udp") == "%3Btransport%3Dudp"
    assert pct_encode_user("a?b&c=d@e:f%g/h,i$j[k]") == (
        "a%3Fb%26c%3Dd%40e%3Af%25g%2Fh%2Ci%24j%5Bk%5D"
    )
    assert pct_encode_user("é €") == "%C3%A9%20%E2%82%AC"


def test_pct_encode_hvalue():
    # Twilio asks for every non-alphanumeric character but - . _ ~ to be escaped.
    assert pct_encode_hvalue("AZaz09-._~") == "AZaz09-._~"
    assert pct_encode_hvalue("+1 a") == "%2B1%20a"
    assert pct_encode_hvalue("sip:x@y;z") == "sip%3Ax%40y%3Bz"
    assert pct_encode_hvalue("a&X-Evil=1?") == "a%26X-Evil%3D1%3F"
    assert pct_encode_hvalue('"<>%\r\n\x00') == "%22%3C%3E%25%0D%0A%00"
    assert pct_encode_hvalue("[]/$:!*'()") == "%5B%5D%2F%24%3A%21%2A%27%28%29"
    assert pct_encode_hvalue("ü") == "%C3%BC"


@pytest.mark.parametrize("value", ["+1 a&b=c?d;e%f", "ünï\u2028\x7f", "100%", "a+b"])
def test_encoding_round_trips_with_unquote(value):
    assert unquote(pct_encode_hvalue(value)) == value
    assert unquote(pct_encode_user(value)) == value


def test_lone_surrogate_is_a_value_error():
    with pytest.raises(SipUriError, match="U\\+D800"):
        pct_encode_hvalue("\ud800")
    with pytest.raises(ValueError):
        pct_encode_user("a\udfffb")


# ---------------------------------------------------------------- merge


def H(name, value, source="default"):
    return Header(name, value, source)


def test_merge_precedence_and_position():
    defaults = [H("X-PH-RetreaverUUID", "u"), H("X-PH-RetreaverKey", "k"), H("X-PH-RetreaverAFID", "a")]
    plugins = [H("X-Score", "1", "plugin:a"), H("x-ph-retreaverafid", "pa", "plugin:b")]
    buyer = [H("X-Score", "2", "buyer"), H("X-Mine", "m", "buyer")]
    merged = merge_headers(defaults, plugins, buyer)
    assert [(h.name, h.value, h.source) for h in merged] == [
        ("X-PH-RetreaverUUID", "u", "default"),
        ("X-PH-RetreaverKey", "k", "default"),
        ("x-ph-retreaverafid", "pa", "plugin:b"),
        ("X-Score", "2", "buyer"),
        ("X-Mine", "m", "buyer"),
    ]


def test_merge_leaves_out_empty_values_without_removing_earlier():
    defaults = [H("X-PH-RetreaverUUID", "u"), H("X-PH-RetreaverAFID", "a")]
    buyer = [H("X-PH-RetreaverAFID", "", "buyer"), H("X-PH-RetreaverUUID", "", "buyer"),
             H("X-Empty", "", "buyer")]
    merged = merge_headers(defaults, [], buyer)
    assert [(h.name, h.value) for h in merged] == [("X-PH-RetreaverUUID", "u"), ("X-PH-RetreaverAFID", "a")]


def test_merge_same_source_later_wins():
    merged = merge_headers([], [], [H("X-A", "1", "buyer"), H("X-B", "2", "buyer"), H("x-a", "3", "buyer")])
    assert [(h.name, h.value) for h in merged] == [("X-B", "2"), ("x-a", "3")]


# ---------------------------------------------------------------- build_dial_uri


def test_build_dial_uri_simple():
    headers = [H("X-PH-RetreaverUUID", "u-1"), H("X-Note", "a b&c=d+e", "buyer")]
    result = build_dial_uri("sip:q@h.com;transport=tcp", headers)
    assert isinstance(result, DialUri)
    assert result.uri == "sip:q@h.com;transport=tcp?X-PH-RetreaverUUID=u-1&X-Note=a%20b%26c%3Dd%2Be"
    assert result.sent == headers
    assert result.dropped == []


def test_build_dial_uri_keeps_plus_only_first_in_the_user_part():
    assert build_dial_uri("sip:+1415@h.com", []).uri == "sip:+1415@h.com"
    assert build_dial_uri("sip:q-+1415+2@h.com;x=+", []).uri == "sip:q-%2B1415%2B2@h.com;x=+"


def test_build_dial_uri_no_headers():
    assert build_dial_uri("sip:q@h.com", []).uri == "sip:q@h.com"


def test_build_dial_uri_invalid_base():
    with pytest.raises(SipUriError):
        build_dial_uri("sip:q@h.com?X-A=1", [])
    with pytest.raises(SipUriError):
        build_dial_uri("sip:%3Bx@h.com;a b", [])


def test_build_dial_uri_length_limit():
    base = "sip:" + "u" * (URI_LIMIT - len("sip:@h.com") - 1) + "@h.com"
    assert len(base) == URI_LIMIT - 1
    build_dial_uri(base, [])
    with pytest.raises(SipUriError) as info:
        build_dial_uri("sip:u" + base[4:], [])
    assert "254" in str(info.value)


def test_build_dial_uri_drops_invalid_names_and_empty_values():
    good = H("X-Ok", "1", "buyer")
    bad = H("X-Evil?a=b", "1", "plugin:evil")
    empty = H("X-Empty", "", "buyer")
    result = build_dial_uri("sip:q@h.com", [good, bad, empty])
    assert result.uri == "sip:q@h.com?X-Ok=1"
    assert [(h.name, reason.split(":")[0]) for h, reason in result.dropped] == [
        ("X-Evil?a=b", "invalid header name"),
        ("X-Empty", "empty value"),
    ]


def test_build_dial_uri_drop_order():
    big = "v" * 300
    headers = [
        H("X-PH-RetreaverUUID", "u" * 36),
        H("X-PH-RetreaverKey", "k" * 43),
        H("X-PH-RetreaverAFID", big),
        H("X-PH-RetreaverSID", big),
        H("X-P1", big, "plugin:a"),
        H("X-P2", big, "plugin:b"),
        H("X-B1", big, "buyer"),
        H("X-B2", big, "buyer"),
    ]
    result = build_dial_uri("sip:q@h.com", headers)
    part = result.uri.split("?", 1)[1]
    assert len(part) < HEADER_PART_LIMIT
    # 8 headers ~ 1980 chars: plugins go first (last one first), then buyer from the last.
    assert [h.name for h, _ in result.dropped] == ["X-P2", "X-P1", "X-B2", "X-B1"]
    assert all("header limit" in reason for _, reason in result.dropped)
    assert [h.name for h in result.sent] == [
        "X-PH-RetreaverUUID", "X-PH-RetreaverKey", "X-PH-RetreaverAFID", "X-PH-RetreaverSID",
    ]


def test_build_dial_uri_drops_defaults_but_never_protected():
    headers = [
        H("X-PH-RetreaverUUID", "u"),
        H("X-PH-RetreaverKey", "k"),
        H("X-PH-RetreaverAFID", "a" * 600),
        H("X-PH-RetreaverSID", "s" * 600),
    ]
    result = build_dial_uri("sip:q@h.com", headers)
    assert [h.name for h, _ in result.dropped] == ["X-PH-RetreaverSID"]
    headers = [H("X-PH-RetreaverUUID", "u"), H("X-PH-RetreaverKey", "k"), H("X-Custom", "x" * 2000, "other")]
    result = build_dial_uri("sip:q@h.com", headers)
    assert result.uri == "sip:q@h.com?X-PH-RetreaverUUID=u&X-PH-RetreaverKey=k"


def test_build_dial_uri_exact_boundary():
    base = "sip:q@h.com"
    name = "X-A"
    value_len = HEADER_PART_LIMIT - 1 - len(name) - 1
    result = build_dial_uri(base, [H(name, "v" * value_len, "buyer")])
    assert len(result.uri.split("?", 1)[1]) == HEADER_PART_LIMIT - 1
    assert result.dropped == []
    result = build_dial_uri(base, [H(name, "v" * (value_len + 1), "buyer")])
    assert result.uri == base
    assert len(result.dropped) == 1


def test_build_dial_uri_protected_alone_too_long():
    headers = [H(PROTECTED[0], "u" * 1100), H(PROTECTED[1], "k")]
    with pytest.raises(SipUriError) as info:
        build_dial_uri("sip:q@h.com", headers)
    assert "1023" in str(info.value)


def test_encoded_length_counts():
    # 300 "é" are 1800 characters once encoded: over the limit, so dropped.
    result = build_dial_uri("sip:q@h.com", [H("X-PH-RetreaverUUID", "u"), H("X-E", "é" * 300, "buyer")])
    assert [h.name for h, _ in result.dropped] == ["X-E"]


def test_the_preview_invite_decodes_twilio_escaping_back():
    from sipflask.core.dialplan import BuyerSpec, plan_attempt
    from sipflask.core.invite import build_invite
    values = {"call_uuid": "u-1", "call_key": "k", "caller_number": "+14155552671"}
    buyer = BuyerSpec(1, "A", "sip:q@pbx.example.com",
                      sip_headers=[("X-Caller", "[caller_number]"), ("X-Path", "a/b:c (d)")])
    plan = plan_attempt(buyer, values, [], action="https://x/a")
    assert "X-Caller=%2B14155552671&X-Path=a%2Fb%3Ac%20%28d%29" in plan.target
    shown = {h.name: h.value for h in build_invite(plan, "+14155552671").headers}
    assert shown["X-Caller"] == "+14155552671" and shown["X-Path"] == "a/b:c (d)"
