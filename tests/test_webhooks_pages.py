"""The webhook pages: the list (enable/disable, delete), the editor (fields, header rows, write-only
secrets, live checks, token help) and a webhook's delivery log.

Every htmx endpoint is exercised as a plain form post (the whole page) and with ``HX-Request``
(its fragment). Bad input gets its message at its field and never changes the database; a
stored secret never reaches a page.
"""
import pytest

from sipflask.extensions import db
from sipflask.models import Campaign
from sipflask.webhooks.model import Webhook
from tests.support.app import MEMBER_EMAIL
from tests.support.html import HX
from tests.support.webhook_pages import (SECRET_HEADER, SIGNING_SECRET, count, edit_data,
                                         form_data, is_fragment, make_call, make_delivery,
                                         make_webhook, msg_div, section, stored)


# --- access ------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,url", [
    ("get", "/webhooks/"), ("get", "/webhooks/new"), ("post", "/webhooks/new"),
    ("get", "/webhooks/1/edit"), ("post", "/webhooks/1/edit"), ("post", "/webhooks/1/enable"),
    ("post", "/webhooks/1/disable"), ("post", "/webhooks/1/delete"),
    ("post", "/webhooks/check?field=url"), ("post", "/webhooks/tokens"),
    ("get", "/webhooks/1/log"), ("post", "/webhooks/test"), ("post", "/webhooks/1/test"),
    ("post", "/webhooks/deliveries/1/retry")])
