"""The pure webhook rules: the record's checks, each token escaped for its place (with property
tests: hostile values never change the URL's host, path segments or query keys, never break
the JSON or the form body, never add a header), the signature, the retry schedule and
Retry-After, and which addresses a request may go to."""
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipflask.core import webhook_delivery as wd
from sipflask.core.webhook_rules import (EVENT_TOKENS, EVENTS, HeaderSpec, Rendered, WebhookSpec,
                                         check_webhook, render, sample_values)

BASE = {"ref": "crm", "name": "CRM", "event": "call.completed",
        "url": "https://crm.example.com/hooks/[call_uuid]?d=[duration]", "method": "POST",
        "body": '{"uuid": "[call_uuid]", "duration": [duration]}'}


def check(**changes):
    return check_webhook({**BASE, **changes})


def test_events_in_the_issues_order_and_their_tokens():
    assert EVENTS == ("call.started", "call.routed", "call.answered", "call.completed",
                      "call.no_buyer", "call.converted", "call.rejected")
    assert set(EVENT_TOKENS) == set(EVENTS)
    assert {"buyer_id", "buyer_name", "duration", "sip_code", "dial_status"} <= set(
        EVENT_TOKENS["call.completed"])
    assert "revenue" in EVENT_TOKENS["call.converted"]


def test_a_good_record_is_clean():
    report, clean = check()
    assert report.ok and not report.warnings, report
    assert clean["method"] == "POST" and clean["body_format"] == "json"
    assert clean["enabled"] is True and clean["include_key"] is False
    assert clean["signing_secret"] is None


@pytest.mark.parametrize("url, message", [
    ("ftp://x.example.com/", "http:// or https://"),
    ("https://[caller_city].example.com/", "scheme or host"),
    ("https://x.example.com:[sub_id]/", "scheme or host"),
    ("[campaign_name]://x.example.com/", "http:// or https://"),
    ("https://x.example.com/a#[call_uuid]", "fragment"),
    ("https://user:pw@x.example.com/", "secret header"),
    ("https://x.example.com/a b", "without spaces"),
    ("https://x.example.com:99999/", "port"),
    ("https:///path", "host"),
    ("https://x.example.com/[CallID]", "not a valid token name"),
    ("", "required"),
])
def test_bad_urls_are_refused_where_they_were_typed(url, message):
    report, _ = check(url=url)
    assert any(message in m for m in report.errors.get("url", [])), report.errors


def test_call_key_needs_the_tick_and_warns_with_it():
    report, _ = check(url="https://x.example.com/[call_key]")
    assert "include the secret key" in report.errors["url"][0]
    report, clean = check(url="https://x.example.com/[call_key]", include_key=True)
    assert report.ok and "conversions" in report.warnings["include_key"][0]


def test_tokens_an_event_never_has_are_a_warning():
    report, _ = check(event="call.started", url="https://x.example.com/?r=[revenue]")
    assert report.ok and "call.converted" in report.warnings["url"][0]


@pytest.mark.parametrize("changes, path, message", [
    ({"method": "GET"}, "body", "GET request has no body"),
    ({"method": "PUT"}, "method", "GET or POST"),
    ({"body_format": "xml"}, "body_format", "json, form"),
    ({"body": "{[call_uuid]: 1}"}, "body", "not valid JSON"),
    ({"body": '{"a": 1'}, "body", "not valid JSON"),
    ({"body_format": "form", "body": "a=[call_uuid]&b c"}, "body", "name=value"),
    ({"headers": [{"name": "Host", "value": "x"}]}, "headers[0].name", "set by sipflask"),
    ({"headers": [{"name": "X-Sipflask-Event", "value": "x"}]}, "headers[0].name", "set by"),
    ({"headers": [{"name": "Bad Name", "value": "x"}]}, "headers[0].name", "Header name"),
    ({"headers": [{"name": "X-A", "value": "a\r\nB: c"}]}, "headers[0].value", "one line"),
    ({"headers": [{"name": "X-A", "value": "1"}, {"name": "x-a", "value": "2"}]},
     "headers[1].name", "unique"),
    ({"headers": [{"name": "X-A", "value": "1", "secret": "yes"}]}, "headers[0].secret",
     "true or false"),
    ({"filters": {"buyer": "b1"}, "event": "call.started"}, "filters.buyer", "never match"),
    ({"filters": {"campaign": "auto"}, "event": "call.rejected"}, "filters.campaign",
     "never match"),
    ({"filters": {"tag_key": "vertical"}}, "filters.tag_value", "both"),
    ({"filters": {"tag_key": "Bad Key", "tag_value": "x"}}, "filters.tag_key", "Tag name"),
    ({"filters": {"campagin": "auto"}}, "filters.campagin", "did you mean campaign"),
    ({"event": "call.exploded"}, "event", "Event must be one of"),
    ({"signing_secret": "short"}, "signing_secret", "16-200"),
    ({"enabled": "yes"}, "enabled", "true or false"),
    ({"ref": "Bad Ref"}, "ref", "Ref must be"),
])
def test_bad_fields_are_refused_at_their_path(changes, path, message):
    report, _ = check(**changes)
    assert any(message in m for m in report.errors.get(path, [])), report.errors


