"""The Reports page (/reports/): the range and grouping form, the table (sortable, totals, each
group a link to its calls), bad arguments shown at their fields, plain and htmx; the chart JSON
(/reports/charts.json); the overview's top half. SQLite and PostgreSQL."""
import hashlib
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sipflask.reports import query
from tests.support.html import HX
from tests.support.report_calls import call, day_of_calls

DAY = date(2026, 3, 10)
ON_DAY = {"range": "custom", "from": "2026-03-10", "to": "2026-03-10"}
STATIC = Path(__file__).resolve().parents[1] / "sipflask" / "static"


def at(hour, minute=0):
    return datetime(2026, 3, 10, hour, minute, tzinfo=timezone.utc)


@pytest.fixture
def calls_day(admin_client, demo):
    day_of_calls(admin_client, demo, at)
    return demo


def get(client, htmx=False, **args):
    response = client.get("/reports/", query_string=args, headers=HX if htmx else {})
    return response, response.get_data(as_text=True)


def table_rows(body):
    """{data-key: {metric: text}} of the report table, the totals under "totals"."""
    rows = {}
    for key, cells in re.findall(r'<tr data-key="([^"]*)">(.*?)</tr>', body, re.S):
        rows[key] = {m: re.sub(r"<[^>]+>", " ", v).split()[0] if v.strip() else ""
                     for m, v in re.findall(r'<td data-metric="(\w+)"[^>]*>(.*?)</td>', cells, re.S)}
    return rows


def field_error(body, name):
    match = re.search(rf'<div class="field has-error" id="field-{name}">.*?'
                      rf'<p class="error" id="err-{name}" role="alert">(.*?)</p>', body, re.S)
    return match and match.group(1)


# --- access and shape ---------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/reports/", "/reports/charts.json?chart=outcomes", "/live"])
def test_login_required(client, app, url):
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_page_plain_and_htmx(admin_client, calls_day):
    response, body = get(admin_client, **ON_DAY)
    assert response.status_code == 200 and "<html" in body
    assert '<a href="/reports/" aria-current="page">Reports</a>' in body
    assert 'src="/static/chart.umd.min.js"' in body and 'src="/static/reports.js"' in body
    # A plain GET form that htmx enhances: the form and report swap together, the URL is pushed.
    assert re.search(r'<form class="card report-form" method="get" action="/reports/"[^>]*'
                     r'hx-get="/reports/" hx-trigger="change, submit"\s+hx-target="#report-view" '
                     r'hx-swap="outerHTML" hx-push-url="true"', body)
    rows = table_rows(body)
    assert list(rows) == ["auto", "medicare", "", "totals"]
    assert rows["auto"] == {"calls": "4", "unique_callers": "2", "routed": "3", "connected": "2",
                            "connect_rate": "66.7%", "no_buyer": "1", "converted": "1",
                            "conversion_rate": "50.0%", "revenue": "12.50", "talk_seconds": "2m",
                            "avg_talk_seconds": "1m", "sip_codes": "480"}
    assert rows["totals"]["calls"] == "6" and rows["totals"]["no_buyer"] == "2"
    assert "paused <span class=\"muted\">×1</span>" in body  # the top skip reason
    assert 'title="Busy Here: the buyer is busy">486</code>' in body
    assert "2m 05s" in body  # talk time 125 s
    htmx_response, fragment = get(admin_client, htmx=True, **ON_DAY)
    assert htmx_response.status_code == 200 and "<html" not in fragment
    assert fragment.lstrip().startswith('<section id="report-view"')
    assert table_rows(fragment) == rows


def test_table_matches_the_json(admin_client, calls_day, app):
    with app.app_context():
        doc = query.report_json(query.build_report("campaign", DAY, DAY))
    rows = table_rows(get(admin_client, **ON_DAY)[1])
    for row in doc["rows"] + [dict(doc["totals"], key="totals")]:
        shown = rows[row["key"]]
        for metric in ("calls", "routed", "connected", "no_buyer", "converted", "revenue"):
            assert shown[metric] == str(row[metric]), (row["key"], metric)


def test_group_links_go_to_the_call_log(admin_client, calls_day, app):
    body = get(admin_client, **ON_DAY)[1]
    links = dict(re.findall(r'<tr data-key="([^"]*)">\s*<th scope="row"><a href="([^"]+)"', body))
    auto = parse_qs(urlsplit(links["auto"].replace("&amp;", "&")).query)
    assert auto["date_from"] == auto["date_to"] == ["2026-03-10"] and auto["campaign_id"]
    with app.app_context():
        report = query.build_report("campaign", DAY, DAY)
        expected = query.call_log_args(report, report.rows[0])
    assert links["auto"].replace("&amp;", "&") == "/calls/?" + "&".join(
        f"{k}={v}" for k, v in expected.items())
    assert links["totals"] == "/calls/?date_from=2026-03-10&amp;date_to=2026-03-10"
    # The call log link shows those calls.
    calls_page = admin_client.get(links["auto"].replace("&amp;", "&")).get_data(as_text=True)
    assert calls_page.count('<tr id="call-') == 4


