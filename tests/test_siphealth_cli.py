"""``flask buyers check-endpoint REF|--uri URI [--json] [--timeout S]`` against real peers:
``sipp`` as the PBX, ``dnsmasq`` as the DNS. Exit 0 alive, 1 not, 2 invalid; the ``--json``
shape is a contract scripts rely on."""

import json

import pytest
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Buyer, BuyerHeader
from tests.support.siphealth import Dnsmasq, SippOptions, free_port


def check(runner, *args):
    return runner.invoke(args=["buyers", "check-endpoint", *args])


def _sip_buyer(app, number, headers=()):
    with app.app_context():
        buyer = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        buyer.number = number
        buyer.headers = [BuyerHeader(name=n, value=v, position=i)
                         for i, (n, v) in enumerate(headers)]
        db.session.commit()


def test_uri_alive_json_contract(runner, tmp_path):
    with SippOptions(tmp_path, 200, "OK") as pbx:
        result = check(runner, "--uri", f"sip:agentqueue@127.0.0.1:{pbx.port}", "--json")
        outcome = pbx.wait()
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["alive"] is True and data["verdict"].startswith("alive: UDP 127.0.0.1:")
    target = data["targets"][0]
    assert {"host", "port", "transport", "status", "rtt_ms"} <= set(target)
    assert (target["port"], target["transport"], target["status"]) == (pbx.port, "udp", 200)
    assert isinstance(target["rtt_ms"], float)
    assert data["twilio"] == {"region": "us1", "signalling": ["54.172.60.0/30"],
                              "known_region": True}
    # The default headers an INVITE carries, with the sample call's values.
    assert "X-PH-RetreaverUUID: 5d0c7a36-2f4b-4c1e-9a57-8b3e1f6d2c90" in outcome.messages


def test_buyer_ref_sends_its_headers_and_prints_a_diagnosis(demo, runner, tmp_path):
    with SippOptions(tmp_path, 404, "Not Found", transport="tcp") as pbx:
        _sip_buyer(demo, f"sip:agent[caller_zip]@127.0.0.1:{pbx.port};transport=tcp;region=ie1",
                   [("X-Campaign-Name", "leads [caller_number]"), ("X-Empty", "[sub_id]")])
        result = check(runner, "queue")
        outcome = pbx.wait()
    assert result.exit_code == 0, result.output
    assert "X-Campaign-Name: leads +14155552671" in outcome.messages
    assert "X-Empty" not in outcome.messages  # empty after tokens: left out, as in the INVITE
    out = result.output
    assert "transport TCP from the URI's ;transport= parameter" in out
    assert (f"sent: OPTIONS sip:agent@127.0.0.1:{pbx.port};transport=tcp;region=ie1 SIP/2.0"
            in out)
    assert "Twilio dials this URI from region ie1 (54.171.127.192/30)" in out
    assert "reply: SIP/2.0 404 Not Found" in out and "Server: sipflask-test-pbx" in out
    assert out.rstrip().splitlines()[-1].startswith(
        f"Verdict: alive: TCP 127.0.0.1:{pbx.port}: 404 for user agent")


def test_silent_and_refused_exit_1(runner, tmp_path):
    with SippOptions(tmp_path, None) as pbx:
        result = check(runner, "--uri", f"sip:q@127.0.0.1:{pbx.port}", "--timeout", "1")
        pbx.close()
    assert result.exit_code == 1, result.output
    assert "timed out: the PBX or a firewall drops packets" in result.output
    port = free_port()
    result = check(runner, "--uri", f"sip:q@127.0.0.1:{port};transport=tcp", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["targets"][0]["failure"] == "refused"


@pytest.mark.parametrize("args, words", [
    (["nosuchbuyer"], "No buyer with ref 'nosuchbuyer'"),
    (["\udcff"], "No buyer with ref"),  # bytes the shell passed that are not UTF-8
    (["--uri", "sip:q\udcff@h.test"], "characters that are not allowed"),
    (["queue", "--uri", "sip:q@h.test"], "one of them"),
    ([], "one of them"),
    (["--uri", "sip:h.test"], "no user part"),
    (["--uri", "+14155552671"], "is not a SIP URI"),
    (["--uri", "sip:q@h.test;transport=sctp"], None),
])
def test_invalid_exit_2(demo, runner, args, words):
    result = check(runner, *args)
    if words is None:  # a valid URI with a transport the probe does not speak: not alive
        assert result.exit_code == 1 and "not supported" in result.output
        return
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output
    as_json = json.loads(check(runner, *args, "--json").output)
    assert as_json["alive"] is False and words in as_json["error"]


def test_phone_buyer_is_invalid(demo, runner):
    _sip_buyer(demo, "+14155552671")
    result = check(runner, "queue")
    assert result.exit_code == 2 and "only SIP endpoints can be probed" in result.output


def test_nameservers_from_config(app, runner, tmp_path):
    with SippOptions(tmp_path, 200, "OK") as pbx:
        records = ["host-record=pbx.test,127.0.0.1",
                   f"srv-host=_sip._udp.acme.test,pbx.test,{pbx.port},1,1"]
        with Dnsmasq(records, tmp_path) as dns:
            app.config["DNS_NAMESERVERS"] = dns.nameservers
            result = check(runner, "--uri", "sip:q@acme.test", "--json")
        pbx.wait()
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["targets"][0]["host"] == "pbx.test" and data["targets"][0]["port"] == pbx.port
    assert [s["note"] for s in data["dns"]][0] == "NAPTR acme.test: no record of this type"
    app.config["DNS_NAMESERVERS"] = "dns.example.com"
    result = check(runner, "--uri", "sip:q@acme.test")
    assert result.exit_code == 2 and "write an IP address" in result.output
