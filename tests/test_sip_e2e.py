"""End-to-end SIP: sipflask's <Dial><Sip> TwiML, dialled the way Twilio does, reaches a real
buyer PBX (``sipp``) with the right headers and credentials.

The test UAC (tests/sip/uac.py) plays Twilio: it percent-DECODES each ``?name=value`` of the
<Sip> URI into a SIP header and answers a 401 with digest auth. ``sipp`` plays the buyer's PBX
from the templates in tests/sip/scenarios/, checking every expected header's exact value and
verifying the digest itself.

Needs ``sipp`` (Debian/Ubuntu: ``apt-get install -y sip-tester``). Without it the sipp tests
skip, except under ``CI=true`` where they fail: CI must install sip-tester.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape, quoteattr

import pytest

from tests.sip import sipp as sippmod
from tests.sip import uac
from tests.sip.sipp import Sipp, render_auth_scenario, render_headers_scenario

USERNAME = "sipflask"
PASSWORD = "s3cret-Pass"

# Values that break naive encoders: space, & = % + ; , ? # / : @, quotes, XML and regex
# metacharacters, backslashes, non-ASCII (UTF-8 on the wire).
TRICKY_HEADERS = [
    ("X-PH-RetreaverUUID", "2f1c6a8e-7b1d-4c2a-9a55-0d6f4b1e9c01"),
    ("X-PH-RetreaverKey", "abc123"),
    ("X-Campaign-ID", "7"),
    ("X-Note", "a b&c=d"),
    ("X-Percent", "100% sure %41 %zz"),
    ("X-Plus", "+14155552671 1+1"),
    ("X-Semi", "x;y=z, k?v#f/p:q@h"),
    ("X-Unicode", "Zoë café ☕ 日本"),
    ("X-Quotes", "\"dq\" 'sq' <lt> &amp;"),
    ("X-Regex", r".*[a](b){2}|c$^\ \\d"),
]


def twiml_for(uri: str, headers: list[tuple[str, str]], username: str | None = None,
              password: str | None = None, action: str = "/twilio/dial-action/abc",
              encode=lambda v: quote(v, safe="")) -> str:
    """Hand-written TwiML like sipflask's: header values percent-encoded, then XML-escaped."""
    query = "&".join(f"{name}={encode(value)}" for name, value in headers)
    full = f"{uri}?{query}" if query else uri
    auth = ""
    if username and password:
        auth = f" password={quoteattr(password)} username={quoteattr(username)}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f'<Dial action={quoteattr(action)} method="POST" timeout="30">'
        f"<Sip{auth}>{escape(full)}</Sip></Dial></Response>"
    )


# Twilio's escaping (SPEC "Tokens"): a header value on the wire holds only these and %XX.
TWILIO_HVALUE = re.compile(r"(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})*")


def assert_twilio_escaped(twiml: str) -> None:
    """Every ``?name=value`` in sipflask's <Sip> is escaped the way Twilio asks."""
    sip_text = uac.parse_twiml(twiml).uri
    pairs = sip_text.partition("?")[2].split("&")
    assert pairs and all(TWILIO_HVALUE.fullmatch(p.split("=", 1)[1]) for p in pairs), sip_text


def pbx_uri(pbx: Sipp, user: str = "agentqueue") -> str:
    return f"sip:{user}@127.0.0.1:{pbx.port}"


@pytest.fixture
def need_sipp():
    if sippmod.sipp_path():
        return
    msg = ("sipp is not on PATH: the SIP end-to-end tests need Debian's sip-tester "
           "(apt-get install -y sip-tester)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg + "; under CI=true the test command must install sip-tester first",
                    pytrace=False)
    pytest.skip(msg)


def _dial(scenario, workdir, twiml_builder, timeout=5.0, sipp_timeout=20.0):
    """Start sipp on ``scenario``, dial it with the TwiML ``twiml_builder(pbx)`` returns, and
    wait for sipp. Returns (CallResult, SippResult, twiml)."""
    with Sipp(scenario, workdir, timeout=sipp_timeout) as pbx:
        twiml = twiml_builder(pbx)
        try:
            result = uac.call(twiml, timeout=timeout)
        except uac.SipError as exc:
            pbx.close()
            raise AssertionError(f"UAC failed: {exc}\n{pbx.wait(timeout=5).describe()}") from exc
        outcome = pbx.wait()
    return result, outcome, twiml