def test_a_form_body_and_get_are_fine():
    report, clean = check(body_format="form", body="uuid=[call_uuid]&d=[duration]")
    assert report.ok, report.errors
    report, clean = check(method="get", body="")
    assert report.ok and clean["method"] == "GET" and clean["body_format"] == ""


def spec(url="https://crm.example.com/a/[tag]/b?x=[tag]&y=1", body="", fmt="json",
         headers=()):
    return WebhookSpec(url=url, method="POST", body_format=fmt, body=body, headers=headers)


def test_render_escapes_each_place():
    out = render(spec(body='{"s": "[tag] ok", "n": [n], "e": [e], "t": [tag]}',
                      headers=(HeaderSpec("X-T", "v=[tag]"),)),
                 {"tag": 'a/b?c&d=e#f"}', "n": "-12.5"}, False)
    assert isinstance(out, Rendered)
    assert out.url == ("https://crm.example.com/a/a%2Fb%3Fc%26d%3De%23f%22%7D/b"
                       "?x=a%2Fb%3Fc%26d%3De%23f%22%7D&y=1")
    assert json.loads(out.body) == {"s": 'a/b?c&d=e#f"} ok', "n": -12.5, "e": None,
                                    "t": 'a/b?c&d=e#f"}'}
    assert ("X-T", 'v=a/b?c&d=e#f"}') in out.headers
    assert ("Content-Type", "application/json") in out.headers


def test_render_refuses_a_header_a_value_would_split():
    out = render(spec(headers=(HeaderSpec("X-T", "[tag]"),)), {"tag": "x\r\nHost: evil"}, False)
    assert isinstance(out, list) and "X-T" in out[0] and "line break" in out[0]


def test_call_key_renders_only_when_allowed():
    s = spec(url="https://x.example.com/?k=[call_key]")
    assert render(s, {"call_key": "abc"}, False).url.endswith("?k=")
    assert render(s, {"call_key": "abc"}, True).url.endswith("?k=abc")


def test_secret_header_values_are_sent_as_typed():
    out = render(spec(headers=(HeaderSpec("Authorization", "Bearer [tag]", True),)),
                 {"tag": "x"}, False)
    assert ("Authorization", "Bearer [tag]") in out.headers


hostile = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["/", "../..", "?a=b", "&x=1", "#frag", "@evil.com", "http://evil.com/", "%2F", "a=b&c=d",
     "\\", " ", "+", "[call_key]", "//evil.com", "%00", "\r\n"])
TEMPLATES = [
    "https://crm.example.com/a/[tag]/b?x=[tag]&y=[other]",
    "https://crm.example.com/[tag][other]?[tag]=1",
    "http://10.0.0.1:8080/p/q-[tag].json?only=[other]&fixed=1",
    "https://crm.example.com/?x=[tag|\"none\"]",
]


def _shape(url: str, tokens_in_keys: bool):
    parts = urlsplit(url)
    keys = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    return (parts.scheme, parts.netloc, parts.path.count("/"), parts.fragment,
            None if tokens_in_keys else keys, len(keys))


@settings(max_examples=300, deadline=None)
@given(template=st.sampled_from(TEMPLATES), tag=hostile, other=hostile)
def test_hostile_values_never_change_host_segments_or_query_keys(template, tag, other):
    out = render(spec(url=template), {"tag": tag, "other": other}, False)
    sample = render(spec(url=template), {"tag": "v", "other": "w"}, False)
    in_keys = "?[tag]=" in template
    assert _shape(out.url, in_keys) == _shape(sample.url, in_keys)
    segments = urlsplit(out.url).path.split("/")
    if template.startswith("https://crm.example.com/a/"):
        assert unquote(segments[2]) == tag  # the whole value, in its one segment
    query = dict(parse_qsl(urlsplit(out.url).query, keep_blank_values=True))
    if "?x=[tag]&y=[other]" in template:
        assert query["x"] == tag and query["y"] == other


