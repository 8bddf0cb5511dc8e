"""RFC 3263: from a SIP URI to the ordered (address, port, transport) targets a SIP client tries.

The decisions only: DNS answers come from a ``lookup(name, rdtype) -> Answer`` callable (in the
app, :mod:`sipflask.siphealth.dns` over dnspython; in tests, a table), so every branch can be
read and tested without a network. Every query, what came back and every choice made is kept in
``Resolution.steps`` as plain data, because the diagnosis a user reads is these steps.

This module is pure: no Flask, no database, no sockets.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from sipflask.core.sip import SipUri, SipUriError, parse_sip_uri

__all__ = ["Naptr", "Srv", "Answer", "Step", "Target", "Resolution", "resolve", "order_srv",
           "transport_from_params", "SUPPORTED", "DEFAULT_PORTS", "MAX_TARGETS"]

#: Transports the probe speaks, by the URI's ``;transport=`` value (sips: always means TLS).
SUPPORTED = ("udp", "tcp", "tls")
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}
#: NAPTR service field -> transport (RFC 3263 section 4.1; SCTP and WebSocket are not spoken).
NAPTR_SERVICES = {"SIP+D2U": "udp", "SIP+D2T": "tcp", "SIPS+D2T": "tls"}
#: SRV names queried without usable NAPTR records, in the order they are preferred.
SRV_PREFIXES = {"udp": "_sip._udp", "tcp": "_sip._tcp", "tls": "_sips._tcp"}
#: Enough for any real failover set; bounds how long a probe of every target can take.
MAX_TARGETS = 8


@dataclass(frozen=True)
class Naptr:
    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Answer:
    """What one query returned: records (``Naptr``, ``Srv`` or address strings), or ``error``:
    ``"nxdomain"`` (no such name), ``"nodata"`` (the name exists, not this type), ``"timeout"``,
    or another short text from the DNS library."""

    records: tuple = ()
    error: str | None = None


@dataclass(frozen=True)
class Step:
    """One line of the story: a ``query`` (``rdtype`` of ``name``, ``answer`` as text or
    ``error``) or a ``decision`` (``note`` says what was chosen and why)."""

    kind: str
    note: str
    name: str = ""
    rdtype: str = ""
    answer: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Target:
    """Where to send: ``address`` (an IP) and ``port`` over ``transport``. ``host`` is the name
    the address came from and ``tls_name`` the name a TLS certificate must carry (RFC 5922: the
    URI's host, not the SRV target)."""

    host: str
    address: str
    port: int
    transport: str
    tls_name: str


@dataclass
class Resolution:
    uri: str
    transport: str | None = None
    steps: list[Step] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def decide(self, note: str) -> None:
        self.steps.append(Step("decision", note))


Lookup = Callable[[str, str], Answer]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _params(uri: SipUri) -> dict[str, str]:
    out = {}
    for param in uri.params[1:].split(";") if uri.params else ():
        name, _, value = param.partition("=")
        out[name.lower()] = value
    return out


def transport_from_params(uri: SipUri) -> tuple[str | None, str | None]:
    """(transport, error) from ``;transport=``: None when absent. sips: over TCP is TLS."""
    value = _params(uri).get("transport")
    if value is None:
        return None, None
    value = value.lower()
    if uri.scheme == "sips":
        if value in ("tcp", "tls"):
            return "tls", None
        return None, f"sips: needs TLS over TCP; ;transport={value} cannot carry it"
    if value in SUPPORTED:
        return value, None
    return None, f";transport={value} is not supported by the probe (only udp, tcp and tls)"


def order_srv(records: list[Srv], rng: random.Random) -> list[Srv]:
    """RFC 2782: lowest priority first; within a priority, a weighted random draw, zero weights
    first in the running sum so they are picked only rarely (but can be)."""
    out: list[Srv] = []
    for priority in sorted({r.priority for r in records}):
        group = sorted((r for r in records if r.priority == priority), key=lambda r: r.weight != 0)
        while group:
            total = sum(r.weight for r in group)
            if total == 0:  # all zero: every order is as good, so a uniform one
                out.append(group.pop(rng.randrange(len(group))))
                continue
            pick = rng.randint(0, total)
            running = 0
            for i, r in enumerate(group):
                running += r.weight
                if running >= pick:
                    out.append(group.pop(i))
                    break
    return out


def _query(res: Resolution, lookup: Lookup, name: str, rdtype: str) -> Answer:
    answer = lookup(name, rdtype)
    texts = tuple(_record_text(r) for r in answer.records)
    note = (f"{rdtype} {name}: " + (", ".join(texts) if texts else _error_words(answer.error)))
    res.steps.append(Step("query", note, name, rdtype, texts, answer.error))
    return answer


def _record_text(record) -> str:
    if isinstance(record, Naptr):
        return (f'{record.order} {record.preference} "{record.flags}" "{record.service}" '
                f'"{record.regexp}" {record.replacement}')
    if isinstance(record, Srv):
        return f"{record.priority} {record.weight} {record.port} {record.target}"
    return str(record)


def _error_words(error: str | None) -> str:
    return {"nxdomain": "no such name", "nodata": "no record of this type",
            "timeout": "no answer from the DNS server in time", None: "empty answer"}.get(
        error, f"error ({error})")


def _addresses(res: Resolution, lookup: Lookup, host: str) -> list[str]:
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        found += [str(a) for a in _query(res, lookup, host, rdtype).records]
    return found


def _add_targets(res: Resolution, host: str, addresses: list[str], port: int, tls_name: str):
    for address in addresses:
        if len(res.targets) < MAX_TARGETS:
            res.targets.append(Target(host.rstrip("."), address, port, res.transport, tls_name))


def _from_naptr(res: Resolution, lookup: Lookup, uri: SipUri) -> tuple[str, str] | None:
    """(transport, SRV name) from the best usable NAPTR record, or None."""
    answer = _query(res, lookup, uri.host, "NAPTR")
    usable = []
    for r in sorted(answer.records, key=lambda r: (r.order, r.preference)):
        transport = NAPTR_SERVICES.get(r.service.upper())
        if r.flags.lower() != "s" or transport is None or r.regexp:
            res.decide(f"NAPTR {r.service} skipped: not an SRV pointer for a spoken transport")
        elif uri.scheme == "sips" and transport != "tls":
            res.decide(f"NAPTR {r.service} skipped: a sips: URI needs TLS")
        else:
            usable.append((transport, r.replacement.rstrip(".")))
    if usable:
        res.decide(f"NAPTR chose {usable[0][0].upper()} via {usable[0][1]} (lowest order and "
                   "preference among the usable records)")
        return usable[0]
    return None


def _srv_targets(res: Resolution, lookup: Lookup, srv_name: str, tls_name: str,
                 rng: random.Random) -> bool:
    """Targets from one SRV name; False when it gave none (nothing was decided)."""
    records = list(_query(res, lookup, srv_name, "SRV").records)
    if not records:
        return False
    if len(records) == 1 and records[0].target.rstrip(".") == "":
        res.error = f'{srv_name} says the service is not offered here (SRV target ".")'
        res.decide(res.error)
        return True
    ordered = order_srv(records, rng)
    res.decide("SRV order (priority, then weighted draw): "
               + ", ".join(f"{r.target.rstrip('.')}:{r.port}" for r in ordered))
    for r in ordered:
        _add_targets(res, r.target, _addresses(res, lookup, r.target.rstrip(".")), r.port,
                     tls_name)
    if not res.targets:
        res.error = f"the SRV targets of {srv_name} have no A or AAAA record"
    return True


def _host_targets(res: Resolution, lookup: Lookup, host: str, port: int | None) -> None:
    port = port or DEFAULT_PORTS[res.transport]
    addresses = [host.strip("[]")] if _is_ip(host) else _addresses(res, lookup, host)
    _add_targets(res, host, addresses, port, host.strip("[]"))
    if not res.targets:
        failed = [s.error for s in res.steps[-2:] if s.error not in ("nxdomain", "nodata")]
        res.error = (f"the DNS server gave no usable answer for {host} ({failed[0]}): check "
                     "the nameservers (SIPFLASK_DNS_NAMESERVERS) and the network"
                     if failed else f"no DNS record for {host}: check the host name")


def _with_srv(res: Resolution, lookup: Lookup, uri: SipUri, rng: random.Random) -> None:
    """No port and a host name: NAPTR (unless the transport is set), SRV, else A/AAAA."""
    choice = None if res.transport else _from_naptr(res, lookup, uri)
    if choice:
        res.transport, srv_name = choice
        if _srv_targets(res, lookup, srv_name, uri.host, rng):
            return
        res.decide(f"no SRV records at {srv_name}: falling back to {uri.host}")
    else:
        wanted = [res.transport] if res.transport else (
            ["tls"] if uri.scheme == "sips" else ["udp", "tcp", "tls"])
        if not res.transport:
            res.decide("no usable NAPTR record: asking SRV for "
                       + ", ".join(t.upper() for t in wanted))
        for transport in wanted:
            srv_name = f"{SRV_PREFIXES[transport]}.{uri.host}"
            before = res.transport
            res.transport = transport
            if _srv_targets(res, lookup, srv_name, uri.host, rng):
                return
            res.transport = before
        res.transport = res.transport or ("tls" if uri.scheme == "sips" else "udp")
        res.decide(f"no SRV records: {uri.host} over {res.transport.upper()} on port "
                   f"{DEFAULT_PORTS[res.transport]}")
    _host_targets(res, lookup, uri.host, None)


def resolve(text: str, lookup: Lookup, rng: random.Random | None = None) -> Resolution:
    """The RFC 3263 targets for ``text`` (a SIP URI, tokens already expanded), with the story."""
    res = Resolution(uri=(text or "").strip())
    try:
        uri = parse_sip_uri(text)
    except SipUriError as exc:
        res.error = str(exc)
        return res
    res.transport, res.error = transport_from_params(uri)
    if res.error:
        return res
    if res.transport:
        res.decide(f"transport {res.transport.upper()} from the URI's ;transport= parameter")
    default = "tls" if uri.scheme == "sips" else "udp"
    if _is_ip(uri.host) or uri.port is not None:
        why = "a numeric IP" if _is_ip(uri.host) else f"an explicit port ({uri.port})"
        res.transport = res.transport or default
        res.decide(f"{why}: no NAPTR or SRV lookup; {res.transport.upper()} to "
                   f"{uri.host}:{uri.port or DEFAULT_PORTS[res.transport]}")
        _host_targets(res, lookup, uri.host, uri.port)
        return res
    _with_srv(res, lookup, uri, rng or random.Random())
    return res
