"""Absolute URLs as Twilio sees them (behind a TLS proxy that differs from what Flask sees)."""
from flask import current_app, has_request_context, request, url_for


class NoPublicUrl(RuntimeError):
    """PUBLIC_URL is unset and there is no request to take the host from (the CLI, a job)."""


def public_url_is_https(config) -> bool:
    """True when ``PUBLIC_URL`` is https: users reach the app over TLS even when the proxy in
    front speaks plain http to it (cookies get Secure, responses HSTS)."""
    return str(config.get("PUBLIC_URL") or "").strip().lower().startswith("https://")


def served_over_https() -> bool:
    """True when users reach the app over https: an https PUBLIC_URL, or an https request
    (directly, or as ProxyFix reports it from the proxy's ``X-Forwarded-Proto``). The one
    answer for HSTS (headers.py) and, with ``COOKIE_SECURE=auto``, ``Secure`` cookies
    (sessions.py)."""
    return public_url_is_https(current_app.config) or (has_request_context()
                                                        and request.is_secure)


def public_url(path: str) -> str:
    """``path`` (starting with /) made absolute on PUBLIC_URL, or on the request's host."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + path
    if not has_request_context():
        raise NoPublicUrl("PUBLIC_URL is not set")
    return request.host_url.rstrip("/") + path


def endpoint_url(endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint``, inside a request or not (the CLI needs PUBLIC_URL)."""
    if has_request_context():
        return public_url(url_for(endpoint, **values))
    return public_url(current_app.url_map.bind("localhost").build(endpoint, values))


def signed_url() -> str:
    """The URL Twilio signed for the current request: PUBLIC_URL + path + query when set."""
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        return request.url
    query = request.query_string.decode()
    return base.rstrip("/") + request.path + (("?" + query) if query else "")


def dial_action_url(call, position: int) -> str:
    """Where Twilio reports attempt ``position`` of ``call`` (anything with a ``uuid``): the
    ``<Dial action>`` of the webhook's TwiML and of the buyer editor's preview."""
    return public_url(url_for("webhook.dial_action", call_uuid=call.uuid, position=position))
