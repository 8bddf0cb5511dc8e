"""SIP OPTIONS probes (sipflask/siphealth/probe.py, check.py) against real peers on 127.0.0.1:
``sipp`` answering 200, 404, 503 or nothing over UDP and TCP, closed ports, a TLS listener with
its own certificate, a scripted UDP peer for RFC 3261's retransmission timer, and ``dnsmasq``
for the whole check (resolution, then failover between targets)."""

import socket
import ssl
import time

import pytest

from sipflask.core.sipresolve import Target
from sipflask.siphealth.check import check_endpoint, lookup_from_config
from sipflask.siphealth.probe import probe
from tests.support.siphealth import Dnsmasq, SippOptions, free_port
from tests.support.siphealth_peers import TlsPeer, UdpPeer, answer_to, self_signed

HEADERS = [("X-Campaign-ID", "7"), ("X-PH-RetreaverUUID", "2f1c6a8e-7b1d-4c2a-9a55-0d6f4b1e9c01")]


def target(port, transport="udp", tls_name="127.0.0.1"):
    return Target("127.0.0.1", "127.0.0.1", port, transport, tls_name)


def uri(port):
    return f"sip:agentqueue@127.0.0.1:{port}"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("code, reason, alive", [(200, "OK", True), (404, "Not Found", True),
                                                  (503, "Service Unavailable", False)])
def test_sipp_answers(tmp_path, transport, code, reason, alive):
    with SippOptions(tmp_path, code, reason, transport=transport) as pbx:
        result = probe(target(pbx.port, transport), uri(pbx.port), HEADERS, timeout=3)
        outcome = pbx.wait()
    assert outcome.passed, outcome.describe()
    assert (result.status, result.reason, result.alive) == (code, reason, alive)
    assert result.failure is None and 0 <= result.rtt_ms < 1000
    assert result.reply_headers["Server"] == "sipflask-test-pbx"
    assert "OPTIONS" in result.reply_headers["Allow"]
    # The buyer's headers reached the PBX as the INVITE would carry them.
    assert "X-Campaign-ID: 7" in outcome.messages
    assert pbx.options_received() == 1
    if transport == "tcp":
        assert result.connect_ms is not None


def test_404_is_down_when_the_buyer_accepts_only_200(tmp_path):
    with SippOptions(tmp_path, 404, "Not Found") as pbx:
        result = probe(target(pbx.port), uri(pbx.port), timeout=3, accepted=(200,))
        pbx.wait()
    assert result.status == 404 and not result.alive


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_silent_is_a_timeout(tmp_path, transport):
    with SippOptions(tmp_path, None, transport=transport) as pbx:
        started = time.monotonic()
        result = probe(target(pbx.port, transport), uri(pbx.port), timeout=2)
        elapsed = time.monotonic() - started
        pbx.close()
    assert result.failure == "timeout" and not result.alive and result.status is None
    assert 1.9 < elapsed < 3.0
    if transport == "udp":  # sent at 0, 0.5 and 1.5 s
        assert result.retransmits == 2 and pbx.options_received() == 3


def test_udp_retransmits_on_rfc3261_timer():
    with UdpPeer() as peer:
        result = probe(target(peer.port), uri(peer.port))  # default: give up after 4 s
    gaps = [b - a for a, b in zip(peer.arrivals, peer.arrivals[1:])]
    assert len(gaps) == 3 and result.retransmits == 3, gaps
    # 0.5 s, then doubling; the margin is for a busy machine, not for the timer.
    assert all(abs(gap - want) < 0.25 for gap, want in zip(gaps, [0.5, 1.0, 2.0])), gaps
    assert result.failure == "timeout"
    assert len(set(peer.data)) == 1  # a retransmission is the same request, byte for byte


def test_udp_provisional_then_final_and_a_late_answer_after_retransmission():
    def script(n, data):
        if n == 0:
            return [answer_to(data, "100 Trying")]
        return []
    with UdpPeer(script) as peer:
        result = probe(target(peer.port), uri(peer.port), timeout=2)
    # RFC 3261 17.1.2.2: timer E still fires at 0.5 s, then every T2 (4 s) instead of doubling,
    # so 2 sends in 2 s where a silent peer gets 3 (0, 0.5, 1.5 s).
    assert result.failure == "timeout" and len(peer.data) == 2

    with UdpPeer(lambda n, data: [answer_to(data)] if n == 2 else []) as peer:
        result = probe(target(peer.port), uri(peer.port), timeout=3)
    assert result.status == 200 and result.retransmits == 2 and result.rtt_ms >= 1400


