"""The Reports page and the overview in Chromium, under the app's strict CSP: the charts draw
(non-blank canvas pixels, the outcome colours among them), switching grouping and range swaps
the report with htmx and pushes the URL, the table matches /reports.json, the live strip polls.
The screenshots for docs/reports.md are taken here (SIPFLASK_UPDATE_DOCS_IMG=1 refreshes
docs/img/)."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from sipflask.extensions import db
from sipflask.models import Buyer, Call
from sipflask.reports import query
from tests.support.browser import save_artifact

pytestmark = pytest.mark.browser

AUTO, MEDICARE = "+18882223333", "+18448210555"
CONNECTED_RGB = (0x00, 0x9E, 0x73)  # Okabe-Ito bluish green: "Connected" in reports.js

# Counts a canvas's painted pixels, and those of one colour (bars, not just axes and labels).
PIXELS = """([canvas, rgb]) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0, colour = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0) painted++;
    if (Math.abs(data[i] - rgb[0]) < 6 && Math.abs(data[i + 1] - rgb[1]) < 6 &&
        Math.abs(data[i + 2] - rgb[2]) < 6 && data[i + 3] > 200) colour++;
  }
  return [painted, colour, canvas.width * canvas.height];
}"""


def simulate(app, to, outcomes=(), at=None, state="CA", caller="+14155552671"):
    args = ["simulate-call", "--to", to, "--from", caller, "--param", f"FromState={state}"]
    for outcome in outcomes:
        args += ["--outcome", outcome]
    if at is not None:
        args += ["--at", at.isoformat()]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output


@pytest.fixture
def report_app(live_app):
    """Ten calls from several callers: seven today (every outcome, two converted), three on the
    two days before. Calls whose last outcome leaves buyers to try stay live (the strip)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for n, (hours_ago, to, outcomes, state) in enumerate((
            (0, AUTO, ["completed::95"], "CA"), (0, AUTO, ["busy:486", "completed::42"], "NY"),
            (0, AUTO, ["no-answer:480", "failed:503"], "TX"), (0, MEDICARE, ["completed::60"], "CA"),
            (0, MEDICARE, ["no-answer"], "FL"), (0, "+15550001111", [], "CA"),
            (24, AUTO, ["completed::30"], "CA"), (48, MEDICARE, ["busy:486", "no-answer"], "NY"),
            (48, AUTO, ["completed::120"], "WA"))):
        simulate(live_app, to, outcomes, at=now - timedelta(hours=hours_ago, minutes=1),
                 state=state, caller=f"+1415555{n % 6:04d}")
    with live_app.app_context():  # nobody available: a no-buyer call
        active = list(db.session.scalars(select(Buyer.id).where(Buyer.paused.is_(False))))
        db.session.execute(update(Buyer).where(Buyer.id.in_(active)).values(paused=True))
        db.session.commit()
    simulate(live_app, AUTO, at=now - timedelta(minutes=1), state="OR")
    with live_app.app_context():
        db.session.execute(update(Buyer).where(Buyer.id.in_(active)).values(paused=False))
        db.session.commit()
    client = live_app.test_client()
    with live_app.app_context():
        answered = db.session.scalars(select(Call).where(Call.status == "completed")
                                      .order_by(Call.id)).all()
        keys = [(c.uuid, c.key) for c in answered[:2]]
    for (uuid, key), revenue in zip(keys, ("12.50", "30.00")):
        response = client.post("/postback", data={"uuid": uuid, "key": key, "revenue": revenue})
        assert response.status_code == 200, response.data
    return live_app


def wait_for_charts(page, count):
    page.wait_for_function(
        "n => { const c = document.querySelectorAll('canvas[data-chart]');"
        " return c.length === n && [...c].every(x => x.dataset.drawn === '1'); }", arg=count)


def pixels(page, selector, rgb=CONNECTED_RGB):
    return page.eval_on_selector(selector, f"(canvas, rgb) => ({PIXELS})([canvas, rgb])", rgb)


def wait_for_colour(page, selector, more_than, rgb=CONNECTED_RGB):
    """Wait (5 s at most) until the chart shows more than ``more_than`` pixels of ``rgb``:
    Chart.js paints again once the canvas has its size, a frame or more after it was drawn."""
    page.wait_for_function(
        f"([sel, rgb, n]) => ({PIXELS})([document.querySelector(sel), rgb])[1] > n",
        arg=[selector, list(rgb), more_than], timeout=5000)


def table(page) -> dict:
    """{row key: {metric: text}} from the report table (totals under "totals")."""
    return page.eval_on_selector_all(
        "#report-table tr[data-key]",
        """rows => Object.fromEntries(rows.map(r => [r.dataset.key, Object.fromEntries(
             [...r.querySelectorAll('td[data-metric]')].map(td => [td.dataset.metric,
               td.dataset.value || td.firstChild.textContent.trim()]))]))""")


def assert_table_matches_json(page):
    args = page.eval_on_selector("a[href^='/reports.json?']", "a => a.getAttribute('href')")
    doc = page.request.get(args).json()
    shown = table(page)
    assert len(shown) == len(doc["rows"]) + 1
    for row in doc["rows"] + [dict(doc["totals"], key="totals")]:
        for metric in query.METRICS:
            assert shown[row["key"]][metric] == str(row[metric]), (doc["group"], row["key"], metric)
    return doc


