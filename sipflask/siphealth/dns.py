"""DNS for RFC 3263 resolution: dnspython behind the ``lookup(name, rdtype)`` callable that
:func:`sipflask.core.sipresolve.resolve` asks.

The nameservers are configuration (``DNS_NAMESERVERS``, env ``SIPFLASK_DNS_NAMESERVERS``):
comma-separated ``host[:port]`` with ``host`` an IP address (``[v6]:port`` for IPv6), or
empty for the system's (/etc/resolv.conf). Names are always absolute: no search domains, so
``pbx.acme.example`` can never quietly become ``pbx.acme.example.corp.local``.
"""

from __future__ import annotations

import ipaddress

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

from sipflask.core.sipresolve import Answer, Naptr, Srv

__all__ = ["NameserverError", "parse_nameservers", "make_resolver", "make_lookup"]

#: Seconds for one query (all nameservers, retries included): a probe stays interactive.
DEFAULT_LIFETIME = 3.0


class NameserverError(ValueError):
    """The nameserver setting cannot be used; the message says which part and why."""


def parse_nameservers(value) -> list[tuple[str, int]]:
    """``"10.0.0.2, 127.0.0.1:5353, [::1]:53"`` (or a list of such) -> [(ip, port), ...]."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    out = []
    for raw in items:
        item = str(raw).strip()
        if not item:
            continue
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ("" if not rest else None)
        elif item.count(":") == 1:
            host, _, port_text = item.partition(":")
        else:
            host, port_text = item, ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise NameserverError(f"DNS nameserver {item!r}: write an IP address, optionally "
                                  "with :port ([v6]:port for IPv6)") from None
        if port_text is None or (port_text and not (port_text.isdigit()
                                                    and 1 <= int(port_text) <= 65535)):
            raise NameserverError(f"DNS nameserver {item!r}: the port must be 1 to 65535")
        out.append((host, int(port_text) if port_text else 53))
    return out


def make_resolver(nameservers=None, lifetime: float = DEFAULT_LIFETIME) -> dns.resolver.Resolver:
    """A resolver on the configured nameservers, else the system's. Raises NameserverError."""
    servers = parse_nameservers(nameservers)
    if servers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(h, p) for h, p in servers]
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise NameserverError("the system has no DNS nameserver configured: set "
                                  "SIPFLASK_DNS_NAMESERVERS") from None
    resolver.lifetime = lifetime
    resolver.timeout = lifetime
    resolver.cache = None  # a probe must see the records as they are now
    return resolver


def _convert(rdtype: str, rr) -> object:
    if rdtype == "NAPTR":
        return Naptr(rr.order, rr.preference, rr.flags.decode("ascii", "replace"),
                     rr.service.decode("ascii", "replace"), rr.regexp.decode("ascii", "replace"),
                     rr.replacement.to_text(omit_final_dot=True))
    if rdtype == "SRV":
        return Srv(rr.priority, rr.weight, rr.port, rr.target.to_text(omit_final_dot=True))
    return rr.address


def make_lookup(resolver: dns.resolver.Resolver):
    """The ``lookup(name, rdtype) -> Answer`` callable over ``resolver``: DNS failures become
    ``Answer.error`` words, never exceptions."""
    def lookup(name: str, rdtype: str) -> Answer:
        try:
            qname = dns.name.from_text(name.rstrip(".") + ".")
            answer = resolver.resolve(qname, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return Answer(error="nxdomain")
        except dns.resolver.NoAnswer:
            return Answer(error="nodata")
        except dns.exception.Timeout:
            return Answer(error="timeout")
        except dns.resolver.NoNameservers as exc:
            return Answer(error=f"no nameserver answered well: {exc}")
        except dns.exception.DNSException as exc:
            return Answer(error=str(exc) or type(exc).__name__)
        return Answer(records=tuple(_convert(rdtype, rr) for rr in answer))
    return lookup
