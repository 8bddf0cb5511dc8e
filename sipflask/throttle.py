"""Throttling of the two doors anyone on the internet can knock on (docs/security.md, "Sign-in
and sessions"), of Test endpoint and of the webhook requests the pages send, with
Flask-Limiter, and the client address behind a proxy (werkzeug's ProxyFix).

- ``POST /login``: per account (the typed email, normalised; ``THROTTLE_LOGIN_ACCOUNT``) and
  per client address (``THROTTLE_LOGIN_ADDRESS``); every attempt counts.
- ``/postback``: per key (a hash of it: the key itself is never stored or logged;
  ``THROTTLE_POSTBACK_KEY``, every request counts) and per address for refused requests
  (``THROTTLE_POSTBACK_ADDRESS``: wrong keys and malformed posts, so a buyer's busy server is
  never slowed down by its own good postbacks).
- Test endpoint (every ``POST`` of blueprints/siphealth.py: the editor's draft and the buyer
  page's saved buyer): per signed-in user, both buttons counted together
  (``THROTTLE_SIP_TEST``), so no account can make sipflask send OPTIONS and DNS queries to any
  host at will.
- A webhook's Send test and a delivery's Retry now (blueprints/webhook_send.py): per
  signed-in user, counted together (``THROTTLE_WEBHOOK_TEST``), for the same reason with HTTP.

A refused request gets 429 with ``Retry-After``; the blueprint says it in its own words (the
login form, the postback's JSON, Test endpoint's result panel). Counts live in
``RATELIMIT_STORAGE_URI``, else ``REDIS_URL`` (shared by every process and machine), else in
this process's memory. When Redis can't be reached each process counts in its own memory until
Redis answers again (logged as a warning); if even that fails, the request is let through and
the error logged: a Redis outage must not lock everyone out.
"""
from __future__ import annotations

import hashlib
import math
import time

from flask import current_app, request
from flask_login import current_user
from flask_limiter import Limiter
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

EXTENSION = "sipflask_throttle"
# A Redis that does not answer must cost a request a fraction of a second, not a hang.
REDIS_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
REFUSED_POSTBACK = (400, 403)
LOGIN_ACCOUNT_SCOPE = "login-account"
# Test endpoint's views: every POST route of the siphealth blueprint.
SIP_TESTS = ("siphealth.test_draft", "siphealth.test_saved")
# Requests to webhooks sent from the pages: Send test and Retry now (blueprints/webhook_send.py).
WEBHOOK_SENDS = ("webhook_send.test", "webhook_send.retry")
# What the limits below cover: the sign-in form's posts, every postback, every Test endpoint,
# every webhook request a page sends.
LIMITED = {("auth.login", "POST"), ("postbacks.receive", "GET"), ("postbacks.receive", "POST")} \
    | {(endpoint, "POST") for endpoint in SIP_TESTS + WEBHOOK_SENDS}
LIMIT_SETTINGS = ("THROTTLE_LOGIN_ACCOUNT", "THROTTLE_LOGIN_ADDRESS", "THROTTLE_POSTBACK_KEY",
                  "THROTTLE_POSTBACK_ADDRESS", "THROTTLE_SIP_TEST", "THROTTLE_WEBHOOK_TEST")


def client_address() -> str:
    """The client's address: the TCP peer, or with ``PROXY_HOPS`` set the address the trusted
    proxies put in ``X-Forwarded-For`` (ProxyFix has already moved it to ``remote_addr``)."""
    return request.remote_addr or "unknown"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _account(email: str) -> str:
    """An account's counter key: its email as the login form normalises it, hashed, so the
    counters name no one."""
    return "account:" + _digest(email.strip().lower())


def login_account() -> str:
    """The account a login attempt is for."""
    email = request.form.get("email") or ""
    return _account(email) if email.strip() else "no-account:" + client_address()


def postback_key() -> str:
    """The postback's key (query, form or JSON body), hashed: counters and logs never hold it."""
    key = request.values.get("key")
    if key is None and request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # the view refuses such a body; any bucket will do here
            body = None
        key = body.get("key") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key:
        return "no-key:" + client_address()
    return "key:" + _digest(key)


