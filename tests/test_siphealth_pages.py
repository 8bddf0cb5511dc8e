"""Test endpoint on the buyer pages (blueprints/siphealth.py): the editor's button checks the URI
and headers as typed, the buyer page's the saved buyer; each as htmx (the panel alone) and as a
plain form post (the whole page), against real peers on 127.0.0.1 (``sipp`` as the PBX,
``dnsmasq`` as the DNS), on SQLite and PostgreSQL. Passwords never reach the HTML."""

import re
import socket
import time

import pytest
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Buyer
from tests.support.app import MEMBER_EMAIL
from tests.support.buyers import edit_data
from tests.support.html import HX, csrf_token_from
from tests.support.siphealth import Dnsmasq, SippOptions, free_port
from tests.support.siphealth_pages import draft, is_fragment, panel
from tests.support.siphealth_peers import UdpPeer, answer_to

TYPED_PASSWORD = "Typed-Secret-Passw0rd-77"
STORED_PASSWORD = "Demo-Password-2026"  # the demo's "secure" buyer


def buyer_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Buyer))


def set_number(app, ref, number):
    with app.app_context():
        buyer = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        buyer.number = number
        db.session.commit()
        return buyer.id


# --- the editor: the URI as typed --------------------------------------------------------------

@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_editor_htmx_shows_the_diagnosis(admin_client, demo, tmp_path, transport):
    with SippOptions(tmp_path, 200, "OK", transport=transport) as pbx:
        number = f"sip:agentqueue@127.0.0.1:{pbx.port}" + (
            ";transport=tcp" if transport == "tcp" else "")
        typed = {"headers-0-name": "X-Test", "headers-0-value": "lead [caller_number]"}
        response = admin_client.post("/buyers/test-endpoint", headers=HX,
                                     data=draft(number=number, **typed))
        outcome = pbx.wait()
    assert response.status_code == 200 and is_fragment(response.text)
    body = panel(response.text)
    assert '<span class="pill open">alive</span>' in body
    assert f"alive: {transport.upper()} 127.0.0.1:{pbx.port} answered 200 OK" in body
    assert "as typed (not saved)" in body
    # DNS: an IP needs no lookup, and the page says why; the one target, its transport.
    assert "a numeric IP: no NAPTR or SRV lookup" in body
    assert f"<td>{transport.upper()}</td><td><code>127.0.0.1:{pbx.port}</code></td>" in body
    # The request sent, with the typed header filled from the sample call; the reply.
    assert f"OPTIONS {number} SIP/2.0" in body and "X-Test: lead +14155552671" in body
    assert "Reply: <code>SIP/2.0 200 OK</code> in " in body
    assert "<dt>Server</dt><dd><code>sipflask-test-pbx</code></dd>" in body
    assert "<dt>Allow</dt><dd><code>INVITE, ACK, BYE, CANCEL, OPTIONS</code></dd>" in body
    assert re.search(r"200 OK</code> in \d+ ms", body)
    assert "region <strong>us1</strong>" in body and "54.172.60.0/30" in body
    # What the PBX got is what the panel says was sent; nothing was saved.
    assert "X-Test: lead +14155552671" in outcome.messages
    assert buyer_count(demo) == 6


def test_editor_plain_post_gets_the_whole_page(admin_client, demo, tmp_path):
    with SippOptions(tmp_path, 404, "Not Found") as pbx:
        number = f"sip:agentqueue@127.0.0.1:{pbx.port};region=ie1"
        bid, data = edit_data(demo, "queue", number=number, action="test-endpoint")
        response = admin_client.post(f"/buyers/{bid}/test-endpoint", data=data)
        pbx.wait()
    body = response.text
    assert response.status_code == 200 and "<html" in body
    assert 'id="buyer-form"' in body and f'value="{number}"' in body  # the form as typed
    result = panel(body)
    assert f"127.0.0.1:{pbx.port}: 404 for user agentqueue" in result
    assert "the extension or queue does not exist" in result
    assert "region <strong>ie1</strong>" in result and "54.171.127.192/30" in result
    # The saved buyer's headers were sent (tokens from the sample call), its number unchanged.
    assert "X-Campaign-ID: " in result
    with demo.app_context():
        assert db.session.get(Buyer, bid).number == "sip:agentqueue@pbx.example.com"


