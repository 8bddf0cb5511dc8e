"""Requests the webhook pages send: the editor's Send test (the webhook as typed, against a real
HTTP receiver on 127.0.0.1), the delivery log's Retry now (from the webhook's page and the
call's), their shared throttle, and the call detail page's Webhooks section.

Loopback is refused unless ``WEBHOOKS_ALLOW_PRIVATE`` is on: the tests that need the receiver
turn it on; one shows the refusal in words without it.
"""
import socket

import pytest
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.webhooks.model import Delivery, DeliveryTry
from tests.support.app import MEMBER_EMAIL
from tests.support.html import HX
from tests.support.receiver import Receiver, Reply
from tests.support.webhook_pages import (SECRET_HEADER, SIGNING_SECRET, count, edit_data,
                                         form_data, is_fragment, make_call, make_delivery,
                                         make_webhook, section)

private = pytest.mark.app_config(WEBHOOKS_ALLOW_PRIVATE=True, WEBHOOK_TIMEOUT=(1, 1))


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def panel(body: str) -> str:
    return section(body, "webhook-test")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Send test ---------------------------------------------------------------------------------

@private
def test_send_test_htmx_shows_request_and_response(app, admin_client, receiver):
    receiver.answer(Reply(201, {"X-Receiver": "yes"}, b'{"ok": true}'))
    data = form_data(url=receiver.url("/hook?id=[call_uuid]"))
    response = admin_client.post("/webhooks/test", data=data, headers=HX)
    assert response.status_code == 200 and is_fragment(response.text)
    got = receiver.wait_for(1)[0]
    assert got.method == "POST" and got.path == "/hook"
    assert got.query == [("id", "00000000-0000-4000-8000-000000000000")]
    assert got.headers["authorization"] == SECRET_HEADER  # sent, as typed
    assert got.headers["x-sipflask-test"] == "true"
    shown = panel(response.text)
    assert "HTTP 201" in shown and "X-Receiver" in shown and "{&#34;ok&#34;: true}" in shown
    assert f"POST {receiver.url('/hook?id=00000000-0000-4000-8000-000000000000')}" in shown
    assert "Authorization</dt><dd>[secret]" in shown and SECRET_HEADER not in response.text
    assert "the made-up sample call" in shown
    assert count(app) == 0 and count(app, Delivery) == 0  # nothing saved, nothing logged


@private
def test_send_test_plain_post_returns_the_editor_as_typed(app, admin_client, receiver):
    wid = make_webhook(app, url="https://crm.example.com/saved")
    data = edit_data(app, wid, url=receiver.url("/typed"), name="Typed, not saved",
                     action="send-test")
    response = admin_client.post(f"/webhooks/{wid}/test", data=data)
    page = response.text
    assert response.status_code == 200 and "<html" in page and 'id="webhook-form"' in page
    assert receiver.wait_for(1)[0].path == "/typed"  # the URL as typed, with the stored secrets
    got = receiver.requests[0]
    assert got.headers["authorization"] == SECRET_HEADER
    assert got.headers["x-sipflask-signature"].startswith("sha256=")
    assert "HTTP 200" in panel(page) and 'value="Typed, not saved"' in page
    assert SECRET_HEADER not in page and SIGNING_SECRET not in page
    with app.app_context():
        assert db.session.scalar(select(Delivery.id)) is None
    assert "Delivery log" in page


@private
def test_a_receiver_echoing_the_secrets_gets_them_masked(app, admin_client, receiver):
    receiver.answer(Reply(200, {"X-Echo": SECRET_HEADER}, f"auth={SECRET_HEADER}".encode()))
    wid = make_webhook(app, url=receiver.url())
    response = admin_client.post(f"/webhooks/{wid}/test", data=edit_data(app, wid), headers=HX)
    assert receiver.wait_for(1)
    assert "auth=********" in response.text and SECRET_HEADER not in response.text


@private
def test_send_test_with_a_chosen_call(app, admin_client, receiver):
    _, uuid, key = make_call(app)
    data = form_data(url=receiver.url("/c?u=[call_uuid]&s=[caller_state]&k=[call_key]"),
                     include_key="y", test_call=uuid)
    response = admin_client.post("/webhooks/test", data=data, headers=HX)
    got = receiver.wait_for(1)[0]
    assert dict(got.query) == {"u": uuid, "s": "CA", "k": key}
    shown = panel(response.text)
    assert f"call <code>{uuid[:8]}</code>" in shown
    assert key not in shown  # the call's key is masked in the request shown


