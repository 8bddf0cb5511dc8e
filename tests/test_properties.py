"""Property tests (hypothesis): a token value can never change the structure.

Whatever the call's values are (control characters, ``& = ? ; < > % +``,
unicode, text that looks like tokens), the TwiML from ``plan_attempt`` is one
``Response/Dial/Sip`` element, the URI carries exactly the configured headers
whose values decode back exactly (with ``unquote``, never ``unquote_plus``),
and the URI keeps the parameters the buyer typed.
"""

import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from sipflask.core.dialplan import BuyerSpec, plan_attempt
from sipflask.core.sip import parse_sip_uri
from sipflask.core.sipheaders import HEADER_PART_LIMIT, PROTECTED, Header, build_dial_uri
from sipflask.core.tokens import expand, tokens_used

SETTINGS = settings(max_examples=200, deadline=None)
ACTION = "https://app.example.com/twilio/dial-result?call=u1&n=2"
UUID = "0b6d2c1e-1111-4222-8333-444455556666"
KEY = "Zk9yYmlkZGVuLWtleS0xMjgtYml0cw"
PARAMS = ";transport=tcp;region=ie1"

# Characters that matter for SIP/XML/tokens, mixed with arbitrary unicode
# (st.characters() excludes lone surrogates, which no webhook can carry).
# "[a]" is a token name used below: values must not be expanded again.
NASTY = st.sampled_from(list("&=?;<>%+ @:/,[]|\"'\\\r\n\t\x00\x01\x7f") + ["é", "€", "😀", "[a]", "%41"])
PIECES = st.one_of(st.characters(exclude_categories=("Cs",)), NASTY)


def values_text(max_pieces):
    """Arbitrary text built from up to ``max_pieces`` characters/nasty pieces.

    Bounded so the encoded URI stays under Twilio's limits (a piece encodes
    to at most 12 characters): drops are tested separately below.
    """
    return st.lists(PIECES, max_size=max_pieces).map("".join)


def header_pairs(uri_text):
    """Split the URI on the first "?", then on "&" and the first "="."""
    base, sep, part = uri_text.partition("?")
    pairs = [kv.split("=", 1) for kv in part.split("&")] if sep else []
    assert all(len(p) == 2 for p in pairs)
    return base, [(name, unquote(value)) for name, value in pairs]


def only_elements(twiml, leaf):
    root = ET.fromstring(twiml)
    assert [el.tag for el in root.iter()] == ["Response", "Dial", leaf]
    return root.find(f"Dial/{leaf}")


@SETTINGS
@given(
    u=values_text(12),
    a=values_text(8),
    b=values_text(8),
    c=values_text(8),
    afid=values_text(8),
    sub_id=values_text(8),
    plugin_value=values_text(8),
    username=st.sampled_from(["", "acme"]),
)
def test_sip_plan_structure(u, a, b, c, afid, sub_id, plugin_value, username):
    values = {"call_uuid": UUID, "call_key": KEY, "afid": afid, "sub_id": sub_id, "u": u, "a": a, "b": b, "c": c}
    buyer = BuyerSpec(
        1, "Acme", f"sip:q[u]@pbx.example.com:5060{PARAMS}",
        sip_username=username, sip_password="s3cret",
        sip_headers=[("X-A", "[a]"), ("X-B", 'pre-[b]-[a|"lit"]'), ("User-to-User", "[c]")],
    )
    plugins = [Header("X-Plugin", plugin_value, "plugin:geo")]
    plan = plan_attempt(buyer, values, plugins, action=ACTION)
    assert plan.error is None, plan.error
    assert plan.dropped == []

    sip = only_elements(plan.twiml, "Sip")
    assert sip.text == plan.target
    assert sip.attrib == ({"username": "acme", "password": "s3cret"} if username else {})

    expected = [("X-PH-RetreaverUUID", UUID), ("X-PH-RetreaverKey", KEY)]
    expected += [("X-PH-RetreaverAFID", afid)] if afid else []
    expected += [("X-PH-RetreaverSID", sub_id)] if sub_id else []
    expected += [("X-Plugin", plugin_value)] if plugin_value else []
    expected += [("X-A", a)] if a else []
    expected += [("X-B", f"pre-{b}-{a or 'lit'}")]
    expected += [("User-to-User", c)] if c else []

    base, pairs = header_pairs(sip.text)
    assert pairs == expected
    assert [(h.name, h.value) for h in plan.sent] == expected
    assert_twilio_escaping(sip.text)

    uri = parse_sip_uri(base)
    assert uri.params == PARAMS
    assert (uri.host, uri.port) == ("pbx.example.com", 5060)
    assert unquote(uri.user) == "q" + u
    assert str(uri) == base


