"""Absolute URLs as Twilio sees them (behind a TLS proxy that differs from what Flask sees)."""
from flask import current_app, request


def public_url(path: str) -> str:
    """``path`` (starting with /) made absolute on PUBLIC_URL, or on the request's host."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + path
    return request.host_url.rstrip("/") + path


def signed_url() -> str:
    """The URL Twilio signed for the current request: PUBLIC_URL + path + query when set."""
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        return request.url
    query = request.query_string.decode()
    return base.rstrip("/") + request.path + (("?" + query) if query else "")
