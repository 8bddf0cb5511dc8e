"""The rules for a webhook record, shared by the webhook editor and JSON import: the events and
the tokens each one has, and ``check_webhook``, which returns a ``Report`` and the cleaned record.

A record in the import/export shape::

    {"ref", "name", "event", "url", "method": "GET"|"POST", "body_format": "json"|"form"|"",
     "body", "headers": [{"name", "value", "secret": false}], "include_key": false,
     "filters": {"campaign", "publisher", "buyer" (refs), "tag_key", "tag_value"},
     "enabled": true, "signing_secret": "" (write-only: empty keeps the stored one)}

Rendering (each token escaped for its place) is :mod:`sipflask.core.webhook_render`; its names
and the events' (:mod:`sipflask.core.webhook_events`) are re-exported here. Pure: no Flask, no
database.
"""
from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlsplit

from sipflask.core import tokens
from sipflask.core.validation import (CONTROL_RE, TAG_KEY_RE, Report, check_keys, check_ref,
                                      check_text, text_problem)
from sipflask.core.webhook_events import (ALL_FILTERS, COMMON_TOKENS, EVENT_FILTERS,  # noqa: F401
                                          EVENT_ONLY_TOKENS, EVENT_TOKENS, EVENTS, sample_values)
from sipflask.core.webhook_render import (HeaderSpec, Rendered, WebhookSpec, render,  # noqa: F401
                                          render_json, url_places)

METHODS = ("GET", "POST")
BODY_FORMATS = ("json", "form", "")
RECORD_KEYS = ("id", "ref", "name", "event", "url", "method", "body_format", "body", "headers",
               "include_key", "filters", "enabled", "signing_secret")
FILTER_KEYS = ("campaign", "publisher", "buyer", "tag_key", "tag_value")
HEADER_KEYS = ("name", "value", "secret")
MAX_HEADERS = 20
MAX_BODY = 65536
# Set by sipflask (or by HTTP itself) on every request: a header row can't replace them.
RESERVED_HEADERS = ("host", "content-length", "content-type", "transfer-encoding", "connection",
                    "keep-alive", "te", "trailer", "upgrade", "expect", "proxy-authorization",
                    "proxy-connection")
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}\Z")
_URL_TEXT_RE = re.compile(r"[\x21-\x7e]*\Z")  # visible ASCII: no spaces, nothing invisible
_FORM_RE = re.compile(r"[A-Za-z0-9*\-._~%+=&]*\Z")
_HOST_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+\Z|\[[0-9A-Fa-f:.]+\]\Z")
KEY_WARNING = ("The call's secret key will be sent: whoever receives it can report conversions "
               "(postbacks) for the call. Send it only to a server you trust.")


def _token_checks(report: Report, path: str, text: str, event: str, known: Iterable[str],
                  include_key: bool) -> None:
    for problem in tokens.problems(text):
        report.error(path, problem)
    used = tokens.tokens_used(text)
    if "call_key" in used and not include_key:
        report.error(path, "[call_key] is the call's secret key: tick \"include the secret key\" "
                           "to send it, or remove it.")
    allowed = set(tokens.BUILTIN_TOKENS) | set(COMMON_TOKENS) | set(EVENT_ONLY_TOKENS)
    unknown = [n for n in used if n not in allowed and n not in set(known)]
    if unknown:
        names = ", ".join(f"[{n}]" for n in unknown)
        report.warn(path, f"Unknown token{'s' if len(unknown) > 1 else ''} {names}: empty unless "
                          "the call has a tag of that name.")
    mine = set(EVENT_TOKENS.get(event, ())) | set(tokens.BUILTIN_TOKENS) | set(COMMON_TOKENS)
    for name in used:
        if name in EVENT_ONLY_TOKENS and name not in mine:
            where = ", ".join(e for e, ts in EVENT_TOKENS.items() if name in ts)
            report.warn(path, f"[{name}] is always empty for {event}; it is set for {where}.")


