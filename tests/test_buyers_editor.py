"""The buyer editor: create/edit, header rows, SIP section, inline checks, token help, password.

Every htmx endpoint is exercised as a plain form post (whole page) and with ``HX-Request`` (just
its fragment). Bad input never changes the database.
"""
import re

import pytest
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Buyer, BuyerHeader, Campaign, CampaignBuyer
from tests.support.buyers import edit_data
from tests.support.html import HX

DEMO_PASSWORD = "Demo-Password-2026"


# --- helpers ---------------------------------------------------------------------------------

def count(app, model=Buyer):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def get_buyer(app, ref):
    with app.app_context():
        buyer = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        if buyer is None:
            return None
        # Load what the tests read after the session is gone.
        buyer.headers, buyer.routing  # noqa: B018
        return buyer


def headers_of(app, ref):
    with app.app_context():
        buyer = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        return [(h.name, h.value) for h in buyer.headers]


def password_of(app, ref):
    with app.app_context():
        return db.session.scalar(select(Buyer).where(Buyer.ref == ref)).sip_password


def campaign_id(app, ref):
    with app.app_context():
        return db.session.scalar(select(Campaign.id).where(Campaign.ref == ref))


def routing(app, ref):
    with app.app_context():
        c = db.session.scalar(select(Campaign).where(Campaign.ref == ref))
        return [e.buyer.ref for e in c.routing], [e.position for e in c.routing]


def form_data(**overrides):
    data = {"name": "Agent desk", "ref": "", "number": "sip:agentqueue@example.com",
            "sip_username": "", "sip_password": "", "priority": "1", "weight": "1",
            "timeout": "30", "concurrency_cap": "", "daily_cap": "", "action": "save"}
    data.update(overrides)
    return data


def is_fragment(body):
    return "<html" not in body and "<!doctype" not in body.lower()


def msg_div(body, field_id):
    m = re.search(rf'<div class="msgs" id="msg-{re.escape(field_id)}"[^>]*>(.*?)</div>', body, re.S)
    assert m, f"no messages for {field_id}"
    return m.group(1)


# --- access ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method,url", [
    ("get", "/buyers/new"), ("post", "/buyers/new"), ("get", "/buyers/1/edit"),
    ("post", "/buyers/1/edit"), ("post", "/buyers/check?field=number"),
    ("post", "/buyers/1/check?field=number"), ("post", "/buyers/preview"),
    ("post", "/buyers/1/preview"), ("post", "/buyers/sip-section"),
    ("post", "/buyers/1/sip-section"), ("post", "/buyers/sample"), ("post", "/buyers/tokens"),
    ("post", "/buyers/1/tokens"), ("post", "/buyers/1/sample")])
def test_login_required(client, demo, method, url):
    response = getattr(client, method)(url, data=form_data() if method == "post" else None)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    response = getattr(client, method)(url, headers=HX)
    assert response.status_code == 401 and "HX-Redirect" in response.headers
    assert count(demo) == 6


@pytest.mark.parametrize("url", ["/buyers/999/edit", "/buyers/999/check?field=name",
                                 "/buyers/999/preview", "/buyers/999/sip-section",
                                 "/buyers/999/sample", "/buyers/999/tokens",
                                 "/buyers/99999999999999/edit"])
def test_unknown_buyer(admin_client, demo, url):
    assert admin_client.post(url, data=form_data()).status_code == 404


# --- pages -----------------------------------------------------------------------------------