def test_udp_malformed_and_foreign_replies_are_ignored():
    def script(n, data):
        foreign = answer_to(data).replace(b"z9hG4bK", b"z9hG4bKother")
        return [b"SIP/2.0 200 OK\r\nnot a header\r\n\r\n", foreign]
    with UdpPeer(script) as peer:
        result = probe(target(peer.port), uri(peer.port), timeout=1)
    assert result.failure == "timeout" and not result.alive
    assert any("malformed header line" in i for i in result.ignored)
    assert any("branch" in i for i in result.ignored)


def test_closed_ports_are_refused_quickly():
    for transport in ("udp", "tcp"):
        port = free_port(socket.SOCK_STREAM)
        started = time.monotonic()
        result = probe(target(port, transport), uri(port), timeout=4)
        assert result.failure == "refused", (transport, result)
        assert time.monotonic() - started < 1.5 and not result.alive  # not the 4 s timeout


def test_tcp_connect_timeout_is_not_refused():
    """A listener whose accept queue is full drops new SYNs: the connection is never accepted,
    which is what a firewall that drops packets looks like from here."""
    with socket.create_server(("127.0.0.1", 0), backlog=0) as full:
        port = full.getsockname()[1]
        waiting = []
        try:
            for _ in range(8):  # fill the queue until a connect itself hangs
                sock = socket.socket()
                sock.settimeout(0.3)
                waiting.append(sock)
                try:
                    sock.connect(("127.0.0.1", port))
                except TimeoutError:
                    break
            result = probe(target(port, "tcp"), uri(port), timeout=1)
        finally:
            for sock in waiting:
                sock.close()
    assert result.failure == "connect-timeout" and not result.alive, result
    assert result.detail == "not accepted in 1 s"


def test_tls_checks_the_certificate_against_the_name(tmp_path):
    cert, key = self_signed(tmp_path, "pbx.test")
    trusting = ssl.create_default_context(cafile=str(cert))
    with TlsPeer(cert, key) as peer:
        good = probe(target(peer.port, "tls", "pbx.test"), uri(peer.port), HEADERS, timeout=3,
                     ssl_context=trusting)
        wrong_name = probe(target(peer.port, "tls", "other.test"), uri(peer.port), timeout=3,
                           ssl_context=trusting)
        untrusted = probe(target(peer.port, "tls", "pbx.test"), uri(peer.port), timeout=3)
    assert good.alive and good.status == 200 and good.failure is None, good
    assert "Via: SIP/2.0/TLS " in good.sent and b"X-Campaign-ID: 7" in peer.received[0]
    assert wrong_name.failure == "tls-cert" and "other.test" in wrong_name.detail
    assert untrusted.failure == "tls-cert" and "certificate" in untrusted.detail


def test_check_fails_over_like_a_sip_client(tmp_path):
    closed = free_port(socket.SOCK_STREAM)
    with SippOptions(tmp_path, 503, "Service Unavailable") as busy, \
            SippOptions(tmp_path, 404, "Not Found") as pbx:
        records = ["host-record=pbx.test,127.0.0.1",
                   f"srv-host=_sip._udp.fail.test,pbx.test,{closed},1,1",
                   f"srv-host=_sip._udp.fail.test,pbx.test,{busy.port},2,1",
                   f"srv-host=_sip._udp.fail.test,pbx.test,{pbx.port},3,1"]
        with Dnsmasq(records, tmp_path) as dns:
            lookup = lookup_from_config({"DNS_NAMESERVERS": dns.nameservers})
            diagnosis = check_endpoint("sip:agentqueue@fail.test", lookup, HEADERS, timeout=3)
        busy.wait(), pbx.wait()
    data = diagnosis.as_dict()
    assert data["alive"] is True
    assert [(t["port"], t["status"], t["failure"]) for t in data["targets"]] == [
        (closed, None, "refused"), (busy.port, 503, None), (pbx.port, 404, None)]
    assert data["verdict"].startswith(f"alive: UDP 127.0.0.1:{pbx.port}: 404 for user agentqueue")
    assert [s["rdtype"] for s in data["dns"] if s["kind"] == "query"][:2] == ["NAPTR", "SRV"]


def test_check_reports_dns_failure_without_probing(tmp_path):
    with Dnsmasq(["host-record=pbx.test,127.0.0.1"], tmp_path) as dns:
        lookup = lookup_from_config({"DNS_NAMESERVERS": dns.nameservers})
        diagnosis = check_endpoint("sip:q@pbx.acme.test", lookup)
    assert not diagnosis.alive and diagnosis.probes == []
    assert diagnosis.verdict == "no DNS record for pbx.acme.test: check the host name"
