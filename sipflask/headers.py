"""Security headers on every response: a strict Content-Security-Policy, no framing, no MIME
sniffing, a same-origin referrer, and HSTS when the app is reached over https
(docs/security.md, "Browser hardening").

Flask-Talisman sets the headers. Two of its defaults are turned off on purpose:
- ``force_https``: the reverse proxy terminates TLS; Flask sees plain http from it, so a
  redirect here would loop or send users to a port nothing listens on.
- its cookie handling: session cookie flags are owned by the app's own settings
  (``SESSION_COOKIE_SECURE`` and friends); Talisman is handed the configured values so it
  never overwrites them.
HSTS is decided here rather than by Talisman, which looks only at the request: behind a proxy
that doesn't send ``X-Forwarded-Proto`` the request looks like http even though users reach
the app at an https ``PUBLIC_URL``.
"""
from flask import current_app
from flask_talisman import Talisman

from sipflask.urls import served_over_https

# No 'unsafe-inline', no 'unsafe-eval': an injected <script>, on*= handler or style= attribute
# does nothing. Templates load JS and CSS from /static only (a test keeps them that way).
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # data: for the small images browsers and CSS may inline (icons); nothing else external.
    "img-src": "'self' data:",
    # htmx's requests go back to the app only.
    "connect-src": "'self'",
    # A form (or an injected one) can't post the CSRF token or a password elsewhere.
    "form-action": "'self'",
    # An injected <base> can't move relative script URLs to another host.
    "base-uri": "'none'",
    "object-src": "'none'",
    # Nobody frames the app: no clickjacking of Delete or Pause.
    "frame-ancestors": "'none'",
}

DEFAULTS = dict(
    # Seconds browsers remember to use https only; 0 sends no Strict-Transport-Security.
    HSTS_MAX_AGE=365 * 24 * 3600,
    # Also cover subdomains of the app's host: only when every one of them serves https.
    HSTS_INCLUDE_SUBDOMAINS=False,
)

talisman = Talisman()


def init_app(app) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    talisman.init_app(
        app,
        force_https=False,
        content_security_policy=CSP,
        frame_options="DENY",
        referrer_policy="same-origin",
        x_content_type_options=True,
        strict_transport_security=False,
        # Pass the app's own cookie settings through unchanged (Talisman would otherwise
        # force Secure on and overwrite SameSite at this point).
        session_cookie_secure=False,
        session_cookie_http_only=app.config.get("SESSION_COOKIE_HTTPONLY", True),
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE"),
    )
    app.after_request(_hsts)


def _hsts(response):
    max_age = int(current_app.config["HSTS_MAX_AGE"])
    if max_age > 0 and served_over_https():
        value = f"max-age={max_age}"
        if current_app.config["HSTS_INCLUDE_SUBDOMAINS"]:
            value += "; includeSubDomains"
        response.headers["Strict-Transport-Security"] = value
    return response
