"""SIP URIs: recognising and parsing ``sip:user@host[:port][;params]``, Twilio's length limit.

What Twilio receives for a SIP buyer is one string inside ``<Sip>``::

    sip:user@host[:port][;params]?H1=v1&H2=v2

This module checks the part before ``?``; :mod:`sipflask.core.sipheaders` encodes values and
builds the headers after it (SPEC "Tokens", "Outbound SIP").

This module is pure: no Flask, no database.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

__all__ = ["SipUriError", "is_sip", "SipUri", "parse_sip_uri", "URI_LIMIT"]

#: Twilio: the URI without headers must be shorter than this.
URI_LIMIT = 255

class SipUriError(ValueError):
    """A SIP URI (or header set) that cannot be dialled; message is user-facing."""


# --------------------------------------------------------------------------
# Parsing


def is_sip(text: str) -> bool:
    """True if ``text`` is meant as a SIP URI (``sip:``/``sips:``, any case)."""
    return (text or "").strip().lower().startswith(("sip:", "sips:"))


@dataclass(frozen=True)
class SipUri:
    """A parsed ``sip:user@host[:port][;params]`` (no headers, no password).

    ``params`` is the raw ``;...`` text exactly as typed (``""`` if none), so
    ``;transport=tcp;region=ie1`` reaches Twilio untouched.
    """

    scheme: str
    user: str
    host: str
    port: int | None
    params: str

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}:{self.user}@{self.host}{port}{self.params}"


# RFC 3261: unreserved = alphanum / mark; user-unreserved adds & = + $ , ; ? /.
# "?" is deliberately refused in the user part even though the RFC allows it:
# Twilio and most parsers split headers off at the first "?", so a literal
# "?" there would be read as the start of headers. Type %3F instead.
_USER_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;/]|%[0-9A-Fa-f]{2})+\Z")
# RFC 3261 paramchar = param-unreserved / unreserved / escaped.
_PARAMCHAR_RE = re.compile(r"(?:[\[\]/:&+$A-Za-z0-9\-_.!~*'()]|%[0-9A-Fa-f]{2})+\Z")
# RFC 3261 hostname: domainlabels, a toplabel starting with a letter,
# optional trailing dot.
_DOMAINLABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_TOPLABEL = r"[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"(?:{_DOMAINLABEL}\.)*{_TOPLABEL}\.?\Z")
_IPV4ISH_RE = re.compile(r"[0-9]+(?:\.[0-9]+){3}\Z")
_SCHEME_RE = re.compile(r"(sips?):", re.IGNORECASE)


_CHAR_LABELS = {
    " ": "a space",
    "\r": "CR",
    "\n": "LF",
    "\t": "a tab",
    "%": "a % not followed by two hex digits",
}


def _bad_chars(text: str, allowed: re.Pattern[str]) -> str:
    """Describe the characters of ``text`` that ``allowed`` refuses."""
    bad: list[str] = []
    for i, ch in enumerate(text):
        if ch == "%" and re.fullmatch(r"%[0-9A-Fa-f]{2}", text[i : i + 3]):
            continue
        if ch == "%" or not allowed.match(ch):
            label = _CHAR_LABELS.get(ch, repr(ch))
            if label not in bad:
                bad.append(label)
    return ", ".join(bad)


def _parse_host(hostport: str) -> tuple[str, int | None]:
    if not hostport:
        raise SipUriError("The SIP URI has no host after the @ (sip:user@host).")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SipUriError(f'The IPv6 host in "{hostport}" is missing its closing ].')
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise SipUriError(f'"{host}" is not a valid IPv6 address.') from None
        if rest and not rest.startswith(":"):
            raise SipUriError(f'Unexpected "{rest}" after the host {host}.')
        port_text = rest[1:] if rest else None
    else:
        host, sep, port_text = hostport.partition(":")
        if not sep:
            port_text = None
        if _IPV4ISH_RE.match(host):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise SipUriError(f'"{host}" is not a valid IPv4 address.') from None
        elif not _HOSTNAME_RE.match(host) or len(host.rstrip(".")) > 253 or any(
            len(label) > 63 for label in host.split(".")
        ):
            raise SipUriError(
                f'"{host}" is not a valid host: use a domain name (sip.example.com), '
                "an IPv4 address or an [IPv6] address."
            )
    port: int | None = None
    if port_text is not None:
        if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise SipUriError(f'The port "{port_text}" must be a number from 1 to 65535.')
        port = int(port_text)
    return host, port


def _check_params(params: str) -> None:
    for param in params[1:].split(";"):
        if not param:
            raise SipUriError('The SIP URI has an empty ";" parameter (remove the extra ;).')
        name, sep, value = param.partition("=")
        if not name or not _PARAMCHAR_RE.match(name):
            raise SipUriError(
                f'The URI parameter ";{param}" has an invalid name'
                + (f" ({_bad_chars(name, _PARAMCHAR_RE)})." if name else ".")
            )
        if sep and (not value or not _PARAMCHAR_RE.match(value)):
            detail = _bad_chars(value, _PARAMCHAR_RE) if value else "it is empty"
            raise SipUriError(f'The URI parameter ";{param}" has an invalid value ({detail}).')


def parse_sip_uri(text: str) -> SipUri:
    """Parse ``sip:user@host[:port][;params]`` per RFC 3261, or raise SipUriError.

    Stricter than the RFC where it protects the product: the user part is
    required (it is the destination), a ``user:password@`` login is refused
    (credentials go in the SIP Username/Password fields, never in the URI
    that every proxy logs), and any ``?`` is refused because headers belong
    in the SIP Headers rows. Surrounding whitespace is ignored.
    """
    uri = (text or "").strip()
    m = _SCHEME_RE.match(uri)
    if not m:
        raise SipUriError('A SIP URI must start with "sip:" or "sips:".')
    scheme = m.group(1).lower()
    rest = uri[m.end() :]
    if "?" in rest:
        raise SipUriError(
            'The SIP URI contains "?": add headers in the SIP Headers rows, not in the URI '
            "(a ? in the user part must be written %3F)."
        )
    if "@" not in rest:
        raise SipUriError(
            "The SIP URI has no user part: write sip:user@host; the user part "
            "(extension, queue or number) is where the call goes."
        )
    if rest.count("@") > 1:
        raise SipUriError('The SIP URI has more than one "@" (write a literal @ as %40).')
    user, _, hostpart = rest.partition("@")
    if not user:
        raise SipUriError(
            "The SIP URI has an empty user part: write sip:user@host; the user part "
            "is where the call goes."
        )
    # Character check first (ignoring ":"), so "a b:c" reports the space.
    without_colons = user.replace(":", "")
    if without_colons and not _USER_RE.match(without_colons):
        raise SipUriError(
            f"The user part of the SIP URI contains characters that are not allowed: "
            f"{_bad_chars(without_colons, _USER_RE)} (percent-encode them, e.g. a space as %20)."
        )
    if ":" in user:
        raise SipUriError(
            "Don't put a password in the SIP URI (user:password@host); use the "
            "SIP Username and SIP Password fields."
        )
    hostport, sep, params_rest = hostpart.partition(";")
    params = sep + params_rest
    host, port = _parse_host(hostport)
    if params:
        _check_params(params)
    return SipUri(scheme=scheme, user=user, host=host, port=port, params=params)
