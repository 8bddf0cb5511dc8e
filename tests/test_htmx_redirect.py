"""``htmx.redirect_to`` for htmx requests: an ``HX-Redirect``, and a reload as well when the
target is the page shown but for its #fragment (setting location.href to it only scrolls)."""
import pytest

from sipflask.htmx import redirect_to
from tests.support.html import HX


@pytest.mark.parametrize("current, target, refresh", [
    ("http://localhost/settings/", "/settings/#twilio", True),
    ("http://localhost/settings/#twilio", "/settings/#twilio", True),
    ("http://localhost/settings/?a=1", "/settings/#twilio", False),
    ("http://localhost/numbers/", "/settings/#twilio", False),
    ("http://localhost/settings/", "/settings/", False),
    ("", "/settings/#twilio", False),
])
def test_a_redirect_to_a_fragment_of_the_page_shown_reloads_it(app, current, target, refresh):
    headers = HX | ({"HX-Current-URL": current} if current else {})
    with app.test_request_context("/settings/twilio", method="POST", headers=headers):
        response = redirect_to(target)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == target
    assert ("HX-Refresh" in response.headers) == refresh


def test_a_plain_redirect_is_a_redirect(app):
    with app.test_request_context("/settings/twilio", method="POST"):
        response = redirect_to("/settings/#twilio")
    assert response.status_code == 302 and response.headers["Location"] == "/settings/#twilio"