@settings(max_examples=200, deadline=None)
@given(tag=hostile, other=hostile)
def test_hostile_values_stay_values_in_json_and_form_bodies(tag, other):
    body = '{"in": "pre [tag] post", "out": [other], "list": [[tag], "[other]"]}'
    out = render(spec(body=body), {"tag": tag, "other": other}, False)
    doc = json.loads(out.body)
    assert set(doc) == {"in", "out", "list"} and doc["in"] == f"pre {tag} post"
    assert doc["out"] in (None, other) or doc["out"] == json.loads(other)
    assert doc["list"][1] == other
    form = render(spec(body="a=[tag]&b=[other]", fmt="form"), {"tag": tag, "other": other},
                  False)
    assert parse_qsl(form.body.decode(), keep_blank_values=True) == [("a", tag), ("b", other)]


@settings(max_examples=200, deadline=None)
@given(tag=hostile)
def test_header_values_never_carry_a_line_break(tag):
    out = render(spec(headers=(HeaderSpec("X-T", "v [tag]"),)), {"tag": tag}, False)
    controls = any((ord(c) < 32 and c != "\t") or c == "\x7f" for c in tag)
    assert isinstance(out, list) is controls
    if not controls:
        assert not any(c in v for _, v in out.headers for c in "\r\n")


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"a": 1}'
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1700000000." + body,
                        hashlib.sha256).hexdigest()
    assert wd.signature("s3cret-s3cret-s3cret", "1700000000", body) == f"sha256={expected}"


def test_retry_schedule_six_tries_over_about_an_hour():
    delays = [wd.retry_delay(n) for n in range(1, 6)]
    assert [d.total_seconds() / 60 for d in delays] == [2, 4, 8, 16, 32]
    assert timedelta(minutes=55) <= sum(delays, timedelta()) <= timedelta(minutes=70)
    assert wd.retry_delay(1, timedelta(minutes=10)) == timedelta(minutes=10)
    assert wd.retry_delay(3, timedelta(seconds=5)) == timedelta(minutes=8)
    assert wd.retry_delay(1, timedelta(days=3)) == timedelta(hours=1)


def test_retry_after_seconds_or_date():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert wd.parse_retry_after("120", now) == timedelta(seconds=120)
    assert wd.parse_retry_after("Thu, 01 Jan 2026 12:05:00 GMT", now) == timedelta(minutes=5)
    assert wd.parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == timedelta(0)
    assert wd.parse_retry_after("soon", now) is None and wd.parse_retry_after(None, now) is None


@pytest.mark.parametrize("status, error, tries, state, retry", [
    (200, "", 1, "delivered", False), (204, "", 6, "delivered", False),
    (500, "", 1, "pending", True), (503, "", 5, "pending", True), (429, "", 2, "pending", True),
    (500, "", 6, "failed", False), (None, "read timeout", 1, "pending", True),
    (None, "connection failed", 6, "failed", False),
    (404, "", 1, "failed", False), (400, "", 1, "failed", False), (301, "", 1, "failed", False),
])
def test_which_results_are_retried(status, error, tries, state, retry):
    result = wd.outcome(status, error, tries, 6)
    assert (result.state, result.retry) == (state, retry)


@pytest.mark.parametrize("address, refused_by_default, refused_with_setting", [
    ("93.184.216.34", False, False), ("2606:2800:220:1::1", False, False),
    ("127.0.0.1", True, False), ("::1", True, False), ("10.1.2.3", True, False),
    ("192.168.1.1", True, False), ("172.16.0.1", True, False), ("100.64.0.1", True, False),
    ("fd12::1", True, False), ("::ffff:127.0.0.1", True, False), ("::ffff:8.8.8.8", False, False),
    ("169.254.169.254", True, True), ("fd00:ec2::254", True, True), ("169.254.1.1", True, True),
    ("fe80::1", True, True), ("224.0.0.1", True, True), ("ff02::1", True, True),
    ("0.0.0.0", True, True), ("::", True, True), ("100.100.100.200", True, True),
])
def test_address_rules(address, refused_by_default, refused_with_setting):
    assert bool(wd.address_refusal(address)) is refused_by_default
    assert bool(wd.address_refusal(address, allow_private=True)) is refused_with_setting


def test_sample_values_cover_every_token():
    values = sample_values("call.converted")
    for tokens in EVENT_TOKENS.values():
        assert all(values.get(t) for t in tokens)
