"""The example plugins in plugins/ produce their headers and tokens with the demo data.

They are loaded from the source tree (the test command runs on a fresh clone) and registered
with ``plugins.register``; one test checks that, once installed with
``pip install ./plugins/*``, the ``sipflask`` entry points load them by themselves.
"""
import importlib.metadata
import importlib.util

import pytest
from sqlalchemy import select

from sipflask import models, plugins
from sipflask.core.dialplan import BuyerSpec, plan_attempt
from sipflask.core.sipheaders import merge_headers
from sipflask.extensions import db
from sipflask.plugins import CallInfo
from tests.support.plugins import load_example

CALLER = "+14155552671"

# Installed copies of the examples would clash with the ones registered here by name.
NO_INSTALLED = pytest.mark.app_config(PLUGINS_ALLOW=[])


def demo_call(app, number="+18882223333", caller=CALLER):
    """A Call on a demo number, as the webhook would create it, plus its token values."""
    with app.app_context():
        num = db.session.scalar(select(models.Number).where(models.Number.number == number))
        call = models.Call(uuid="3f1f0e55-9a43-4c8e-8d5a-0b6f4f3c2a11", key="k" * 64,
                           call_sid="CA" + "1" * 32, caller=caller, called=number,
                           number=num, campaign=num.campaign, publisher=num.publisher,
                           sub_id=num.sub_id, tags=dict(num.tags))
        db.session.add(call)
        db.session.flush()
        info = plugins.call_info(call)
        db.session.rollback()
    values = {
        "call_uuid": info.uuid, "call_key": info.key,
        "campaign_id": str(info.campaign_id), "campaign_name": info.campaign_name,
        "publisher_id": str(info.publisher_id or ""), "afid": info.afid, "sub_id": info.sub_id,
        "caller_number": info.caller, "called_number": info.called, **info.tags,
    }
    return info, values


def demo_buyer(app, ref="queue"):
    with app.app_context():
        buyer = db.session.scalar(select(models.Buyer).where(models.Buyer.ref == ref))
        return BuyerSpec(id=buyer.id, name=buyer.name, number=buyer.number,
                         sip_headers=[(h.name, h.value) for h in buyer.headers],
                         timeout=buyer.timeout)


def triples(headers):
    return [(h.name, h.value, h.source) for h in headers]


@pytest.fixture
def crm_csv(tmp_path, monkeypatch):
    monkeypatch.delenv("SIPFLASK_CRM_CSV", raising=False)
    path = tmp_path / "leads.csv"
    path.write_text("phone,name,score,segment\n"
                    f"{CALLER},Ada Lovelace,88,gold\n"
                    "+442071838750,\"Grace\nHopper\",61,\n")
    return path


@NO_INSTALLED
def test_call_info_from_demo_call(demo):
    info, _ = demo_call(demo)
    assert isinstance(info, CallInfo)
    assert (info.caller, info.called, info.campaign_ref, info.campaign_name, info.afid,
            info.sub_id) == (CALLER, "+18882223333", "auto", "Auto Insurance", "5678", "fb-12")
    assert info.campaign_settings["sip_headers"]["X-Vertical"] == "auto"
    assert info.tags == {"vertical": "auto", "lead_score": "72"}


@NO_INSTALLED
def test_campaign_meta_adds_campaign_headers(demo):
    plugins.register(demo, load_example("sipflask-campaign-meta", "sipflask_campaign_meta"),
                     name="campaign_meta")
    info, values = demo_call(demo)
    buyer = demo_buyer(demo)
    with demo.app_context():
        defaults, plugin_headers, buyer_headers, failures = plugins.collect_sip_headers(
            info, buyer, values)
    assert failures == []
    assert triples(plugin_headers) == [("X-Vertical", "auto", "plugin:campaign_meta"),
                                       ("X-Offer-ID", "AUTO-2026-Q4", "plugin:campaign_meta")]
    assert ("X-Lead-Score", "72", "buyer") in triples(buyer_headers)
    plan = plan_attempt(buyer, values, plugin_headers, action="https://sipflask.test/next")
    assert plan.error is None
    assert "X-Vertical=auto" in plan.target and "X-Offer-ID=AUTO-2026-Q4" in plan.target
    assert plan.target.index("X-Offer-ID") < plan.target.index("X-Campaign-ID")  # buyer's last


