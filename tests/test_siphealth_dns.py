"""RFC 3263 resolution against a real DNS server: ``dnsmasq`` on a free port of 127.0.0.1,
serving A, SRV and NAPTR records from its command line, asked through dnspython
(sipflask/siphealth/dns.py). Each RFC 3263 branch is checked on what the server answered and on
which queries it logged."""

import random

import pytest

from sipflask.core.sipresolve import resolve
from sipflask.siphealth import dns as sipdns
from sipflask.siphealth.check import lookup_from_config
from tests.support.siphealth import Dnsmasq

RECORDS = [
    "host-record=pbx.test,127.0.0.1",
    "host-record=pbx6.test,127.0.0.2,::1",
    "host-record=plain.test,127.0.0.3",
    # NAPTR: TCP preferred (order 10) over UDP (order 20); SCTP is not spoken.
    "naptr-record=naptr.test,5,10,s,SIP+D2S,,_sip._sctp.naptr.test",
    "naptr-record=naptr.test,10,50,s,SIP+D2T,,_sip._tcp.naptr.test",
    "naptr-record=naptr.test,20,50,s,SIP+D2U,,_sip._udp.naptr.test",
    "srv-host=_sip._tcp.naptr.test,pbx.test,5070,10,50",
    "srv-host=_sip._udp.naptr.test,pbx.test,5071,10,50",
    "naptr-record=secure.test,10,50,s,SIP+D2U,,_sip._udp.secure.test",
    "naptr-record=secure.test,20,50,s,SIPS+D2T,,_sips._tcp.secure.test",
    "srv-host=_sips._tcp.secure.test,pbx.test,5081,1,1",
    # No NAPTR: SRV for TCP only; priorities 10 (two weighted) and 20.
    "srv-host=_sip._tcp.srv.test,pbx.test,5090,10,100",
    "srv-host=_sip._tcp.srv.test,pbx6.test,5091,10,0",
    "srv-host=_sip._tcp.srv.test,plain.test,5092,20,10",
    "srv-host=_sip._udp.udponly.test,plain.test,5093,1,1",
    "srv-host=_sip._udp.nohost.test,ghost.test,5094,1,1",
]


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory):
    with Dnsmasq(RECORDS, tmp_path_factory.mktemp("dnsmasq")) as server:
        yield server


@pytest.fixture
def lookup(dnsmasq):
    return lookup_from_config({"DNS_NAMESERVERS": dnsmasq.nameservers})


def targets(res):
    return [(t.host, t.address, t.port, t.transport) for t in res.targets]


def asked(dnsmasq, before):
    return dnsmasq.queries()[before:]


def test_numeric_ip_asks_nothing(dnsmasq, lookup):
    before = len(dnsmasq.queries())
    res = resolve("sip:q@127.0.0.1", lookup)
    assert targets(res) == [("127.0.0.1", "127.0.0.1", 5060, "udp")]
    assert asked(dnsmasq, before) == []


def test_explicit_port_asks_a_and_aaaa(dnsmasq, lookup):
    before = len(dnsmasq.queries())
    res = resolve("sip:q@pbx6.test:5099", lookup)
    assert asked(dnsmasq, before) == ["A pbx6.test", "AAAA pbx6.test"]
    assert targets(res) == [("pbx6.test", "127.0.0.2", 5099, "udp"),
                            ("pbx6.test", "::1", 5099, "udp")]
    assert resolve("sips:q@pbx.test:5999", lookup).targets[0].transport == "tls"


def test_transport_param_goes_straight_to_srv(dnsmasq, lookup):
    before = len(dnsmasq.queries())
    res = resolve("sip:q@naptr.test;transport=udp", lookup)
    assert asked(dnsmasq, before)[0] == "SRV _sip._udp.naptr.test"
    assert targets(res) == [("pbx.test", "127.0.0.1", 5071, "udp")]


def test_naptr_then_srv_then_a(dnsmasq, lookup):
    before = len(dnsmasq.queries())
    res = resolve("sip:q@naptr.test", lookup)
    assert asked(dnsmasq, before) == ["NAPTR naptr.test", "SRV _sip._tcp.naptr.test",
                                      "A pbx.test", "AAAA pbx.test"]
    assert targets(res) == [("pbx.test", "127.0.0.1", 5070, "tcp")]
    naptr = res.steps[0]
    assert naptr.rdtype == "NAPTR" and len(naptr.answer) == 3
    assert any("SIP+D2S skipped" in s.note for s in res.steps)


