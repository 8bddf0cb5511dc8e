"""The OPTIONS request and the reply reader (sipflask/core/sipoptions.py): strict both ways."""

import itertools

import pytest

from sipflask.core.sipoptions import (SipMessageError, build_options, check_accepted_codes,
                                      head_complete, is_alive, parse_reply)
from sipflask.core.sipverdict import ProbeResult, describe, verdict


def counter_token():
    numbers = itertools.count(1)
    return lambda n: f"{next(numbers):0{n * 2}d}"


TOKENS = counter_token()  # readable, and still unique across requests


def request(headers=(), transport="udp"):
    return build_options("sip:agentqueue@pbx.test:5070", transport, ("127.0.0.1", 40000),
                         headers, token=TOKENS)


def reply_for(req, status="200 OK", extra=b"", cseq=None, body=b""):
    via = req.text.split("\r\n")[1].split(": ", 1)[1]
    lines = [f"SIP/2.0 {status}", f"Via: {via};received=127.0.0.1", "From: <sip:x@y>;tag=1",
             "To: <sip:agentqueue@pbx.test:5070>;tag=2", f"Call-ID: {req.call_id}",
             f"CSeq: {cseq or '1 OPTIONS'}", "Server: TestPBX 1.0",
             f"Content-Length: {len(body)}"]
    return "\r\n".join(lines).encode() + b"\r\n" + extra + b"\r\n" + body


def test_request_has_every_mandatory_header_and_the_buyers():
    req = request([("X-Campaign-ID", "7"), ("X-Note", "a b;c")])
    lines = req.text.split("\r\n")
    assert lines[0] == "OPTIONS sip:agentqueue@pbx.test:5070 SIP/2.0"
    assert lines[1] == f"Via: SIP/2.0/UDP 127.0.0.1:40000;branch={req.branch};rport"
    assert req.branch.startswith("z9hG4bK")
    for header in ("Max-Forwards: 70", f"Call-ID: {req.call_id}", "CSeq: 1 OPTIONS",
                   "To: <sip:agentqueue@pbx.test:5070>", "X-Campaign-ID: 7", "X-Note: a b;c"):
        assert header in lines
    assert any(line.startswith("From: <sip:sipflask@127.0.0.1:40000>;tag=") for line in lines)
    assert req.text.endswith("Content-Length: 0\r\n\r\n")
    tls = build_options("sips:q@a.test", "tls", ("::1", 5), ())
    assert "Via: SIP/2.0/TLS [::1]:5;" in tls.text and "<sips:sipflask@[::1]:5>" in tls.text


@pytest.mark.parametrize("headers", [
    [("X-A", "x\r\nInjected: 1")], [("X-A", "nul\0")], [("Bad Name", "v")], [("Via", "v")],
    [("", "v")], [("i", "compact Call-ID")]])
def test_request_refuses_injection_and_our_own_headers(headers):
    with pytest.raises(SipMessageError):
        request(headers)


def test_reply_parsed_and_checked_against_the_request():
    req = request()
    reply = parse_reply(reply_for(req, "404 Not Found", b"Allow: INVITE,\r\n OPTIONS\r\n"), req)
    assert (reply.status, reply.reason) == (404, "Not Found")
    assert reply.header("server") == "TestPBX 1.0" and reply.header("ALLOW") == "INVITE, OPTIONS"
    assert reply.status_line == "SIP/2.0 404 Not Found"
    compact = reply_for(req).replace(b"Call-ID:", b"i:")
    assert parse_reply(compact, req).header("call-id") == req.call_id


@pytest.mark.parametrize("mangle, words", [
    (lambda r: r.replace(b"SIP/2.0 200", b"SIP/2.1 200"), "status line"),
    (lambda r: r.replace(b"SIP/2.0 200", b"SIP/2.0 700"), "status line"),
    (lambda r: r.replace(b"\r\n", b"\n"), "no blank line"),
    (lambda r: r.replace(b"Server: TestPBX", b"Server TestPBX"), "malformed header"),
    (lambda r: r.replace(b"Server: TestPBX", b"Server: \xff"), "not UTF-8"),
    (lambda r: r.replace(b"z9hG4bK", b"z9hG4bX"), "branch"),
    (lambda r: r.replace(b"1 OPTIONS", b"1 INVITE"), "CSeq"),
    (lambda r: r.replace(b"Content-Length: 0", b"Content-Length: 5"), "shorter"),
    (lambda r: r.replace(b"Content-Length: 0", b"Content-Length: x"), "Content-Length"),
    (lambda r: b"OPTIONS sip:x@y SIP/2.0\r\n" + r.split(b"\r\n", 1)[1], "a request"),
])
def test_malformed_or_foreign_replies_are_refused(mangle, words):
    req = request()
    with pytest.raises(SipMessageError, match=words):
        parse_reply(mangle(reply_for(req)), req)
    other = request()  # a reply to another request is not ours
    with pytest.raises(SipMessageError):
        parse_reply(reply_for(other), req)


def test_stream_framing_needs_content_length():
    req = request()
    data = reply_for(req, body=b"v=0\r\n")
    assert head_complete(data[:20]) is None
    assert head_complete(data) == len(data) and head_complete(data + b"SIP/2.0") == len(data)
    assert head_complete(data[:-2]) is None
    no_length = data.replace(b"Content-Length: 5\r\n", b"")
    with pytest.raises(SipMessageError, match="Content-Length"):
        head_complete(no_length)


def test_what_counts_as_alive():
    assert is_alive(200) and is_alive(404) and is_alive(407) and is_alive(501)
    assert not is_alive(503) and not is_alive(600) and not is_alive(480) and not is_alive(100)
    assert is_alive(480, accepted=(480,)) and not is_alive(404, accepted=())
    assert not is_alive(503, accepted=(503,)) and not is_alive(500)
    assert not is_alive(603, accepted=(603,))
    assert check_accepted_codes("200, 404 407") == (200, 404, 407)
    for bad in ("503", "abc", "99", "603"):
        with pytest.raises(SipMessageError, match="200 to"):
            check_accepted_codes(bad)


def test_verdict_words():
    t = dict(host="pbx.test", address="127.0.0.1", port=5060, transport="udp")
    timeout = ProbeResult(**t, failure="timeout")
    assert describe(timeout) == ("UDP 127.0.0.1:5060 timed out: the PBX or a firewall drops "
                                 "packets; if it whitelists IPs, have it allow Twilio's "
                                 "signalling ranges")
    refused = ProbeResult(**{**t, "transport": "tcp", "port": 5080}, failure="refused")
    assert describe(refused) == "TCP 127.0.0.1:5080 refused: nothing listens there"
    found = ProbeResult(**t, alive=True, status=404, reason="Not Found", rtt_ms=3.2)
    assert describe(found, "agentqueue").startswith("UDP 127.0.0.1:5060: 404 for user agentqueue")
    assert verdict(None, [timeout, found], "q").startswith("alive: ")
    assert verdict(None, [timeout, refused]).startswith("down: UDP")
    assert verdict("no DNS record for x.test: check the host name", []).startswith("no DNS")