def test_send_test_unknown_call_says_so(admin_client):
    for bad in ("12345678-1234-4123-8123-123456789012", "not-a-uuid\x00"):
        response = admin_client.post("/webhooks/test", data=form_data(test_call=bad),
                                     headers=HX)
        assert response.status_code == 200
        assert "That call is no longer in the call log" in panel(response.text)


def test_send_test_with_form_errors_sends_nothing(admin_client):
    response = admin_client.post("/webhooks/test", data=form_data(url="ftp://x"), headers=HX)
    shown = panel(response.text)
    assert "Nothing sent: the webhook as typed has errors" in shown
    assert "URL: The URL must start with http:// or https://." in shown
    page = admin_client.post("/webhooks/test", data=form_data(url="ftp://x")).text
    assert "must start with http://" in section(page, "msg-url")  # at the field too


def test_loopback_is_refused_in_words_without_the_setting(admin_client, receiver):
    response = admin_client.post("/webhooks/test", data=form_data(url=receiver.url()),
                                 headers=HX)
    shown = panel(response.text)
    assert "refused" in shown and "Not sent: the address is not allowed." in shown
    assert "127.0.0.1 is loopback: webhooks are not sent there" in shown
    assert "SIPFLASK_WEBHOOKS_ALLOW_PRIVATE=true" in shown
    assert "the request below was not sent" in shown
    assert receiver.requests == []


@private
def test_connection_refused_in_words(admin_client):
    url = f"http://127.0.0.1:{closed_port()}/hook"
    shown = panel(admin_client.post("/webhooks/test", data=form_data(url=url), headers=HX).text)
    assert "Connection refused: nothing is listening at that address and port." in shown
    assert "connect timeout" not in shown


@private
def test_a_slow_receiver_is_a_read_timeout(admin_client, receiver):
    receiver.answer(Reply(delay=2.5))
    shown = panel(admin_client.post("/webhooks/test", data=form_data(url=receiver.url()),
                                    headers=HX).text)
    assert "Timed out waiting for the answer" in shown and "read timeout" in shown


@private
def test_a_500_is_shown_with_its_body(admin_client, receiver):
    receiver.answer(Reply(500, body=b"x" * 5000))
    shown = panel(admin_client.post("/webhooks/test", data=form_data(url=receiver.url()),
                                    headers=HX).text)
    assert "HTTP 500" in shown and 'class="pill missing"' in shown
    assert "x" * 2048 in shown and "x" * 2049 not in shown  # the first 2 kB


# --- the throttle ------------------------------------------------------------------------------

@pytest.mark.app_config(THROTTLE_WEBHOOK_TEST="2/minute")
def test_send_test_is_throttled_per_user(app, client, auth):
    auth.login()
    data = form_data(url="http://127.0.0.1:9/x")  # refused at once: loopback
    assert [client.post("/webhooks/test", data=data, headers=HX).status_code
            for _ in range(2)] == [200, 200]
    refused = client.post("/webhooks/test", data=data, headers=HX)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 61
    assert is_fragment(refused.text)
    assert "Too many requests sent from the pages: try again in" in panel(refused.text)
    page = client.post("/webhooks/test", data=form_data(name="Kept as typed"))
    assert page.status_code == 429 and 'value="Kept as typed"' in page.text
    # Retry now counts against the same limit.
    wid = make_webhook(app)
    did = make_delivery(app, wid, tries=[{"status": 500}])
    retried = client.post(f"/webhooks/deliveries/{did}/retry", headers=HX)
    assert retried.status_code == 429 and "Too many requests" in retried.text
    assert f'id="delivery-{did}"' in retried.text
    plain = client.post(f"/webhooks/deliveries/{did}/retry")
    assert plain.status_code == 302
    # Another user has their own count.
    auth.logout()
    auth.login(MEMBER_EMAIL)
    assert client.post("/webhooks/test", data=data, headers=HX).status_code == 200


# --- Retry now ---------------------------------------------------------------------------------

def _tries(app, delivery_id):
    with app.app_context():
        return list(db.session.scalars(select(DeliveryTry.status)
                                       .where(DeliveryTry.delivery_id == delivery_id)
                                       .order_by(DeliveryTry.id)))


