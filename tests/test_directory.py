"""The routing cache (ROUTING_CACHE_SECONDS): fast, and never wrong about pauses and caps."""
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from sipflask.callflow import directory
from sipflask.extensions import db
from sipflask.models import Buyer, Call, Campaign, Number
from tests.support.webhook import pause_all_but, sip_headers, voice

CACHED = pytest.mark.app_config(ROUTING_CACHE_SECONDS=60)


def _buyer(app, ref):
    return db.session.scalar(select(Buyer).where(Buyer.ref == ref))


@CACHED
def test_pause_applies_at_once_even_with_a_cached_routing_list(client, demo):
    pause_all_but(demo, "queue", "phone")
    first = ET.fromstring(voice(client, sid="CA1").data)
    assert first.find("Dial/Sip") is not None  # queue (priority 1), routing list now cached
    with demo.app_context():
        # As another process would: this process's cache is not told.
        db.session.execute(db.text("UPDATE buyers SET paused = true WHERE ref = 'queue'"))
        db.session.commit()
    second = ET.fromstring(voice(client, sid="CA2").data)
    assert second.find("Dial/Number") is not None
    with demo.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == "CA2"))
        assert {"buyer": "Agent queue (Asterisk)", "reason": "paused"} in [
            {k: s[k] for k in ("buyer", "reason")} for s in call.attempts[0].skipped]


@CACHED
def test_cap_reached_is_reported_with_the_databases_numbers(client, demo):
    pause_all_but(demo, "queue", "phone")
    with demo.app_context():
        _buyer(demo, "queue").concurrency_cap = 1
        db.session.commit()
    voice(client, sid="CA1")
    ET.fromstring(voice(client, sid="CA2").data)
    with demo.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == "CA2"))
        reasons = [s["reason"] for s in call.attempts[0].skipped]
        assert "concurrency cap reached (1/1)" in reasons


@CACHED
def test_a_new_number_routes_at_once(client, demo):
    assert b"not in service" in voice(client, to="+12125550100", sid="CA1").data
    with demo.app_context():
        camp = db.session.scalar(select(Campaign).where(Campaign.ref == "auto"))
        db.session.add(Number(number="+12125550100", campaign=camp, tags={}))
        db.session.commit()
    assert b"<Dial" in voice(client, to="+12125550100", sid="CA2").data


@CACHED
def test_edits_in_this_process_reach_the_next_call(client, demo):
    pause_all_but(demo, "queue")
    voice(client, sid="CA1")
    with demo.app_context():
        _buyer(demo, "queue").headers[0].value = "changed"
        db.session.commit()
    fresh = sip_headers(ET.fromstring(voice(client, sid="CA2").data).find("Dial/Sip").text)[1]
    assert fresh["X-Campaign-ID"] == "changed"


@CACHED
def test_edits_elsewhere_wait_for_the_cache_time(client, demo):
    """Another process's edit (simulated with a Core UPDATE, which this process's session
    never sees) shows once the cache is cleared or expires."""
    pause_all_but(demo, "queue")
    voice(client, sid="CA1")
    with demo.app_context():
        db.session.execute(db.text("UPDATE buyer_headers SET value = 'elsewhere'"))
        db.session.commit()
    stale = sip_headers(ET.fromstring(voice(client, sid="CA2").data).find("Dial/Sip").text)[1]
    assert stale["X-Campaign-ID"] != "elsewhere"
    with demo.app_context():
        directory.clear_cache()
    fresh = sip_headers(ET.fromstring(voice(client, sid="CA3").data).find("Dial/Sip").text)[1]
    assert fresh["X-Campaign-ID"] == "elsewhere"


def test_without_cache_every_call_reads_the_database(client, demo):
    assert demo.config["ROUTING_CACHE_SECONDS"] == 0
    pause_all_but(demo, "queue")
    voice(client, sid="CA1")
    with demo.app_context():
        _buyer(demo, "queue").headers[0].value = "changed"
        db.session.commit()
    headers = sip_headers(ET.fromstring(voice(client, sid="CA2").data).find("Dial/Sip").text)[1]
    assert headers["X-Campaign-ID"] == "changed"
