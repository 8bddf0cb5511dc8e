"""The plugin manager: loading (built-ins, entry points, plugins folder, allow-list), start-up
errors, the time budget and failure handling, header precedence, and the /-/plugins page."""
import logging
import sys
import textwrap
import threading

import flask
import pytest

import sipflask
from sipflask import plugins
from sipflask.core.dialplan import BuyerSpec
from sipflask.core.sipheaders import merge_headers
from sipflask.extensions import db
from sipflask.hookspecs import hookimpl
from sipflask.plugins import CallInfo, PluginError
from tests.support.app import ADMIN_EMAIL, PASSWORD, make_app, make_user

CALL = CallInfo(uuid="8b0c6c5e-5d0e-4a43-9d55-0d3f1c1f7a10", key="k" * 64, caller="+14155552671",
                called="+18882223333", campaign_id=1, campaign_ref="auto",
                campaign_name="Auto Insurance", publisher_id=1, afid="5678", sub_id="fb-12",
                tags={"lead_score": "72"})
VALUES = {"call_uuid": CALL.uuid, "call_key": CALL.key, "afid": "5678", "sub_id": "fb-12",
          "lead_score": "72"}
BUYER = BuyerSpec(id=1, name="Queue", number="sip:queue@pbx.example.com",
                  sip_username="u", sip_password="s3cret-password",
                  sip_headers=[("X-Lead-Score", "[lead_score]")])

# Installed example plugins (pip install ./plugins/*) would add headers to every app; tests
# that count headers start from built-ins only and register what they need.
ONLY_BUILTINS = pytest.mark.app_config(PLUGINS_ALLOW=[])


class Headers:
    """A test plugin returning fixed headers (or whatever ``result`` is)."""

    def __init__(self, result):
        self.result = result

    @hookimpl
    def sip_headers(self, call, buyer, values):
        return self.result


class Raises:
    @hookimpl
    def sip_headers(self):
        raise ValueError("CRM is down")


class Sleeps:
    """Blocks until released (at most ``seconds``), so the test run never waits for it."""

    def __init__(self, seconds=2.0):
        self.seconds = seconds
        self.release, self.answered = threading.Event(), threading.Event()

    @hookimpl
    def sip_headers(self):
        self.release.wait(self.seconds)
        self.answered.set()
        return [("X-Slow", "late")]

    @hookimpl
    def token_values(self):
        self.release.wait(self.seconds)
        return {"slow": "late"}