@pytest.mark.parametrize("group", ["campaign", "publisher", "sub_id", "buyer", "number", "day",
                                   "state", "tag:caller_state"])
def test_each_group_link_lists_its_calls(admin_client, calls_day, group):
    body = get(admin_client, group=group, **ON_DAY)[1]
    rows = table_rows(body)
    links = dict(re.findall(r'<tr data-key="([^"]*)">\s*<th scope="row"><a href="([^"]+)"', body))
    # Rows the call log can't filter to ("No campaign", no sub_id, no state) have no link; nor
    # the buyer totals (calls on which any buyer was dialled).
    assert set(links) == {k for k in rows if k and not (group == "buyer" and k == "totals")}
    for key, href in links.items():
        listed = admin_client.get(href.replace("&amp;", "&")).get_data(as_text=True)
        total = re.search(r'<span class="muted">(\d+) calls?', listed)
        assert total and total.group(1) == rows[key]["calls"], (group, key, href)


def test_exports_and_charts_use_the_same_range(admin_client, calls_day):
    body = get(admin_client, group="buyer", **ON_DAY)[1]
    assert 'href="/reports.csv?group=buyer&amp;from=2026-03-10&amp;to=2026-03-10" download' in body
    assert 'href="/reports.json?group=buyer&amp;from=2026-03-10&amp;to=2026-03-10"' in body
    srcs = dict(re.findall(r'<canvas id="chart-(\w+)" data-chart="\w+" data-src="([^"]+)"', body))
    assert srcs["outcomes"] == "/reports/charts.json?chart=outcomes&amp;from=2026-03-10" \
                               "&amp;to=2026-03-10&amp;bucket=hour"
    assert set(srcs) == {"outcomes", "connect_rate", "revenue"}
    # Each chart names its text equivalent.
    assert body.count('-caption report-caption"') == 3 and 'id="report-caption"' in body


@pytest.mark.parametrize("group", [*query.GROUPS, "tag"])
def test_every_grouping(admin_client, calls_day, group):
    args = dict(ON_DAY, group=group, tag="caller_state" if group == "tag" else "")
    for htmx in (False, True):
        response, body = get(admin_client, htmx=htmx, **args)
        assert response.status_code == 200, body
        assert "totals" in table_rows(body)
    if group in ("state", "tag"):
        assert set(table_rows(body)) == {"CA", "NY", "", "totals"}
    if group == "day":
        assert list(table_rows(body)) == ["2026-03-10", "totals"]


def test_tag_group_also_as_group_tag_key(admin_client, calls_day):
    body = get(admin_client, group="tag:caller_state", **ON_DAY)[1]
    assert '<option value="tag" selected>Tag value</option>' in body
    assert 'name="tag" value="caller_state"' in body
    assert "caller_state" in re.search(r"<datalist.*?</datalist>", body, re.S).group(0) \
        or 'value="caller_state"' in body


# --- bad arguments ------------------------------------------------------------------------------

@pytest.mark.parametrize("args, field, message", [
    ({"range": "custom", "from": "garbage"}, "from", "Use a date like 2026-01-31."),
    ({"range": "custom", "from": "2026-03-10", "to": "2026-03-01"}, "to", "before the start"),
    ({"range": "custom", "from": "2025-01-01", "to": "2026-03-01"}, "to", "at most 366 days"),
    ({"range": "custom", "to": "9999-12-31"}, "to", "Choose an end date"),
    ({"range": "fortnight"}, "range", "Choose one of the ranges."),
    ({"group": "colour"}, "group", "Choose one of the groupings."),
    ({"group": "tag"}, "tag", "Choose the tag"),
    ({"group": "tag", "tag": "Bad Key!"}, "tag", "A tag key is"),
    ({"group": "tag:Bad"}, "tag", "A tag key is"),
])
def test_bad_arguments_are_shown_at_their_field(admin_client, calls_day, args, field, message):
    response, body = get(admin_client, **args)
    assert response.status_code == 200
    assert message in (field_error(body, field) or ""), body
    assert 'aria-invalid="true"' in body and 'id="report-problem"' in body
    assert 'id="report-table"' not in body
    htmx_response, fragment = get(admin_client, htmx=True, **args)
    assert htmx_response.status_code == 422  # the layout's htmx config swaps 422 in
    assert message in (field_error(fragment, field) or "")


