"""The buyer editor's live preview is what the webhook answers: same TwiML, same headers.

Each test compares the preview for a sample call with a real signed voice webhook call for the
same tracking number and caller (modulo the call's uuid and key, which differ per call).
"""
import html
import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from sipflask import plugins
from sipflask.callflow import preview
from sipflask.core.dialplan import BuyerSpec
from sipflask.extensions import db
from sipflask.hookspecs import hookimpl
from sipflask.models import Attempt, Buyer, BuyerHeader, Number
from tests.support.buyers import edit_data
from tests.support.html import HX
from tests.support.webhook import CALLER, parse, pause_all_but, voice

UUID_KEY = {"x-ph-retreaveruuid", "x-ph-retreaverkey"}


def sample_fields(app, number_text, caller=CALLER):
    with app.app_context():
        n = db.session.scalar(select(Number).where(Number.number == number_text))
        return {"sample-number": str(n.id), "sample-caller": caller,
                "sample-publisher": str(n.publisher_id or ""), "sample-sub_id": n.sub_id or "",
                "sample-tags": "\n".join(f"{k}={v}" for k, v in (n.tags or {}).items())}


def preview_of(client, app, ref, number_text, **overrides):
    bid, data = edit_data(app, ref, **overrides)
    data.update(sample_fields(app, number_text))
    response = client.post(f"/buyers/{bid}/preview", data=data, headers=HX)
    assert response.status_code == 200 and "<html" not in response.text
    return response.text


def twiml_from(body):
    m = re.search(r'<pre id="preview-twiml" class="twiml">(.*?)</pre>', body, re.S)
    assert m, "no TwiML in the preview"
    return ET.fromstring(html.unescape(m.group(1)))


def invite_rows(body):
    rows = re.findall(r'<tr data-header="([^"]+)" data-source="([^"]+)"><td><code>[^<]*</code></td>'
                      r'<td><code>(.*?)</code></td>', body)
    return [(n, s, html.unescape(v)) for n, s, v in rows]


def split(uri):
    base, _, query = uri.partition("?")
    pairs = [p.split("=", 1) for p in query.split("&")] if query else []
    return base, [(k, unquote(v)) for k, v in pairs]


def without_call_ids(pairs):
    return [(k, v) for k, v in pairs if k.lower() not in UUID_KEY]


def assert_same_answer(preview_root, webhook_root):
    p_dial, w_dial = preview_root.find("Dial"), webhook_root.find("Dial")
    for attr in ("method", "timeout"):
        assert p_dial.get(attr) == w_dial.get(attr), attr
    strip = re.compile(r"/dial-action/[0-9a-f-]{36}/")
    assert strip.sub("/dial-action/UUID/", p_dial.get("action")) == \
        strip.sub("/dial-action/UUID/", w_dial.get("action"))
    assert [c.tag for c in p_dial] == [c.tag for c in w_dial]
    if w_dial.find("Number") is not None:
        assert p_dial.find("Number").text == w_dial.find("Number").text
        return None
    p_sip, w_sip = p_dial.find("Sip"), w_dial.find("Sip")
    assert p_sip.get("username") == w_sip.get("username")
    assert (p_sip.get("password") is None) == (w_sip.get("password") is None)
    if w_sip.get("password") is not None:
        assert p_sip.get("password") == "********" != w_sip.get("password")
    p_base, p_pairs = split(p_sip.text)
    w_base, w_pairs = split(w_sip.text)
    assert p_base == w_base
    assert [k for k, _ in p_pairs] == [k for k, _ in w_pairs]
    assert without_call_ids(p_pairs) == without_call_ids(w_pairs)
    return w_pairs


@pytest.mark.parametrize("ref,number", [
    ("queue", "+18882223333"), ("secure", "+18882223333"), ("phone", "+18882223333"),
    ("overflow", "+18773331212"), ("overflow", "+18448210555"), ("queue", "+18664420199")])
def test_preview_equals_webhook(admin_client, client, demo, ref, number):
    body = preview_of(admin_client, demo, ref, number)
    pause_all_but(demo, ref)
    webhook_root = parse(voice(client, to=number))
    pairs = assert_same_answer(twiml_from(body), webhook_root)
    if pairs is None:
        assert 'id="preview-phone"' in body
        return
    # the INVITE shows every header of the dial string, decoded, in order
    rows = [(n, v) for n, s, v in invite_rows(body) if s != "twilio"]
    assert without_call_ids(rows) == without_call_ids(pairs)
    assert [n for n, _ in rows] == [n for n, _ in pairs]


