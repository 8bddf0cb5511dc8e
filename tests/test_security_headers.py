"""Security headers (issue 10, finding 6): every kind of response carries the strict CSP, no
framing, no sniffing and a same-origin referrer; HSTS only when the app is reached over https;
the app's own cookie settings survive Talisman."""
import pytest

from tests.support.webhook import voice

STRICT_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
}


def csp(response) -> dict:
    value = response.headers.get("Content-Security-Policy", "")
    parts = [p.strip().split(" ", 1) for p in value.split(";") if p.strip()]
    return {name: rest for name, rest in parts}


def assert_hardened(response):
    assert csp(response) == STRICT_CSP
    value = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in value and "unsafe-eval" not in value
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_page_login_and_signed_in_page(admin_client):
    assert_hardened(admin_client.get("/buyers/"))
    response = admin_client.get("/")
    assert response.status_code == 200
    assert_hardened(response)


def test_login_page_anonymous(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert_hardened(response)


def test_redirect_and_not_found(admin_client, client):
    assert_hardened(client.get("/buyers/"))  # 302 to the login page
    response = admin_client.get("/no/such/page")
    assert response.status_code == 404
    assert_hardened(response)
    response = admin_client.delete("/buyers/")
    assert response.status_code == 405
    assert_hardened(response)


def test_server_error(app, auth, client):
    @app.get("/boom-for-headers")
    def boom():
        raise RuntimeError("boom")

    app.testing = False  # the 500 handler answers instead of the test client re-raising
    auth.login()
    response = client.get("/boom-for-headers")
    assert response.status_code == 500
    assert_hardened(response)


def test_static_files(client):
    for name in ("sipflask.css", "htmx.min.js", "sipflask.js", "chart.umd.min.js"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert_hardened(response)
        response.close()


def test_twilio_webhook_twiml_and_refusal(client, demo):
    response = voice(client)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert_hardened(response)
    refused = client.post("/twilio/voice", data={"CallSid": "CA1"})
    assert refused.status_code == 403
    assert_hardened(refused)


def test_postback(client, demo):
    response = client.post("/postback", data={"key": "nope", "uuid": "nope"})
    assert response.status_code in (400, 403)
    assert_hardened(response)


def test_hsts_with_https_public_url(client):
    # The test apps' PUBLIC_URL is https://sipflask.test: users reach the app over https.
    response = client.get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.app_config(PUBLIC_URL=None)
def test_no_hsts_over_plain_http(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


@pytest.mark.app_config(PUBLIC_URL="http://calls.example.com")
def test_https_request_gets_hsts_without_public_url(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    response = client.get("/login", base_url="https://calls.example.com")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.app_config(HSTS_MAX_AGE=0)
def test_hsts_can_be_turned_off(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


@pytest.mark.app_config(HSTS_INCLUDE_SUBDOMAINS=True, HSTS_MAX_AGE=600)
def test_hsts_options(client):
    value = client.get("/login").headers["Strict-Transport-Security"]
    assert value == "max-age=600; includeSubDomains"


@pytest.mark.app_config(PUBLIC_URL=None)
def test_no_https_redirect_behind_the_proxy(client):
    # The proxy terminates TLS: plain http from it must be answered, not redirected.
    assert client.get("/login").status_code == 200


@pytest.mark.app_config(PUBLIC_URL=None, SESSION_COOKIE_SAMESITE="Strict")
def test_cookie_settings_are_the_apps_own(app, auth, client):
    # Talisman would force Secure on and rewrite SameSite: the app's settings decide instead.
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"
    assert not app.config.get("SESSION_COOKIE_SECURE")
    response = auth.login()  # signing in sets the session cookie
    cookie = next(v for k, v in response.headers.items()
                  if k == "Set-Cookie" and v.startswith(app.config["SESSION_COOKIE_NAME"] + "="))
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie
    assert "Secure" not in cookie
    assert not app.config.get("SESSION_COOKIE_SECURE")
