"""Test endpoint is throttled per signed-in user (``THROTTLE_SIP_TEST``, sipflask/throttle.py):
any account, members too, could otherwise make the server send SIP OPTIONS and DNS queries to
any host at will. Past the limit: 429 with Retry-After and the panel saying when to try again,
as the panel alone for htmx and as the whole page, the editor as typed, for a plain post."""
import pytest

from sipflask import throttle
from sipflask.extensions import db
from sipflask.models import Buyer
from tests.support.app import ADMIN_EMAIL, MEMBER_EMAIL, PASSWORD, make_app
from tests.support.buyers import edit_data
from tests.support.html import HX
from tests.support.signin import HttpClient, serving
from tests.support.siphealth_pages import draft, is_fragment, panel


def fast(**config):
    """Nothing listens on the discard port, and the budget is short: each test ends quickly."""
    return pytest.mark.app_config(SIP_TEST_BUDGET=1, SIP_TEST_TIMEOUT=0.5, **config)


NUMBER = "sip:x@127.0.0.1:9"
REFUSED = "Too many endpoint tests: try again in "


def refused(response, saved=False):
    """The refusal's message, checked against Retry-After."""
    assert response.status_code == 429, response.text[:2000]
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 61
    body = panel(response.text, saved=saved)
    assert f"{REFUSED}{seconds} seconds." in body and 'role="alert"' in body
    return body


@fast()
def test_the_eleventh_test_in_a_minute_is_refused_htmx(admin_client, demo):
    answers = [admin_client.post("/buyers/test-endpoint", headers=HX, data=draft(number=NUMBER))
               for _ in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert "Tested <code>sip:x@127.0.0.1:9</code>" in panel(answers[9].text)
    assert is_fragment(answers[10].text)  # the panel alone, swapped in place
    body = refused(answers[10])
    assert "Tested" not in body


@fast(THROTTLE_SIP_TEST="2/minute")
def test_a_plain_post_gets_the_editor_back_as_typed(admin_client, demo):
    typed = {"headers-0-value": "typed [caller_number]"}
    bid, data = edit_data(demo, "queue", number=NUMBER, action="test-endpoint",
                          name="Renamed but not saved", **typed)
    statuses = [admin_client.post(f"/buyers/{bid}/test-endpoint", data=data).status_code
                for _ in range(2)]
    assert statuses == [200, 200]
    response = admin_client.post(f"/buyers/{bid}/test-endpoint", data=data)
    page = response.text
    assert "<html" in page and 'id="buyer-form"' in page
    refused(response)
    for typed in (NUMBER, "Renamed but not saved", "typed [caller_number]"):
        assert f'value="{typed}"' in page, typed
    with demo.app_context():
        assert db.session.get(Buyer, bid).name != "Renamed but not saved"  # nothing saved
    # A new buyer's editor too: the form as typed, never an error page.
    response = admin_client.post("/buyers/test-endpoint",
                                 data=draft(number=NUMBER, name="New desk"))
    refused(response)
    assert 'id="buyer-form"' in response.text and 'value="New desk"' in response.text


@fast(THROTTLE_SIP_TEST="2/minute")
def test_both_buttons_share_one_count(admin_client, demo):
    bid, _ = edit_data(demo, "queue")
    assert admin_client.post("/buyers/test-endpoint", headers=HX,
                             data=draft(number=NUMBER)).status_code == 200
    assert admin_client.post(f"/buyers/{bid}/test-saved-endpoint", headers=HX).status_code == 200
    response = admin_client.post(f"/buyers/{bid}/test-saved-endpoint", headers=HX)
    assert is_fragment(response.text)
    refused(response, saved=True)
    response = admin_client.post(f"/buyers/{bid}/test-saved-endpoint")
    assert "<html" in response.text and 'id="buyer-form"' in response.text
    refused(response, saved=True)
    assert panel(response.text).strip() == ""  # the editor's panel says nothing
    assert admin_client.post("/buyers/test-endpoint", headers=HX,
                             data=draft(number=NUMBER)).status_code == 429
    # Unknown buyer: still "not found", not someone else's page.
    assert admin_client.post("/buyers/999/test-saved-endpoint").status_code == 404
    # The rest of the editor is not limited.
    assert admin_client.get(f"/buyers/{bid}/edit").status_code == 200


@fast(THROTTLE_SIP_TEST="1/minute")
def test_per_user_not_per_session_nor_per_address(app, auth, demo):
    """Over real HTTP (the test client would share one ``g``, so one signed-in user, between
    its clients): two users on the same address, each with a count of their own."""
    def test(browser):
        return browser.post("/buyers/test-endpoint", draft(number=NUMBER), headers=HX).status

    with serving(app) as base:
        admin, member = HttpClient(base), HttpClient(base)
        assert admin.login(ADMIN_EMAIL, PASSWORD).status == 302
        assert member.login(MEMBER_EMAIL, PASSWORD).status == 302
        assert [test(admin), test(admin)] == [200, 429]
        assert [test(member), test(member)] == [200, 429]  # members too, on their own count
        # Signing out and in again (a new session) doesn't start a new count.
        admin.post("/logout", {})
        assert admin.login(ADMIN_EMAIL, PASSWORD).status == 302
        assert test(admin) == 429


def test_every_post_of_the_blueprint_is_limited(app):
    posts = {(rule.endpoint, "POST") for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("siphealth.") and "POST" in rule.methods}
    assert posts and posts <= throttle.LIMITED


@pytest.mark.parametrize("value", ["ten a minute", "", "10/fortnight"])
def test_a_bad_setting_stops_the_app_with_its_name(tmp_path, value):
    with pytest.raises(RuntimeError, match="THROTTLE_SIP_TEST .*use limits like 10/minute"):
        make_app(tmp_path, THROTTLE_SIP_TEST=value)


@fast(THROTTLE_SIP_TEST="1/hour")
def test_a_long_wait_is_said_in_minutes(admin_client, demo):
    first = admin_client.post("/buyers/test-endpoint", headers=HX, data=draft(number=NUMBER))
    second = admin_client.post("/buyers/test-endpoint", headers=HX, data=draft(number=NUMBER))
    assert first.status_code == 200 and second.status_code == 429
    assert int(second.headers["Retry-After"]) > 3500
    minutes = -(-int(second.headers["Retry-After"]) // 60)  # what the header says, rounded up
    assert f"{REFUSED}{minutes} minutes." in panel(second.text) and minutes in (60, 61)
