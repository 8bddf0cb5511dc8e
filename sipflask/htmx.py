"""The one place that decides between a full page and an htmx fragment."""
from urllib.parse import urlsplit

from flask import flash, make_response, redirect, render_template, request


def is_htmx() -> bool:
    # History restores ask for the full page even though they come from htmx.
    return request.headers.get("HX-Request") == "true" and \
        request.headers.get("HX-History-Restore-Request") != "true"


def template_for(page: str, partial: str, by_target: dict[str, str] | None = None) -> str:
    """``page`` for a full load; for htmx, the fragment for the element it swaps
    (``HX-Target``, looked up in ``by_target``) or else ``partial``."""
    if not is_htmx():
        return page
    return (by_target or {}).get(request.headers.get("HX-Target", ""), partial)


def render(page: str, partial: str, /, by_target: dict[str, str] | None = None,
           **context) -> str:
    """Render ``partial`` for htmx requests and ``page`` (which includes it) otherwise;
    ``by_target`` picks another fragment for some ``HX-Target`` ids."""
    return render_template(template_for(page, partial, by_target), **context)


def invalid_status(has_errors: bool = True) -> int:
    """The status of a form shown again with its errors: 422 for htmx (the layout's htmx config
    swaps it in, and nothing caches it as a success), 200 for a plain browser post."""
    return 422 if has_errors and is_htmx() else 200


def redirect_to(target: str):
    """Go to ``target``: a real redirect, or for htmx an ``HX-Redirect`` (which htmx follows as a
    full page load instead of swapping the page into the form)."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        if _only_fragment_differs(target):
            # htmx sets location.href, and a browser only scrolls to a new #fragment of the
            # page it shows: load it again (htmx reloads after setting the address).
            response.headers["HX-Refresh"] = "true"
        return response
    return redirect(target)


def _only_fragment_differs(target: str) -> bool:
    """``target`` is the page the browser shows (``HX-Current-URL``) but for its fragment."""
    there, here = urlsplit(target), urlsplit(request.headers.get("HX-Current-URL", ""))
    return bool(there.fragment) and (there.path, there.query) == (here.path, here.query)


def removed(message: str, back: str):
    """After deleting a row: htmx swaps the row for nothing; a plain post goes back with a flash."""
    if is_htmx():
        return ""
    flash(message, "success")
    return redirect(back)


def init_app(app):
    @app.after_request
    def vary_on_htmx(response):
        # The same URL answers with a fragment or a full page: caches must keep them apart.
        response.vary.add("HX-Request")
        return response
