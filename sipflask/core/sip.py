"""Outbound SIP: URI parsing, header rules, percent-encoding and the dial URI.

What Twilio receives for a SIP buyer is one string inside ``<Sip>``::

    sip:user@host[:port][;params]?H1=v1&H2=v2

The ``twilio`` package only XML-escapes it, so this module is what keeps a
token value from adding a URI parameter or a header (SPEC "Tokens", "Outbound
SIP"):

* values landing in the URI are encoded with :func:`pct_encode_user`, whose
  output has no ``;``, ``?``, ``&``, ``=``, ``@``, ``:`` or ``%`` except in
  ``%XX`` escapes;
* header values are encoded with :func:`pct_encode_hvalue`, whose output has
  no ``&``, ``=``, ``?`` or ``%`` except in ``%XX`` escapes;
* ``+`` stays literal everywhere. ``urllib.parse.urlencode``/``quote_plus``
  would turn spaces into ``+``, and ``parse_qsl`` turns ``+`` back into a
  space: wrong for SIP, so they are never used here.

Headers are merged by source (defaults, plugins, buyer) and dropped, with a
recorded reason, when Twilio's 1024-character header limit is exceeded.

This module is pure: no Flask, no database.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "SipUriError",
    "is_sip",
    "SipUri",
    "parse_sip_uri",
    "STANDARD_HEADERS",
    "header_name_problem",
    "duplicate_header_names",
    "pct_encode_user",
    "pct_encode_hvalue",
    "URI_LIMIT",
    "HEADER_PART_LIMIT",
    "Header",
    "PROTECTED",
    "merge_headers",
    "DialUri",
    "build_dial_uri",
]

#: Twilio: the URI without headers must be shorter than this.
URI_LIMIT = 255
#: Twilio: the header part (after ``?``) must be shorter than this.
HEADER_PART_LIMIT = 1024

#: The only non-``X-`` headers Twilio lets us send.
STANDARD_HEADERS: tuple[str, ...] = (
    "User-to-User",
    "Remote-Party-ID",
    "P-Preferred-Identity",
    "P-Called-Party-ID",
)

#: Default headers that are never dropped to fit the limit.
PROTECTED: tuple[str, ...] = ("X-PH-RetreaverUUID", "X-PH-RetreaverKey")


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


# --------------------------------------------------------------------------
# Header names


_CUSTOM_HEADER_RE = re.compile(r"X-[A-Za-z0-9-]+\Z")
_NAME_RULE = 'CR, LF, "?", "&", "=" and spaces are never allowed in a header name'


def header_name_problem(name: str) -> str | None:
    """None if ``name`` may be sent to a SIP buyer, else a message saying why not.

    Allowed: ``X-`` (capital X, as Twilio documents it) followed by at least
    one letter, digit or ``-``; or one of :data:`STANDARD_HEADERS`, matched
    case-insensitively.
    """
    if not name:
        return "Enter a header name, e.g. X-Lead-ID."
    if any(ch in "\r\n?&=" or ch.isspace() for ch in name):
        return f"{_NAME_RULE}."
    if name.casefold() in {h.casefold() for h in STANDARD_HEADERS}:
        return None
    if _CUSTOM_HEADER_RE.match(name):
        return None
    return (
        f'"{name}" is not an allowed header name: use X- followed by letters, digits '
        f"and - (e.g. X-Lead-ID), or one of {', '.join(STANDARD_HEADERS)}. {_NAME_RULE}."
    )


def duplicate_header_names(names: Iterable[str]) -> list[str]:
    """Names that appear more than once, compared case-insensitively.

    Each duplicated name is listed once, spelled as it first appeared, in
    first-seen order (``["X-A", "x-a", "X-B"]`` gives ``["X-A"]``).
    """
    first: dict[str, str] = {}
    dupes: dict[str, None] = {}
    for name in names:
        key = name.casefold()
        if key in first:
            dupes.setdefault(first[key], None)
        else:
            first[key] = name
    return list(dupes)


# --------------------------------------------------------------------------
# Percent-encoding

# Kept as-is in a token value landing in the URI: RFC 3261 `unreserved` plus
# "+" (so "+14155552671" stays readable). The RFC also lets the user part
# carry & = $ , ; ? / -- but those are exactly what would let a value start a
# URI parameter (";"), headers ("?", "&", "="), a login (":") or a new host
# ("@"), so a value gets them percent-encoded.
_USER_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()+")
# Kept as-is in a header value: unreserved plus the hnv-unreserved characters
# that cannot end the value or start another header ("+ : [ ] / $"). RFC 3261
# also allows "?" there; it is encoded anyway so the only "?" in the URI is
# the one that starts the headers.
_HVALUE_SAFE = _USER_SAFE | frozenset(":[]/$")


def _pct_encode(value: str, safe: frozenset[str]) -> str:
    # UTF-8 then %XX (upper-case hex, RFC 3986 style). A lone surrogate has
    # no UTF-8 form; guessing a replacement would send a different value, so
    # it is refused (SipUriError is a ValueError the caller handles).
    out: list[str] = []
    for ch in value:
        if ch in safe:
            out.append(ch)
        else:
            try:
                encoded = ch.encode("utf-8")
            except UnicodeEncodeError:
                raise SipUriError(
                    f"A value contains an invalid character (U+{ord(ch):04X}) that cannot be sent."
                ) from None
            out.extend(f"%{b:02X}" for b in encoded)
    return "".join(out)


def pct_encode_user(value: str) -> str:
    """Percent-encode a token value for a SIP URI (user part, host or params).

    Keeps ``A-Za-z0-9-_.!~*'()+`` only, so a value can never add a parameter,
    a header, a password or a host. ``+`` stays literal (E.164 numbers).
    """
    return _pct_encode(value, _USER_SAFE)


def pct_encode_hvalue(value: str) -> str:
    """Percent-encode a SIP header value for the ``?name=value&...`` part.

    Keeps ``A-Za-z0-9-_.!~*'()+:[]/$``; everything else (space, ``&``, ``=``,
    ``?``, ``%``, ``;``, ``@``, quotes, ``<``/``>``, CR, LF, non-ASCII as
    UTF-8) becomes ``%XX``. ``+`` stays literal: never ``quote_plus``.
    Decode with ``urllib.parse.unquote`` (not ``unquote_plus``).
    """
    return _pct_encode(value, _HVALUE_SAFE)


# --------------------------------------------------------------------------
# Headers and the dial URI


@dataclass
class Header:
    """One SIP header to send.

    ``source`` is ``"default"``, ``"plugin:<name>"`` or ``"buyer"``; it decides
    precedence in :func:`merge_headers` and drop order in :func:`build_dial_uri`.
    """

    name: str
    value: str
    source: str


def merge_headers(
    defaults: Sequence[Header],
    plugin_headers: Sequence[Header],
    buyer_headers: Sequence[Header],
) -> list[Header]:
    """Combine header sources by SPEC precedence (lowest first).

    Defaults, then plugin headers (already in plugin name order), then the
    buyer's headers (in the user's order). A later header replaces an earlier
    one of the same name (case-insensitive) and takes the later position.

    A header whose value is empty is left out *before* merging, so it neither
    is sent nor removes an earlier header of the same name: a buyer header
    ``X-PH-RetreaverAFID: [my_afid]`` that expands to nothing leaves the
    default AFID in place, and an empty value can never remove the protected
    UUID/Key headers.
    """
    merged: list[Header] = []
    for header in (*defaults, *plugin_headers, *buyer_headers):
        if not header.value:
            continue
        key = header.name.casefold()
        merged = [h for h in merged if h.name.casefold() != key]
        merged.append(header)
    return merged


@dataclass
class DialUri:
    """The URI for ``<Sip>`` plus what was sent and what was dropped (and why)."""

    uri: str
    sent: list[Header] = field(default_factory=list)
    dropped: list[tuple[Header, str]] = field(default_factory=list)


def _is_protected(header: Header) -> bool:
    return header.name.casefold() in {p.casefold() for p in PROTECTED}


def _drop_rank(header: Header) -> int:
    # Lower ranks are dropped first: plugins, then the buyer's, then the
    # remaining defaults (AFID, SID) or any unknown source.
    if header.source.startswith("plugin:"):
        return 0
    if header.source == "buyer":
        return 1
    return 2


def _header_part(headers: Sequence[Header]) -> str:
    return "&".join(f"{h.name}={pct_encode_hvalue(h.value)}" for h in headers)


def build_dial_uri(base: str, headers: Sequence[Header]) -> DialUri:
    """Build ``base?Name=value&...`` for ``<Sip>``, dropping headers to fit.

    ``base`` is the buyer's URI with tokens already expanded; it must parse
    with :func:`parse_sip_uri` and be shorter than :data:`URI_LIMIT`, else
    SipUriError. Header values are percent-encoded here; names are sent as
    given but a name that breaks the header rules (e.g. from a plugin) is
    dropped rather than allowed to corrupt the URI. Headers with an empty
    value are dropped too (:func:`merge_headers` normally removed them).

    While the header part is :data:`HEADER_PART_LIMIT` characters or more,
    headers are dropped one by one: plugin headers from the last, then the
    buyer's from the last, then other defaults from the last; never the
    :data:`PROTECTED` ones. If those alone are still too long, SipUriError.
    """
    base = (base or "").strip()
    parse_sip_uri(base)
    if len(base) >= URI_LIMIT:
        raise SipUriError(
            f"The SIP URI is {len(base)} characters long; Twilio allows at most "
            f"{URI_LIMIT - 1} (without headers)."
        )

    sent: list[Header] = []
    dropped: list[tuple[Header, str]] = []
    for header in headers:
        problem = header_name_problem(header.name)
        if problem is not None:
            dropped.append((header, f"invalid header name: {problem}"))
        elif not header.value:
            dropped.append((header, "empty value"))
        else:
            sent.append(header)

    part = _header_part(sent)
    while len(part) >= HEADER_PART_LIMIT:
        droppable = [i for i, h in enumerate(sent) if not _is_protected(h)]
        if not droppable:
            raise SipUriError(
                f"The SIP headers are {len(part)} characters long even with only "
                f"{' and '.join(PROTECTED)}; Twilio allows at most {HEADER_PART_LIMIT - 1}."
            )
        # Lowest rank first; within a rank, the last one first.
        victim = min(droppable, key=lambda i: (_drop_rank(sent[i]), -i))
        header = sent.pop(victim)
        dropped.append(
            (
                header,
                f"dropped to fit Twilio's header limit (header part was {len(part)} "
                f"characters, limit {HEADER_PART_LIMIT - 1})",
            )
        )
        part = _header_part(sent)

    uri = f"{base}?{part}" if part else base
    return DialUri(uri=uri, sent=sent, dropped=dropped)
