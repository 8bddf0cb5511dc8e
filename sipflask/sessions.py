"""Sign-in sessions: which cookie loads which user, how long a session lasts, and when its
cookies are ``Secure`` (docs/security.md, "Sign-in and sessions").

- Both cookies (Flask's session, Flask-Login's remember-me) carry ``User.get_id()``, the user's
  id *and* ``session_token``, and the time of sign-in; ``records.users`` gives the user a new
  token on logout, password or role change and "sign out everywhere", so every cookie issued
  before stops loading the user, and no cookie loads anyone after REMEMBER_DAYS.
- A session ends ``SESSION_LIFETIME_HOURS`` after sign-in and after ``SESSION_IDLE_MINUTES``
  without a request. "Keep me signed in" adds a remember-me cookie valid ``REMEMBER_DAYS``, which
  opens a new session when the old one timed out (until the token changes).
- ``COOKIE_SECURE``: ``auto`` marks both cookies ``Secure`` when PUBLIC_URL is https or the
  request came over https (``X-Forwarded-Proto`` from a trusted proxy, see ``PROXY_HOPS``);
  ``true``/``false`` force it.
"""
from __future__ import annotations

import hmac
import time
from datetime import timedelta

from flask import current_app, flash, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import user_loaded_from_cookie, user_logged_in

from sipflask.extensions import db, login_manager
from sipflask.urls import public_url_is_https, served_over_https

# What Flask-Login keeps in the session for a signed-in user, plus our two clocks.
LOGIN_KEYS = ("_user_id", "_fresh", "_id", "_remember_seconds", "signed_in_at", "seen_at")
# Writing the last-seen time on every request would re-send the cookie each time for nothing.
SEEN_RESOLUTION = 60


def cookie_secure_mode(config) -> str:
    """COOKIE_SECURE as ``auto``, ``true`` or ``false`` (it may come as a bool from the env)."""
    value = config.get("COOKIE_SECURE", "auto")
    text = str(value).strip().lower()
    mapped = {"auto": "auto", "true": "true", "1": "true", "yes": "true",
              "false": "false", "0": "false", "no": "false"}.get(text)
    if mapped is None:
        raise RuntimeError(f"COOKIE_SECURE (environment variable SIPFLASK_COOKIE_SECURE) must be "
                           f"auto, true or false (not {value!r}).")
    return mapped


def load_user(cookie_id: str):
    """The user a cookie names, while its session token is the user's current one and it was
    issued less than REMEMBER_DAYS ago (the browser's expiry date is not to be relied on)."""
    from sipflask.models import User
    user_id, token, issued = ((cookie_id or "").split(":") + ["", ""])[:3]
    if not (user_id.isdigit() and len(user_id) <= 12 and token and issued.isdigit()):
        return None  # a cookie from before session tokens, or not ours
    max_age = float(current_app.config["REMEMBER_DAYS"]) * 86400
    if now() - int(issued) > max_age:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


class _SessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app) -> bool:
        return super().get_cookie_secure(app) or _request_is_https(app)


def _request_is_https(app) -> bool:
    return cookie_secure_mode(app.config) == "auto" and served_over_https()


def _secure_remember_cookie(response):
    """Flask-Login reads REMEMBER_COOKIE_SECURE once per app: add ``Secure`` to its cookie when
    this request came over https (``auto`` without an https PUBLIC_URL)."""
    app = current_app
    if app.config.get("REMEMBER_COOKIE_SECURE") or not _request_is_https(app):
        return response
    name = app.config.get("REMEMBER_COOKIE_NAME", "remember_token") + "="
    cookies = response.headers.getlist("Set-Cookie")
    if not any(c.startswith(name) for c in cookies):
        return response
    response.headers.remove("Set-Cookie")
    for cookie in cookies:
        if cookie.startswith(name) and "; Secure" not in cookie:
            cookie += "; Secure"
        response.headers.add("Set-Cookie", cookie)
    return response


def _positive(config, name: str) -> float:
    try:
        value = float(config[name])
    except (TypeError, ValueError):
        value = 0
    if not value > 0:
        raise RuntimeError(f"{name} (environment variable SIPFLASK_{name}) is "
                           f"{config[name]!r}: it must be a number above 0.")
    return value


def _configure(app) -> None:
    config = app.config
    for name in ("SESSION_LIFETIME_HOURS", "SESSION_IDLE_MINUTES", "REMEMBER_DAYS"):
        _positive(config, name)
    mode = cookie_secure_mode(config)
    secure = mode == "true" or (mode == "auto" and public_url_is_https(config))
    config["SESSION_COOKIE_SECURE"] = config["REMEMBER_COOKIE_SECURE"] = secure
    config["SESSION_COOKIE_HTTPONLY"] = config["REMEMBER_COOKIE_HTTPONLY"] = True
    config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=float(config["SESSION_LIFETIME_HOURS"]))
    # Flask re-sends a permanent session's cookie after every request by default. A response to
    # a request that was sent before another one's (an htmx preview overlapping Save) then puts
    # back the older session and loses what the other wrote, such as its "saved" message. Our
    # own clocks (signed_in_at, seen_at) decide when a session ends, so only a changed session
    # needs its cookie sent again.
    config["SESSION_REFRESH_EACH_REQUEST"] = False
    config["REMEMBER_COOKIE_DURATION"] = timedelta(days=float(config["REMEMBER_DAYS"]))


def now() -> int:
    """Seconds since the epoch (one place, so tests can move the clock)."""
    return int(time.time())


def _signed_in(sender, user, **extra) -> None:
    """A password sign-in: the cookies name the user, its token, and when they were issued."""
    session["_user_id"] = f"{user.get_id()}:{now()}"
    _session_started(sender)


def _session_started(sender, **extra) -> None:
    now_ = now()
    session.permanent = True
    session["signed_in_at"] = session["seen_at"] = now_


def _expire_old_sessions():
    """End a session past its lifetime or idle limit; a valid remember-me cookie then opens a
    new one (Flask-Login reads it when the session has no user)."""
    if "_user_id" not in session:
        return None
    config, now_ = current_app.config, now()
    started, seen = session.get("signed_in_at"), session.get("seen_at")
    lifetime = float(config["SESSION_LIFETIME_HOURS"]) * 3600
    idle = float(config["SESSION_IDLE_MINUTES"]) * 60
    if started is None or seen is None or now_ - started > lifetime or now_ - seen > idle:
        for key in LOGIN_KEYS:
            session.pop(key, None)
        if request.cookies.get(config.get("REMEMBER_COOKIE_NAME", "remember_token")) is None:
            flash("Your session has ended; sign in again.", "info")
        return None
    if now_ - seen >= SEEN_RESOLUTION:
        session["seen_at"] = now_
    return None


def init_app(app) -> None:
    """Call before anything else that registers ``after_request`` hooks on cookies: Flask runs
    those last-registered first, and ours must see the remember-me cookie Flask-Login set."""
    _configure(app)
    app.session_interface = _SessionInterface()
    app.after_request(_secure_remember_cookie)
    # Flask-Login's "basic" protection marks a session "not fresh" whenever it lacks the
    # client's fingerprint, which is every session before sign-in: that write sends a cookie
    # from answers to anonymous requests, and one still on its way (the login page's favicon)
    # replaces the signed-in session that arrived first. Nothing here asks for fresh logins; the
    # session token and our two clocks (above) are what end a session.
    login_manager.session_protection = None
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    user_logged_in.connect(_signed_in, app, weak=False)
    user_loaded_from_cookie.connect(_session_started, app, weak=False)
    app.before_request(_expire_old_sessions)