def test_preview_sources_and_expanded_values(admin_client, demo):
    body = preview_of(admin_client, demo, "queue", "+18882223333")
    rows = {n: (s, v) for n, s, v in invite_rows(body)}
    assert rows["X-Campaign-ID"] == ("buyer", "1")
    assert rows["X-Caller-State"] == ("buyer", "unknown")
    assert rows["X-Lead-Score"] == ("buyer", "72")
    assert rows["X-PH-RetreaverUUID"] == ("default", preview.SAMPLE_UUID)
    assert rows["X-PH-RetreaverKey"] == ("default", preview.SAMPLE_KEY)
    assert rows["X-PH-RetreaverAFID"] == ("default", "5678")
    assert rows["X-PH-RetreaverSID"] == ("default", "fb-12")
    for std in ("Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Type"):
        assert rows[std][0] == "twilio", std
    assert "<code>INVITE sip:agentqueue@pbx.example.com SIP/2.0</code>" in body
    assert rows["To"][1] == "<sip:agentqueue@pbx.example.com>"


def test_preview_follows_the_typed_form_not_the_database(admin_client, demo):
    body = preview_of(admin_client, demo, "queue", "+18773331212",
                      number="sip:[sub_id]@calls.example.net;transport=tcp",
                      **{"headers-3-name": "X-Lang", "headers-3-value": "[language|\"en\"]"})
    root = twiml_from(body)
    base, pairs = split(root.find("Dial/Sip").text)
    assert base == "sip:tv-east@calls.example.net;transport=tcp"
    assert ("X-Lang", "en") in pairs and ("X-Campaign-ID", "2") in pairs
    rows = {n: v for n, _s, v in invite_rows(body)}
    assert rows["Via"].startswith("SIP/2.0/TCP ")
    with demo.app_context():
        assert db.session.scalar(select(Buyer.number).where(Buyer.ref == "queue")) == \
            "sip:agentqueue@pbx.example.com"


def test_preview_with_sample_edits(admin_client, demo):
    bid, data = edit_data(demo, "queue")
    data.update(sample_fields(demo, "+18882223333"))
    data.update({"sample-publisher": "", "sample-sub_id": "",
                 "sample-tags": "lead_score=99\ncaller_state=CA",
                 "sample-caller": "+14155550123"})
    body = admin_client.post(f"/buyers/{bid}/preview", data=data, headers=HX).text
    rows = {n: v for n, _s, v in invite_rows(body)}
    assert rows["X-Lead-Score"] == "99" and rows["X-Caller-State"] == "CA"
    assert "X-PH-RetreaverAFID" not in rows and "X-PH-RetreaverSID" not in rows
    assert rows["From"].startswith('"+14155550123" <sip:+14155550123@')
    bad = admin_client.post(f"/buyers/{bid}/preview",
                            data=dict(data, **{"sample-tags": "no equals sign"}), headers=HX)
    assert "Sample tags: Line 1" in bad.text


def test_preview_plain_post_is_the_whole_page(admin_client, demo):
    bid, data = edit_data(demo, "queue", number="sip:changed@example.com")
    data.update(sample_fields(demo, "+18882223333"))
    response = admin_client.post(f"/buyers/{bid}/preview", data=data)
    assert response.status_code == 200 and "<html" in response.text
    assert "INVITE sip:changed@example.com SIP/2.0" in response.text
    assert 'value="sip:changed@example.com"' in response.text


def test_preview_for_a_new_buyer(admin_client, demo):
    data = {"name": "New", "number": "sip:[campaign_id]@example.com",
            "headers-0-name": "X-Buyer", "headers-0-value": "[buyer_id|\"new\"]"}
    data.update(sample_fields(demo, "+18773331212"))
    body = admin_client.post("/buyers/preview", data=data, headers=HX).text
    assert "INVITE sip:2@example.com SIP/2.0" in body
    assert dict((n, v) for n, _s, v in invite_rows(body))["X-Buyer"] == "new"


def test_preview_of_an_undiallable_buyer(admin_client, demo):
    data = {"name": "New", "number": "sip:[sub_id]@example.com"}
    data.update(sample_fields(demo, "+18448210555"))  # no sub_id on this number
    body = admin_client.post("/buyers/preview", data=data, headers=HX).text
    assert 'id="preview-error"' in body and "Not dialled" in body
    assert 'id="preview-twiml"' not in body