def test_new_page(admin_client, demo):
    response = admin_client.get("/buyers/new")
    body = response.text
    assert response.status_code == 200 and "<html" in body
    assert 'id="buyer-form"' in body and 'action="/buyers/new"' in body
    # inline checks as the user types
    assert 'hx-post="/buyers/check?field=number"' in body
    assert 'hx-trigger="keyup changed delay:400ms, change"' in body
    # the SIP section: swapped in by htmx, shown by <noscript> without JavaScript
    assert 'id="sip-section" data-loaded="0"' in body and 'hx-trigger="sip-needed"' in body
    noscript = re.search(r"<noscript>(.*?)</noscript>", body, re.S).group(1)
    assert 'name="sip_username"' in noscript and 'value="add-header"' in noscript
    assert "/inbound/twilio-ips" in noscript
    # token help: built-ins and the tag keys seen on numbers
    for token in ("[call_uuid]", "[campaign_id]", "[caller_country]", "[lead_score]", "[language]"):
        assert f'data-token="{token}"' in body, token
    # live preview for the first tracking number, posted with the whole form
    assert 'hx-post="/buyers/preview"' in body
    assert "from:closest form" in body and 'id="preview-output"' in body
    assert '<option selected value="1">+18882223333' in body
    assert "New buyer" in body and "Create buyer" in body


def test_edit_page_shows_health_postback_and_campaigns(admin_client, demo):
    bid, _ = edit_data(demo, "queue")
    body = admin_client.get(f"/buyers/{bid}/edit").text
    assert "Buyer Agent queue (Asterisk)" in body
    assert 'id="buyer-health"' in body and "no calls in 24 h" in body
    assert "Postback URL" in body and "https://sipflask.test/postback" in body
    auto, medicare = campaign_id(demo, "auto"), campaign_id(demo, "medicare")
    assert f'href="/campaigns/{auto}/edit#routing"' in body
    assert f'href="/campaigns/{medicare}/edit#routing"' in body
    assert "position 1 of 3" in body and "position 2 of 5" in body
    # a SIP buyer: section rendered in place with its headers, in order
    assert 'id="sip-section" data-loaded="1"' in body
    assert 'class="card sip-section">' in body  # shown: not marked sip-off
    names = re.findall(r'name="headers-(\d+)-name"[^>]*value="([^"]*)"', body)
    assert names == [("0", "X-Campaign-ID"), ("1", "X-Caller-State"), ("2", "X-Lead-Score")]
    assert 'value="[caller_state|&#34;unknown&#34;]"' in body


def test_edit_page_health_numbers(admin_client, demo, client):
    from tests.support.webhook import dial_action, parse, pause_all_but, voice
    pause_all_but(demo, "queue")
    parse(dial_action(admin_client, parse(voice(admin_client)), "busy", 486))
    bid, _ = edit_data(demo, "queue")
    body = admin_client.get(f"/buyers/{bid}/edit").text
    assert "1 offered" in body and "486" in body
    listing = admin_client.get("/buyers/").text
    assert "1 offered" in listing and "no calls in 24 h" in listing


def test_phone_buyer_page(admin_client, demo):
    bid, _ = edit_data(demo, "phone")
    body = admin_client.get(f"/buyers/{bid}/edit").text
    assert 'id="sip-section" data-loaded="0"' in body
    assert "This buyer is a phone number" in body  # the postback box says so
    assert 'id="preview-phone"' in body and "&lt;Number&gt;+14155552671&lt;/Number&gt;" in body


# --- create ----------------------------------------------------------------------------------

def test_create_sip_buyer_plain(admin_client, demo):
    auto = campaign_id(demo, "auto")
    data = form_data(sip_username="agent-7", sip_password="s3cret-Pass", campaigns=[str(auto)],
                     **{"headers-0-name": "X-Campaign-ID", "headers-0-value": "[campaign_id]",
                        "headers-1-name": "", "headers-1-value": "",
                        "headers-2-name": "User-to-User", "headers-2-value": "[sub_id]",
                        "headers-3-name": "X-Score", "headers-3-value": "[lead_score|\"0\"]"})
    response = admin_client.post("/buyers/new", data=data)
    assert response.status_code == 302
    b = get_buyer(demo, "agent-desk")
    assert response.headers["Location"] == f"/buyers/{b.id}/edit"
    assert b.name == "Agent desk" and b.number == "sip:agentqueue@example.com"
    assert b.sip_username == "agent-7" and b.has_sip_password
    assert password_of(demo, "agent-desk") == "s3cret-Pass"
    # blank rows are ignored, order is kept
    assert headers_of(demo, "agent-desk") == [("X-Campaign-ID", "[campaign_id]"),
                                              ("User-to-User", "[sub_id]"),
                                              ("X-Score", "[lead_score|\"0\"]")]
    assert routing(demo, "auto") == (["queue", "secure", "phone", "agent-desk"], [0, 1, 2, 3])
    page = admin_client.get(response.headers["Location"]).text
    assert "Buyer Agent desk created." in page
    assert "s3cret-Pass" not in page and 'id="password-set"' in page