def signed_in_user() -> str:
    """The signed-in user: their id, not the session (a new sign-in starts no new count); the
    client address only should a request get here signed out (``require_login`` stops those)."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return "no-user:" + client_address()


def _not_limited() -> bool:
    return (request.endpoint, request.method) not in LIMITED


def _postback_refused(response) -> bool:
    return response.status_code in REFUSED_POSTBACK


def retry_after() -> int:
    """Seconds until the limit this request broke lets a request through again (at least 1)."""
    limiter: Limiter = current_app.extensions[EXTENSION]
    breached = limiter.current_limit
    if breached is None:
        return 60
    try:
        return max(1, math.ceil(breached.reset_at - time.time()))
    except Exception:  # storage gone between the check and now: a safe guess
        return 60


def _key_prefix(config) -> str:
    return f"{config.get('JOBS_QUEUE_NAME', 'sipflask')}:throttle"


class UnlockError(Exception):
    """The counts could not be cleared; the message says why, in words for the operator."""


def unlock_account(email: str) -> None:
    """Forget the sign-in attempts counted against account ``email`` (``flask users unlock``),
    for someone a guesser has locked out. Only counts shared through Redis are in reach: each
    app process keeps its own in memory otherwise."""
    config = current_app.config
    if storage_uri(config).startswith("memory"):
        raise UnlockError(
            "Sign-in attempts are counted in each app process's memory (neither "
            "SIPFLASK_RATELIMIT_STORAGE_URI nor SIPFLASK_REDIS_URL is set), out of this "
            "command's reach: restart the app to clear them, or wait for the window to pass.")
    limiter: Limiter = current_app.extensions[EXTENSION]
    # The key Flask-Limiter counts under: its prefix, our key, then the scope it makes of the
    # endpoint and ours (flask_limiter's RuntimeLimit.scope_for).
    identifiers = (_key_prefix(config), _account(email), f"auth.login:{LOGIN_ACCOUNT_SCOPE}")
    try:
        for item in parse_many(str(config["THROTTLE_LOGIN_ACCOUNT"])):
            limiter.limiter.clear(item, *identifiers)
    except Exception as exc:  # the storage's own error names its address, maybe a password
        raise UnlockError("The rate-limit storage (SIPFLASK_RATELIMIT_STORAGE_URI or "
                          f"SIPFLASK_REDIS_URL) did not answer ({type(exc).__name__}); "
                          "nothing was cleared.") from None


def storage_uri(config) -> str:
    return config.get("RATELIMIT_STORAGE_URI") or config.get("REDIS_URL") or "memory://"


def check_limits(config) -> None:
    """Refuse to start with a limit that doesn't parse: at request time it would be skipped
    (swallow_errors), which would silently turn the throttle off."""
    for name in LIMIT_SETTINGS:
        try:
            if not parse_many(str(config[name])):
                raise ValueError
        except ValueError:
            raise RuntimeError(f"{name} (environment variable SIPFLASK_{name}) is "
                               f"{config[name]!r}: use limits like 10/minute;30/hour;100/day.") \
                from None


def _wrap(app, endpoint: str, *limits) -> None:
    view = app.view_functions[endpoint]
    for limit in limits:
        view = limit(view)
    app.view_functions[endpoint] = view


def init_app(app) -> None:
    """ProxyFix for ``PROXY_HOPS`` proxies, and a Limiter of this app's own (one per app: a
    module-level one would share its storage between the apps of one process)."""
    check_limits(app.config)
    try:
        hops = int(app.config.get("PROXY_HOPS") or 0)
    except (TypeError, ValueError):
        hops = -1
    if hops < 0:
        raise RuntimeError(f"PROXY_HOPS is {app.config.get('PROXY_HOPS')!r}: the number of "
                           "proxies in front of sipflask, 0 when none.")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    uri = storage_uri(app.config)
    limiter = Limiter(
        key_func=client_address, app=app, storage_uri=uri,
        storage_options=REDIS_OPTIONS if uri.startswith(("redis", "rediss")) else {},
        strategy="moving-window", key_prefix=_key_prefix(app.config),
        in_memory_fallback_enabled=True, swallow_errors=True)
    app.extensions[EXTENSION] = limiter
    # Every other request (Twilio's webhooks above all) skips the limiter outright, so it never
    # waits on a Redis that stopped answering, not even for the limiter's recovery checks.
    limiter.request_filter(_not_limited)
    config = app.config
    _wrap(app, "auth.login",
          limiter.limit(config["THROTTLE_LOGIN_ACCOUNT"], key_func=login_account,
                        methods=["POST"], scope=LOGIN_ACCOUNT_SCOPE),
          limiter.limit(config["THROTTLE_LOGIN_ADDRESS"], key_func=client_address,
                        methods=["POST"], scope="login-address"))
    _wrap(app, "postbacks.receive",
          limiter.limit(config["THROTTLE_POSTBACK_KEY"], key_func=postback_key,
                        scope="postback-key"),
          limiter.limit(config["THROTTLE_POSTBACK_ADDRESS"], key_func=client_address,
                        deduct_when=_postback_refused, scope="postback-address"))
    sip_test = limiter.shared_limit(config["THROTTLE_SIP_TEST"], scope="sip-test",
                                    key_func=signed_in_user, methods=["POST"])
    for endpoint in SIP_TESTS:
        _wrap(app, endpoint, sip_test)
    webhook_test = limiter.shared_limit(config["THROTTLE_WEBHOOK_TEST"], scope="webhook-test",
                                        key_func=signed_in_user, methods=["POST"])
    for endpoint in WEBHOOK_SENDS:
        _wrap(app, endpoint, webhook_test)