def test_report_switch_grouping_and_range(report_app, logged_in):
    page = logged_in
    page.goto("/reports/")
    wait_for_charts(page, 3)
    wait_for_colour(page, "#chart-outcomes", 50)
    painted, green, total = pixels(page, "#chart-outcomes")
    assert painted > total // 50 and green > 50, (painted, green, total)
    wait_for_colour(page, "#chart-connect_rate", 50)  # its bars are the same green
    wait_for_colour(page, "#chart-revenue", 20, (0x00, 0x72, 0xB2))  # revenue bars in blue
    doc = assert_table_matches_json(page)
    assert doc["group"] == "campaign" and doc["totals"]["calls"] == 10
    assert doc["totals"]["revenue"] == "42.50"
    save_artifact(page, "reports.png", full_page=True)

    # Grouping: htmx swaps the report in place and pushes the URL.
    before = page.eval_on_selector("#chart-outcomes", "c => c.toDataURL()")
    page.select_option("#r-group", "buyer")
    expect(page.locator("#report-table")).to_have_attribute("data-group", "buyer")
    assert "group=buyer" in page.url
    wait_for_charts(page, 3)
    assert assert_table_matches_json(page)["group"] == "buyer"
    # The same range: the same picture, once Chart.js has painted the new canvas at its size.
    page.wait_for_function("b => document.querySelector('#chart-outcomes').toDataURL() === b",
                           arg=before, timeout=5000)

    # Range: today, per hour; the outcome chart is drawn again from other figures.
    page.select_option("#r-range", "today")
    expect(page.locator("#r-range")).to_have_value("today")
    page.wait_for_url(re.compile(r"range=today"))
    wait_for_charts(page, 3)
    assert "bucket=hour" in page.get_attribute("#chart-outcomes", "data-src")
    assert page.eval_on_selector("#chart-outcomes", "c => c.toDataURL()") != before
    wait_for_colour(page, "#chart-outcomes", 20)
    # By buyer, "calls" are those a buyer was dialled on: today's 7 less the rejected and the
    # no-buyer call.
    assert assert_table_matches_json(page)["totals"]["calls"] == 5

    # Typing a date makes the range a custom one.
    local_today = page.input_value("#r-to")
    first = (datetime.fromisoformat(local_today) - timedelta(days=2)).date().isoformat()
    page.fill("#r-from", first)
    page.locator("#r-from").dispatch_event("change")
    page.wait_for_url(re.compile(r"range=custom"))
    expect(page.locator("#r-range")).to_have_value("custom")
    assert assert_table_matches_json(page)["totals"]["calls"] == 8

    # Sorting by a column heading, in place; the browser's Back restores the previous view.
    page.click("a[data-sort=connected]")
    page.wait_for_url(re.compile(r"sort=connected"))
    expect(page.locator("th[aria-sort]")).to_contain_text("Connected")
    wait_for_charts(page, 3)
    page.eval_on_selector("#report-table", "t => { t.dataset.before = '1'; }")
    page.go_back()
    page.wait_for_url(lambda url: "sort=connected" not in url)
    # The URL changes at once; the page comes back from the server a moment later, and its
    # charts must then be drawn again (they were not, until reports.js listened for it).
    page.wait_for_function("() => { const t = document.querySelector('#report-table');"
                           " return t && !t.dataset.before; }")
    wait_for_charts(page, 3)
    wait_for_colour(page, "#chart-outcomes", 20)


def test_bad_date_is_shown_at_the_field(report_app, logged_in):
    page = logged_in
    page.goto("/reports/?range=custom&from=2026-03-10&to=2026-03-01")
    expect(page.locator("#err-to")).to_have_text("The end date is before the start date.")
    expect(page.locator("#r-to")).to_have_attribute("aria-invalid", "true")
    page.fill("#r-to", "2026-03-12")
    page.locator("#r-to").dispatch_event("change")
    expect(page.locator("#report-table")).to_be_visible()
    expect(page.locator("#err-to")).to_have_count(0)


def test_overview_today_and_live_strip(report_app, logged_in):
    page = logged_in
    page.goto("/")
    wait_for_charts(page, 1)
    wait_for_colour(page, "#chart-outcomes", 20)
    expect(page.locator("#today-totals [data-metric=calls]")).to_have_text("7")
    expect(page.locator("#today-totals [data-metric=no_buyer]")).to_have_text("1")
    expect(page.locator("#today-campaigns tr[data-key=auto]")).to_be_visible()
    # The live strip asks again while the page is open.
    with page.expect_response(lambda r: r.url.endswith("/live") and r.status == 200,
                              timeout=12_000) as answer:
        pass
    assert "live-strip" in answer.value.text()
    expect(page.locator("#live-strip")).to_contain_text("in progress")
    save_artifact(page, "overview.png", clip={"x": 0, "y": 0, "width": 1360, "height": 900})


def test_report_without_javascript(browser, live_server, report_app):
    """No JavaScript: the form is a plain GET, the table and links are all there."""
    context = browser.new_context(java_script_enabled=False, base_url=live_server)
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("#email", "editor@example.com")
        page.fill("#password", "browser-test-password")
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        page.goto("/reports/")
        page.select_option("#r-group", "day")
        page.click("form.report-form button[type=submit]")
        page.wait_for_url(re.compile(r"group=day"))
        expect(page.locator("#report-table tbody tr")).to_have_count(7)  # the last 7 days
        expect(page.locator("#report-table tfoot [data-metric=calls]")).to_have_text("10")
        assert not page.locator(".chart-grid").is_visible()  # no charts without JavaScript
    finally:
        context.close()