def test_create_htmx_redirects(admin_client, demo):
    response = admin_client.post("/buyers/new", data=form_data(number="+1 (415) 555-2671"),
                                 headers=HX)
    assert response.status_code == 204
    b = get_buyer(demo, "agent-desk")
    assert response.headers["HX-Redirect"] == f"/buyers/{b.id}/edit"
    assert b.number == "+14155552671"  # normalised by the shared rules
    assert b.sip_username == "" and not b.has_sip_password and b.headers == []


def test_ref_is_made_from_name_and_unique(admin_client, demo):
    admin_client.post("/buyers/new", data=form_data())
    admin_client.post("/buyers/new", data=form_data())
    assert get_buyer(demo, "agent-desk-2") is not None
    response = admin_client.post("/buyers/new", data=form_data(ref="queue"), headers=HX)
    assert response.status_code == 422
    assert "Ref &#39;queue&#39; is already used by buyer" in msg_div(response.text, "ref")
    assert count(demo) == 8


BAD_INPUTS = [
    ({"number": "not a number"}, "number", "For a SIP address start with"),
    ({"number": "sip:@example.com"}, "number", ""),
    ({"number": "sip:queue@example.com?X-A=1"}, "number", "add headers in the SIP Headers rows"),
    ({"number": "sip:" + "q" * 250 + "@example.com"}, "number", "Twilio"),
    ({"number": "sip:[Queue Name]@example.com"}, "number", "must not contain spaces"),
    ({"number": "sip:[Queue]@example.com"}, "number", "not a valid token name"),
    ({"headers-0-name": "X Bad", "headers-0-value": "1"}, "headers-0-name",
     "never allowed in a header name"),
    ({"headers-0-name": "Foo", "headers-0-value": "1"}, "headers-0-name", "not an allowed header name"),
    ({"headers-0-name": "X-A", "headers-0-value": "1", "headers-1-name": "x-a",
      "headers-1-value": "2"}, "headers-1-name", "already set in row 1"),
    ({"headers-0-name": "X-PH-RetreaverUUID", "headers-0-value": "1"}, "headers-0-name",
     "can&#39;t be replaced"),
    ({"headers-0-name": "", "headers-0-value": "[campaign_id]"}, "headers-0-name", ""),
    ({"headers-0-name": "X-A", "headers-0-value": "[Campaign ID]"}, "headers-0-value",
     "not a valid token name"),
    ({"headers-0-name": "X-A", "headers-0-value": "a\x01b"}, "headers-0-value", "one line"),
    ({"headers-0-name": "X-A", "headers-0-value": "v" * 999}, "headers", "Twilio&#39;s limit"),
    ({"sip_password": "pw-without-user", "sip_username": ""}, "sip_username",
     "username that goes with"),
    ({"sip_username": "has space", "sip_password": "x"}, "sip_username", "no spaces"),
    ({"name": ""}, "name", "Name is required"),
    ({"timeout": "2"}, "timeout", "between 5 and 600"),
    ({"priority": "first"}, "priority", "whole number"),
    ({"daily_cap": "-1"}, "daily_cap", "at least 0"),
    ({"campaigns": ["999"]}, "campaigns", "no longer exists"),
]