def test_hostile_values_are_escaped_and_never_a_500(admin_client, calls_day):
    for args in ({"tag": "<script>", "group": "tag"}, {"from": "<b>x</b>", "range": "custom"},
                 {"sort": "<i>", "dir": "sideways"}, {"from": "\x00", "to": "2026-13-45"},
                 {"group": "tag", "tag": "x" * 5000}):
        response, body = get(admin_client, **args)
        assert response.status_code == 200, args
        assert "<script>" not in body.split("</head>")[1] and "<b>x</b>" not in body


def test_bad_sort_keeps_the_report(admin_client, calls_day):
    response, body = get(admin_client, sort="nope", **ON_DAY)
    assert response.status_code == 200
    assert "Sort by one of the table&#39;s columns. Sorted by calls instead." in body
    assert list(table_rows(body))[:2] == ["auto", "medicare"]


# --- sorting ------------------------------------------------------------------------------------

def test_sorting(admin_client, calls_day):
    def order(**args):
        return list(table_rows(get(admin_client, **ON_DAY, **args)[1]))[:-1]

    # Labels: "Auto Insurance", "Medicare", "No campaign" (calls 4, 1, 1).
    assert order() == ["auto", "medicare", ""]                   # calls, most first
    assert order(sort="calls", dir="asc") == ["medicare", "", "auto"]  # ties in label order
    assert order(sort="label", dir="asc") == ["auto", "medicare", ""]
    assert order(sort="label", dir="desc") == ["", "medicare", "auto"]
    assert order(sort="no_buyer", dir="desc") == ["auto", "medicare", ""]
    assert order(sort="revenue", dir="desc")[0] == "auto"
    # Time groups read in time order by default.
    hours = order(group="hour")
    assert hours == [f"{h:02d}" for h in range(24)]  # every hour of the day, zeros too
    assert order(group="hour", sort="label", dir="desc") == hours[::-1]


def test_sort_links_work_without_js_and_flip(admin_client, calls_day):
    body = get(admin_client, **ON_DAY)[1]
    calls_th = re.search(r'<th scope="col" aria-sort="descending"><a href="([^"]+)"[^>]*'
                         r'data-sort="calls">', body)
    assert calls_th, "the table says how it is sorted"
    flipped = calls_th.group(1).replace("&amp;", "&")
    assert "sort=calls" in flipped and "dir=asc" in flipped
    body = admin_client.get(flipped).get_data(as_text=True)
    assert 'aria-sort="ascending"' in body
    assert re.search(r'<a href="[^"]+" hx-get="[^"]+" hx-target="#report-view" hx-swap="outerHTML" '
                     r'hx-push-url="true" data-sort="revenue">', body)
    # A chosen sort rides along in the form; the default one is left to the grouping.
    assert '<input type="hidden" name="sort" value="calls">' in body
    assert 'name="sort"' not in get(admin_client, **ON_DAY)[1].split("</form>")[0]


# --- ranges -------------------------------------------------------------------------------------

def test_presets_fill_the_dates_on_the_account_clock(admin_client, demo):
    with demo.app_context():
        local = query.local_today()
    body = get(admin_client, range="yesterday")[1]
    day = (local - timedelta(days=1)).isoformat()
    assert re.search(rf'id="r-from" name="from" data-custom-date[^>]*value="{day}"', body)
    assert re.search(rf'id="r-to" name="to" data-custom-date[^>]*value="{day}"', body)
    assert '<option value="yesterday" selected>' in body
    body = get(admin_client)[1]  # the default: last 7 days
    assert '<option value="last7" selected>' in body
    assert f'value="{(local - timedelta(days=6)).isoformat()}"' in body
    # Dates that are a preset's show as that preset; others as Custom.
    body = get(admin_client, **{"from": local.isoformat(), "to": local.isoformat()})[1]
    assert '<option value="today" selected>' in body
    assert '<option value="custom" selected>' in get(admin_client, **ON_DAY)[1]
    assert "(UTC)" in body  # the account zone beside the dates


def test_today_counts_calls_made_now(admin_client, demo):
    call(admin_client, 1, datetime.now(timezone.utc), outcomes=[("completed", 200, 10)])
    rows = table_rows(get(admin_client, range="today")[1])
    assert rows["totals"]["calls"] == "1" and rows["totals"]["connected"] == "1"
    assert table_rows(get(admin_client, range="yesterday")[1])["totals"]["calls"] == "0"


# --- chart JSON ---------------------------------------------------------------------------------

def charts(client, **args):
    return client.get("/reports/charts.json", query_string=args)


