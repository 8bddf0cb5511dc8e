"""Plugins through the real webhook: their headers land in the TwiML, and a plugin that fails or
hangs is skipped and recorded while the call still routes."""
import threading
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from sipflask import plugins
from sipflask.extensions import db
from sipflask.hookspecs import hookimpl
from sipflask.models import Buyer, Call
from tests.support.plugins import load_example
from tests.support.webhook import dial_action, pause_all_but, sip_headers, voice

CALLER = "+14155552671"


@pytest.fixture
def with_examples(demo, tmp_path, monkeypatch):
    leads = tmp_path / "leads.csv"
    leads.write_text(f"phone,name,score,segment\n{CALLER},Ada Lovelace,88,gold\n")
    demo.config["CRM_CSV"] = str(leads)
    plugins.register(demo, load_example("sipflask-campaign-meta", "sipflask_campaign_meta"),
                     "campaign_meta")
    plugins.register(demo, load_example("sipflask-crm-lookup", "sipflask_crm_lookup"),
                     "crm_lookup")
    return demo


def test_example_plugin_headers_and_tokens_reach_the_twiml(client, with_examples):
    app = with_examples
    pause_all_but(app, "queue")
    with app.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        queue.headers[2].value = "[crm_score]"  # a plugin token in the buyer's own header
        db.session.commit()
    root = ET.fromstring(voice(client, caller=CALLER).data)
    _, headers = sip_headers(root.find("Dial/Sip").text)
    assert headers["X-Vertical"] == "auto" and headers["X-Offer-ID"] == "AUTO-2026-Q4"
    assert headers["X-CRM-Name"] == "Ada Lovelace" and headers["X-CRM-Score"] == "88"
    assert headers["X-Lead-Score"] == "88"
    names = list(headers)
    # Plugin order by name (campaign_meta before crm_lookup), buyer's own headers last.
    assert names.index("X-Vertical") < names.index("X-CRM-Name") < names.index("X-Campaign-ID")
    with app.app_context():
        call = db.session.scalar(select(Call))
        assert call.tags["crm_segment"] == "gold"
        assert call.tag_sources["crm_segment"] == "plugin:crm_lookup"
        sources = {h["name"]: h["source"] for h in call.attempts[0].headers_sent}
        assert sources["X-Vertical"] == "plugin:campaign_meta"


class Exploding:
    @hookimpl
    def sip_headers(self, call, buyer, values):
        raise RuntimeError("CRM is down")


class Sleepy:
    """A plugin that answers only when the test lets it (or after 30 s)."""

    def __init__(self):
        self.release, self.answered = threading.Event(), threading.Event()

    @hookimpl
    def sip_headers(self, call, buyer, values):
        self.release.wait(30)
        self.answered.set()
        return [("X-Slow", "late")]


@pytest.mark.app_config(PLUGIN_TIMEOUT_MS=100, PLUGIN_TOTAL_TIMEOUT_MS=300)
def test_failing_and_slow_plugins_are_skipped_and_recorded(client, demo):
    sleepy = Sleepy()
    plugins.register(demo, Exploding(), "exploding")
    plugins.register(demo, sleepy, "sleepy")
    pause_all_but(demo, "queue", "phone")
    try:
        root = ET.fromstring(voice(client).data)
        # Answered while the plugin still runs: the call did not wait for it (a check of
        # behaviour, not of how fast a busy machine answers).
        assert not sleepy.answered.is_set()
    finally:
        sleepy.release.set()
    _, headers = sip_headers(root.find("Dial/Sip").text)
    assert "X-Slow" not in headers and headers["X-Campaign-ID"]
    with demo.app_context():
        errors = {e["plugin"]: e["error"] for e in db.session.scalar(select(Call)).attempts[0].plugin_errors}
    assert "CRM is down" in errors["exploding"]
    assert "timed out" in errors["sleepy"]
    # Failover still works after plugin trouble.
    nxt = ET.fromstring(dial_action(client, root, "busy", 486).data)
    assert nxt.find("Dial/Number") is not None


class Blabbing:
    """A plugin whose error message quotes everything it was given."""

    @hookimpl
    def token_values(self, call):
        raise RuntimeError(f"CRM lookup failed for {call} key={call.key}")

    @hookimpl
    def sip_headers(self, call, buyer, values):
        raise RuntimeError(f"failed: {values['call_key']} {buyer}")


def test_plugin_errors_never_carry_the_call_key_or_password(client, demo, caplog):
    plugins.register(demo, Blabbing(), "blabbing")
    pause_all_but(demo, "secure")
    ET.fromstring(voice(client).data)
    with demo.app_context():
        call = db.session.scalar(select(Call))
        stored = call.reason + repr(call.attempts[0].plugin_errors)
        key = call.key
    assert "CRM lookup failed" in stored and "********" in stored
    for text in (stored, caplog.text):
        assert key not in text and "Demo-Password-2026" not in text
