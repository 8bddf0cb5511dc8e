"""Kamailio as a real SIP server answering OPTIONS (tests/support/siphealth_kamailio.py): the
probe, ``flask buyers check-endpoint`` and the Test endpoint button report it alive over UDP and
TCP, directly and through RFC 3263 DNS (``dnsmasq``), and say so when it refuses an extension."""

import json

import pytest

from sipflask.core.sipresolve import Target
from sipflask.siphealth.probe import probe
from tests.support.html import HX
from tests.support.siphealth import Dnsmasq
from tests.support.siphealth_kamailio import SERVER, Kamailio


@pytest.fixture
def kamailio(tmp_path):
    with Kamailio(tmp_path) as server:
        yield server


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_probe_finds_kamailio_alive(kamailio, transport):
    target = Target("127.0.0.1", "127.0.0.1", kamailio.port, transport, "127.0.0.1")
    result = probe(target, f"sip:agentqueue@127.0.0.1:{kamailio.port}",
                   [("X-Campaign-ID", "7")], timeout=3)
    assert (result.status, result.reason, result.alive, result.failure) == (200, "OK", True, None)
    assert result.reply_headers["Server"] == SERVER
    assert result.reply_headers["Allow"] == "INVITE, ACK, BYE, CANCEL, OPTIONS"
    assert kamailio.requests() == [f"OPTIONS agentqueue over {transport}"]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_check_endpoint_cli(runner, kamailio, transport):
    uri = f"sip:agentqueue@127.0.0.1:{kamailio.port};transport={transport}"
    result = runner.invoke(args=["buyers", "check-endpoint", "--uri", uri, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["alive"] is True
    assert data["verdict"].startswith(f"alive: {transport.upper()} 127.0.0.1:{kamailio.port} "
                                      "answered 200 OK")
    target = data["targets"][0]
    assert (target["transport"], target["port"], target["status"]) == (
        transport, kamailio.port, 200)
    assert data["probes"][0]["reply_headers"]["Server"] == SERVER
    # An extension the server refuses: up (404 is accepted by default), and said in words.
    result = runner.invoke(args=["buyers", "check-endpoint", "--uri",
                                 f"sip:nobody@127.0.0.1:{kamailio.port};transport={transport}"])
    assert result.exit_code == 0, result.output
    assert f"127.0.0.1:{kamailio.port}: 404 for user nobody" in result.output
    assert "the extension or queue does not exist" in result.output
    assert kamailio.requests() == [f"OPTIONS agentqueue over {transport}",
                                   f"OPTIONS nobody over {transport}"]


def test_naptr_srv_to_kamailio_over_tcp(app, runner, kamailio, tmp_path):
    """No port, no transport: NAPTR says TCP, SRV gives kamailio's port, A its address."""
    records = ["naptr-record=acme.test,10,50,s,SIP+D2T,,_sip._tcp.acme.test",
               f"srv-host=_sip._tcp.acme.test,pbx.acme.test,{kamailio.port},10,50",
               "host-record=pbx.acme.test,127.0.0.1"]
    with Dnsmasq(records, tmp_path) as dns:
        app.config["DNS_NAMESERVERS"] = dns.nameservers
        result = runner.invoke(args=["buyers", "check-endpoint", "--uri",
                                     "sip:agentqueue@acme.test"])
    assert result.exit_code == 0, result.output
    assert "NAPTR chose TCP via _sip._tcp.acme.test" in result.output
    assert f"TCP 127.0.0.1:{kamailio.port} (pbx.acme.test)" in result.output
    assert f"Server: {SERVER}" in result.output
    assert kamailio.requests() == ["OPTIONS agentqueue over tcp"]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_test_endpoint_button(admin_client, demo, kamailio, transport):
    data = {"name": "Kamailio desk", "number":
            f"sip:agentqueue@127.0.0.1:{kamailio.port};transport={transport}",
            "priority": "1", "weight": "1", "timeout": "30", "action": "test-endpoint"}
    response = admin_client.post("/buyers/test-endpoint", data=data, headers=HX)
    assert response.status_code == 200
    assert '<span class="pill open">alive</span>' in response.text
    assert f"<dt>Server</dt><dd><code>{SERVER}</code></dd>" in response.text
    assert kamailio.requests() == [f"OPTIONS agentqueue over {transport}"]