def test_editor_names_through_dns(app, admin_client, demo, tmp_path):
    with SippOptions(tmp_path, 200, "OK") as pbx:
        records = ["host-record=pbx.test,127.0.0.1",
                   f"srv-host=_sip._udp.acme.test,pbx.test,{pbx.port},10,50"]
        with Dnsmasq(records, tmp_path) as dns:
            app.config["DNS_NAMESERVERS"] = dns.nameservers
            response = admin_client.post("/buyers/test-endpoint", headers=HX,
                                         data=draft(number="sip:agentqueue@acme.test"))
        pbx.wait()
    body = panel(response.text)
    assert '<span class="pill">NAPTR</span> <code>acme.test</code>' in body
    assert "no record of this type" in body
    assert f'<code class="record">10 50 {pbx.port} pbx.test</code>' in body
    assert '<span class="pill">A</span> <code>pbx.test</code>' in body
    assert '<code class="record">127.0.0.1</code>' in body
    assert f"alive: UDP 127.0.0.1:{pbx.port} answered 200 OK" in body


@pytest.mark.parametrize("number, words", [
    ("", "Type the buyer&#39;s SIP URI"),
    ("+14155552671", "is not a SIP URI"),
    ("sip:pbx.example.com", "no user part"),
    ("sip:agent:secret@pbx.example.com", "Don&#39;t put a password in the SIP URI"),
    ("sip:q@[nonsense", None),
    ("sip:q@h..test", "is not a valid host"),
    ("sip:q@h.test:99999", "must be a number from 1 to 65535"),
    ("\x00", "is not a SIP URI"),
])
def test_bad_uri_is_a_message_in_the_panel(admin_client, demo, number, words):
    for headers in (HX, {}):
        response = admin_client.post("/buyers/test-endpoint", headers=headers,
                                     data=draft(number=number))
        assert response.status_code == 200
        body = panel(response.text)
        assert 'class="flash error endpoint-error"' in body, body
        if words:
            assert words in body
        assert "secret@" not in body


def test_unsupported_transport_is_down_not_an_error(admin_client, demo):
    body = panel(admin_client.post("/buyers/test-endpoint", headers=HX,
                                   data=draft(number="sip:q@127.0.0.1;transport=sctp")).text)
    assert "not supported" in body and '<span class="pill missing">down</span>' in body


def test_refused_and_silent(admin_client, demo, tmp_path):
    port = free_port(socket.SOCK_STREAM)
    body = panel(admin_client.post("/buyers/test-endpoint", headers=HX, data=draft(
        number=f"sip:q@127.0.0.1:{port};transport=tcp")).text)
    assert f"TCP 127.0.0.1:{port} refused: nothing listens there" in body
    with UdpPeer() as silent:
        demo.config["SIP_TEST_TIMEOUT"] = 1
        body = panel(admin_client.post("/buyers/test-endpoint", headers=HX, data=draft(
            number=f"sip:q@127.0.0.1:{silent.port}")).text)
    assert "timed out: the PBX or a firewall drops packets" in body
    assert "retransmission" in body


# --- the buyer page: the saved buyer -----------------------------------------------------------