@pytest.mark.parametrize("overrides,field_id,text", BAD_INPUTS)
def test_bad_input_create(admin_client, demo, overrides, field_id, text):
    data = form_data(**overrides)
    plain = admin_client.post("/buyers/new", data=data)
    assert plain.status_code == 200 and "<html" in plain.text
    assert '<p class="error">' in msg_div(plain.text, field_id)
    assert text in msg_div(plain.text, field_id)
    fragment = admin_client.post("/buyers/new", data=data, headers=HX)
    assert fragment.status_code == 422 and is_fragment(fragment.text)
    assert fragment.text.lstrip().startswith('<form id="buyer-form"')
    assert text in msg_div(fragment.text, field_id)
    # values kept (escaped), nothing saved
    if overrides.get("name", None) != "":
        assert 'value="Agent desk"' in fragment.text
    assert count(demo) == 6 and count(demo, BuyerHeader) == 6


@pytest.mark.parametrize("overrides,field_id,text", BAD_INPUTS[:16])
def test_bad_input_edit_leaves_db_unchanged(admin_client, demo, overrides, field_id, text):
    bid, data = edit_data(demo, "secure")
    data = {k: v for k, v in data.items() if not k.startswith("headers-")}
    data.update(overrides)
    before = (headers_of(demo, "secure"), get_buyer(demo, "secure").number,
              get_buyer(demo, "secure").sip_password_encrypted)
    for headers in ({}, HX):
        response = admin_client.post(f"/buyers/{bid}/edit", data=data, headers=headers)
        assert response.status_code == (422 if headers else 200)
        assert text in msg_div(response.text, field_id)
        assert DEMO_PASSWORD not in response.text
    after = (headers_of(demo, "secure"), get_buyer(demo, "secure").number,
             get_buyer(demo, "secure").sip_password_encrypted)
    assert after == before


def test_unknown_token_is_a_warning_not_an_error(admin_client, demo):
    data = form_data(**{"headers-0-name": "X-Score", "headers-0-value": "[crm_score]"})
    check = admin_client.post("/buyers/check?field=headers-0-value", data=data, headers=HX)
    messages = msg_div(check.text, "headers-0-value")
    assert '<p class="warning">' in messages and '<p class="error">' not in messages
    assert "Unknown token [crm_score]" in messages
    assert "Known tokens: call_uuid" in messages and "lead_score" in messages
    assert admin_client.post("/buyers/new", data=data).status_code == 302
    assert headers_of(demo, "agent-desk") == [("X-Score", "[crm_score]")]


def test_known_tokens_follow_the_chosen_campaigns(admin_client, demo):
    medicare = str(campaign_id(demo, "medicare"))
    data = form_data(campaigns=[medicare],
                     **{"headers-0-name": "X-Score", "headers-0-value": "[lead_score]"})
    check = admin_client.post("/buyers/check?field=headers-0-value", data=data, headers=HX)
    assert "Unknown token [lead_score]" in check.text  # only auto's numbers carry lead_score
    assert "language" in check.text
    data["campaigns"] = [str(campaign_id(demo, "auto"))]
    check = admin_client.post("/buyers/check?field=headers-0-value", data=data, headers=HX)
    assert "Unknown token" not in check.text


# --- header rows -----------------------------------------------------------------------------

def test_add_header_plain_post(admin_client, demo):
    bid, data = edit_data(demo, "queue", action="add-header")
    response = admin_client.post(f"/buyers/{bid}/edit", data=data)
    assert response.status_code == 200 and "<html" in response.text
    assert 'name="headers-3-name"' in response.text and "autofocus" in response.text
    assert len(headers_of(demo, "queue")) == 3  # nothing saved


def test_add_header_htmx(admin_client, demo):
    data = form_data(action="add-header")
    response = admin_client.post("/buyers/new", data=data, headers=HX)
    assert response.status_code == 200 and is_fragment(response.text)
    assert response.text.lstrip().startswith('<div id="sip-headers"')
    assert 'name="headers-0-name"' in response.text and 'name="headers-1-name"' not in response.text
    assert response.headers["HX-Trigger-After-Settle"] == "preview-refresh"
    data.update({"headers-0-name": "X-A", "headers-0-value": "1"})
    response = admin_client.post("/buyers/new", data=data, headers=HX)
    assert 'value="X-A"' in response.text and 'name="headers-1-name"' in response.text
    assert count(demo) == 6