class ExtraPlugin:
    @hookimpl
    def sip_headers(self, values):
        return [("X-Extra-Vertical", values.get("vertical", "")),
                ("X-Campaign-ID", "from-plugin")]

    @hookimpl
    def token_values(self, call):
        return {"crm_score": "88", "vertical": "plugin-loses"}


def test_plugin_headers_and_values_match_the_webhook(admin_client, client, demo):
    plugins.register(demo, ExtraPlugin(), name="acme_extra")
    body = preview_of(admin_client, demo, "queue", "+18882223333",
                      **{"headers-3-name": "X-Score", "headers-3-value": "[crm_score]"})
    rows = {n: (s, v) for n, s, v in invite_rows(body)}
    assert rows["X-Extra-Vertical"] == ("plugin:acme_extra", "auto")  # the number's tag wins
    assert rows["X-Campaign-ID"] == ("buyer", "1")  # the buyer's header replaces the plugin's
    assert rows["X-Score"] == ("buyer", "88")
    assert "pill src src-plugin" in body
    # save the extra row, then the webhook answers the same
    bid, data = edit_data(demo, "queue", **{"headers-3-name": "X-Score",
                                            "headers-3-value": "[crm_score]"})
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    pause_all_but(demo, "queue")
    assert_same_answer(twiml_from(body), parse(voice(client)))


def test_dropped_headers_shown_like_the_webhook_records_them(admin_client, client, demo):
    with demo.app_context():
        n = db.session.scalar(select(Number).where(Number.number == "+18882223333"))
        n.tags = {**n.tags, "big": "x" * 900}
        buyer = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        buyer.headers.append(BuyerHeader(position=3, name="X-Big", value="[big]"))
        db.session.commit()
    body = preview_of(admin_client, demo, "queue", "+18882223333")
    assert 'id="preview-dropped"' in body
    dropped = re.search(r'<table id="preview-dropped".*?</table>', body, re.S).group(0)
    assert 'data-header="X-Big"' in dropped and "Twilio&#39;s header limit" in dropped
    pause_all_but(demo, "queue")
    assert_same_answer(twiml_from(body), parse(voice(client)))
    with demo.app_context():
        attempt = db.session.scalar(select(Attempt).order_by(Attempt.id.desc()))
        assert [d["name"] for d in attempt.headers_dropped] == ["X-Big"]


def test_build_never_takes_a_real_password(app):
    spec = BuyerSpec(id=1, name="b", number="sip:q@example.com", sip_username="u",
                     sip_password="real-secret")
    with app.test_request_context("/"), pytest.raises(ValueError):
        preview.build(spec, preview.SampleCall(), 1)


def test_build_masks_and_needs_no_database_row(app):
    spec = BuyerSpec(id=0, name="b", number="sip:q@example.com", sip_username="u",
                     sip_password=preview.MASK, sip_headers=[("X-A", "[caller_number]")])
    with app.test_request_context("/"):
        p = preview.build(spec, preview.SampleCall(caller="+14155552671"), None)
    root = ET.fromstring(p.twiml)
    assert root.find("Dial/Sip").get("password") == preview.MASK
    assert p.invite.auth_username == "u"
    assert p.invite.header("X-A").value == "+14155552671"
    assert p.values["buyer_id"] == "" and p.info.campaign_id is None
    assert "\n" in p.twiml_pretty
    assert p.twiml_pretty.startswith('<?xml version="1.0" encoding="UTF-8"?>')


@pytest.mark.parametrize("overrides", [
    {"number": "sip:\x00@example.com"}, {"number": "+"}, {"number": "sip:a@[::1"},
    {"number": "["}, {"number": "sip:" + "a" * 2000 + "@example.com"}, {"number": ""},
    {"number": "+1[caller_zip]"}, {"timeout": "0"}, {"timeout": "abc"},
    {"sample-number": "abc", "sample-publisher": "999"}, {"sample-caller": "\x01<x>\"'"},
    {"sample-tags": "Bad Key=1\n=2\nok=" + "v" * 600},
    {"headers-0-name": "X-A\r\nX-B", "headers-0-value": "[caller_number]\r\n"},
])
def test_preview_survives_odd_input(admin_client, demo, overrides):
    bid, data = edit_data(demo, "queue")
    data.update(sample_fields(demo, "+18882223333"))
    data.update(overrides)
    for headers in ({}, HX):
        response = admin_client.post(f"/buyers/{bid}/preview", data=data, headers=headers)
        assert response.status_code == 200
        assert ("<html" in response.text) == (not headers)