def test_saved_buyer_htmx_and_plain(admin_client, demo, tmp_path):
    with SippOptions(tmp_path, 200, "OK", transport="tcp") as pbx:
        bid = set_number(demo, "secure", f"sip:1001@127.0.0.1:{pbx.port};transport=tcp")
        response = admin_client.post(f"/buyers/{bid}/test-saved-endpoint", headers=HX)
        outcome = pbx.wait()
    assert response.status_code == 200 and is_fragment(response.text)
    body = panel(response.text, saved=True)
    assert f"alive: TCP 127.0.0.1:{pbx.port} answered 200 OK" in body
    assert "X-PH-RetreaverUUID: " in outcome.messages and "Connected in" in body
    # [campaign_name] is empty for the CLI's sample call (no number): left out, as in an INVITE.
    assert "X-Campaign-Name" not in outcome.messages
    assert "as typed" not in body
    with SippOptions(tmp_path, 503, "Service Unavailable") as pbx:
        set_number(demo, "secure", f"sip:1001@127.0.0.1:{pbx.port}")
        response = admin_client.post(f"/buyers/{bid}/test-saved-endpoint")
        pbx.wait()
    page = response.text
    assert response.status_code == 200 and "<html" in page and 'id="buyer-form"' in page
    body = panel(page, saved=True)
    assert '<span class="pill missing">down</span>' in body
    assert "503 Service Unavailable" in body and "overloaded or in maintenance" in body
    assert panel(page).strip() == ""  # the editor's panel stays empty
    assert STORED_PASSWORD not in page


def test_saved_card_only_for_sip_buyers(admin_client, demo):
    bid, _ = edit_data(demo, "phone")
    assert 'id="test-saved-endpoint"' not in admin_client.get(f"/buyers/{bid}/edit").text
    bid, _ = edit_data(demo, "queue")
    page = admin_client.get(f"/buyers/{bid}/edit").text
    assert f'hx-post="/buyers/{bid}/test-saved-endpoint"' in page
    assert f'formaction="/buyers/{bid}/test-endpoint"' in page
    bid, _ = edit_data(demo, "phone")
    response = admin_client.post(f"/buyers/{bid}/test-saved-endpoint", headers=HX)
    assert "only SIP endpoints can be probed" in panel(response.text, saved=True)


def test_passwords_never_in_the_html(admin_client, demo, tmp_path):
    """The typed password, the stored one, and either typed into a header: never shown."""
    with SippOptions(tmp_path, 401, "Unauthorized") as pbx:
        number = f"sip:1001@127.0.0.1:{pbx.port}"
        bid, data = edit_data(demo, "secure", number=number, sip_password=TYPED_PASSWORD,
                              action="test-endpoint")
        pages = [admin_client.post(f"/buyers/{bid}/test-endpoint", data=data).text]
        outcome = pbx.wait()
    assert "401 Unauthorized" in panel(pages[0])
    assert TYPED_PASSWORD not in outcome.messages and STORED_PASSWORD not in outcome.messages
    with SippOptions(tmp_path, 200, "OK") as pbx:
        data.update({"number": f"sip:1001@127.0.0.1:{pbx.port}",
                     "headers-0-value": f"{TYPED_PASSWORD}/{STORED_PASSWORD}"})
        pages.append(admin_client.post(f"/buyers/{bid}/test-endpoint", data=data,
                                       headers=HX).text)
        pbx.wait()
    assert "X-Campaign-Name: ********/********" in pages[1]
    with SippOptions(tmp_path, 200, "OK") as pbx:
        set_number(demo, "secure", f"sip:1001@127.0.0.1:{pbx.port}")
        for headers in (HX, {}):
            pages.append(admin_client.post(f"/buyers/{bid}/test-saved-endpoint",
                                           headers=headers).text)
    for page in pages:
        assert TYPED_PASSWORD not in page and STORED_PASSWORD not in page


# --- time, access, CSRF ------------------------------------------------------------------------