@NO_INSTALLED
def test_campaign_meta_expands_tokens_and_skips_bad_names(app):
    plugins.register(app, load_example("sipflask-campaign-meta", "sipflask_campaign_meta"),
                     name="campaign_meta")
    call = CallInfo(uuid="u", key="k", campaign_ref="x", campaign_settings={
        "sip_headers": {"X-Pub": "[afid]-[sub_id|\"none\"]", "Bad Name": "x", "X-Empty": "[nope]"}})
    _, plugin_headers, _, failures = plugins.collect_sip_headers(
        call, BuyerSpec(id=1, name="b", number="sip:q@example.com"),
        {"call_uuid": "u", "call_key": "k", "afid": "5678"}, app=app)
    assert failures == []
    assert triples(plugin_headers) == [("X-Pub", "5678-none", "plugin:campaign_meta"),
                                       ("X-Empty", "", "plugin:campaign_meta")]
    # An empty header is left out when merged (SPEC).
    assert "X-Empty" not in [h.name for h in merge_headers([], plugin_headers, [])]
    # No settings: nothing.
    _, none, _, _ = plugins.collect_sip_headers(
        CallInfo(uuid="u", key="k"), BuyerSpec(id=1, name="b", number="sip:q@example.com"),
        {"call_uuid": "u", "call_key": "k"}, app=app)
    assert none == []


@NO_INSTALLED
def test_crm_lookup_tokens_and_headers(demo, crm_csv):
    demo.config["CRM_CSV"] = str(crm_csv)
    crm = load_example("sipflask-crm-lookup", "sipflask_crm_lookup")
    plugins.register(demo, crm, name="crm_lookup")  # runs startup(app): reads the CSV
    assert crm.LEADS["+442071838750"] == {"name": "Grace Hopper", "score": "61", "segment": ""}

    info, values = demo_call(demo)
    with demo.app_context():
        extra, sources, failures = plugins.collect_token_values(info)
    assert failures == []
    assert extra == {"crm_name": "Ada Lovelace", "crm_score": "88", "crm_segment": "gold"}
    assert set(sources.values()) == {"plugin:crm_lookup"}

    values.update(extra)
    with demo.app_context():
        _, plugin_headers, _, failures = plugins.collect_sip_headers(
            info, demo_buyer(demo), values)
    assert failures == []
    assert triples(plugin_headers) == [("X-CRM-Name", "Ada Lovelace", "plugin:crm_lookup"),
                                       ("X-CRM-Score", "88", "plugin:crm_lookup"),
                                       ("X-CRM-Segment", "gold", "plugin:crm_lookup")]
    plan = plan_attempt(demo_buyer(demo), values, plugin_headers, action="https://x.test/n")
    assert "X-CRM-Name=Ada%20Lovelace" in plan.target


@NO_INSTALLED
def test_crm_lookup_unknown_caller_adds_nothing(demo, crm_csv):
    demo.config["CRM_CSV"] = str(crm_csv)
    plugins.register(demo, load_example("sipflask-crm-lookup", "sipflask_crm_lookup"),
                     name="crm_lookup")
    info, values = demo_call(demo, caller="+16175550100")
    extra, _, failures = plugins.collect_token_values(info, app=demo)
    assert extra == {} and failures == []
    _, plugin_headers, _, _ = plugins.collect_sip_headers(info, demo_buyer(demo), values, app=demo)
    assert plugin_headers == []


@NO_INSTALLED
def test_both_examples_in_plugin_name_order(demo, crm_csv):
    demo.config["CRM_CSV"] = str(crm_csv)
    # Registered crm first; campaign_meta still comes first (plugin name order).
    plugins.register(demo, load_example("sipflask-crm-lookup", "sipflask_crm_lookup"),
                     name="crm_lookup")
    plugins.register(demo, load_example("sipflask-campaign-meta", "sipflask_campaign_meta"),
                     name="campaign_meta")
    info, values = demo_call(demo)
    extra, _, _ = plugins.collect_token_values(info, app=demo)
    _, plugin_headers, _, failures = plugins.collect_sip_headers(
        info, demo_buyer(demo), {**values, **extra}, app=demo)
    assert failures == []
    assert [h.source for h in plugin_headers] == ["plugin:campaign_meta"] * 2 + \
        ["plugin:crm_lookup"] * 3


def _installed(dist):
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not (_installed("sipflask-campaign-meta") and _installed("sipflask-crm-lookup")),
                    reason="example plugins not installed (pip install ./plugins/*)")
@pytest.mark.app_config(PLUGINS_ALLOW=None)
def test_installed_examples_load_from_entry_points(demo, crm_csv, monkeypatch):
    rows = {row["name"]: row for row in plugins.plugin_info(demo)}
    assert rows["campaign_meta"] == {
        "name": "campaign_meta", "version": importlib.metadata.version("sipflask-campaign-meta"),
        "source": "entry point: sipflask-campaign-meta", "hooks": ["sip_headers"],
        "allowed": True}
    assert rows["crm_lookup"]["source"] == "entry point: sipflask-crm-lookup"
    assert rows["crm_lookup"]["hooks"] == ["sip_headers", "startup", "token_values"]
    info, values = demo_call(demo)
    _, plugin_headers, _, failures = plugins.collect_sip_headers(
        info, demo_buyer(demo), values, app=demo)
    assert failures == []
    assert ("X-Vertical", "auto", "plugin:campaign_meta") in triples(plugin_headers)
