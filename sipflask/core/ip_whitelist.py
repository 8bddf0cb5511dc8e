"""The inbound SIP IP whitelist: IPv4 entries as Twilio's IP access control lists take them.

Parsing and checking entries (Twilio's limits, and refusing ranges Twilio never receives SIP
from), checking a whole list, and the order entries are stored and shown in. Pure: no Flask,
no database.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable

__all__ = ["MAX_IPS", "MIN_PREFIX", "IpEntry", "parse_ip", "ip_problem", "check_ip_list",
           "ip_sort_key"]

#: Twilio: an IP access control list holds at most 100 entries.
MAX_IPS = 100
#: Wider than this is not a whitelist any more (a /7 is 2% of the Internet).
MIN_PREFIX = 8


@dataclass(frozen=True)
class IpEntry:
    """One whitelist entry as Twilio takes it: ``IpAddress`` and ``CidrPrefixLength``."""

    address: str
    prefix: int

    @property
    def text(self) -> str:
        """How sipflask stores and shows it: ``203.0.113.7`` or ``203.0.113.0/24``."""
        return self.address if self.prefix == 32 else f"{self.address}/{self.prefix}"


def parse_ip(text: str) -> IpEntry:
    """``203.0.113.7``, ``203.0.113.0/24`` -> IpEntry; ValueError with a user-facing message."""
    raw = (text or "").strip()
    if not raw:
        raise ValueError("Enter an IPv4 address or a CIDR range.")
    if "/" in raw:
        addr_part, _, prefix_part = raw.partition("/")
        if not prefix_part.isdigit():
            raise ValueError(f"{raw!r}: the part after '/' must be a prefix length (8-32).")
    try:
        network = ipaddress.ip_network(raw, strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            loose = ipaddress.ip_network(raw, strict=False)
            raise ValueError(f"{raw!r} has host bits set: the range is {loose}.") from None
        try:
            ipaddress.ip_address(raw.partition("/")[0])
        except ValueError:
            raise ValueError(f"{raw!r} is not an IPv4 address or CIDR range "
                             "(e.g. 203.0.113.7 or 203.0.113.0/24).") from None
        raise ValueError(f"{raw!r}: the prefix length must be from {MIN_PREFIX} to 32.") from None
    if network.version != 4:
        raise ValueError(f"{raw!r} is IPv6; Twilio's IP access control lists take IPv4 only.")
    problem = ip_problem(network)
    if problem:
        raise ValueError(problem)
    return IpEntry(str(network.network_address), network.prefixlen)


def ip_problem(network: ipaddress.IPv4Network) -> str | None:
    shown = str(network.network_address) if network.prefixlen == 32 else str(network)
    if network.prefixlen < MIN_PREFIX:
        return f"{shown} is too wide: use a prefix of /{MIN_PREFIX} or longer."
    address = network.network_address
    if address.is_unspecified or address.is_loopback or address.is_multicast \
            or address.is_link_local or network.overlaps(ipaddress.ip_network("240.0.0.0/4")):
        return (f"{shown} is a loopback, link-local, multicast or reserved address: Twilio "
                "never receives SIP from it.")
    return None


def check_ip_list(values: Iterable[str]) -> tuple[list[IpEntry | None], dict[int, str], str | None]:
    """Check whitelist rows in order; returns entries (None where wrong or blank), errors by row
    index, and an error about the list as a whole (too many entries)."""
    entries: list[IpEntry | None] = []
    errors: dict[int, str] = {}
    seen: dict[IpEntry, int] = {}
    for i, value in enumerate(values):
        if not isinstance(value, str):
            entries.append(None)
            errors[i] = "Must be text: an IPv4 address or CIDR range."
            continue
        if not value.strip():
            entries.append(None)
            continue
        try:
            entry = parse_ip(value)
        except ValueError as exc:
            entries.append(None)
            errors[i] = str(exc)
            continue
        if entry in seen:
            errors[i] = f"{entry.text} is already in row {seen[entry] + 1}."
            entries.append(None)
            continue
        seen[entry] = i
        entries.append(entry)
    count = sum(1 for e in entries if e is not None)
    whole = None
    if count > MAX_IPS:
        whole = f"Twilio allows at most {MAX_IPS} entries per list; there are {count}."
    return entries, errors, whole


def ip_sort_key(text: str):
    """Where ``text`` goes in the stored list: by address, then prefix; unparseable text last."""
    try:
        entry = parse_ip(text)
        return (0, int(ipaddress.ip_address(entry.address)), entry.prefix, text)
    except ValueError:
        return (1, 0, 0, text)
