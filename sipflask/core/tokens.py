"""Tokens: ``[name]`` placeholders in a buyer's Number and SIP header values.

Grammar (SPEC "Tokens")::

    token       = "[" alternative *( *" " "|" *" " alternative ) "]"
    alternative = name / literal
    name        = 1*( %x61-7A / DIGIT / "_" )      ; [a-z0-9_]+
    literal     = DQUOTE *( any char except DQUOTE ) DQUOTE

A token expands to its first non-empty alternative: a name looks up the call's
values (missing means empty), a quoted literal is itself. Any ``[`` that does
not start a valid token is plain text -- this matters for SIP URIs, where
``sip:q@[2001:db8::1]`` is an IPv6 host, not a token.

Expansion is a single pass over the *template*: a substituted value is never
scanned again, so a value such as ``"[call_key]"`` cannot pull in another
value. Each substituted value goes through ``escape`` (percent-encoding for
SIP, digits-only for phone numbers); the template's own text does not, because
the user typed it and the form validated it.

This module is pure: no Flask, no database.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping

__all__ = [
    "BUILTIN_TOKENS",
    "tokens_used",
    "expand",
    "pieces",
    "problems",
    "unknown_tokens",
]

#: Built-in token names, in SPEC order.
BUILTIN_TOKENS: tuple[str, ...] = (
    "call_uuid",
    "call_key",
    "campaign_id",
    "campaign_name",
    "buyer_id",
    "publisher_id",
    "afid",
    "sub_id",
    "caller_number",
    "called_number",
    "caller_state",
    "caller_zip",
    "caller_city",
    "caller_country",
)

_NAME = r"[a-z0-9_]+"
_LITERAL = r'"[^"]*"'
_ALT = rf"(?:{_NAME}|{_LITERAL})"
# Only plain spaces around "|" (not tabs/newlines): the grammar is for a
# one-line form field and anything looser would swallow real text.
_TOKEN_RE = re.compile(rf"\[{_ALT}(?: *\| *{_ALT})*\]")
# One alternative inside a matched token, used to split it reliably even when
# a literal contains "|" or spaces.
_ALT_RE = re.compile(rf"({_NAME})|\"([^\"]*)\"")
_NAME_RE = re.compile(rf"{_NAME}\Z")


def _alternatives(token: str) -> list[tuple[str, str]]:
    """Split a matched token into ``("name", x)`` / ``("literal", x)`` parts."""
    out: list[tuple[str, str]] = []
    for m in _ALT_RE.finditer(token, 1, len(token) - 1):
        if m.group(1) is not None:
            out.append(("name", m.group(1)))
        else:
            out.append(("literal", m.group(2)))
    return out


def tokens_used(text: str) -> list[str]:
    """Names used by the tokens in ``text``, first-seen order, no repeats.

    Every alternative counts (``[a|b]`` uses ``a`` and ``b``); quoted literals
    are not names and are left out.
    """
    seen: dict[str, None] = {}
    for m in _TOKEN_RE.finditer(text):
        for kind, value in _alternatives(m.group(0)):
            if kind == "name":
                seen.setdefault(value, None)
    return list(seen)


def expand(
    text: str,
    values: Mapping[str, str],
    escape: Callable[[str], str] = lambda s: s,
) -> str:
    """Replace each token in ``text`` by its first non-empty alternative.

    ``escape`` is applied to every substituted value (names and literals
    alike, so a literal fallback lands exactly like a real value would) and
    never to the text around tokens. A token whose alternatives are all empty
    becomes the empty string.
    """

    def substitute(m: re.Match[str]) -> str:
        for kind, value in _alternatives(m.group(0)):
            chosen = value if kind == "literal" else (values.get(value) or "")
            if chosen:
                return escape(str(chosen))
        return ""

    return _TOKEN_RE.sub(substitute, text)


def pieces(text: str) -> list[tuple[bool, str]]:
    """``text`` cut into ``(is_token, text)`` parts, in order, so that a caller can escape
    each token for the place it stands in (a URL's path or query, a JSON string)."""
    out: list[tuple[bool, str]] = []
    pos = 0
    for m in _TOKEN_RE.finditer(text):
        if m.start() > pos:
            out.append((False, text[pos:m.start()]))
        out.append((True, m.group(0)))
        pos = m.end()
    if pos < len(text):
        out.append((False, text[pos:]))
    return out


def _looks_like_address(content: str) -> bool:
    """True for ``[IPv6]`` / ``[IPv4]`` hosts, which are not meant as tokens."""
    try:
        ipaddress.ip_address(content)
    except ValueError:
        return False
    return True


def _split_alternatives(content: str) -> list[str]:
    """Split on ``|`` outside double quotes, to point at the bad alternative."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in content:
        if ch == '"':
            quoted = not quoted
        if ch == "|" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _diagnose(content: str) -> str:
    """Say why ``[content]`` is not a valid token (content has no ``[``/``]``)."""
    if not content.strip():
        return "a token needs a name inside the brackets"
    if content.count('"') % 2:
        return 'a quoted fallback is missing its closing "'
    for part in _split_alternatives(content):
        alt = part.strip(" ")
        if not alt:
            return "a fallback alternative is empty (write [a|b], not [a||b])"
        if alt.startswith('"'):
            if not re.fullmatch(_LITERAL, alt):
                return f"{alt} mixes quoted text and a name; put a | between them"
            continue
        if not _NAME_RE.match(alt):
            suggestion = re.sub(r"[^a-z0-9_]+", "_", alt.lower()).strip("_")
            hint = f" (did you mean [{suggestion}]?)" if suggestion else ""
            return (
                f'"{alt}" is not a valid token name: names use lowercase letters, '
                f"digits and _{hint}"
            )
    if content != content.strip(" "):
        return "no spaces inside the brackets, except around |"
    return "spaces are only allowed around |"


def problems(text: str) -> list[str]:
    """Human-readable token syntax problems in ``text`` (empty list if none).

    This is advice for the buyer form: expansion itself never fails, it treats
    such brackets as literal text. Flagged:

    * a ``[...]`` group that is not a valid token, e.g. ``[Campaign ID]``
      (except IPv6/IPv4 literals like ``[2001:db8::1]``, which are SIP hosts);
    * a ``[`` with no ``]`` after it (an unclosed token).
    """
    found: list[str] = []
    valid_spans = [m.span() for m in _TOKEN_RE.finditer(text)]

    def inside_valid(pos: int) -> bool:
        return any(start <= pos < end for start, end in valid_spans)

    for m in re.finditer(r"\[([^\[\]\r\n]*)\]", text):
        if inside_valid(m.start()):
            continue
        content = m.group(1)
        if _looks_like_address(content):
            continue
        found.append(f"{m.group(0)}: {_diagnose(content)}")

    for m in re.finditer(r"\[", text):
        pos = m.start()
        if inside_valid(pos):
            continue
        if "]" not in text[pos + 1 :]:
            found.append(f"the [ at position {pos + 1} is never closed with ]")
    return found


def unknown_tokens(text: str, known: Iterable[str]) -> list[str]:
    """Names used in ``text`` that are neither built in nor in ``known``.

    ``known`` is typically the tag keys seen on the campaign. The form shows
    the result as a warning, not an error: a tag may simply not have been
    seen yet.
    """
    allowed = set(BUILTIN_TOKENS) | set(known)
    return [name for name in tokens_used(text) if name not in allowed]