def _check_url(report: Report, rec: dict, event: str, known, include_key: bool) -> str:
    url = check_text(report, rec, "url", max_len=2048, label="URL")
    if not url or report.errors.get("url"):
        return url
    if not _URL_TEXT_RE.match(url):
        report.error("url", "The URL must be visible ASCII without spaces: percent-encode "
                            "anything else (tokens are encoded for you).")
        return url
    if not re.match(r"https?://", url, re.IGNORECASE):
        report.error("url", "The URL must start with http:// or https://.")
        return url
    _token_checks(report, "url", url, event, known, include_key)
    for place, text in url_places(url):
        if place in ("host", "fragment"):
            report.error("url", f"{text} can't be used in the URL's "
                                f"{'scheme or host' if place == 'host' else 'fragment'}: a "
                                "call's values may only go in the path and the query.")
    if report.errors.get("url"):
        return url
    sample = tokens.expand(url, sample_values(event))
    parts = urlsplit(sample)
    try:
        parts.port
    except ValueError:
        report.error("url", "The URL's port must be a number from 1 to 65535.")
        return url
    if "@" in parts.netloc:
        report.error("url", "No user name or password in the URL: send credentials in a "
                            "secret header (e.g. Authorization).")
    elif not parts.hostname or not _HOST_RE.match(parts.netloc.rsplit(":", 1)[0]
                                                   if not parts.netloc.endswith("]")
                                                   else parts.netloc):
        report.error("url", "The URL needs a valid host name or IP address after //.")
    elif parts.fragment or "#" in url:
        report.error("url", "Remove the #fragment: it is never sent to the server.")
    return url


def _check_body(report: Report, rec: dict, method: str, event: str, known,
                include_key: bool) -> tuple[str, str]:
    fmt = rec.get("body_format", "json" if method == "POST" else "")
    fmt = "" if fmt is None else fmt
    body = rec.get("body", "") or ""
    if not isinstance(fmt, str) or fmt not in BODY_FORMATS:
        report.error("body_format", "Body format must be json, form or empty.")
        return "", ""
    if not isinstance(body, str):
        report.error("body", "Body must be text.")
        return fmt, ""
    if method == "GET" and (fmt or body.strip()):
        if body.strip():
            report.error("body", "A GET request has no body: clear it, or use POST.")
        return "", ""
    if not body.strip():
        return fmt, ""
    if not fmt:
        report.error("body_format", "Choose json or form for the body.")
        return fmt, body
    if len(body) > MAX_BODY:
        report.error("body", f"The body must be at most {MAX_BODY} characters.")
    elif problem := text_problem(body, allow="\n\r\t"):
        report.error("body", f"The body {problem}.")
    else:
        _token_checks(report, "body", body, event, known, include_key)
    if report.errors.get("body"):
        return fmt, body
    if fmt == "json":
        # A token outside a JSON string becomes a number, null or a string: all must fit.
        for sample in ("x", "", "1"):
            _, problems = render_json(body, {n: sample for n in tokens.tokens_used(body)})
            if problems:
                report.error("body", problems[0].replace(" with this call's values", "")
                             + " (tokens stand for JSON values outside quotes: numbers, null "
                               "or strings)")
                break
    else:
        sample = tokens.expand(body, {n: "x" for n in tokens.tokens_used(body)})
        try:
            ok = _FORM_RE.match(sample) and parse_qsl(sample, strict_parsing=True)
        except ValueError:
            ok = False
        if not ok:
            report.error("body", "A form body is name=value pairs joined by &, percent-encoded "
                                 "(token values are encoded for you), e.g. "
                                 "caller=[caller_number]&campaign=[campaign_id].")
    return fmt, body


def _check_header_row(report: Report, here: str, row: Any, event, known, include_key):
    if not isinstance(row, dict):
        report.error(here, "Each header must be an object with a name and a value.")
        return None
    check_keys(report, row, HEADER_KEYS, here)
    name, value, secret = row.get("name", ""), row.get("value", ""), row.get("secret", False)
    if not isinstance(name, str) or not _HEADER_NAME_RE.match(name.strip()):
        report.error(f"{here}.name", "Header name must be 1-128 letters, digits or "
                                     "!#$%&'*+-.^_`|~ (no spaces or colons).")
        return None
    name = name.strip()
    if name.lower() in RESERVED_HEADERS or name.lower().startswith("x-sipflask-"):
        report.error(f"{here}.name", f"{name} is set by sipflask (or by HTTP itself) and can't "
                                     "be replaced.")
    if not isinstance(secret, bool):
        report.error(f"{here}.secret", "Secret must be true or false.")
        secret = False
    if value is None:
        value = ""
    if not isinstance(value, str):
        report.error(f"{here}.value", "Header value must be text.")
        return None
    if CONTROL_RE.search(value) or len(value) > 1024:
        report.error(f"{here}.value", "Header value must be one line of at most 1024 "
                                      "characters.")
    elif problem := text_problem(value):
        report.error(f"{here}.value", f"Header value {problem}.")
    elif not secret:
        _token_checks(report, f"{here}.value", value, event, known, include_key)
    return HeaderSpec(name, value, secret)