def test_sips_takes_only_the_tls_naptr(lookup):
    res = resolve("sips:q@secure.test", lookup)
    assert targets(res) == [("pbx.test", "127.0.0.1", 5081, "tls")]
    assert res.targets[0].tls_name == "secure.test"


def test_srv_without_naptr_by_priority_and_weight(dnsmasq, lookup):
    before = len(dnsmasq.queries())
    res = resolve("sip:q@srv.test", lookup, random.Random(4))
    assert asked(dnsmasq, before)[:3] == ["NAPTR srv.test", "SRV _sip._udp.srv.test",
                                          "SRV _sip._tcp.srv.test"]
    assert res.transport == "tcp" and res.targets[-1].port == 5092  # priority 20 last
    firsts = [resolve("sip:q@srv.test", lookup, random.Random(s)).targets[0].port
              for s in range(30)]
    assert firsts.count(5090) >= 25  # weight 100 against 0


def test_srv_udp_found_first(lookup):
    res = resolve("sip:q@udponly.test", lookup)
    assert targets(res) == [("plain.test", "127.0.0.3", 5093, "udp")]


def test_no_naptr_no_srv_falls_back_to_a_on_default_port(dnsmasq, lookup):
    before = len(dnsmasq.queries())
    res = resolve("sip:q@plain.test", lookup)
    assert asked(dnsmasq, before) == [
        "NAPTR plain.test", "SRV _sip._udp.plain.test", "SRV _sip._tcp.plain.test",
        "SRV _sips._tcp.plain.test", "A plain.test", "AAAA plain.test"]
    assert targets(res) == [("plain.test", "127.0.0.3", 5060, "udp")]
    assert targets(resolve("sips:q@plain.test", lookup)) == [
        ("plain.test", "127.0.0.3", 5061, "tls")]


def test_unknown_name_and_srv_target_without_address(lookup):
    res = resolve("sip:q@pbx.acme.test", lookup)
    assert res.error == "no DNS record for pbx.acme.test: check the host name"
    assert res.steps[0].error == "nxdomain"
    res = resolve("sip:q@nohost.test", lookup)
    assert res.targets == [] and "no A or AAAA" in res.error


def test_a_server_that_does_not_answer_is_a_timeout():
    from tests.support.siphealth import free_port
    lookup = sipdns.make_lookup(sipdns.make_resolver(f"127.0.0.1:{free_port()}", lifetime=0.3))
    res = resolve("sip:q@pbx.test:5060", lookup)
    assert [s.error for s in res.steps[1:]] == ["timeout", "timeout"]
    assert res.targets == [] and res.error.startswith(
        "the DNS server gave no usable answer for pbx.test (timeout): check the nameservers")


@pytest.mark.parametrize("value, expected", [
    ("10.0.0.2", [("10.0.0.2", 53)]),
    (" 127.0.0.1:5353 , [::1]:54,::1", [("127.0.0.1", 5353), ("::1", 54), ("::1", 53)]),
    (["192.0.2.1:1"], [("192.0.2.1", 1)]),
    ("", []), (None, []),
])
def test_nameserver_setting(value, expected):
    assert sipdns.parse_nameservers(value) == expected


@pytest.mark.parametrize("value", ["dns.example.com", "127.0.0.1:0", "127.0.0.1:x",
                                   "[::1]x", "1.2.3.4:70000"])
def test_bad_nameserver_setting_is_a_clear_error(value):
    with pytest.raises(sipdns.NameserverError, match="DNS nameserver"):
        sipdns.make_resolver(value)


def test_missing_tool_skips_but_fails_under_ci(monkeypatch):
    from tests.support import siphealth as support
    monkeypatch.setattr(support.shutil, "which", lambda *a, **k: None)
    monkeypatch.setattr(support, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y dnsmasq-base"):
        support.need_tool("dnsmasq", "dnsmasq-base")
    monkeypatch.setattr(support, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true but dnsmasq is not installed"):
        support.need_tool("dnsmasq", "dnsmasq-base")
