"""The one place that decides between a full page and an htmx fragment."""
from flask import render_template, request


def is_htmx() -> bool:
    # History restores ask for the full page even though they come from htmx.
    return request.headers.get("HX-Request") == "true" and \
        request.headers.get("HX-History-Restore-Request") != "true"


def render(page: str, partial: str, /, **context) -> str:
    """Render ``partial`` for htmx requests and ``page`` (which includes it) otherwise."""
    return render_template(partial if is_htmx() else page, **context)
