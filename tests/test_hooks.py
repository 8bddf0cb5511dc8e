"""One ``test_hook_<name>`` per hook in sipflask.hookspecs, and a check that each hook has such a
test here and a ``### `name(args)` `` section in docs/plugins.md (and no stale ones)."""
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from sipflask import hookspecs, plugins
from sipflask.core.dialplan import BuyerSpec
from sipflask.extensions import db
from sipflask.plugins import CallInfo
from tests.support.app import make_app

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"

CALL = CallInfo(uuid="0d9b3a52-8d1e-4f77-b0a2-6a7e2f1b9c33", key="f" * 64, caller="+14155552671",
                called="+18882223333", campaign_id=7, campaign_ref="auto",
                campaign_name="Auto Insurance", campaign_settings={"tier": "gold"},
                publisher_id=3, afid="5678", sub_id="fb-12", tags={"lead_score": "72"})
VALUES = {"call_uuid": CALL.uuid, "call_key": CALL.key, "afid": "5678", "lead_score": "72"}
BUYER = BuyerSpec(id=9, name="Queue", number="sip:queue@pbx.example.com")


def hook_names():
    return sorted(name for name, obj in vars(hookspecs).items()
                  if callable(obj) and hasattr(obj, "sipflask_spec"))


@pytest.fixture
def app_with(tmp_path, backend):
    """``app_with(source)``: an app whose plugins folder holds ``probe.py`` with ``source``."""
    made = []

    def build(source, **config):
        folder = tmp_path / "plugins"
        folder.mkdir(exist_ok=True)
        (folder / "probe.py").write_text(textwrap.dedent(source))
        app = make_app(tmp_path, backend, PLUGINS_ALLOW=["probe"], **config)
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_hook_sip_headers(app_with):
    app = app_with("""
        from sipflask.hookspecs import hookimpl

        seen = []

        @hookimpl
        def sip_headers(call, buyer, values):
            seen.append((type(call).__name__, type(buyer).__name__, dict(values)))
            return [("X-Tier", call.campaign_settings["tier"]),
                    ("X-Score", values["lead_score"]),
                    ("X-Buyer", str(buyer.id))]
    """)
    with app.app_context():
        defaults, plugin_headers, buyer_headers, failures = plugins.collect_sip_headers(
            CALL, BUYER, VALUES)
    assert failures == []
    assert [(h.name, h.value, h.source) for h in plugin_headers] == [
        ("X-Tier", "gold", "plugin:probe"), ("X-Score", "72", "plugin:probe"),
        ("X-Buyer", "9", "plugin:probe")]
    assert plugins.get_manager(app).get_plugin("probe").seen == [("CallInfo", "BuyerSpec", VALUES)]
    assert [h.name for h in defaults] == ["X-PH-RetreaverUUID", "X-PH-RetreaverKey",
                                          "X-PH-RetreaverAFID"]
    assert buyer_headers == []


def test_hook_token_values(app_with):
    app = app_with("""
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def token_values(call):
            return {"lead_tier": call.campaign_settings["tier"], "caller_area": call.caller[2:5]}
    """)
    with app.app_context():
        values, sources, failures = plugins.collect_token_values(CALL)
    assert failures == []
    assert values == {"lead_tier": "gold", "caller_area": "415"}
    assert sources == {"lead_tier": "plugin:probe", "caller_area": "plugin:probe"}


def test_hook_startup(app_with):
    app = app_with("""
        from sipflask.hookspecs import hookimpl

        calls = []

        @hookimpl
        def startup(app):
            calls.append(app.config["CRM_URL"])
    """, CRM_URL="https://crm.example.com")
    probe = plugins.get_manager(app).get_plugin("probe")
    assert probe.calls == ["https://crm.example.com"]
    row = next(r for r in plugins.plugin_info(app) if r["name"] == "probe")
    assert row["hooks"] == ["startup"]


# --------------------------------------------------------------------------


def test_every_hook_has_a_test_and_a_docs_section():
    names = hook_names()
    assert names, "no hookspecs found"
    tests = {name[len("test_hook_"):] for name in globals() if name.startswith("test_hook_")}
    docs = DOCS.read_text()
    documented = set(re.findall(r"^### `(\w+)\(", docs, flags=re.MULTILINE))
    for name in names:
        assert name in tests, f"hook {name!r} has no test_hook_{name} in {__file__}"
        signature = f"### `{name}{inspect.signature(getattr(hookspecs, name))}`"
        assert signature in docs, f"docs/plugins.md lacks a section headed {signature}"
    assert tests <= set(names), f"tests for hooks that do not exist: {tests - set(names)}"
    assert documented <= set(names), f"docs for hooks that do not exist: {documented - set(names)}"


@pytest.mark.parametrize("name", hook_names())
def test_hookspec_has_a_one_line_docstring(name):
    doc = getattr(hookspecs, name).__doc__ or ""
    assert doc.strip() and "\n" not in doc.strip(), f"{name} needs a one-line docstring"
    assert doc.startswith("Return"), f"{name}'s docstring should say what it returns"
