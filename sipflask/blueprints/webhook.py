"""Twilio's voice webhooks: voice (a call arrives), dial-action (an attempt ended), status.

Every request must carry a valid ``X-Twilio-Signature``. Every answer is TwiML that Twilio
accepts, whatever fails inside: a caller never hears Twilio's "application error".
"""
import logging
from functools import wraps

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import RequestValidator

from sipflask import callflow
from sipflask.core import twiml
from sipflask.extensions import csrf, db
from sipflask.urls import dial_action_url, signed_url

bp = Blueprint("webhook", __name__, url_prefix="/twilio")
# Twilio can't send our CSRF token; its HMAC signature authenticates the request instead.
csrf.exempt(bp)
log = logging.getLogger("sipflask.webhook")


@bp.before_request
def check_signature():
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token:
        log.error("refused %s: TWILIO_AUTH_TOKEN is not configured", request.path)
        abort(403)
    url = signed_url()
    if not signature or not RequestValidator(token).validate(url, request.form.to_dict(), signature):
        # Log the URL we validated against: a mismatch there (proxy, http vs https) is the
        # usual cause, and it tells the operator to set PUBLIC_URL.
        log.warning("refused %s from %s: invalid X-Twilio-Signature (validated against %s)",
                    request.path, request.remote_addr, url)
        abort(403)


def _xml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


def answers_twiml(view):
    """Turn any failure inside ``view`` into logged, valid TwiML instead of a 500."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return _xml(view(*args, **kwargs))
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("database error in %s; caller hears the sorry message", request.path)
        except Exception:  # noqa: BLE001  the caller must still hear something sensible
            db.session.rollback()
            log.exception("unexpected error in %s; caller hears the sorry message", request.path)
        return _xml(twiml.say_and_hangup(callflow.MSG_ERROR))
    return wrapper


@bp.post("/voice")
@answers_twiml
def voice():
    return callflow.start_call(request.form, dial_action_url)


@bp.post("/dial-action/<call_uuid>/<int:position>")
@answers_twiml
def dial_action(call_uuid, position):
    return callflow.dial_action(call_uuid, position, request.form, dial_action_url)


@bp.post("/status")
def status():
    try:
        callflow.status_callback(request.form)
    except Exception:  # noqa: BLE001  Twilio only needs a 2xx; the error goes to the log
        db.session.rollback()
        log.exception("status callback failed for CallSid %r", request.form.get("CallSid"))
    return Response(status=204)
