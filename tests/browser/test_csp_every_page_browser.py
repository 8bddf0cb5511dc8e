"""Every page of the app in Chromium under its real Content-Security-Policy (issue 10, finding 6):
signed in as an admin and as a member, each GET route of ``app.url_map`` is loaded with values
from the demo data, and any CSP violation the browser reports fails the test, naming the page.

Chromium reports a refused inline script, handler, style or eval as a console message
("... violates the following Content Security Policy directive ..."); a listener for the
``securitypolicyviolation`` event, added before any page script runs, reports it a second way.
"""
import time
import uuid as uuidlib

import pytest
from playwright.sync_api import expect

from sipflask.extensions import db
from sipflask.history.model import ChangeRecord
from sipflask.models import Call, InboundSettings, Number, User
from sipflask.records.webhooks import save_webhook
from sipflask.webhooks.model import Delivery, DeliveryTry
from tests.support.browser import EMAIL, PASSWORD

pytestmark = pytest.mark.browser

MEMBER = "member-csp@example.com"

# GET routes that are not pages a browser shows, so there is no document for a CSP to govern;
# their headers are checked with the test client in tests/test_security_headers.py.
NOT_PAGES = {
    "static": "files the pages load (CSS, JS), loaded by every page below",
    "calls.export": "a CSV download, not a page",
    "plugins_page.as_json": "JSON for scripts, not a page",
    "ops.healthz": "a plain-text probe for load balancers",
    "ops.readyz": "a plain-text probe for orchestrators",
    "ops.metrics_view": "Prometheus text for the scraper",
    "postbacks.receive": "buyers' conversion API: JSON, and a GET records a postback",
    "reports_data.report_json_view": "a report as JSON for scripts, not a page",
    "reports_data.report_csv_view": "a report as a CSV download, not a page",
    "reports.charts_json": "a chart's figures as JSON, fetched by the report pages' script",
}
# POST-only routes (logout, the Twilio webhooks, form actions) have no GET and are not listed.

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("Content Security Policy violation: " + e.violatedDirective + " blocked " +
                (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def crawl_app(live_app):
    """The browser tests' demo app, plus a member, a few calls (detail pages with attempts),
    inbound SIP turned on (the numbers pages then show their SIP addresses and copy buttons) and
    a webhook with a delivery (its page's log, the call page's Webhooks section)."""
    runner = live_app.test_cli_runner()
    for outcomes in (["busy:486", "completed::42"], ["no-answer"]):
        args = ["simulate-call", "--to", "+18882223333", "--from", "+14155552671"]
        for outcome in outcomes:
            args += ["--outcome", outcome]
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    with live_app.app_context():
        member = User(email=MEMBER, role="member")
        member.set_password(PASSWORD)
        db.session.add(member)
        db.session.add(InboundSettings(id=1, enabled=True, name="acme"))
        db.session.commit()
        # A webhook with a secret header, and a failed delivery on a call: /webhooks/<id>/edit
        # and /log show the log, the call's page its Webhooks section.
        webhook, report = save_webhook(None, {
            "ref": "crawl", "name": "Crawl", "event": "call.completed",
            "url": "https://crm.example.com/hook?id=[call_uuid]",
            "headers": [{"name": "Authorization", "value": "Bearer x-123456", "secret": True}]})
        assert webhook is not None, report.errors
        call_id = db.session.scalar(db.select(Call.id).order_by(Call.id))
        delivery = Delivery(uuid=str(uuidlib.uuid4()), webhook_id=webhook.id, call_id=call_id,
                            event="call.completed", state="failed", tries=1, last_status=500)
        delivery.tries_made = [DeliveryTry(status=500, duration_ms=80, error="HTTP 500",
                                           request_summary={"method": "POST", "url": "x"})]
        db.session.add(delivery)
        db.session.commit()
    return live_app


def model_for(blueprint: str):
    """The table a blueprint edits: /buyers/<id> takes a buyer's id, /campaigns/<id> a
    campaign's, and so on for any blueprint named after its table."""
    if blueprint == "history":  # /history/<id>: one change (the demo import recorded many)
        return ChangeRecord
    if blueprint == "twilio_check":  # /numbers/<id>/twilio/release: a number's
        return Number
    for mapper in db.Model.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == blueprint:
            return mapper.class_
    return None


def urls_for(app, rule) -> list[str]:
    """Every URL of ``rule`` the demo data gives (each buyer's page: they differ: SIP, phone,
    hours, headers)."""
    args = set(rule.arguments)
    if not args:
        return [app.url_map.bind("localhost").build(rule.endpoint, {})]
    blueprint = rule.endpoint.split(".")[0]
    if args == {"uuid"} and rule.endpoint == "calls.detail":
        values = [{"uuid": u} for u in db.session.scalars(db.select(Call.uuid))]
    elif args == {"id"} and model_for(blueprint) is not None:
        model = model_for(blueprint)
        values = [{"id": i} for i in db.session.scalars(db.select(model.id).order_by(model.id))]
        if model is ChangeRecord:  # one page per change: a few show every kind of row
            values = values[:5]
    elif args == {"user_id"} and rule.endpoint.startswith("users."):
        values = [{"user_id": i} for i in db.session.scalars(db.select(User.id).order_by(User.id))]
    else:
        pytest.fail(f"{rule.rule}: no demo value for {sorted(args)}; teach urls_for() where to "
                    "find one, or list the endpoint in NOT_PAGES with the reason")
    assert values, f"{rule.rule}: the demo data has no rows for it"
    adapter = app.url_map.bind("localhost")
    return [adapter.build(rule.endpoint, v) for v in values]


def page_urls(app) -> list[str]:
    urls = []
    with app.app_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
                continue
            # /-/plugins and /-/plugins/ are one page: load each rule once all the same.
            urls += urls_for(app, rule)
    # The error page is a page too.
    return urls + ["/no-such-page"]


def signed_in(browser, base_url, email):
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, base_url=base_url)
    context.set_default_timeout(10_000)
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    return context, page


QUIET_MS = 150  # no request in flight for this long: what the page started on load is done
QUIET_LIMIT_S = 5


def settle(page, in_flight: set) -> None:
    """Wait until the requests the page started on load (htmx ``load`` triggers, the report
    charts' fetches) have been answered and swapped in. Playwright's ``networkidle`` waits for
    500 ms without a request, and a polling page (the live call list) never gives it that:
    the crawl then spent 0.5 to 3 s a page."""
    deadline = time.monotonic() + QUIET_LIMIT_S
    while time.monotonic() < deadline:
        if in_flight:
            page.wait_for_timeout(20)
            continue
        page.wait_for_timeout(QUIET_MS)
        if not in_flight:
            return


def crawl(page, urls) -> tuple[dict, dict]:
    """Load each URL, let it finish what it starts on load; the violations and the status of
    each URL."""
    violations, statuses, current, in_flight = {}, {}, {"url": None}, set()

    def on_console(msg):
        if "Content Security Policy" in msg.text:
            violations.setdefault(current["url"], []).append(msg.text)

    def on_error(exc):
        violations.setdefault(current["url"], []).append(f"page error: {exc}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.on("request", lambda request: in_flight.add(request))
    page.on("requestfinished", lambda request: in_flight.discard(request))
    page.on("requestfailed", lambda request: in_flight.discard(request))
    for url in urls:
        current["url"] = url
        response = page.goto(url)
        statuses[url] = response.status
        settle(page, in_flight)
    return violations, statuses


def test_every_page_as_admin_and_member_without_csp_violations(browser, live_server, crawl_app):
    urls = page_urls(crawl_app)
    assert len(urls) >= 25, urls
    report = {}
    for email, role in ((EMAIL, "admin"), (MEMBER, "member")):
        context, page = signed_in(browser, live_server, email)
        try:
            started = time.monotonic()
            violations, statuses = crawl(page, urls)
            report[role] = (len(urls), round(time.monotonic() - started, 1))
        finally:
            context.close()
        assert not violations, f"CSP violations as {role}: {violations}"
        assert all(code < 500 for code in statuses.values()), statuses
        if role == "admin":
            assert statuses["/no-such-page"] == 404
            assert all(code == 200 for url, code in statuses.items() if url != "/no-such-page"), \
                statuses
        else:  # admin pages answer the member with the 403 page, itself loaded and checked
            assert statuses["/inbound/"] == 403 and statuses["/buyers/"] == 200
    print("pages loaded (count, seconds):", report)


def test_login_page_signed_out(browser, live_server):
    context = browser.new_context(base_url=live_server)
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    try:
        messages = []
        page.on("console", lambda msg: messages.append(msg.text))
        response = page.goto("/login")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        assert not [m for m in messages if "Content Security Policy" in m]
        # htmx read its config from layout.html: no <style> of its own, no scripts from fragments.
        config = page.evaluate("[htmx.config.includeIndicatorStyles, htmx.config.allowScriptTags]")
        assert config == [False, False]
        assert page.locator("style").count() == 0
    finally:
        context.close()


def test_a_violation_is_caught(browser, live_server, live_app):
    """The detector itself: an inline script, a style attribute and a handler on a page served
    with the app's headers are refused and reported (so a clean crawl means something)."""
    @live_app.get("/csp-canary")
    def canary():
        return ('<!doctype html><title>canary</title><script>window.ran = 1</script>'
                '<p style="color:red" onclick="x()">canary</p>')

    context = browser.new_context(base_url=live_server)
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    try:
        messages = []
        page.on("console", lambda msg: messages.append(msg.text))
        page.goto("/login")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        page.goto("/csp-canary")
        page.click("text=canary")
        expect(page.locator("p")).to_have_text("canary")
        assert page.evaluate("window.ran") is None  # the inline script never ran
        found = [m for m in messages if "Content Security Policy" in m]
        assert any("script-src" in m for m in found), found
        assert any("style-src" in m for m in found), found
        assert any("violation: script-src-attr" in m for m in found), found
    finally:
        context.close()


def test_copy_button_works_under_the_csp(browser, live_server, crawl_app):
    context, page = signed_in(browser, live_server, EMAIL)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        messages = []
        page.on("console", lambda msg: messages.append(msg.text))
        page.goto("/numbers/")
        button = page.locator("button[data-copy]").first
        uri = button.get_attribute("data-copy")
        assert uri.startswith("sip:+") and "acme.sip.twilio.com" in uri
        button.click()
        expect(button).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == uri
        assert not [m for m in messages if "Content Security Policy" in m]
    finally:
        context.close()
