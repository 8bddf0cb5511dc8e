"""``/postback``: buyers' servers report conversions (see docs/postbacks.md).

Public and CSRF-exempt: a buyer's server has neither a session nor our CSRF token. It
authenticates with the call's secret key instead (``auth.PUBLIC_BLUEPRINTS`` lists ``postbacks``).
Answers are small JSON documents; a wrong key and an unknown call get the same 403.
"""
import logging

from flask import Blueprint, jsonify, request, url_for

from sipflask import throttle
from sipflask.calllog import postbacks
from sipflask.extensions import csrf
from sipflask.urls import public_url

bp = Blueprint("postbacks", __name__)
csrf.exempt(bp)
log = logging.getLogger("sipflask.postbacks")

MAX_PARAMS = 100


# A template global (not a context value) so that imported macros can call it too.
@bp.app_template_global("postback_url")
def postback_url() -> str:
    """The absolute postback URL buyers call (on PUBLIC_URL when set)."""
    return public_url(url_for("postbacks.receive"))


def _answer(body: dict, status: int = 200):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _params() -> list[tuple[str, object]]:
    """Query string plus the body (form or JSON object), as (name, value) pairs."""
    pairs: list[tuple[str, object]] = list(request.args.items(multi=True))
    if request.method == "POST":
        if request.is_json:
            try:
                data = request.get_json(silent=True)
            except RecursionError:  # a deeply nested body: not a postback
                data = None
            if not isinstance(data, dict):
                raise postbacks.PostbackError("The JSON body must be an object, like "
                                              '{"key": "...", "uuid": "...", "revenue": "12.50"}.')
            pairs.extend(data.items())
        else:
            pairs.extend(request.form.items(multi=True))
    if len(pairs) > MAX_PARAMS:
        raise postbacks.PostbackError(f"At most {MAX_PARAMS} parameters.")
    return pairs


@bp.errorhandler(429)
def too_many(exc):
    """``throttle`` refused this postback (too many for its key, or too many refused ones from
    this address)."""
    seconds = throttle.retry_after()
    response = _answer({"ok": False, "error": f"Too many postbacks; try again in {seconds} s.",
                        "retry_after": seconds}, 429)
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.route("/postback", methods=["GET", "POST"])
def receive():
    if request.method == "HEAD":
        # Link checkers and previews send HEAD: it must not record a conversion.
        return _answer({"ok": False, "error": "Use GET or POST."}, 405)
    try:
        req = postbacks.parse(_params())
        outcome = postbacks.apply(req, request.method, request.remote_addr or "")
    except postbacks.Forbidden:
        log.info("postback refused from %s: wrong key or unknown call", request.remote_addr)
        return _answer({"ok": False, "error": "forbidden"}, 403)
    except postbacks.PostbackError as exc:
        return _answer({"ok": False, "error": str(exc)}, exc.status)
    call = outcome.call
    return _answer({
        "ok": True,
        "uuid": call.uuid,
        "duplicate": outcome.duplicate,
        "converted": bool(call.converted),
        "revenue": None if call.revenue is None else f"{call.revenue:.2f}",
        # Only what this postback set: the call's other tags are not the buyer's business.
        "tags": dict(req.tags),
    })