@pytest.fixture
def build_app(tmp_path, backend):
    """Create apps with extra config after the test has written its plugin files."""
    made = []

    def build(**overrides):
        overrides.setdefault("PLUGINS_ALLOW", None)  # folder plugins load unless a test says
        app = make_app(tmp_path, backend, **overrides)
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def plugin_dir(tmp_path):
    """The PLUGINS_DIR make_app uses; ``write(name, source)`` adds a plugin file."""
    folder = tmp_path / "plugins"
    folder.mkdir()

    def write(name, source):
        path = folder / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    write.path = folder
    return write


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """Make an installed distribution with a ``sipflask`` entry point, without pip.

    ``fake_dist(dist, module, source, ep_name=None, version="1.2.3")`` writes ``module.py``
    and ``<dist>-<version>.dist-info`` into a directory on sys.path, which is what
    ``importlib.metadata`` (and so pluggy) reads.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules = []

    def make(dist, module, source, ep_name=None, version="1.2.3"):
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[sipflask]\n{ep_name or module} = {module}\n")
        modules.append(module)

    yield make
    for module in modules:
        sys.modules.pop(module, None)


def names(app):
    return [row["name"] for row in plugins.plugin_info(app)]


def info(app, name):
    return next(row for row in plugins.plugin_info(app) if row["name"] == name)


# --------------------------------------------------------------------------
# Loading


def test_builtins_are_plugins(app):
    pm = plugins.get_manager(app)
    assert app.extensions["sipflask.plugins"] is pm
    assert names(app)[:2] == ["default_headers", "buyer_headers"]
    row = info(app, "default_headers")
    assert row == {"name": "default_headers", "version": sipflask.__version__,
                   "source": "built-in", "hooks": ["sip_headers"], "allowed": True}


def test_get_manager_uses_current_app(app):
    with app.app_context():
        assert plugins.get_manager() is plugins.get_manager(app)


def test_folder_plugin_loads(build_app, plugin_dir):
    path = plugin_dir("hello", """
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def sip_headers(values):
            return [("X-Hello", "world-" + values["afid"])]
    """)
    plugin_dir("_private", "raise RuntimeError('files starting with _ are not plugins')")
    app = build_app()
    assert info(app, "hello") == {"name": "hello", "version": "—", "source": f"folder: {path}",
                                  "hooks": ["sip_headers"], "allowed": True}
    assert "_private" not in names(app)
    with app.app_context():
        _, plugin_headers, _, failures = plugins.collect_sip_headers(CALL, BUYER, VALUES)
    assert failures == []
    assert [(h.name, h.value, h.source) for h in plugin_headers
            if h.source == "plugin:hello"] == [("X-Hello", "world-5678", "plugin:hello")]


def test_missing_plugins_dir_is_fine(build_app, tmp_path):
    app = build_app(PLUGINS_DIR=str(tmp_path / "does-not-exist"))
    assert "default_headers" in names(app)


def test_entry_point_plugin_loads(build_app, fake_dist):
    fake_dist("sipflask-fake", "sipflask_fake", """
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def token_values(call):
            return {"fake": "yes"}
    """, ep_name="fake")
    app = build_app()
    assert info(app, "fake") == {"name": "fake", "version": "1.2.3",
                                 "source": "entry point: sipflask-fake",
                                 "hooks": ["token_values"], "allowed": True}
    pm = plugins.get_manager(app)
    assert "sipflask-fake" in [dist.project_name for _, dist in pm.list_plugin_distinfo()]


def test_allow_list(build_app, plugin_dir, fake_dist):
    # Not-allowed plugins are never imported: these would fail the start if they were.
    plugin_dir("blocked_file", "raise RuntimeError('imported although not allowed')")
    fake_dist("sipflask-blocked", "sipflask_blocked",
              "raise RuntimeError('imported although not allowed')", ep_name="blocked_ep",
              version="2.0")
    plugin_dir("wanted", """
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def sip_headers():
            return [("X-Wanted", "1")]
    """)
    app = build_app(PLUGINS_ALLOW=["wanted"])
    assert info(app, "wanted")["allowed"] is True
    assert info(app, "blocked_file")["allowed"] is False
    assert info(app, "blocked_ep") == {"name": "blocked_ep", "version": "2.0",
                                       "source": "entry point: sipflask-blocked", "hooks": [],
                                       "allowed": False}
    # Built-ins load whatever the list says.
    assert info(app, "default_headers")["allowed"] is True
    assert plugins.get_manager(app).get_plugin("blocked_ep") is None


def test_allow_list_as_comma_separated_string(build_app, plugin_dir):
    for name in ("one", "two", "three"):
        plugin_dir(name, "")
    app = build_app(PLUGINS_ALLOW="one, two")
    assert {row["name"]: row["allowed"] for row in plugins.plugin_info(app)
            if row["name"] in ("one", "two", "three")} == {"one": True, "two": True,
                                                           "three": False}


@pytest.mark.parametrize("source, expected", [
    ("import sipflask_no_such_module\n", r"ModuleNotFoundError: No module named "
                                         r"'sipflask_no_such_module' \(at .*broken\.py:1\)"),
    ("def sip_headers(:\n", r"SyntaxError"),
    ("raise RuntimeError('no config')\n", r"RuntimeError: no config"),
])
def test_plugin_that_fails_to_import_stops_the_start(build_app, plugin_dir, caplog,
                                                     source, expected):
    plugin_dir("broken", source)
    with pytest.raises(PluginError, match=r"Plugin 'broken' \(folder: .*broken\.py\) failed to "
                                          r"load: " + expected) as excinfo:
        build_app()
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__
    assert "\n" not in str(excinfo.value)


def test_entry_point_that_fails_to_import_stops_the_start(build_app, fake_dist):
    fake_dist("sipflask-bad", "sipflask_bad", "import sipflask_no_such_module\n", ep_name="bad")
    with pytest.raises(PluginError, match=r"Plugin 'bad' \(entry point: sipflask-bad, entry "
                                          r"point sipflask_bad\) failed to load: "
                                          r"ModuleNotFoundError"):
        build_app()


def test_bad_hookimpl_signature_stops_the_start(build_app, plugin_dir):
    plugin_dir("badsig", """
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def sip_headers(call, buyer, values, request):
            return []
    """)
    with pytest.raises(PluginError, match=r"Plugin 'badsig' .* is invalid: .*sip_headers.*"
                                          r"request.*can not be found in the hookspec"):
        build_app()


def test_unknown_hook_stops_the_start(build_app, plugin_dir):
    plugin_dir("typo", """
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def sip_header(call):
            return []
    """)
    with pytest.raises(PluginError, match=r"Plugin 'typo' implements an unknown hook "
                                          r"'sip_header' \(did you mean 'sip_headers'\?\)"):
        build_app()


def test_hook_wrapper_is_refused(build_app, plugin_dir):
    plugin_dir("wrapper", """
        from sipflask.hookspecs import hookimpl

        @hookimpl(wrapper=True)
        def sip_headers():
            return (yield)
    """)
    with pytest.raises(PluginError, match="Plugin 'wrapper': hook wrappers are not supported"):
        build_app()


def test_startup_error_stops_the_start(build_app, plugin_dir):
    plugin_dir("needs_config", """
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def startup(app):
            raise KeyError("CRM_URL")
    """)
    with pytest.raises(PluginError, match=r"Plugin 'needs_config' \(folder: .*\) failed in "
                                          r"startup\(app\): KeyError: 'CRM_URL'"):
        build_app()


def test_startup_runs_once_with_the_app(build_app, plugin_dir):
    plugin_dir("reads_config", """
        from flask import current_app
        from sipflask.hookspecs import hookimpl

        seen = []

        @hookimpl
        def startup(app):
            seen.append((app.config["GREETING"], current_app.name))
    """)
    app = build_app(GREETING="hi")
    module = plugins.get_manager(app).get_plugin("reads_config")
    assert module.seen == [("hi", app.name)]


def test_plugin_named_like_a_builtin_is_refused(build_app, plugin_dir):
    plugin_dir("default_headers", "")
    with pytest.raises(PluginError, match="Plugin 'default_headers' .* same name"):
        build_app()


def test_register_helper(app):
    name = plugins.register(app, Headers([("X-A", "1")]), name="mine")
    assert name == "mine"
    assert info(app, "mine")["source"] == "registered in code"
    with pytest.raises(PluginError, match="same name"):
        plugins.register(app, Headers([]), name="mine")
    with pytest.raises(PluginError, match="'again' .* cannot be registered"):
        plugins.register(app, plugins.get_manager(app).get_plugin("mine"), name="again")


# --------------------------------------------------------------------------
# Calling sip_headers: budget, failures, ordering


def collect(app, call=CALL, buyer=BUYER, values=VALUES):
    with app.app_context():
        return plugins.collect_sip_headers(call, buyer, values)


def triples(headers):
    return [(h.name, h.value, h.source) for h in headers]


@ONLY_BUILTINS
def test_builtins_give_defaults_and_buyer_headers(app):
    defaults, plugin_headers, buyer_headers, failures = collect(app)
    assert triples(defaults) == [
        ("X-PH-RetreaverUUID", CALL.uuid, "default"),
        ("X-PH-RetreaverKey", CALL.key, "default"),
        ("X-PH-RetreaverAFID", "5678", "default"),
        ("X-PH-RetreaverSID", "fb-12", "default"),
    ]
    assert plugin_headers == [] and failures == []
    assert triples(buyer_headers) == [("X-Lead-Score", "72", "buyer")]


@ONLY_BUILTINS
def test_raising_provider_is_skipped_and_reported(app, caplog):
    plugins.register(app, Raises(), name="flaky")
    plugins.register(app, Headers([("X-Good", "yes")]), name="good")
    with caplog.at_level(logging.WARNING, logger="sipflask.plugins"):
        defaults, plugin_headers, buyer_headers, failures = collect(app)
    assert triples(plugin_headers) == [("X-Good", "yes", "plugin:good")]
    assert len(defaults) == 4 and len(buyer_headers) == 1
    assert failures == [plugins.PluginFailure("flaky", "sip_headers", "ValueError: CRM is down")]
    assert failures[0].as_dict() == {"plugin": "flaky", "hook": "sip_headers",
                                     "error": "ValueError: CRM is down"}
    assert "flaky" in caplog.text and "CRM is down" in caplog.text


@pytest.mark.app_config(PLUGINS_ALLOW=[], PLUGIN_TIMEOUT_MS=100)
def test_slow_provider_is_skipped_after_its_budget(app):
    slow = Sleeps(30)
    plugins.register(app, slow, name="slow")
    plugins.register(app, Headers([("X-Fast", "1")]), name="fast")
    try:
        defaults, plugin_headers, _, failures = collect(app)
        waited = slow.answered.is_set()  # collect came back while the plugin still ran
    finally:
        slow.release.set()
    assert not waited
    assert triples(plugin_headers) == [("X-Fast", "1", "plugin:fast")]
    assert failures == [plugins.PluginFailure("slow", "sip_headers", "timed out after 100 ms")]
    assert [h.name for h in defaults][:2] == ["X-PH-RetreaverUUID", "X-PH-RetreaverKey"]


@pytest.mark.app_config(PLUGINS_ALLOW=[], PLUGIN_TIMEOUT_MS=5000, PLUGIN_TOTAL_TIMEOUT_MS=150)
def test_total_budget_caps_all_providers(app):
    slow_a, slow_b = Sleeps(30), Sleeps(30)
    plugins.register(app, slow_a, name="slow_a")
    plugins.register(app, slow_b, name="slow_b")
    plugins.register(app, Headers([("X-Fast", "1")]), name="fast")
    try:
        _, plugin_headers, _, failures = collect(app)
        waited = slow_a.answered.is_set() or slow_b.answered.is_set()
    finally:
        slow_a.release.set()
        slow_b.release.set()
    assert not waited
    assert triples(plugin_headers) == [("X-Fast", "1", "plugin:fast")]
    assert [(f.plugin, f.error) for f in failures] == [
        ("slow_a", "timed out after 150 ms"), ("slow_b", "timed out after 150 ms")]


@ONLY_BUILTINS
@pytest.mark.parametrize("result, error", [
    ("X-A: 1", "returned str, expected a list of (name, value) pairs"),
    ({"X-A": "1"}, "returned dict, expected a list of (name, value) pairs"),
    ([("X-A", 1)], "item 0 is not a (name, value) pair of strings"),
    ([("X-A", "1", "extra")], "item 0 is not a (name, value) pair of strings"),
    ([("X-A", "1"), ("Bad Name", "v")], "item 1 has an invalid header name 'Bad Name'"),
    ([("Via", "x")], "item 0 has an invalid header name 'Via'"),
    ([("X-A", "1\r\nX-Injected: 2")], "the value of header X-A contains a line break"),
    ([("X-A", "\ud800")], "the value of header X-A is not valid Unicode"),
    ([("X-A", "a\x00b")], "the value of header X-A contains a NUL character"),
])
def test_wrong_shape_is_skipped_and_reported(app, caplog, result, error):
    plugins.register(app, Headers(result), name="sloppy")
    plugins.register(app, Headers([("X-Good", "yes")]), name="tidy")
    with caplog.at_level(logging.WARNING, logger="sipflask.plugins"):
        _, plugin_headers, _, failures = collect(app)
    assert triples(plugin_headers) == [("X-Good", "yes", "plugin:tidy")]
    assert [(f.plugin, f.hook) for f in failures] == [("sloppy", "sip_headers")]
    assert failures[0].error.startswith(error)
    assert "X-Injected: 2" not in caplog.text  # values are never logged


@ONLY_BUILTINS
def test_none_and_empty_results_are_fine(app):
    plugins.register(app, Headers(None), name="nothing")
    plugins.register(app, Headers([]), name="empty")
    _, plugin_headers, _, failures = collect(app)
    assert plugin_headers == [] and failures == []


@ONLY_BUILTINS
def test_plugins_ordered_by_name_and_buyer_wins(app):
    # Registered in reverse: pluggy would call "alpha" first (LIFO) if we let it; SPEC order
    # is plugin name order, so "zeta" comes last and wins a clash between plugins.
    plugins.register(app, Headers([("X-Shared", "from-zeta"), ("X-Zeta", "z")]), name="zeta")
    plugins.register(app, Headers([("X-Shared", "from-alpha"), ("X-Lead-Score", "plugin"),
                                   ("X-PH-RetreaverAFID", "override"),
                                   ("X-PH-RetreaverUUID", "")]), name="alpha")
    plugins.register(app, Headers([("X-Mid", "m")]), name="Middle")
    defaults, plugin_headers, buyer_headers, failures = collect(app)
    assert failures == []
    assert [h.source for h in plugin_headers] == [
        "plugin:Middle", "plugin:alpha", "plugin:alpha", "plugin:alpha", "plugin:alpha",
        "plugin:zeta", "plugin:zeta"]
    merged = {h.name: (h.value, h.source)
              for h in merge_headers(defaults, plugin_headers, buyer_headers)}
    assert merged["X-Shared"] == ("from-zeta", "plugin:zeta")
    assert merged["X-PH-RetreaverAFID"] == ("override", "plugin:alpha")  # plugin beats default
    assert merged["X-Lead-Score"] == ("72", "buyer")  # buyer beats plugin
    assert merged["X-PH-RetreaverUUID"] == (CALL.uuid, "default")  # empty never removes it


@ONLY_BUILTINS
def test_plugins_get_plain_data_and_no_password(app):
    seen = {}

    class Spy:
        @hookimpl
        def sip_headers(self, call, buyer, values):
            seen.update(password=buyer.sip_password, username=buyer.sip_username,
                        context=flask.has_app_context(), thread=threading.current_thread().name)
            values["afid"] = "tampered"
            call.tags["lead_score"] = "0"
            buyer.sip_headers.append(("X-Evil", "1"))
            return []

    plugins.register(app, Spy(), name="spy")
    values = dict(VALUES)
    defaults, _, buyer_headers, failures = collect(app, values=values)
    assert failures == []
    assert seen["password"] == "" and seen["username"] == "u"
    assert seen["context"] is False and seen["thread"].startswith("sipflask-plugin")
    assert values["afid"] == "5678" and CALL.tags["lead_score"] == "72"
    assert BUYER.sip_password == "s3cret-password" and ("X-Evil", "1") not in BUYER.sip_headers


# --------------------------------------------------------------------------
# Calling token_values


class Tokens:
    def __init__(self, result):
        self.result = result

    @hookimpl
    def token_values(self, call):
        return self.result


@ONLY_BUILTINS
def test_token_values_collected_with_sources(app):
    plugins.register(app, Tokens({"lead_tier": "gold", "shared": "a"}), name="aaa")
    plugins.register(app, Tokens({"shared": "b"}), name="bbb")
    plugins.register(app, Tokens(None), name="ccc")
    with app.app_context():
        values, sources, failures = plugins.collect_token_values(CALL)
    assert values == {"lead_tier": "gold", "shared": "b"}
    assert sources == {"lead_tier": "plugin:aaa", "shared": "plugin:bbb"}
    assert failures == []


@ONLY_BUILTINS
def test_token_values_bad_keys_dropped(app):
    plugins.register(app, Tokens({"ok": "1", "Bad Key": "x", "call_key": "evil", "n": 5,
                                  "half": "\udc80"}), name="messy")
    plugins.register(app, Tokens(["not", "a", "dict"]), name="wrong")
    values, sources, failures = plugins.collect_token_values(CALL, app=app)
    assert values == {"ok": "1"} and sources == {"ok": "plugin:messy"}
    assert [(f.plugin, f.error) for f in failures] == [
        ("messy", "dropped key 'Bad Key': token names use lowercase letters, digits and _"),
        ("messy", "dropped key 'call_key': it is a built-in token name"),
        ("messy", "dropped key 'n': value is int, not str"),
        ("messy", "dropped key 'half': value is not valid Unicode (lone surrogate)"),
        ("wrong", "returned list, expected a dict of str to str"),
    ]


@pytest.mark.app_config(PLUGINS_ALLOW=[], PLUGIN_TIMEOUT_MS=100)
def test_token_values_slow_or_raising_skipped(app):
    slow = Sleeps(2.0)

    class Boom:
        @hookimpl
        def token_values(self):
            raise RuntimeError("lookup failed")

    plugins.register(app, slow, name="slow")
    plugins.register(app, Boom(), name="boom")
    plugins.register(app, Tokens({"fine": "1"}), name="fine")
    try:
        values, sources, failures = plugins.collect_token_values(CALL, app=app)
    finally:
        slow.release.set()
    assert values == {"fine": "1"}
    assert [(f.plugin, f.hook, f.error) for f in failures] == [
        ("boom", "token_values", "RuntimeError: lookup failed"),
        ("slow", "token_values", "timed out after 100 ms"),
    ]


# --------------------------------------------------------------------------
# The /-/plugins page


def test_plugins_page_lists_plugins(admin_client, app):
    plugins.register(app, Tokens({}), name="visible")
    for url in ("/-/plugins", "/-/plugins/"):
        response = admin_client.get(url)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        for text in ("default_headers", "buyer_headers", "built-in", sipflask.__version__,
                     "visible", "registered in code", "token_values", 'href="/-/plugins.json"'):
            assert text in html


def test_plugins_page_shows_not_allowed(build_app, plugin_dir):
    plugin_dir("left_out", "")
    app = build_app(PLUGINS_ALLOW=[])
    make_user(app, ADMIN_EMAIL, "admin")
    client = app.test_client()
    assert client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD}).status_code \
        == 302
    html = client.get("/-/plugins").get_data(as_text=True)
    assert "left_out" in html and "not allowed" in html


def test_plugins_json(admin_client, app):
    response = admin_client.get("/-/plugins.json")
    assert response.status_code == 200
    assert response.is_json
    rows = response.get_json()
    assert rows == plugins.plugin_info(app)
    assert rows[0] == {"name": "default_headers", "version": sipflask.__version__,
                       "source": "built-in", "hooks": ["sip_headers"], "allowed": True}
    with app.test_request_context():
        assert flask.url_for("plugins_page.as_json") == "/-/plugins.json"
        assert flask.url_for("plugins_page.index") == "/-/plugins"


@pytest.mark.parametrize("url", ["/-/plugins", "/-/plugins/", "/-/plugins.json"])
def test_plugins_pages_need_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