def test_signed_out_goes_to_login(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_members_set_up_webhooks_too(app, client, auth):
    auth.login(MEMBER_EMAIL)
    assert client.get("/webhooks/").status_code == 200
    response = client.post("/webhooks/new", data=form_data(name="Member's hook"))
    assert response.status_code == 302
    assert stored(app, ref="member-s-hook")["name"] == "Member's hook"
    assert 'href="/webhooks/"' in client.get("/").text  # the nav link


def test_unknown_webhook_is_404(admin_client):
    for url in ("/webhooks/99/edit", "/webhooks/99/log", "/webhooks/99999999999/edit"):
        assert admin_client.get(url).status_code == 404
    for url in ("/webhooks/99/enable", "/webhooks/99/delete", "/webhooks/99/check?field=url"):
        assert admin_client.post(url).status_code == 404


# --- list --------------------------------------------------------------------------------------

def test_list_shows_each_webhook_never_its_secrets(app, admin_client):
    wid = make_webhook(app)
    make_webhook(app, ref="starts", name="Starts", event="call.started", headers=[],
                 signing_secret="", filters={"tag_key": "caller_state", "tag_value": "CA"})
    make_delivery(app, wid, state="failed", tries=[{"status": 500, "error": "HTTP 500"}])
    page = admin_client.get("/webhooks/").text
    assert "Conversions" in page and "call.completed" in page and "call.started" in page
    assert "https://crm.example.com/hook?id=[call_uuid]" in page
    assert "2 headers (1 secret)" in page and "signed" in page
    assert "tag caller_state=CA" in page and "every call" in page
    assert "failed" in page and "HTTP 500" in page and "none yet" in page
    assert SECRET_HEADER not in page and SIGNING_SECRET not in page
    assert "Disable" in page and "Delete" in page


def test_list_search_plain_and_htmx(app, admin_client):
    make_webhook(app)
    make_webhook(app, ref="starts", name="Starts", event="call.started")
    full = admin_client.get("/webhooks/?q=started").text
    assert "<html" in full and "Starts" in full and "Conversions" not in full
    part = admin_client.get("/webhooks/?q=conv", headers=HX).text
    assert is_fragment(part) and 'id="webhook-results"' in part and "Conversions" in part
    assert "No webhook matches" in admin_client.get("/webhooks/?q=nothing").text


def test_empty_list_says_how_to_start(admin_client):
    assert "No webhooks yet" in admin_client.get("/webhooks/").text


def test_disable_and_enable_plain(app, admin_client):
    wid = make_webhook(app)
    response = admin_client.post(f"/webhooks/{wid}/disable", data={"next": "/webhooks/?q=c"})
    assert response.status_code == 302 and response.headers["Location"] == "/webhooks/?q=c"
    assert stored(app, wid)["enabled"] is False
    assert "Disabled webhook Conversions." in admin_client.get("/webhooks/").text
    admin_client.post(f"/webhooks/{wid}/enable")
    assert stored(app, wid)["enabled"] is True


def test_disable_htmx_swaps_the_row(app, admin_client):
    wid = make_webhook(app)
    response = admin_client.post(f"/webhooks/{wid}/disable", headers=HX)
    row = response.text
    assert is_fragment(row) and row.strip().startswith(f'<tr id="webhook-{wid}"')
    assert "disabled" in row and ">Enable</button>" in row
    assert SECRET_HEADER not in row and SIGNING_SECRET not in row
    assert stored(app, wid)["enabled"] is False


def test_off_site_next_is_ignored(app, admin_client):
    wid = make_webhook(app)
    response = admin_client.post(f"/webhooks/{wid}/disable", data={"next": "//evil.example"})
    assert response.headers["Location"] == "/webhooks/"


def test_delete_plain_and_htmx(app, admin_client):
    first, second = make_webhook(app), make_webhook(app, ref="other", name="Other")
    make_delivery(app, first, tries=[{"status": 500}])
    response = admin_client.post(f"/webhooks/{first}/delete")
    assert response.status_code == 302
    assert "Deleted webhook Conversions." in admin_client.get("/webhooks/").text
    response = admin_client.post(f"/webhooks/{second}/delete", headers=HX)
    assert response.status_code == 200 and response.text == ""
    assert count(app) == 0


# --- editor: create and save -------------------------------------------------------------------

def test_new_page_lists_events_with_their_words_and_tokens(admin_client):
    page = admin_client.get("/webhooks/new").text
    assert 'id="webhook-form"' in page and "Create webhook" in page
    assert "call.converted — A buyer reported a conversion (postback), with the revenue." in page
    assert 'data-token="[revenue]"' not in section(page, "event-tokens").split("</p>")[0]
    assert 'data-token="[call_status]"' in page  # call.completed is the default
    assert "call.rejected" in section(page, "token-help")


def test_create_plain_then_page_shows_it(app, admin_client):
    response = admin_client.post("/webhooks/new", data=form_data())
    assert response.status_code == 302
    saved = stored(app, ref="conversions")
    assert response.headers["Location"] == f"/webhooks/{saved['id']}/edit"
    assert saved["headers"] == [("X-Campaign", "[campaign_id]", False),
                                ("Authorization", SECRET_HEADER, True)]
    page = admin_client.get(response.headers["Location"]).text
    assert "Webhook Conversions created." in page
    assert 'value="https://crm.example.com/hook?id=[call_uuid]"' in page
    assert SECRET_HEADER not in page and "set — type to replace" in page
    assert "Delivery log" in page and "History" in page


def test_create_htmx_redirects(app, admin_client):
    response = admin_client.post("/webhooks/new", data=form_data(), headers=HX)
    assert response.status_code == 204
    wid = stored(app, ref="conversions")["id"]
    assert response.headers["HX-Redirect"] == f"/webhooks/{wid}/edit"


@pytest.mark.parametrize("overrides,field,words", [
    ({"url": "ftp://crm.example.com/x"}, "url", "must start with http:// or https://"),
    ({"url": "https://[caller_state].example.com/"}, "url", "scheme or host"),
    ({"url": "https://u:p@crm.example.com/"}, "url", "No user name or password"),
    ({"url": "https://crm.example.com/?k=[call_key]"}, "url", "to send it, or remove it"),
    ({"name": ""}, "name", "required"),
    ({"method": "GET"}, "body", "A GET request has no body"),
    ({"body": '{"a": "[call_uuid]"'}, "body", "not valid JSON"),
    ({"body_format": "form", "body": "a b"}, "body", "name=value pairs"),
    ({"headers-0-name": "Bad Name"}, "headers-0-name", "no spaces"),
    ({"headers-0-name": "Host"}, "headers-0-name", "set by sipflask"),
    ({"headers-0-name": "Authorization"}, "headers-1-name", "already set in row 1"),
    ({"signing_secret": "short"}, "signing_secret", "16-200"),
    ({"event": "call.rejected", "filter_campaign": "summer"}, "filter_campaign",
     "would never match"),
    ({"filter_campaign": "no-such"}, "filter_campaign", "No campaign with ref"),
    ({"filter_tag_key": "caller_state"}, "filter_tag_value", "Give both"),
    ({"event": "call.nope"}, "event", "Event must be one of"),
    ({"name": "Bad\x00name"}, "name", ""),
])
def test_field_errors_plain_and_htmx_nothing_written(app, admin_client, overrides, field,
                                                      words):
    with app.app_context():
        db.session.add(Campaign(ref="summer", name="Summer"))
        db.session.commit()
    data = form_data(**overrides)
    page = admin_client.post("/webhooks/new", data=data)
    assert page.status_code == 200 and "<html" in page.text
    assert words in msg_div(page.text, field) and 'class="error"' in msg_div(page.text, field)
    part = admin_client.post("/webhooks/new", data=data, headers=HX)
    assert part.status_code == 422 and is_fragment(part.text)
    assert words in msg_div(part.text, field)
    assert count(app) == 0
    # What was typed comes back; the secret header's value never in clear.
    assert SECRET_HEADER not in page.text and SECRET_HEADER not in part.text


def test_call_key_with_the_box_ticked_is_a_warning(app, admin_client):
    data = form_data(url="https://crm.example.com/?k=[call_key]", include_key="y")
    response = admin_client.post("/webhooks/new", data=data)
    assert response.status_code == 302
    page = admin_client.get(response.headers["Location"]).text
    assert "whoever receives it can report conversions" in msg_div(page, "include_key")


def test_ref_taken_is_said_at_ref(app, admin_client):
    make_webhook(app)
    page = admin_client.post("/webhooks/new", data=form_data(ref="conversions")).text
    assert "already used by webhook &#39;Conversions&#39;" in msg_div(page, "ref")
    assert count(app) == 1


def test_edit_saves_and_keeps_the_secrets_left_empty(app, admin_client):
    wid = make_webhook(app)
    page = admin_client.get(f"/webhooks/{wid}/edit").text
    assert SECRET_HEADER not in page and SIGNING_SECRET not in page
    assert 'id="secret-set"' in page
    data = edit_data(app, wid, url="https://crm.example.com/v2?id=[call_uuid]", name="Renamed")
    response = admin_client.post(f"/webhooks/{wid}/edit", data=data)
    assert response.status_code == 302
    saved = stored(app, wid)
    assert saved["name"] == "Renamed" and saved["url"].endswith("/v2?id=[call_uuid]")
    assert ("Authorization", SECRET_HEADER, True) in saved["headers"]
    assert saved["signing_secret"] == SIGNING_SECRET


def test_typing_a_secret_replaces_it_and_remove_clears_the_signing_secret(app, admin_client):
    wid = make_webhook(app)
    data = edit_data(app, wid, **{"headers-1-value": "Bearer new-one-123456",
                                  "clear_signing_secret": "y"})
    assert admin_client.post(f"/webhooks/{wid}/edit", data=data).status_code == 302
    saved = stored(app, wid)
    assert ("Authorization", "Bearer new-one-123456", True) in saved["headers"]
    assert saved["signing_secret"] == ""
    page = admin_client.get(f"/webhooks/{wid}/edit").text
    assert "Bearer new-one-123456" not in page and "None stored: requests are not signed" in page


def test_renamed_secret_header_needs_its_value(app, admin_client):
    wid = make_webhook(app)
    data = edit_data(app, wid, **{"headers-1-name": "X-Api-Key"})
    page = admin_client.post(f"/webhooks/{wid}/edit", data=data).text
    assert "Enter the value of the secret header X-Api-Key." in msg_div(page, "headers-1-value")
    assert stored(app, wid)["headers"][1][0] == "Authorization"


def test_filters_are_saved_by_ref(app, admin_client):
    with app.app_context():
        db.session.add(Campaign(ref="summer", name="Summer"))
        db.session.commit()
    data = form_data(filter_campaign="summer", filter_tag_key="caller_state",
                     filter_tag_value="CA")
    response = admin_client.post("/webhooks/new", data=data)
    assert response.status_code == 302
    with app.app_context():
        w = db.session.scalar(db.select(Webhook))
        assert (w.filter_campaign.ref, w.filter_tag_key, w.filter_tag_value) == \
            ("summer", "caller_state", "CA")
    page = admin_client.get(response.headers["Location"]).text
    assert '<option selected value="summer">Summer</option>' in page
    assert "campaign Summer" in admin_client.get("/webhooks/").text


# --- header rows without JavaScript -------------------------------------------------------------

def test_add_header_plain_post_returns_the_page_with_a_new_row(app, admin_client):
    data = form_data(action="add-header")
    response = admin_client.post("/webhooks/new", data=data)
    page = response.text
    assert response.status_code == 200 and "<html" in page
    assert 'id="headers-2-name"' in page and "autofocus" in section(page, "field-headers-2-name")
    assert count(app) == 0  # nothing saved
    # The typed secret came back sealed, never in clear, and is saved with the form.
    assert SECRET_HEADER not in page
    sealed = page.split('name="headers-1-sealed" value="', 1)[1].split('"', 1)[0]
    assert sealed
    again = form_data(**{"headers-1-value": "", "headers-1-sealed": sealed,
                         "headers-2-name": "", "headers-2-value": ""})
    assert admin_client.post("/webhooks/new", data=again).status_code == 302
    assert ("Authorization", SECRET_HEADER, True) in stored(app, ref="conversions")["headers"]


def test_add_header_htmx_returns_the_rows(admin_client):
    part = admin_client.post("/webhooks/new", data=form_data(action="add-header"), headers=HX)
    assert part.status_code == 200 and is_fragment(part.text)
    assert part.text.strip().startswith('<div id="webhook-headers"')
    assert 'id="headers-2-name"' in part.text and SECRET_HEADER not in part.text


def test_remove_a_middle_row_plain_post(app, admin_client):
    data = form_data(**{"headers-2-name": "X-Last", "headers-2-value": "last",
                        "action": "remove-header-0"})
    page = admin_client.post("/webhooks/new", data=data).text
    assert "X-Campaign" not in page
    assert 'id="headers-0-name"' in page and 'value="Authorization"' in page
    assert 'value="X-Last"' in section(page, "field-headers-1-name")
    assert 'id="headers-2-name"' not in page
    # The secret moved up with its row and is still kept (sealed).
    sealed = page.split('name="headers-0-sealed" value="', 1)[1].split('"', 1)[0]
    assert sealed and SECRET_HEADER not in page


def test_remove_htmx_and_bad_actions(admin_client):
    part = admin_client.post("/webhooks/new", data=form_data(action="remove-header-1"),
                             headers=HX)
    assert is_fragment(part.text) and 'id="headers-1-name"' not in part.text
    for action in ("remove-header-x", "remove-header-", "nonsense"):
        assert admin_client.post("/webhooks/new", data=form_data(action=action)).status_code \
            == 400
    # Out of range: nothing removed, no error.
    page = admin_client.post("/webhooks/new", data=form_data(action="remove-header-9")).text
    assert 'id="headers-1-name"' in page


def test_forged_sealed_value_is_ignored(app, admin_client):
    data = form_data(**{"headers-1-value": "", "headers-1-sealed": "not-a-token"})
    page = admin_client.post("/webhooks/new", data=data).text
    assert "Enter the value of the secret header Authorization." in \
        msg_div(page, "headers-1-value")
    assert count(app) == 0


def test_a_stored_secret_posted_as_sealed_is_not_read(app, admin_client):
    wid = make_webhook(app)
    with app.app_context():
        token = db.session.get(Webhook, wid).headers[1].value_encrypted
    data = form_data(ref="copy", **{"headers-1-value": "", "headers-1-sealed": token})
    page = admin_client.post("/webhooks/new", data=data).text
    assert "Enter the value of the secret header Authorization." in page


# --- signing secret ------------------------------------------------------------------------------

def test_generate_shows_the_secret_once_then_saves_it(app, admin_client):
    response = admin_client.post("/webhooks/new", data=form_data(action="generate-secret"))
    page = response.text
    generated = page.split('<code id="generated-secret">', 1)[1].split("<", 1)[0]
    assert len(generated) >= 40 and count(app) == 0
    sealed = page.split('name="signing_sealed" value="', 1)[1].split('"', 1)[0]
    assert sealed and generated not in sealed
    saved = admin_client.post("/webhooks/new", data=form_data(signing_sealed=sealed))
    assert saved.status_code == 302
    assert stored(app, ref="conversions")["signing_secret"] == generated
    assert generated not in admin_client.get(saved.headers["Location"]).text


def test_generate_htmx_swaps_the_signature_section(admin_client):
    part = admin_client.post("/webhooks/new", data=form_data(action="generate-secret"),
                             headers=HX).text
    assert is_fragment(part) and part.strip().startswith('<div class="card" id="signing-section"')
    assert 'id="generated-secret"' in part and 'data-copy="' in part


# --- live checks and token help -----------------------------------------------------------------

def test_check_one_field_htmx_and_plain(admin_client):
    part = admin_client.post("/webhooks/check?field=url", data=form_data(url="nope"),
                             headers=HX).text
    assert is_fragment(part) and "must start with http://" in msg_div(part, "url")
    assert 'id="msg-name"' not in part
    page = admin_client.post("/webhooks/check?field=url", data=form_data(url="nope")).text
    assert "<html" in page and "must start with http://" in msg_div(page, "url")
    assert admin_client.post("/webhooks/check?field=a.b", data=form_data()).status_code == 400


def test_check_a_header_name_refreshes_the_other_rows(admin_client):
    data = form_data(**{"headers-1-name": "X-Campaign"})
    part = admin_client.post("/webhooks/check?field=headers-1-name", data=data, headers=HX).text
    assert "already set in row 1" in msg_div(part, "headers-1-name")
    assert 'id="msg-headers-0-name" hx-swap-oob="true"' in part
    assert 'id="msg-headers" hx-swap-oob="true"' in part


def test_check_event_refreshes_url_and_filters(app, admin_client):
    with app.app_context():
        db.session.add(Campaign(ref="summer", name="Summer"))
        db.session.commit()
    data = form_data(event="call.rejected", filter_campaign="summer",
                     url="https://crm.example.com/?b=[buyer_name]")
    part = admin_client.post("/webhooks/check?field=event", data=data, headers=HX).text
    assert "would never match" in msg_div(part, "filter_campaign")
    assert "[buyer_name] is always empty for call.rejected" in msg_div(part, "url")


def test_tokens_follow_the_event(admin_client):
    part = admin_client.post("/webhooks/tokens", data=form_data(event="call.converted"),
                             headers=HX).text
    assert is_fragment(part) and part.strip().startswith('<div id="token-help"')
    assert 'data-token="[revenue]"' in section(part, "event-tokens")
    assert "call.converted can be filtered by campaign, publisher, buyer, tag" in part
    page = admin_client.post("/webhooks/tokens", data=form_data(event="call.rejected")).text
    assert "<html" in page and 'data-token="[reason]"' in section(page, "event-tokens")


# --- delivery log -------------------------------------------------------------------------------

def test_log_on_the_webhook_page_with_tries(app, admin_client):
    wid = make_webhook(app)
    call_id, uuid, key = make_call(app)
    make_delivery(app, wid, call_id, state="failed", tries=[
        {"status": 503, "duration_ms": 120, "error": "HTTP 503",
         "request_summary": {"method": "POST", "url": "https://crm.example.com/hook",
                             "headers": [["Authorization", "[secret]"]], "body": "{}"},
         "response_headers": [["Server", "echo"]],
         "response_body": f"you sent {SECRET_HEADER}"},
        {"status": None, "duration_ms": 5000, "error": "read timeout"}])
    page = admin_client.get(f"/webhooks/{wid}/edit").text
    log = section(page, "webhook-log")
    assert "1 delivery, newest first." in log and "call.completed" in log
    assert f'href="/calls/{uuid}"' in log and "2 tries" in log
    assert "HTTP 503" in log and "120 ms" in log and "5.0 s" in log and "read timeout" in log
    assert "Retry now" in log
    # A receiver echoing the secret back: masked like the request's.
    assert SECRET_HEADER not in page and "you sent ********" in log


def test_log_pages_plain_and_htmx(app, admin_client):
    wid = make_webhook(app)
    for _ in range(30):
        make_delivery(app, wid, state="delivered", tries=[{"status": 200}])
    page = admin_client.get(f"/webhooks/{wid}/edit").text
    assert "30 deliveries" in page and "Page 1 of 2" in page and "Older" in page
    assert "Retry now" not in page  # delivered: nothing to retry
    part = admin_client.get(f"/webhooks/{wid}/log?page=2", headers=HX).text
    assert is_fragment(part) and "Page 2 of 2" in part and "Newer" in part
    full = admin_client.get(f"/webhooks/{wid}/log?page=2").text
    assert "<html" in full and "Page 2 of 2" in full and 'id="webhook-form"' in full
    bad = admin_client.get(f"/webhooks/{wid}/log?page=x9")  # page 1, not an error
    assert bad.status_code == 200 and "Page 1 of 2" in bad.text


def test_empty_log_says_so(app, admin_client):
    wid = make_webhook(app)
    assert "Nothing sent yet." in admin_client.get(f"/webhooks/{wid}/edit").text


def test_changing_the_event_refreshes_its_messages_out_of_band(app, admin_client):
    data = form_data(event="call.started", url="https://crm.example.com/?b=[buyer_name]")
    part = admin_client.post("/webhooks/tokens", data=data, headers=HX).text
    assert "[buyer_name] is always empty for call.started" in msg_div(part, "url")
    assert 'id="msg-url" hx-swap-oob="true"' in part
    page = admin_client.post("/webhooks/tokens", data=data).text
    assert page.count('id="msg-url"') == 1 and "hx-swap-oob" not in page


def test_a_nul_in_a_sealed_value_is_no_error(app, admin_client):
    data = form_data(**{"headers-1-sealed": "x\x00y", "signing_sealed": "\x00"})
    assert admin_client.post("/webhooks/new", data=data).status_code == 302


def test_edit_htmx_save_and_errors(app, admin_client):
    wid = make_webhook(app)
    bad = admin_client.post(f"/webhooks/{wid}/edit", data=edit_data(app, wid, url="nope"),
                            headers=HX)
    assert bad.status_code == 422 and is_fragment(bad.text)
    assert bad.text.strip().startswith('<form id="webhook-form"')
    assert "must start with http://" in msg_div(bad.text, "url")
    assert SECRET_HEADER not in bad.text and SIGNING_SECRET not in bad.text
    good = admin_client.post(f"/webhooks/{wid}/edit", data=edit_data(app, wid, name="New name"),
                             headers=HX)
    assert good.status_code == 204 and good.headers["HX-Redirect"] == f"/webhooks/{wid}/edit"
    assert stored(app, wid)["name"] == "New name"