def _invite_headers(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    return head.split("\r\n")[1:]


# ----------------------------------------------------------------------------------------------
# UAC unit checks (no sipp needed)


def test_uac_decodes_headers_like_twilio():
    twiml = twiml_for("sip:q@127.0.0.1:5070;transport=udp", TRICKY_HEADERS, USERNAME, PASSWORD)
    target = uac.parse_twiml(twiml)
    assert target.request_uri == "sip:q@127.0.0.1:5070;transport=udp"
    assert (target.host, target.port, target.transport) == ("127.0.0.1", 5070, "udp")
    assert target.headers == TRICKY_HEADERS
    assert (target.username, target.password) == (USERNAME, PASSWORD)
    # '+' is literal in SIP: a raw '+' in the URI stays '+', never becomes a space.
    raw = uac.parse_twiml(twiml_for("sip:q@h", [("X-A", "1+1")], encode=lambda v: v))
    assert raw.headers == [("X-A", "1+1")]


def test_uac_digest_matches_rfc2617_example():
    challenge = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                 'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
                 'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    value = uac.digest_authorization(challenge, "GET", "/dir/index.html", "Mufasa",
                                     "Circle Of Life", cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert "qop=auth" in value and "nc=00000001" in value
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value


# ----------------------------------------------------------------------------------------------
# Against sipp


def test_headers_arrive_decoded_with_exact_values(need_sipp, tmp_path):
    scenario = render_headers_scenario(tmp_path, TRICKY_HEADERS)
    result, pbx, twiml = _dial(scenario, tmp_path,
                               lambda pbx: twiml_for(pbx_uri(pbx), TRICKY_HEADERS))
    assert pbx.passed, pbx.describe()
    assert result.final_codes == [200]
    assert result.provisional_codes == [100, 180]
    assert result.bye_code == 200
    assert result.sent_headers == TRICKY_HEADERS
    # What sipp itself logged receiving, byte for byte (UTF-8):
    assert pbx.received_headers() == dict(TRICKY_HEADERS), pbx.describe()
    assert "username=" not in twiml
    assert not any(h.startswith("Authorization:") for h in _invite_headers(result.invites[0]))


def test_header_check_catches_plus_for_space_encoding(need_sipp, tmp_path):
    """The checks are not vacuous: TwiML encoded with urlencode/quote_plus (space -> '+') makes
    the PBX see '+' where the user typed a space, and sipp fails the call."""
    headers = [("X-PH-RetreaverUUID", "u-1"), ("X-Note", "a b")]
    scenario = render_headers_scenario(tmp_path, headers)

    def build(pbx):
        query = urlencode(headers)  # the wrong encoder
        return twiml_for(pbx_uri(pbx) + "?" + query, [])

    result, pbx, _ = _dial(scenario, tmp_path, build)
    assert result.sent_headers == [("X-PH-RetreaverUUID", "u-1"), ("X-Note", "a+b")]
    assert pbx.returncode == 1, pbx.describe()
    assert "Failed regexp match" in pbx.errors, pbx.describe()
    assert pbx.received_headers()["X-Note"] == "a+b"


def test_header_name_check_is_case_sensitive(need_sipp, tmp_path):
    """The PBX expects X-PH-RetreaverUUID; x-ph-retreaveruuid does not satisfy it."""
    scenario = render_headers_scenario(tmp_path, [("X-PH-RetreaverUUID", "u-1")])
    result, pbx, _ = _dial(scenario, tmp_path, lambda pbx: twiml_for(
        pbx_uri(pbx), [("x-ph-retreaveruuid", "u-1")]))
    assert result.final_codes == [200]  # this PBX answers anyway; its verdict is the exit code
    assert pbx.returncode == 1, pbx.describe()
    assert "Failed regexp match" in pbx.errors, pbx.describe()


@pytest.mark.parametrize("qop", [False, True], ids=["no-qop", "qop-auth"])
def test_credentialed_buyer_digest_verified_by_pbx(need_sipp, tmp_path, qop):
    scenario = render_auth_scenario(tmp_path, TRICKY_HEADERS, USERNAME, PASSWORD, qop=qop)
    result, pbx, _ = _dial(scenario, tmp_path, lambda pbx: twiml_for(
        pbx_uri(pbx), TRICKY_HEADERS, USERNAME, PASSWORD))
    assert pbx.passed, pbx.describe()
    assert pbx.logged("AUTH-OK"), pbx.describe()
    assert result.final_codes == [401, 200]
    assert result.bye_code == 200
    assert pbx.received_headers() == dict(TRICKY_HEADERS)
    first, second = (_invite_headers(raw) for raw in result.invites)
    assert not any(h.startswith("Authorization:") for h in first)
    auth = [h for h in second if h.startswith("Authorization:")]
    assert len(auth) == 1 and f'username="{USERNAME}"' in auth[0]
    assert ("qop=auth" in auth[0]) is qop
    # the retried INVITE is the same call: same Call-ID, CSeq + 1
    assert [h for h in first if h.startswith("Call-ID:")] == [h for h in second if h.startswith("Call-ID:")]
    assert "CSeq: 1 INVITE" in first and "CSeq: 2 INVITE" in second


@pytest.mark.parametrize("qop", [False, True], ids=["no-qop", "qop-auth"])
def test_wrong_password_is_refused_by_pbx(need_sipp, tmp_path, qop):
    scenario = render_auth_scenario(tmp_path, [], USERNAME, PASSWORD, qop=qop)
    result, pbx, _ = _dial(scenario, tmp_path, lambda pbx: twiml_for(
        pbx_uri(pbx), [("X-PH-RetreaverUUID", "u-1")], USERNAME, "not-" + PASSWORD))
    assert result.final_codes == [401, 403]  # Twilio would report DialSipResponseCode 403
    assert result.bye_code is None
    assert pbx.returncode == 1, pbx.describe()
    assert pbx.logged("AUTH-FAILED") and not pbx.logged("AUTH-OK"), pbx.describe()


def test_buyer_without_credentials_gets_no_challenge(need_sipp, tmp_path):
    headers = [("X-PH-RetreaverUUID", "u-2"), ("X-PH-RetreaverKey", "k-2")]
    scenario = render_headers_scenario(tmp_path, headers)
    result, pbx, twiml = _dial(scenario, tmp_path, lambda pbx: twiml_for(pbx_uri(pbx), headers))
    assert pbx.passed, pbx.describe()
    assert "username=" not in twiml and "password=" not in twiml
    assert result.final_codes == [200] and not result.authenticated
    assert len(result.invites) == 1


def test_buyer_requiring_auth_without_credentials_ends_at_401(need_sipp, tmp_path):
    """No credentials in the TwiML: the 401 is final (ACKed, not retried); the PBX, still
    waiting for an authenticated INVITE, fails its call at its (short) timeout."""
    scenario = render_auth_scenario(tmp_path, [], USERNAME, PASSWORD)
    result, pbx, _ = _dial(scenario, tmp_path, lambda pbx: twiml_for(
        pbx_uri(pbx), [("X-PH-RetreaverUUID", "u-3")]), sipp_timeout=2)
    assert result.final_codes == [401] and not result.authenticated
    assert len(result.invites) == 1
    # sipp's own -timeout with -timeout_error: exit code 255 (not 1), "timed out" in its log
    assert pbx.returncode == 255 and not pbx.timed_out, pbx.describe()
    assert "timed out" in pbx.errors, pbx.describe()


# ----------------------------------------------------------------------------------------------
# With sipflask's own TwiML


def test_plan_attempt_twiml_reaches_pbx(need_sipp, tmp_path):
    attempts = pytest.importorskip("sipflask.core.dialplan")
    from sipflask.core.sipheaders import Header

    values = {
        "call_uuid": "2f1c6a8e-7b1d-4c2a-9a55-0d6f4b1e9c01",
        "call_key": "abc123",
        "afid": "pub 42",
        "caller_number": "+14155552671",
    }
    buyer_headers = [
        ("X-Campaign-ID", "7"),
        ("X-Caller", "[caller_number]"),
        ("X-Note", "a b&c=d 100% x;y ☕ \\"),
    ]
    plugin_headers = [Header("X-Plugin-Tag", "p+1 q=2", "plugin:demo")]
    expected = [
        ("X-PH-RetreaverUUID", values["call_uuid"]),
        ("X-PH-RetreaverKey", "abc123"),
        ("X-PH-RetreaverAFID", "pub 42"),
        ("X-Plugin-Tag", "p+1 q=2"),
        ("X-Campaign-ID", "7"),
        ("X-Caller", "+14155552671"),
        ("X-Note", "a b&c=d 100% x;y ☕ \\"),
    ]
    scenario = render_auth_scenario(tmp_path, expected, USERNAME, PASSWORD, qop=True)
    plans = []

    def build(pbx):
        buyer = attempts.BuyerSpec(
            id=1, name="Buyer", number=pbx_uri(pbx), sip_username=USERNAME,
            sip_password=PASSWORD, sip_headers=buyer_headers, timeout=30,
        )
        plan = attempts.plan_attempt(buyer, values, plugin_headers,
                                     action="/twilio/dial-action/abc")
        assert plan.error is None, plan.error
        plans.append(plan)
        return plan.twiml

    result, pbx, twiml = _dial(scenario, tmp_path, build)
    assert pbx.passed, pbx.describe()
    assert result.final_codes == [401, 200]
    assert result.sent_headers == expected
    assert pbx.received_headers() == dict(expected)
    assert [(h.name, h.value) for h in plans[0].sent] == expected
    assert re.search(r'<Dial action="/twilio/dial-action/abc"', twiml)
    assert_twilio_escaped(twiml)  # "+", ";", ":" and "\\" too, yet the PBX reads them back


# ----------------------------------------------------------------------------------------------
# Through the real voice webhook


@pytest.mark.parametrize("backend", ["sqlite"])
def test_webhook_twiml_reaches_pbx_with_every_header_and_credentials(need_sipp, tmp_path, demo):
    """A signed Twilio request to /twilio/voice; the TwiML it answers is dialled as Twilio
    would, and sipp (the buyer's PBX) checks every header's exact value and the digest."""
    from sqlalchemy import select

    from sipflask.extensions import db
    from sipflask.models import Buyer, BuyerHeader, Call
    from tests.support.webhook import pause_all_but, voice

    pbx = Sipp(tmp_path / "pending.xml", tmp_path)  # picks its port now, starts below
    pause_all_but(demo, "secure")
    with demo.app_context():
        secure = db.session.scalar(select(Buyer).where(Buyer.ref == "secure"))
        secure.number = f"sip:1001@127.0.0.1:{pbx.port};transport=udp"
        secure.sip_username, secure.sip_password = USERNAME, PASSWORD
        secure.headers.append(BuyerHeader(position=1, name="X-Caller-City", value='[caller_city|"n/a"]'))
        db.session.commit()
    response = voice(demo.test_client(), FromCity="São Paulo & Co")
    twiml = response.get_data(as_text=True)
    assert response.status_code == 200 and "<Sip " in twiml, twiml
    with demo.app_context():
        call = db.session.scalar(select(Call))
        expected = [("X-PH-RetreaverUUID", call.uuid), ("X-PH-RetreaverKey", call.key),
                    ("X-PH-RetreaverAFID", "5678"), ("X-PH-RetreaverSID", "fb-12"),
                    ("X-Campaign-Name", "Auto Insurance"), ("X-Caller-City", "São Paulo & Co")]
    pbx.scenario = render_auth_scenario(tmp_path, expected, USERNAME, PASSWORD, qop=True)
    with pbx:
        result = uac.call(twiml, timeout=5)
        outcome = pbx.wait()
    assert outcome.passed, outcome.describe()
    assert outcome.logged("AUTH-OK"), outcome.describe()
    assert result.final_codes == [401, 200] and result.bye_code == 200
    assert outcome.received_headers() == dict(expected)
    assert_twilio_escaped(twiml)
    with demo.app_context():
        attempt = db.session.scalar(select(Call)).attempts[0]
        assert PASSWORD not in attempt.dialled and attempt.sip_username == USERNAME