def test_outcomes_chart(admin_client, calls_day):
    doc = charts(admin_client, chart="outcomes", **{"from": "2026-03-10", "to": "2026-03-10"}).json
    assert doc["bucket"] == "hour" and len(doc["buckets"]) == 24
    assert doc["buckets"][9] == "2026-03-10 09:00 UTC"
    outcome = {k: doc[k][9:15] for k in ("connected", "not_answered", "no_buyer", "rejected")}
    assert outcome == {"connected": [1, 1, 0, 0, 0, 0], "not_answered": [0, 0, 1, 0, 0, 0],
                       "no_buyer": [0, 0, 0, 1, 0, 1], "rejected": [0, 0, 0, 0, 1, 0]}
    week = charts(admin_client, chart="outcomes", **{"from": "2026-03-04", "to": "2026-03-10"}).json
    assert week["bucket"] == "day" and week["buckets"][-1] == "2026-03-10"
    assert [week[k][-1] for k in ("connected", "not_answered", "no_buyer", "rejected")] == \
        [2, 1, 2, 1]
    hourly = charts(admin_client, chart="outcomes", bucket="hour",
                    **{"from": "2026-03-04", "to": "2026-03-10"}).json
    assert len(hourly["buckets"]) == 7 * 24


def test_connect_rate_and_revenue_charts(admin_client, calls_day):
    dates = {"from": "2026-03-10", "to": "2026-03-10"}
    rate = charts(admin_client, chart="connect_rate", **dates).json
    assert set(rate) >= {"labels", "keys", "routed", "connected", "connect_rate", "time_zone"}
    assert len(rate["labels"]) == len(rate["connect_rate"]) == len(rate["keys"])
    for routed, connected, r in zip(rate["routed"], rate["connected"], rate["connect_rate"]):
        assert r == pytest.approx(connected / routed, abs=1e-4)
    assert rate["routed"] == sorted(rate["routed"], reverse=True)
    revenue = charts(admin_client, chart="revenue", **dates).json
    assert revenue["buckets"] == ["2026-03-10"] and revenue["revenue"] == ["12.50"]
    assert charts(admin_client, chart="revenue", **dates).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("args, field", [
    ({}, "chart"), ({"chart": "pie"}, "chart"),
    ({"chart": "outcomes", "bucket": "week"}, "bucket"),
    ({"chart": "outcomes", "bucket": "hour", "from": "2026-01-01", "to": "2026-03-01"}, "bucket"),
    ({"chart": "revenue", "from": "2026-02-30"}, "from"),
    ({"chart": "revenue", "from": "2026-03-10", "to": "2026-03-01"}, "to"),
])
def test_chart_bad_arguments_answer_400(admin_client, demo, args, field):
    response = charts(admin_client, **args)
    assert response.status_code == 400 and response.json["field"] == field
    assert response.json["error"]


# --- overview -----------------------------------------------------------------------------------

def test_overview_top_half(admin_client, demo):
    now = datetime.now(timezone.utc)
    call(admin_client, 1, now, outcomes=[("completed", 200, 65)])
    call(admin_client, 2, now, to="+15550001111")
    body = admin_client.get("/").get_data(as_text=True)
    today = re.search(r'<section class="card today".*?</section>', body, re.S).group(0)
    assert re.search(r'data-metric="calls">2<', today) and re.search(r'data-metric="connected">1<', today)
    assert "1m 05s" in today
    assert re.search(r'<canvas id="chart-outcomes" data-chart="outcomes" data-src="'
                     r'/reports/charts.json\?chart=outcomes&amp;bucket=hour&amp;from=', today)
    assert '<tr data-key="auto">' in today and "/calls/?date_from=" in today
    assert 'href="/reports/?range=today"' in today
    # Below: the live strip, the counts and the webhook URLs, as before.
    assert body.index('id="today-title"') < body.index('id="live-strip"') < \
        body.index("Connect your Twilio numbers")
    assert "https://sipflask.test/twilio/voice" in body


@pytest.mark.app_config(TWILIO_AUTH_TOKEN="")
def test_overview_keeps_the_twilio_banner(admin_client, demo):
    body = admin_client.get("/").get_data(as_text=True)
    assert body.index('id="twilio-banner"') < body.index('id="today-title"')


# --- the vendored chart library -----------------------------------------------------------------

def test_vendored_chart_js_is_the_recorded_file():
    vendored = (STATIC / "VENDORED.md").read_text(encoding="utf-8")
    digest = hashlib.sha256((STATIC / "chart.umd.min.js").read_bytes()).hexdigest()
    assert f"`{digest}`" in vendored
    assert "MIT License" in (STATIC / "chart.js-LICENSE.md").read_text(encoding="utf-8")
    assert (STATIC / "chart.umd.min.js").read_text(encoding="utf-8").startswith(
        "/*!\n * Chart.js v4.6.1")