def test_remove_header_keeps_order(admin_client, demo):
    bid, data = edit_data(demo, "queue", action="remove-header-1")
    for headers in ({}, HX):
        response = admin_client.post(f"/buyers/{bid}/edit", data=data, headers=headers)
        assert response.status_code == 200
        rows = re.findall(r'name="headers-(\d+)-name"[^>]*value="([^"]*)"', response.text)
        assert rows == [("0", "X-Campaign-ID"), ("1", "X-Lead-Score")]
        assert 'value="remove-header-2"' not in response.text
    assert is_fragment(response.text)
    assert len(headers_of(demo, "queue")) == 3
    # saving the result stores the two left, in order
    data = {k: v for k, v in data.items() if not k.startswith("headers-")}
    data.update({"headers-0-name": "X-Campaign-ID", "headers-0-value": "[campaign_id]",
                 "headers-1-name": "X-Lead-Score", "headers-1-value": "[lead_score]",
                 "action": "save"})
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert headers_of(demo, "queue") == [("X-Campaign-ID", "[campaign_id]"),
                                         ("X-Lead-Score", "[lead_score]")]


@pytest.mark.parametrize("action", ["remove-header-x", "delete-everything", "remove-header-",
                                    "remove-header-²", "remove-header-" + "9" * 5000])
def test_unknown_action(admin_client, demo, action):
    assert admin_client.post("/buyers/new", data=form_data(action=action)).status_code == 400


def test_remove_out_of_range_is_harmless(admin_client, demo):
    response = admin_client.post("/buyers/new", data=form_data(action="remove-header-7"),
                                 headers=HX)
    assert response.status_code == 200 and 'id="no-headers"' in response.text


def test_reorder_by_saving_rows(admin_client, demo):
    bid, data = edit_data(demo, "queue")
    data["headers-0-name"], data["headers-2-name"] = data["headers-2-name"], data["headers-0-name"]
    data["headers-0-value"], data["headers-2-value"] = data["headers-2-value"], data["headers-0-value"]
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert [n for n, _ in headers_of(demo, "queue")] == ["X-Lead-Score", "X-Caller-State",
                                                          "X-Campaign-ID"]


# --- inline checks ---------------------------------------------------------------------------

def test_check_number_htmx_and_plain(admin_client, demo):
    data = form_data(number="+1555")
    fragment = admin_client.post("/buyers/check?field=number", data=data, headers=HX)
    assert fragment.status_code == 200 and is_fragment(fragment.text)
    assert fragment.text.lstrip().startswith('<div class="msgs" id="msg-number"')
    assert '<p class="error">' in msg_div(fragment.text, "number")
    assert 'id="msg-headers" hx-swap-oob="true"' in fragment.text
    good = admin_client.post("/buyers/check?field=number",
                             data=form_data(number="sip:agentqueue@example.com"), headers=HX)
    assert msg_div(good.text, "number") == ""
    plain = admin_client.post("/buyers/check?field=number", data=data)
    assert plain.status_code == 200 and "<html" in plain.text
    assert '<p class="error">' in msg_div(plain.text, "number")
    assert '<p class="error">' not in msg_div(plain.text, "name")
    assert count(demo) == 6


def test_check_header_names_refreshes_other_rows(admin_client, demo):
    data = form_data(**{"headers-0-name": "X-A", "headers-0-value": "1",
                        "headers-1-name": "X-A", "headers-1-value": "2",
                        "headers-2-name": "", "headers-2-value": ""})
    response = admin_client.post("/buyers/check?field=headers-0-name", data=data, headers=HX)
    assert msg_div(response.text, "headers-0-name") == ""
    assert 'id="msg-headers-1-name" hx-swap-oob="true"' in response.text
    assert "already set in row 1" in msg_div(response.text, "headers-1-name")
    assert 'id="msg-headers-2-name"' not in response.text  # blank rows are left alone