# What Twilio asks for (SPEC "Tokens"): header values keep only A-Z a-z 0-9 - . _ ~ and %XX;
# the user part also ! ~ * ' ( ) and a leading "+".
HVALUE_RE = re.compile(r"(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})*")
USER_RE = re.compile(r"\+?(?:[A-Za-z0-9._~!*'()-]|%[0-9A-F]{2})*")


def assert_twilio_escaping(uri_text):
    base, _, part = uri_text.partition("?")
    for pair in part.split("&") if part else []:
        assert HVALUE_RE.fullmatch(pair.split("=", 1)[1]), pair
    assert USER_RE.fullmatch(parse_sip_uri(base).user), base


@SETTINGS
@given(u=values_text(12).filter(bool), lead=st.sampled_from(["", "+", "++", "+1"]))
def test_user_part_keeps_only_a_leading_plus(u, lead):
    values = {"call_uuid": UUID, "call_key": KEY, "u": lead + u}
    for template, fixed in (("sip:[u]@pbx.example.com", ""), ("sip:q-[u]@pbx.example.com", "q-")):
        plan = plan_attempt(BuyerSpec(1, "A", template), values, [], action=ACTION)
        assert plan.error is None, plan.error
        assert_twilio_escaping(plan.target)
        user = parse_sip_uri(plan.target.partition("?")[0]).user
        assert unquote(user) == fixed + lead + u
        assert "+" not in user[1:]


@SETTINGS
@given(noise=values_text(30), digits=st.from_regex(r"[0-9]{4}", fullmatch=True), cut=st.integers(0, 30))
def test_phone_plan_never_injects(noise, digits, cut):
    value = noise[:cut] + digits + noise[cut:]
    buyer = BuyerSpec(2, "Phone", "+1415555[x]")
    plan = plan_attempt(buyer, {"call_uuid": UUID, "call_key": KEY, "x": value}, [], action=ACTION)
    if not re.search(r"[0-9]", noise):
        # Only the 4 digits survive the digits-only escape.
        assert plan.target == "+1415555" + digits
    if plan.error is None:
        assert re.fullmatch(r"\+[0-9]{8,15}", plan.target)
        assert only_elements(plan.twiml, "Number").text == plan.target
    else:
        assert plan.twiml == ""


@SETTINGS
@given(
    sizes=st.lists(st.tuples(st.sampled_from(["default", "plugin:a", "plugin:b", "buyer"]),
                             st.integers(0, 400)), max_size=12),
    protected_len=st.integers(1, 300),
)
def test_drops_keep_protected_and_fit(sizes, protected_len):
    headers = [Header(PROTECTED[0], "u" * protected_len, "default"), Header(PROTECTED[1], "k", "default")]
    headers += [Header(f"X-H{i}", "v" * n, src) for i, (src, n) in enumerate(sizes)]
    result = build_dial_uri("sip:q@h.com", headers)
    _, pairs = header_pairs(result.uri)
    assert len(result.uri.partition("?")[2]) < HEADER_PART_LIMIT
    assert [name for name, _ in pairs][:2] == list(PROTECTED)
    # Every non-empty header is either sent or dropped, never both.
    sent = {h.name for h in result.sent}
    dropped = [h for h, _ in result.dropped if h.value]
    assert sent.isdisjoint(h.name for h in dropped)
    assert sent | {h.name for h in dropped} == {h.name for h in headers if h.value}
    # Drop order: plugins before buyer before defaults; within a rank, last first.
    rank = {"plugin:a": 0, "plugin:b": 0, "buyer": 1, "default": 2}
    keys = [(rank[h.source], -headers.index(h)) for h in dropped]
    assert keys == sorted(keys)


@SETTINGS
@given(text=st.text(alphabet=st.one_of(st.sampled_from(list('[]|" ab_1Z')), st.characters()), max_size=40),
       values=st.dictionaries(st.sampled_from(["a", "b", "_1"]), values_text(6)))
def test_expand_escape_only_touches_values(text, values):
    # With an escape that maps every value to "", only template text remains,
    # so any character in the output came from the template, never a value.
    stripped = expand(text, values, escape=lambda s: "")
    assert set(stripped) <= set(text)
    assert all(re.fullmatch(r"[a-z0-9_]+", name) for name in tokens_used(text))
    if "[" not in text:
        assert expand(text, values) == text


@SETTINGS
@given(
    user=st.from_regex(r"[A-Za-z0-9+._-]{1,20}", fullmatch=True),
    host=st.from_regex(r"([a-z0-9]{1,10}\.){0,3}[a-z]{1,10}", fullmatch=True),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    params=st.lists(st.from_regex(r";[a-z]{1,8}(=[a-z0-9.]{1,8})?", fullmatch=True), max_size=3),
)
def test_parse_round_trip(user, host, port, params):
    text = f"sip:{user}@{host}{'' if port is None else f':{port}'}{''.join(params)}"
    uri = parse_sip_uri(text)
    assert (uri.user, uri.host, uri.port, uri.params) == (user, host, port, "".join(params))
    assert str(uri) == text