def _check_headers(report: Report, rows: Any, event, known, include_key) -> list[HeaderSpec]:
    if rows in (None, ""):
        return []
    if not isinstance(rows, list):
        report.error("headers", "Headers must be a list of {name, value} rows.")
        return []
    if len(rows) > MAX_HEADERS:
        report.error("headers", f"At most {MAX_HEADERS} headers.")
    out: list[HeaderSpec] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        header = _check_header_row(report, f"headers[{i}]", row, event, known, include_key)
        if header is None:
            continue
        low = header.name.lower()
        if low in seen:
            report.error(f"headers[{i}].name", f"{header.name} is already set in row "
                                               f"{seen[low] + 1}; header names must be unique.")
        seen.setdefault(low, i)
        out.append(header)
    return out


def _check_filters(report: Report, filters: Any, event: str) -> dict:
    clean = {"campaign": None, "publisher": None, "buyer": None, "tag_key": "", "tag_value": ""}
    if filters in (None, ""):
        return clean
    if not isinstance(filters, dict):
        report.error("filters", "Filters must be an object.")
        return clean
    check_keys(report, filters, FILTER_KEYS, "filters")
    for key in ("campaign", "publisher", "buyer"):
        value = filters.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            report.error(f"filters.{key}", f"The {key} filter must be a {key}'s ref.")
        elif key not in EVENT_FILTERS.get(event, ALL_FILTERS):
            report.error(f"filters.{key}", f"{event} has no {key}: this filter would never "
                                           "match.")
        else:
            clean[key] = value
    key, value = filters.get("tag_key") or "", filters.get("tag_value") or ""
    if not isinstance(key, str) or (key and not TAG_KEY_RE.match(key)):
        report.error("filters.tag_key", "Tag name: 1-64 lowercase letters, digits or _.")
    elif not isinstance(value, str) or len(value) > 500 or CONTROL_RE.search(value):
        report.error("filters.tag_value", "Tag value must be one line of at most 500 "
                                          "characters.")
    elif bool(key) != bool(value):
        report.error("filters.tag_value" if key else "filters.tag_key",
                     "Give both the tag's name and the value it must have, or neither.")
    else:
        clean["tag_key"], clean["tag_value"] = key, value
    return clean


def _flag(report: Report, rec: dict, key: str, default: bool, label: str) -> bool:
    value = rec.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        report.error(key, f"{label} must be true or false.")
        return default
    return value


def check_webhook(rec: dict, *, known_tokens: Iterable[str] = ()) -> tuple[Report, dict]:
    """Check a webhook record; returns the report and the cleaned record (``headers`` as
    ``HeaderSpec`` rows; ``signing_secret`` None when the stored one is kept)."""
    report, clean = Report(), {}
    clean["ref"] = check_ref(report, rec)
    clean["name"] = check_text(report, rec, "name")
    event = rec.get("event")
    if event not in EVENTS:
        report.error("event", "Event must be one of " + ", ".join(EVENTS) + ".")
    clean["event"] = event if event in EVENTS else ""
    clean["include_key"] = include_key = _flag(report, rec, "include_key", False,
                                               "Include the secret key")
    clean["enabled"] = _flag(report, rec, "enabled", True, "Enabled")
    clean["url"] = _check_url(report, rec, clean["event"], known_tokens, include_key)
    method = rec.get("method", "POST")
    method = method.upper() if isinstance(method, str) else method
    if method not in METHODS:
        report.error("method", "Method must be GET or POST.")
        method = "POST"
    clean["method"] = method
    clean["body_format"], clean["body"] = _check_body(report, rec, method, clean["event"],
                                                      known_tokens, include_key)
    clean["headers"] = _check_headers(report, rec.get("headers"), clean["event"], known_tokens,
                                      include_key)
    clean["filters"] = _check_filters(report, rec.get("filters"), clean["event"])
    secret = rec.get("signing_secret")
    if secret not in (None, "") and (not isinstance(secret, str) or not 16 <= len(secret) <= 200
                                     or not _URL_TEXT_RE.match(secret)):
        report.error("signing_secret", "The signing secret must be 16-200 visible ASCII "
                                       "characters, no spaces.")
    clean["signing_secret"] = secret or None
    if include_key:
        report.warn("include_key", KEY_WARNING)
    return report, clean