def test_check_standard_header_names(admin_client, demo):
    for name in ("User-to-User", "remote-party-id", "P-Preferred-Identity", "P-Called-Party-ID",
                 "X-Lead-ID-2"):
        data = form_data(**{"headers-0-name": name, "headers-0-value": "v"})
        response = admin_client.post("/buyers/check?field=headers-0-name", data=data, headers=HX)
        assert msg_div(response.text, "headers-0-name") == "", name


def test_check_phone_number_ignores_sip_rows(admin_client, demo):
    data = form_data(number="+14155552671", **{"headers-0-name": "Bad Name",
                                                "headers-0-value": "1"})
    response = admin_client.post("/buyers/check?field=headers-0-name", data=data, headers=HX)
    assert msg_div(response.text, "headers-0-name") == ""
    assert admin_client.post("/buyers/new", data=data).status_code == 302
    assert headers_of(demo, "agent-desk") == []


@pytest.mark.parametrize("field", ["x" * 80, "a b", "<script>", "headers-0-name\n"])
def test_check_refuses_odd_field_names(admin_client, demo, field):
    assert admin_client.post("/buyers/check", query_string={"field": field},
                             data=form_data(), headers=HX).status_code == 400


def test_check_password_warning(admin_client, demo):
    data = form_data(sip_username="agent")
    response = admin_client.post("/buyers/check?field=sip_password", data=data, headers=HX)
    assert "No password" in msg_div(response.text, "sip_password")


# --- SIP section, sample, tokens -------------------------------------------------------------

def test_sip_section_htmx_and_plain(admin_client, demo):
    data = form_data(number="sip:agentqueue@example.com", sip_username="kept")
    fragment = admin_client.post("/buyers/sip-section", data=data, headers=HX)
    assert fragment.status_code == 200 and is_fragment(fragment.text)
    assert fragment.text.lstrip().startswith('<fieldset id="sip-section" data-loaded="1"')
    assert 'value="kept"' in fragment.text and 'name="sip_password"' in fragment.text
    assert "/inbound/twilio-ips" in fragment.text and "not the login" in fragment.text
    assert "Username + password" in fragment.text and "IP whitelisting" in fragment.text
    plain = admin_client.post("/buyers/sip-section", data=data)
    assert plain.status_code == 200 and "<html" in plain.text and 'value="kept"' in plain.text


def test_sip_section_for_secure_buyer_never_has_password(admin_client, demo):
    bid, data = edit_data(demo, "secure")
    for headers in ({}, HX):
        body = admin_client.post(f"/buyers/{bid}/sip-section", data=data, headers=headers).text
        assert DEMO_PASSWORD not in body
        assert 'id="password-set"' in body and 'value="clear"' in body
        assert re.search(r'<input[^>]*name="sip_password"[^>]*value=""', body)


def test_phone_number_with_typed_sip_values_keeps_them_hidden(admin_client, demo):
    data = form_data(number="+14155552671", name="", sip_username="typed",
                     **{"headers-0-name": "X-A", "headers-0-value": "1"})
    response = admin_client.post("/buyers/new", data=data, headers=HX)
    assert response.status_code == 422
    assert 'class="card sip-section sip-off"' in response.text
    assert 'value="typed"' in response.text and 'value="X-A"' in response.text


def test_sample_htmx_and_plain(admin_client, demo):
    data = form_data(**{"sample-number": "3", "sample-caller": "+14155550123",
                        "sample-publisher": "", "sample-sub_id": "", "sample-tags": ""})
    fragment = admin_client.post("/buyers/sample", data=data, headers=HX)
    assert fragment.status_code == 200 and is_fragment(fragment.text)
    assert fragment.text.lstrip().startswith('<fieldset id="sample-call"')
    assert fragment.headers["HX-Trigger-After-Settle"] == "preview-refresh"
    assert 'value="tv-east"' in fragment.text and "language=en" in fragment.text
    assert '<option selected value="3">Northstar Digital' in fragment.text
    assert 'value="+14155550123"' in fragment.text  # the caller typed is kept
    plain = admin_client.post("/buyers/sample", data=data)
    assert plain.status_code == 200 and "<html" in plain.text and 'value="tv-east"' in plain.text


