"""RFC 3263 decisions (sipflask/core/sipresolve.py) against a table of DNS answers: every
branch, the recorded story, and RFC 2782's SRV ordering."""

import random
from collections import Counter

import pytest

from sipflask.core.sipresolve import Answer, Naptr, Srv, order_srv, resolve


def table(records: dict):
    """A lookup over ``{(name, rdtype): [records]}``; unknown names NXDOMAIN, known names
    without that type NODATA. Also returns the list of queries asked."""
    asked = []
    names = {name for name, _ in records}

    def lookup(name, rdtype):
        asked.append(f"{rdtype} {name}")
        if (name, rdtype) in records:
            return Answer(tuple(records[(name, rdtype)]))
        return Answer(error="nodata" if name in names else "nxdomain")
    return lookup, asked


def targets(res):
    return [(t.host, t.address, t.port, t.transport) for t in res.targets]


def test_numeric_ip_skips_dns_udp_for_sip_and_tls_for_sips():
    lookup, asked = table({})
    res = resolve("sip:q@192.0.2.7", lookup)
    assert targets(res) == [("192.0.2.7", "192.0.2.7", 5060, "udp")] and asked == []
    res = resolve("sips:q@192.0.2.7:5071", lookup)
    assert targets(res) == [("192.0.2.7", "192.0.2.7", 5071, "tls")] and asked == []
    assert "numeric IP" in res.steps[0].note
    res = resolve("sip:q@[2001:db8::1]", lookup)
    assert targets(res) == [("[2001:db8::1]", "2001:db8::1", 5060, "udp")]


def test_explicit_port_asks_only_a_and_aaaa():
    lookup, asked = table({("pbx.test", "A"): ["127.0.0.1"], ("pbx.test", "AAAA"): ["::1"]})
    res = resolve("sip:q@pbx.test:5080", lookup)
    assert asked == ["A pbx.test", "AAAA pbx.test"]
    assert targets(res) == [("pbx.test", "127.0.0.1", 5080, "udp"),
                            ("pbx.test", "::1", 5080, "udp")]
    assert "explicit port (5080)" in res.steps[0].note
    assert res.steps[1].answer == ("127.0.0.1",) and res.steps[2].answer == ("::1",)


def test_transport_param_skips_naptr_and_asks_its_srv():
    lookup, asked = table({("_sip._tcp.a.test", "SRV"): [Srv(10, 0, 5090, "pbx.a.test")],
                           ("pbx.a.test", "A"): ["10.0.0.5"]})
    res = resolve("sip:q@a.test;transport=tcp", lookup)
    assert asked[0] == "SRV _sip._tcp.a.test" and "NAPTR a.test" not in asked
    assert targets(res) == [("pbx.a.test", "10.0.0.5", 5090, "tcp")]
    assert res.targets[0].tls_name == "a.test"  # RFC 5922: the domain, not the SRV target


def test_transport_param_without_srv_falls_back_to_host_default_port():
    lookup, asked = table({("a.test", "A"): ["10.0.0.9"]})
    res = resolve("sips:q@a.test;transport=tcp", lookup)
    assert asked == ["SRV _sips._tcp.a.test", "A a.test", "AAAA a.test"]
    assert targets(res) == [("a.test", "10.0.0.9", 5061, "tls")]


def test_naptr_picks_lowest_order_then_preference_then_srv():
    lookup, asked = table({
        ("a.test", "NAPTR"): [Naptr(20, 10, "s", "SIP+D2U", "", "_sip._udp.a.test"),
                              Naptr(10, 20, "s", "SIP+D2T", "", "_sip._tcp.a.test"),
                              Naptr(10, 10, "s", "SIP+D2W", "", "_sip._ws.a.test")],
        ("_sip._tcp.a.test", "SRV"): [Srv(1, 1, 5070, "pbx.a.test")],
        ("pbx.a.test", "A"): ["10.0.0.1"]})
    res = resolve("sip:q@a.test", lookup)
    assert asked[:2] == ["NAPTR a.test", "SRV _sip._tcp.a.test"]
    assert targets(res) == [("pbx.a.test", "10.0.0.1", 5070, "tcp")]
    notes = [s.note for s in res.steps]
    assert any("SIP+D2W skipped" in n for n in notes)
    assert any("NAPTR chose TCP via _sip._tcp.a.test" in n for n in notes)


