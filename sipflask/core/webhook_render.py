"""A webhook's request for one event: its templates with every token escaped for its place.

A token's value is data, never syntax, wherever it lands:

- in the URL's path, percent-encoded as one segment (RFC 3986: everything but the unreserved
  ``A-Z a-z 0-9 - . _ ~``), so a ``/`` in a value stays inside its segment;
- in the URL's query, percent-encoded the same way, so ``&``, ``=``, ``#`` and ``+`` can never
  add a parameter or end the query. Tokens in the scheme or host are refused, so a value can
  never change where the request goes;
- in a JSON body, inside a string literal: JSON-escaped; outside one: a number when it is one
  (``-12.5``), ``null`` when empty, else a JSON string; the result is parsed again before it
  is sent;
- in a form body: form-encoded (``application/x-www-form-urlencoded``);
- in a header value: as is, but a value holding CR, LF or another control character is
  refused: it could add a header or end the request.

The template's own text is not escaped: the user typed it and ``webhook_rules`` checked it.
``[call_key]`` is empty unless the webhook may send it. Pure: no Flask, no database.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import quote, quote_plus

from sipflask.core import tokens

__all__ = ["HeaderSpec", "WebhookSpec", "Rendered", "render", "url_places", "MAX_URL",
           "JSON_TYPE", "FORM_TYPE"]

MAX_URL = 8192  # after expansion; most servers refuse longer request lines anyway
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]{0,20})(?:\.[0-9]{1,20})?\Z")
_HEADER_BAD_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # controls but HTAB


@dataclass(frozen=True)
class HeaderSpec:
    name: str
    value: str
    secret: bool = False  # sent exactly as typed: no tokens


@dataclass(frozen=True)
class WebhookSpec:
    url: str
    method: str = "POST"
    body_format: str = "json"  # "json", "form" or "" (no body)
    body: str = ""
    headers: tuple[HeaderSpec, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Rendered:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]  # the webhook's own, then Content-Type
    body: bytes


def _value(token: str, values: Mapping[str, str]) -> str:
    """The token's value, unescaped (its first non-empty alternative)."""
    return tokens.expand(token, values)


def url_places(template: str) -> list[tuple[str, str]]:
    """Each piece of a URL template with where it stands: ``fixed`` text, or a token in the
    ``host`` (scheme, userinfo, host, port), ``path``, ``query`` or ``fragment``."""
    parts = tokens.pieces(template)
    # Tokens as one character no fixed text can hold, so the URL's syntax is read from the
    # fixed text alone.
    skeleton = "".join("\x00" if is_token else text for is_token, text in parts)
    scheme = skeleton.find("://")
    start = scheme + 3 if scheme >= 0 else 0
    host_end = min([i for i in (skeleton.find(c, start) for c in "/?#") if i >= 0],
                   default=len(skeleton))
    fragment = skeleton.find("#", host_end)
    query = skeleton.find("?", host_end)
    out, pos = [], 0
    for is_token, text in parts:
        if not is_token:
            out.append(("fixed", text))
        elif pos < host_end:
            out.append(("host", text))
        elif 0 <= fragment < pos:
            out.append(("fragment", text))
        elif 0 <= query < pos:
            out.append(("query", text))
        else:
            out.append(("path", text))
        pos += 1 if is_token else len(text)
    return out


def render_url(template: str, values: Mapping[str, str]) -> tuple[str, list[str]]:
    """The URL with each token percent-encoded for its place; errors for tokens in the host."""
    out: list[str] = []
    errors: list[str] = []
    for place, text in url_places(template):
        if place == "fixed":
            out.append(text)
        elif place in ("host", "fragment"):
            where = "scheme or host" if place == "host" else "fragment"
            errors.append(f"{text} can't be used in the URL's {where}.")
        else:
            out.append(quote(_value(text, values), safe=""))
    url = "".join(out)
    if len(url) > MAX_URL:
        errors.append(f"The URL is longer than {MAX_URL} characters with this call's values.")
    return url, errors


def _json_token(value: str, in_string: bool) -> str:
    if in_string:
        return json.dumps(value, ensure_ascii=False)[1:-1]
    if not value:
        return "null"
    if _NUMBER_RE.match(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _string_state(text: str, in_string: bool, escaped: bool) -> tuple[bool, bool]:
    """Follow JSON string literals through fixed text: inside a string or not afterwards."""
    for ch in text:
        if escaped:
            escaped = False
        elif in_string and ch == "\\":
            escaped = True
        elif ch == '"':
            in_string = not in_string
    return in_string, escaped


def render_json(template: str, values: Mapping[str, str]) -> tuple[str, list[str]]:
    out: list[str] = []
    in_string = escaped = False
    for is_token, text in tokens.pieces(template):
        if is_token:
            out.append(_json_token(_value(text, values), in_string))
        else:
            out.append(text)
            in_string, escaped = _string_state(text, in_string, escaped)
    body = "".join(out)
    try:
        json.loads(body) if body.strip() else None
    except ValueError as exc:
        return body, [f"The JSON body is not valid JSON with this call's values: {exc}."]
    return body, []


def render_form(template: str, values: Mapping[str, str]) -> str:
    return tokens.expand(template, values, escape=lambda v: quote_plus(v, safe=""))


def render_header(header: HeaderSpec, values: Mapping[str, str]) -> tuple[str, list[str]]:
    value = header.value if header.secret else tokens.expand(header.value, values)
    if _HEADER_BAD_RE.search(value):
        what = "its value" if header.secret else "this call's values"
        return "", [f"Header {header.name}: {what} would hold a line break or control "
                    "character, which could add a header or end the request; not sent."]
    return value, []


def render(spec: WebhookSpec, values: Mapping[str, str], include_key: bool
           ) -> Rendered | list[str]:
    """The request for ``spec`` with the call's token ``values``, or why it can't be sent."""
    values = dict(values)
    if not include_key:
        values["call_key"] = ""
    url, errors = render_url(spec.url, values)
    headers: list[tuple[str, str]] = []
    for header in spec.headers:
        value, problems = render_header(header, values)
        errors += problems
        headers.append((header.name, value))
    body = b""
    if spec.method == "POST" and spec.body_format == "json":
        text, problems = render_json(spec.body, values)
        errors += problems
        body = text.encode("utf-8")
        headers.append(("Content-Type", JSON_TYPE))
    elif spec.method == "POST" and spec.body_format == "form":
        body = render_form(spec.body, values).encode("ascii")
        headers.append(("Content-Type", FORM_TYPE))
    if errors:
        return errors
    return Rendered(spec.method, url, tuple(headers), body)