def test_tokens_htmx_and_plain(admin_client, demo):
    data = form_data(campaigns=[str(campaign_id(demo, "medicare"))])
    fragment = admin_client.post("/buyers/tokens", data=data, headers=HX)
    assert fragment.status_code == 200 and is_fragment(fragment.text)
    assert fragment.text.lstrip().startswith('<div id="token-help"')
    assert 'data-token="[language]"' in fragment.text
    assert 'data-token="[lead_score]"' not in fragment.text
    assert 'data-token="[caller_state]"' in fragment.text
    plain = admin_client.post("/buyers/tokens", data=data)
    assert plain.status_code == 200 and "<html" in plain.text


# --- password: keep, clear, replace, remove auth --------------------------------------------

def test_keep_password_by_default(admin_client, demo):
    bid, data = edit_data(demo, "secure", name="Acme PBX renamed")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert password_of(demo, "secure") == DEMO_PASSWORD
    assert get_buyer(demo, "secure").name == "Acme PBX renamed"


def test_replace_password(admin_client, demo):
    bid, data = edit_data(demo, "secure", sip_password="New-Pass-1")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert password_of(demo, "secure") == "New-Pass-1"


def test_clear_password(admin_client, demo):
    bid, data = edit_data(demo, "secure", password_action="clear")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    b = get_buyer(demo, "secure")
    assert not b.has_sip_password and b.sip_username == "sipflask-acme"
    body = admin_client.get(f"/buyers/{bid}/edit").text
    assert 'id="password-set"' not in body and "No password stored" in body
    assert 'username="sipflask-acme"' not in body  # no credentials in the preview TwiML


def test_empty_username_and_password_removes_auth(admin_client, demo):
    bid, data = edit_data(demo, "secure", sip_username="")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    b = get_buyer(demo, "secure")
    assert b.sip_username == "" and not b.has_sip_password and b.auth_mode == "none / IP"
    from tests.support.webhook import parse, pause_all_but, voice
    pause_all_but(demo, "secure")
    sip_el = parse(voice(admin_client)).find("Dial/Sip")
    assert sip_el.get("username") is None and sip_el.get("password") is None


def test_password_never_in_any_html(admin_client, demo):
    bid, data = edit_data(demo, "secure")
    encrypted = get_buyer(demo, "secure").sip_password_encrypted
    requests = [("get", f"/buyers/{bid}/edit", None), ("get", "/buyers/", None),
                ("get", "/buyers/?q=secure", None)]
    for url in (f"/buyers/{bid}/check?field=sip_password", f"/buyers/{bid}/preview",
                f"/buyers/{bid}/sip-section", f"/buyers/{bid}/sample", f"/buyers/{bid}/tokens",
                f"/buyers/{bid}/edit"):
        requests.append(("post", url, data))
    requests.append(("post", f"/buyers/{bid}/edit", dict(data, action="add-header")))
    requests.append(("post", f"/buyers/{bid}/edit", dict(data, name="")))  # refused save
    for method, url, payload in requests:
        for headers in ({}, HX):
            response = getattr(admin_client, method)(url, data=payload, headers=headers)
            body = response.get_data(as_text=True)
            assert DEMO_PASSWORD not in body, url
            assert encrypted not in body, url
    # a freshly typed password is not echoed back either, even when the save is refused
    response = admin_client.post(f"/buyers/{bid}/edit",
                                 data=dict(data, name="", sip_password="Typed-Secret-9"),
                                 headers=HX)
    assert response.status_code == 422 and "Typed-Secret-9" not in response.text
    preview = admin_client.post(f"/buyers/{bid}/preview",
                                data=dict(data, sip_password="Typed-Secret-9"), headers=HX)
    assert "Typed-Secret-9" not in preview.text and "password=&#34;********&#34;" in preview.text


