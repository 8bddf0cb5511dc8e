"""Error pages: a short page in the app's layout, or JSON for API callers, or plain text for
Twilio's webhooks; never a traceback."""
import logging

from flask import Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("sipflask")

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your account can't open this page."),
    404: ("Not found", "There is nothing at this address."),
    405: ("Not allowed", "This address does not take that kind of request."),
    413: ("Too large", "The request is larger than sipflask accepts."),
    500: ("Something went wrong", "sipflask hit an unexpected error; it has been logged. "
                                  "Nothing was saved by the request that failed."),
}


def _wants_json() -> bool:
    return request.path.startswith("/postback") or request.accept_mimetypes.best == "application/json"


def _page(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, ("Error", "The request failed."))
    if request.path.startswith("/twilio/"):
        # A quiet refusal: the layout would put a CSRF token, so a session cookie, on it, and
        # nothing there is for whoever probes the webhooks.
        return Response(title + "\n", status=code, mimetype="text/plain")
    if detail and code != 500:
        message = detail
    if _wants_json():
        return jsonify(ok=False, error=message), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def init_app(app):
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400 or exc.code == 401:
            return exc
        # CSRF and form errors carry a useful description; Werkzeug's defaults are generic.
        detail = exc.description if exc.code == 400 and "CSRF" in (exc.description or "") else None
        return _page(exc.code, detail)

    @app.errorhandler(500)
    def server_error(exc):
        from sipflask.extensions import db
        db.session.rollback()
        log.error("unhandled error on %s %s", request.method, request.path,
                  exc_info=getattr(exc, "original_exception", None) or exc)
        return _page(500)
