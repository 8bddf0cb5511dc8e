"""Browser tests: the real app served by werkzeug on a free 127.0.0.1 port, driven by Playwright
through Debian's Chromium (``/usr/bin/chromium``), headless.

The app runs on a SQLite file with the demo data and one known user, with CSRF on, as in
production. Without Chromium the tests are skipped with the reason -- except under ``CI=true``,
where they must run and a missing browser fails them.
"""
import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, EMAIL, PASSWORD, demo_app, need


@pytest.fixture(scope="session")
def browser():
    need(Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK),
         f"{CHROMIUM} is missing (apt-get install chromium; scripts/test.sh does it as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        need(False, "the playwright package is not installed (pip install -e .[test])")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_app(tmp_path):
    yield from demo_app(tmp_path)


@pytest.fixture
def live_server(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, base_url=live_server)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Every browser test runs under the app's strict CSP: anything it refuses fails the test.
    page.on("console", lambda msg: errors.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    yield page
    context.close()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"


@pytest.fixture
def logged_in(page):
    page.goto("/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    return page