def test_sips_uri_ignores_non_tls_naptr():
    lookup, _ = table({
        ("a.test", "NAPTR"): [Naptr(10, 10, "s", "SIP+D2U", "", "_sip._udp.a.test"),
                              Naptr(20, 10, "s", "SIPS+D2T", "", "_sips._tcp.a.test")],
        ("_sips._tcp.a.test", "SRV"): [Srv(1, 1, 5061, "tls.a.test")],
        ("tls.a.test", "A"): ["10.0.0.2"]})
    res = resolve("sips:q@a.test", lookup)
    assert targets(res) == [("tls.a.test", "10.0.0.2", 5061, "tls")]
    assert any("sips: URI needs TLS" in s.note for s in res.steps)


def test_no_naptr_tries_srv_udp_tcp_tls_in_order():
    lookup, asked = table({("_sips._tcp.a.test", "SRV"): [Srv(1, 1, 5061, "tls.a.test")],
                           ("tls.a.test", "A"): ["10.0.0.3"], ("a.test", "A"): ["10.9.9.9"]})
    res = resolve("sip:q@a.test", lookup)
    assert asked[:4] == ["NAPTR a.test", "SRV _sip._udp.a.test", "SRV _sip._tcp.a.test",
                         "SRV _sips._tcp.a.test"]
    assert targets(res) == [("tls.a.test", "10.0.0.3", 5061, "tls")]


def test_no_naptr_no_srv_uses_the_host_on_5060():
    lookup, _ = table({("a.test", "A"): ["10.0.0.4"]})
    res = resolve("sip:q@a.test", lookup)
    assert targets(res) == [("a.test", "10.0.0.4", 5060, "udp")]
    assert any("no SRV records: a.test over UDP on port 5060" in s.note for s in res.steps)
    res = resolve("sips:q@a.test", lookup)
    assert targets(res) == [("a.test", "10.0.0.4", 5061, "tls")]


def test_naptr_pointing_at_empty_srv_falls_back_to_host():
    lookup, _ = table({("a.test", "NAPTR"): [Naptr(1, 1, "s", "SIP+D2T", "", "_sip._tcp.a.test")],
                       ("a.test", "A"): ["10.0.0.6"]})
    res = resolve("sip:q@a.test", lookup)
    assert targets(res) == [("a.test", "10.0.0.6", 5060, "tcp")]


def test_no_record_at_all_says_so():
    lookup, _ = table({})
    res = resolve("sip:q@pbx.acme.test", lookup)
    assert res.targets == [] and res.error == "no DNS record for pbx.acme.test: check the host name"
    assert res.steps[0].error == "nxdomain" and "no such name" in res.steps[0].note


def test_srv_dot_target_means_no_service():
    lookup, _ = table({("_sip._udp.a.test", "SRV"): [Srv(0, 0, 0, ".")]})
    res = resolve("sip:q@a.test;transport=udp", lookup)
    assert res.targets == [] and "not offered" in res.error


@pytest.mark.parametrize("uri, words", [
    ("sip:q@a.test;transport=sctp", "not supported"),
    ("sips:q@a.test;transport=udp", "needs TLS"),
    ("sip:a.test", "no user part"),
    ("http://a.test", 'start with "sip:"'),
])
def test_bad_uris_are_errors_not_exceptions(uri, words):
    lookup, asked = table({})
    res = resolve(uri, lookup)
    assert words in res.error and res.targets == [] and asked == []


def test_srv_priority_first_then_weight():
    records = [Srv(20, 0, 1, "backup"), Srv(10, 90, 1, "big"), Srv(10, 10, 1, "small"),
               Srv(10, 0, 1, "zero")]
    firsts = Counter(order_srv(records, random.Random(seed))[0].target for seed in range(2000))
    assert set(firsts) <= {"big", "small", "zero"}
    assert 0.8 < firsts["big"] / 2000 < 0.95 and 0.05 < firsts["small"] / 2000 < 0.15
    for seed in range(50):
        assert order_srv(records, random.Random(seed))[-1].target == "backup"
    # All weights zero: each order is possible.
    zeros = [Srv(1, 0, 1, "a"), Srv(1, 0, 1, "b")]
    assert {order_srv(zeros, random.Random(s))[0].target for s in range(50)} == {"a", "b"}


def test_resolution_is_plain_data():
    lookup, _ = table({("a.test", "A"): ["10.0.0.4"]})
    data = resolve("sip:q@a.test", lookup, random.Random(1)).as_dict()
    assert data["targets"][0]["port"] == 5060
    assert all(set(s) == {"kind", "note", "name", "rdtype", "answer", "error"}
               for s in data["steps"])