# --- phone / SIP switch, routing -------------------------------------------------------------

def test_switch_sip_buyer_to_phone(admin_client, demo):
    bid, data = edit_data(demo, "secure", number="+14155552671")
    preview = admin_client.post(f"/buyers/{bid}/preview", data=data, headers=HX).text
    assert "&lt;Number&gt;+14155552671&lt;/Number&gt;" in preview and "&lt;Sip" not in preview
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    b = get_buyer(demo, "secure")
    assert b.number == "+14155552671" and not b.is_sip
    assert b.sip_username == "" and not b.has_sip_password and b.headers == []
    from tests.support.webhook import parse, pause_all_but, voice
    pause_all_but(demo, "secure")
    assert parse(voice(admin_client)).find("Dial/Number").text == "+14155552671"


def test_campaigns_on_the_form(admin_client, demo):
    bid, data = edit_data(demo, "queue", campaigns=[str(campaign_id(demo, "medicare"))])
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert routing(demo, "auto") == (["secure", "phone"], [0, 1])
    assert routing(demo, "medicare") == (["overflow", "queue", "ny-floor", "la-night", "phone"],
                                         [0, 1, 2, 3, 4])
    data["campaigns"] = [str(campaign_id(demo, "medicare")), str(campaign_id(demo, "auto"))]
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert routing(demo, "auto") == (["secure", "phone", "queue"], [0, 1, 2])
    data["campaigns"] = []
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert routing(demo, "medicare") == (["overflow", "ny-floor", "la-night", "phone"],
                                         [0, 1, 2, 3])
    assert count(demo, CampaignBuyer) == 6


def test_paused_and_numbers_saved(admin_client, demo):
    bid, data = edit_data(demo, "phone", paused="y", priority="4", weight="2", timeout="45",
                          concurrency_cap="", daily_cap="99")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    b = get_buyer(demo, "phone")
    assert (b.paused, b.priority, b.weight, b.timeout, b.concurrency_cap, b.daily_cap) == \
        (True, 4, 2, 45, None, 99)


# --- CSRF ------------------------------------------------------------------------------------

@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_csrf_on_every_post(client, auth, demo):
    from tests.support.app import ADMIN_EMAIL, PASSWORD
    from tests.support.html import csrf_token_from
    login = client.get("/login")
    client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD,
                                "csrf_token": csrf_token_from(login.text)})
    page = client.get("/buyers/new").text
    token = csrf_token_from(page)
    for url in ("/buyers/new", "/buyers/check?field=number", "/buyers/preview",
                "/buyers/sip-section", "/buyers/sample", "/buyers/tokens"):
        assert client.post(url, data=form_data(), headers=HX).status_code == 400, url
        ok = client.post(url, data=form_data(), headers={**HX, "X-CSRFToken": token})
        assert ok.status_code in (200, 204), url
    assert client.post("/buyers/new", data=form_data(name="Other", csrf_token=token)) \
        .status_code == 302


def test_national_phone_number_is_saved_in_e164(admin_client, demo):
    assert admin_client.post("/buyers/new", data=form_data(number="(415) 555-2671")) \
        .status_code == 302
    assert get_buyer(demo, "agent-desk").number == "+14155552671"


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, "-1", "", "0", "auto"])
def test_odd_campaign_values_are_refused(admin_client, demo, value):
    """Not silently dropped (the buyer was saved on no campaign): a field error, nothing saved."""
    response = admin_client.post("/buyers/new", data=form_data(campaigns=[value]))
    assert response.status_code == 200
    assert "Choose a campaign from the list" in msg_div(response.text, "campaigns")
    assert get_buyer(demo, "agent-desk") is None