@private
def test_retry_now_htmx_from_the_webhook_page(app, admin_client, receiver):
    wid = make_webhook(app, url=receiver.url("/r"))
    call_id, _, _ = make_call(app)
    did = make_delivery(app, wid, call_id, tries=[{"status": 500, "error": "HTTP 500"}])
    response = admin_client.post(f"/webhooks/deliveries/{did}/retry", headers=HX)
    assert response.status_code == 200 and is_fragment(response.text)
    assert receiver.wait_for(1)[0].path == "/r"
    body = response.text
    assert body.strip().startswith(f'<div class="delivery card" id="delivery-{did}"')
    assert "Delivered: HTTP 200." in body and "delivered" in body and "Retry now" not in body
    assert _tries(app, did) == [500, 200]
    with app.app_context():
        assert db.session.get(Delivery, did).state == "delivered"


@private
def test_retry_now_plain_goes_back_with_a_flash(app, admin_client, receiver):
    receiver.answer(Reply(503))
    wid = make_webhook(app, url=receiver.url())
    did = make_delivery(app, wid, tries=[{"status": 500}])
    response = admin_client.post(f"/webhooks/deliveries/{did}/retry",
                                 data={"next": f"/webhooks/{wid}/edit#webhook-log"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/webhooks/{wid}/edit#webhook-log"
    assert receiver.wait_for(1)
    page = admin_client.get(f"/webhooks/{wid}/edit").text
    assert "Tried again: pending, HTTP 503." in page
    assert _tries(app, did) == [500, 503]


def test_retry_now_unknown_delivery_is_404(admin_client):
    assert admin_client.post("/webhooks/deliveries/99/retry").status_code == 404


def test_retry_now_refused_address_in_words(app, admin_client):
    wid = make_webhook(app, url="http://127.0.0.1:9/x")
    did = make_delivery(app, wid, tries=[{"status": 500}])
    body = admin_client.post(f"/webhooks/deliveries/{did}/retry", headers=HX).text
    assert "Tried again: refused. Not sent: the address is not allowed." in body
    assert "127.0.0.1 is loopback" in body


# --- the call detail page ----------------------------------------------------------------------

@private
def test_call_page_lists_the_webhooks_sent_and_retries(app, admin_client, receiver):
    wid = make_webhook(app, url=receiver.url())
    call_id, uuid, key = make_call(app)
    did = make_delivery(app, wid, call_id, tries=[
        {"status": None, "duration_ms": 1000, "error": "connect timeout",
         "request_summary": {"method": "POST", "url": f"https://crm.example.com/?k={key}",
                             "headers": [], "body": ""}}])
    page = admin_client.get(f"/calls/{uuid}").text
    hooks = section(page, "call-webhooks")
    assert "Webhooks" in hooks and f'href="/webhooks/{wid}/edit"' in hooks
    assert "Conversions" in hooks and "connect timeout" in hooks and "Retry now" in hooks
    assert f'name="next" value="/calls/{uuid}#call-webhooks"' in hooks
    assert key in hooks  # admins see the call's key (as on the rest of the page)
    response = admin_client.post(f"/webhooks/deliveries/{did}/retry", headers=HX,
                                 data={"show_webhook": "1", "next": f"/calls/{uuid}"})
    assert "Delivered: HTTP 200." in response.text and "Conversions" in response.text
    assert receiver.wait_for(1)


def test_call_page_masks_the_key_for_members(app, client, auth):
    auth.login(MEMBER_EMAIL)
    wid = make_webhook(app)
    call_id, uuid, key = make_call(app)
    make_delivery(app, wid, call_id, tries=[
        {"status": 200, "request_summary": {"method": "GET", "url": f"https://x.example/?k={key}",
                                            "headers": [], "body": ""},
         "response_body": f"thanks {SECRET_HEADER}"}], state="delivered")
    page = client.get(f"/calls/{uuid}").text
    hooks = section(page, "call-webhooks")
    assert "https://x.example/?k=********" in hooks and key not in page
    assert SECRET_HEADER not in page and "Retry now" not in hooks


def test_call_page_without_webhooks(app, admin_client):
    _, uuid, _ = make_call(app)
    assert "No webhook was sent about this call." in admin_client.get(f"/calls/{uuid}").text


@private
def test_send_test_with_a_pasted_call_id(app, admin_client, receiver):
    _, uuid, _ = make_call(app)
    data = form_data(url=receiver.url("/c?u=[call_uuid]"), test_call_uuid=f" {uuid.upper()} ")
    shown = panel(admin_client.post("/webhooks/test", data=data, headers=HX).text)
    assert dict(receiver.wait_for(1)[0].query) == {"u": uuid}
    assert f"call <code>{uuid[:8]}</code>" in shown
    bad = admin_client.post("/webhooks/test", data=form_data(test_call_uuid="nope"), headers=HX)
    assert "A call&#39;s id looks like" in panel(bad.text)
