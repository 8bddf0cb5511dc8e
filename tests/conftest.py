"""Shared fixtures: ``app``/``client``/``runner`` on a real SQLite database, and on PostgreSQL
too when ``SIPFLASK_TEST_DATABASE_URL`` points at one (every test using ``app`` runs on both).
What the fixtures are made of (app factory, users, schema handling) is in ``tests/support``."""
import pytest

from sipflask.extensions import db
from tests.support.app import (ADMIN_EMAIL, IN_CI, MEMBER_EMAIL, AuthActions,
                               drop_postgres_schema, make_app, make_user)
from tests.support.demo import load_demo
from tests.support.prism import prism_or_skip, start_prism


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


@pytest.fixture
def app(tmp_path, backend, request):
    # @pytest.mark.app_config(KEY=value) overrides configuration for one test.
    marker = request.node.get_closest_marker("app_config")
    app = make_app(tmp_path, backend, **(marker.kwargs if marker else {}))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def auth(app, client, request):
    # The demo copy needs empty tables, the change history's included: when a test asks for
    # both, load the demo before the users are created (and recorded).
    if "demo" in request.fixturenames:
        request.getfixturevalue("demo")
    make_user(app, ADMIN_EMAIL, "admin")
    make_user(app, MEMBER_EMAIL, "member")
    return AuthActions(app, client)


@pytest.fixture
def admin_client(auth, client):
    """A test client signed in as an admin."""
    response = auth.login()
    assert response.status_code == 302, response.data
    return client


@pytest.fixture
def demo(app, backend, request):
    """The demo setup as the real ``flask demo`` command writes it: the command runs once per
    process, backend and configuration, and its rows are copied into this test's database
    (``tests/support/demo.py`` says when the copy is used and when the command runs again)."""
    marker = request.node.get_closest_marker("app_config")
    load_demo(app, backend, marker.kwargs if marker else {})
    return app


def pytest_sessionfinish(session, exitstatus):
    drop_postgres_schema()


@pytest.fixture(scope="session")
def prism():
    """Prism serving Twilio's own OpenAPI spec, started once (it takes ~20 s) for every test
    that checks requests against Twilio's API shapes; each test reads the log from its own
    starting point (``log_size``)."""
    exe, spec = prism_or_skip()
    server = start_prism(exe, spec)
    yield server
    server.stop()


# Tests sharing a costly session fixture run in one pytest-xdist worker (``--dist loadgroup``,
# as scripts/test.sh runs them): Prism takes ~20 s to start and Chromium a few, once per worker.
XDIST_GROUPS = {"prism": "prism", "browser": "browser"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture, group in XDIST_GROUPS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))
                break


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped test fails: every service and tool the suite drives must be there
    (scripts/test.sh installs them), so a skip there means a test that silently did not run."""
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason}"
    return report