@pytest.mark.app_config(SIP_TEST_BUDGET=2)
def test_dns_that_never_answers_costs_the_budget_not_the_page(app, admin_client, demo):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blackhole:
        blackhole.bind(("127.0.0.1", 0))  # takes the queries, answers none
        app.config["DNS_NAMESERVERS"] = f"127.0.0.1:{blackhole.getsockname()[1]}"
        started = time.monotonic()
        response = admin_client.post("/buyers/test-endpoint", headers=HX,
                                     data=draft(number="sip:agentqueue@pbx.acme.test"))
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and elapsed < 3.5, elapsed
    body = panel(response.text)
    assert "the DNS server gave no usable answer for pbx.acme.test" in body
    assert "no answer from the DNS server in time" in body


@pytest.mark.app_config(SIP_TEST_BUDGET=1.5, SIP_TEST_TIMEOUT=1)
def test_targets_past_the_budget_are_not_probed(app, admin_client, demo, tmp_path):
    with UdpPeer() as a, UdpPeer() as b, UdpPeer() as c:
        records = ["host-record=pbx.test,127.0.0.1"] + [
            f"srv-host=_sip._udp.many.test,pbx.test,{p.port},{i},10"
            for i, p in enumerate((a, b, c), 1)]
        with Dnsmasq(records, tmp_path) as dns:
            app.config["DNS_NAMESERVERS"] = dns.nameservers
            started = time.monotonic()
            response = admin_client.post("/buyers/test-endpoint", headers=HX,
                                         data=draft(number="sip:q@many.test"))
            elapsed = time.monotonic() - started
        assert a.data and b.data and not c.data
    assert elapsed < 2.5, elapsed
    body = panel(response.text)
    assert "out of time, 1 target not probed" in body and "not probed</span>" in body


def test_no_database_connection_is_held_while_probing(admin_client, demo):
    with demo.app_context():
        engine = db.engine
    held = []

    def script(n, data):
        held.append(engine.pool.checkedout())
        return [answer_to(data)]

    with UdpPeer(script) as pbx:
        bid, data = edit_data(demo, "queue", number=f"sip:q@127.0.0.1:{pbx.port}")
        response = admin_client.post(f"/buyers/{bid}/test-endpoint", data=data)
    assert held == [0] and "answered 200 OK" in panel(response.text)
    assert "Agent queue (Asterisk)" in response.text  # the page read the buyer again after


def test_members_may_test(client, auth, demo, tmp_path):
    auth.login(MEMBER_EMAIL)
    with SippOptions(tmp_path, 200, "OK") as pbx:
        response = client.post("/buyers/test-endpoint", headers=HX,
                               data=draft(number=f"sip:q@127.0.0.1:{pbx.port}"))
        pbx.wait()
    assert "answered 200 OK" in panel(response.text)


@pytest.mark.parametrize("url", ["/buyers/test-endpoint", "/buyers/1/test-endpoint",
                                 "/buyers/1/test-saved-endpoint"])
def test_login_required_and_unknown_buyer(client, auth, demo, url):
    response = client.post(url, data=draft())
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.post(url, data=draft(), headers=HX).status_code == 401
    auth.login()
    if "/1/" in url:
        assert client.post(url.replace("/1/", "/999/"), data=draft()).status_code == 404


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_csrf(client, auth, demo):
    from tests.support.app import ADMIN_EMAIL, PASSWORD
    login = client.get("/login")
    client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD,
                                "csrf_token": csrf_token_from(login.text)})
    bid, _ = edit_data(demo, "phone")
    token = csrf_token_from(client.get(f"/buyers/{bid}/edit").text)
    for url in ("/buyers/test-endpoint", f"/buyers/{bid}/test-endpoint",
                f"/buyers/{bid}/test-saved-endpoint"):
        assert client.post(url, data=draft(number="+14155552671"), headers=HX).status_code \
            == 400, url
        ok = client.post(url, data=draft(number="+14155552671"),
                         headers={**HX, "X-CSRFToken": token})
        assert ok.status_code == 200 and "endpoint-error" in ok.text, url
        assert client.post(url, data=draft(number="+14155552671", csrf_token=token)) \
            .status_code == 200
