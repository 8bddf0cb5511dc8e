"""SIP headers for a buyer's dial URI: name rules, percent-encoding, merging and the URI.

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
* Twilio asks for more than RFC 3261 needs (SPEC "Tokens"): header values
  keep only ``A-Z a-z 0-9 - . _ ~``; the user part keeps those, ``!*'()``
  and a leading ``+``. ``urllib.parse.urlencode``/``quote_plus`` would turn
  spaces into ``+``, and ``parse_qsl`` turns ``+`` back into a space: wrong
  for SIP, so they are never used here.

Headers are merged by source (defaults, plugins, buyer) and dropped, with a
recorded reason, when Twilio's 1024-character header limit is exceeded.

This module is pure: no Flask, no database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sipflask.core.sip import URI_LIMIT, SipUriError, parse_sip_uri

__all__ = [
    "STANDARD_HEADERS",
    "header_name_problem",
    "duplicate_header_names",
    "pct_encode_user",
    "pct_encode_hvalue",
    "HEADER_PART_LIMIT",
    "Header",
    "PROTECTED",
    "merge_headers",
    "DialUri",
    "build_dial_uri",
]

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

# Twilio asks for "any non-alphanumeric characters in the header values" to be escaped (else it
# may drop the header: warnings 32110/32112), stricter than RFC 3261: header values keep only the
# RFC 3986 unreserved set. The user part also keeps the marks, and "+" only first (E.164, see
# pct_encode_user); ; ? & = : @ would start a parameter, headers, a login or a new host.
_HVALUE_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_USER_SAFE = _HVALUE_SAFE | frozenset("!*'()")


def _pct_encode(value: str, safe: frozenset[str]) -> str:
    # UTF-8 then %XX (upper-case hex). A lone surrogate has no UTF-8 form; guessing a
    # replacement would send a different value, so it is refused (SipUriError is a ValueError).
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

    Keeps ``A-Za-z0-9-._~!*'()`` and a leading ``+`` (E.164 numbers), so a value
    can never add a parameter, a header, a password or a host; any other ``+``
    becomes ``%2B``. :func:`build_dial_uri` then encodes a ``+`` that is not the
    first character of the user part (a value placed after fixed text).
    """
    if value.startswith("+"):
        return "+" + _pct_encode(value[1:], _USER_SAFE)
    return _pct_encode(value, _USER_SAFE)


def pct_encode_hvalue(value: str) -> str:
    """Percent-encode a SIP header value for the ``?name=value&...`` part.

    Keeps ``A-Za-z0-9-._~`` only, as Twilio asks; everything else (``+``,
    ``:``, space, ``&``, ``=``, ``?``, ``%``, ``;``, ``@``, quotes, CR, LF,
    non-ASCII as UTF-8) becomes ``%XX``. Decode with ``urllib.parse.unquote``
    (not ``unquote_plus``, which would read a literal ``+`` as a space).
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


def _plus_only_leading(base: str) -> str:
    # "+" stays only as the user part's first character (SPEC "Tokens"); "%2B" is the same
    # character to any SIP parser: "sip:q-+1415...@h" still reaches the same user.
    scheme, colon, rest = base.partition(":")
    user, at, host = rest.partition("@")
    if not colon or not at or "+" not in user[1:]:
        return base
    return f"{scheme}:{user[:1]}{user[1:].replace('+', '%2B')}@{host}"


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
    base = _plus_only_leading((base or "").strip())
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
