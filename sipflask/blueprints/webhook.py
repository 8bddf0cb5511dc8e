"""Twilio's voice webhooks: voice (a call arrives), dial-action (an attempt ended), status, and
the fallback URL Twilio calls when the voice URL failed or timed out.

Every request must carry a valid ``X-Twilio-Signature``, checked with the auth token of the
Twilio account in use (``twilio_rest/account.py``: the configuration's, else the saved one,
read from this process's copy when it can't be read); a refusal is a plain-text 403 (no page,
no cookie). Every answer is TwiML that Twilio accepts, whatever fails inside, and it comes within
Twilio's deadline: the database work of one webhook is bounded (``DB_WEBHOOK_BUDGET``,
``callflow/deadline.py``), a voice webhook whose connection dropped is tried once more, and when
the database can't be reached the call is routed from the process's snapshot and journalled
(``callflow/fallback.py``, ``OUTAGE_ROUTING``). A caller never hears Twilio's "application error".
"""
import logging

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import RequestValidator

from sipflask import callflow
from sipflask.callflow import deadline, fallback, journal
from sipflask.core import twiml
from sipflask.extensions import csrf, db
from sipflask.twilio_rest import account
from sipflask.urls import dial_action_url, signed_url

bp = Blueprint("webhook", __name__, url_prefix="/twilio")
# Twilio can't send our CSRF token; its HMAC signature authenticates the request instead.
csrf.exempt(bp)
log = logging.getLogger("sipflask.webhook")
SIGNING_READ_BUDGET = 1.0  # seconds: reading the saved auth token is one small row


def refusal(code: int = 403, text: str = "Forbidden") -> Response:
    """A quiet refusal: plain text, nothing about why, and no session cookie."""
    return Response(text + "\n", status=code, mimetype="text/plain")


def _signing_token() -> str:
    # Read with no token in the configuration only, and then mostly from this process's copy;
    # a database that stopped answering costs at most SIGNING_READ_BUDGET here, before the
    # view's own budget starts, and the last copy read is used instead.
    budget = float(current_app.config.get("DB_WEBHOOK_BUDGET") or 0)
    with deadline.watch(min(budget, SIGNING_READ_BUDGET) if budget > 0 else 0):
        return account.signing_token()


def _no_token_reason() -> str:
    if account.from_config(current_app.config) is not None:
        return ("TWILIO_AUTH_TOKEN is not configured (other TWILIO_* settings are, so the "
                "settings page's account is not used)")
    return ("TWILIO_AUTH_TOKEN is not configured and no auth token is saved on the settings "
            "page (or it could not be read)")


@bp.before_request
def check_signature():
    token = _signing_token()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token:
        log.error("refused %s: %s", request.path, _no_token_reason())
        return refusal()
    url = signed_url()
    if not signature or not RequestValidator(token).validate(url, request.form.to_dict(), signature):
        # Log the URL we validated against: a mismatch there (proxy, http vs https) is the
        # usual cause, and it tells the operator to set PUBLIC_URL.
        log.warning("refused %s from %s: invalid X-Twilio-Signature (validated against %s)",
                    request.path, request.remote_addr, url)
        return refusal()
    return None


def _xml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


def _quietly(action) -> None:
    """Roll back the session; on a dead connection that may fail too, harmlessly."""
    try:
        action()
    except Exception:  # noqa: BLE001  the connection is discarded either way
        log.debug("database clean-up failed", exc_info=True)


def _may_retry(exc: SQLAlchemyError, watch) -> bool:
    """A dropped connection (not a slow one) with time left for a new connection."""
    if not getattr(exc, "connection_invalidated", False):
        return False
    connect = float(current_app.config.get("DB_CONNECT_TIMEOUT") or 0)
    return watch is None or (not watch.expired and watch.remaining() > connect)


def _answer(view, outage, retry: bool, watch) -> tuple[str, bool]:
    """``view()``'s TwiML and True, or what to say instead and False."""
    while True:
        try:
            return view(), True
        except SQLAlchemyError as exc:
            _quietly(db.session.rollback)
            if retry and _may_retry(exc, watch):
                retry = False
                log.warning("database connection lost in %s; trying once more", request.path)
                continue
            if outage is not None and journal.unreachable(exc) and fallback.enabled():
                log.error("database unreachable in %s (%s); outage routing", request.path,
                          type(exc).__name__)
                try:
                    return outage(), False
                except Exception:  # noqa: BLE001  e.g. the journal's disk: the sorry message
                    log.exception("outage routing failed in %s", request.path)
            else:
                log.exception("database error in %s; caller hears the sorry message",
                              request.path)
        except Exception:  # noqa: BLE001  the caller must still hear something sensible
            _quietly(db.session.rollback)
            log.exception("unexpected error in %s; caller hears the sorry message", request.path)
        return twiml.say_and_hangup(callflow.MSG_ERROR), False


def _bounded(view, outage=None, retry=False) -> tuple[str, bool]:
    budget = float(current_app.config.get("DB_WEBHOOK_BUDGET") or 0)
    with deadline.watch(budget) as watch:
        try:
            return _answer(view, outage, retry, watch)
        finally:
            # Inside the watch: giving the connection back (its rollback) is bounded too. Every
            # view committed what it wrote; the rollback only ends the transaction, which
            # returns the connection to the pool (the session's objects stay attached).
            _quietly(db.session.rollback)


def _replay_if_pending(ok: bool) -> None:
    # The database answered again: store what was journalled during the outage.
    if ok and journal.pending():
        journal.replay_soon(current_app._get_current_object())


@bp.post("/voice")
def voice():
    body, ok = _bounded(lambda: callflow.start_call(request.form, dial_action_url),
                        outage=lambda: fallback.answer_voice(request.form, dial_action_url),
                        retry=True)  # safe: nothing was answered yet, and a CallSid is unique
    _replay_if_pending(ok)
    return _xml(body)


@bp.post("/dial-action/<call_uuid>/<int:position>")
def dial_action(call_uuid, position):
    def run():
        if journal.pending():
            journal.replay(wait=False)  # the call may be one answered during the outage
        return callflow.dial_action(call_uuid, position, request.form, dial_action_url)
    body, _ = _bounded(run, outage=lambda: fallback.answer_dial_action(
        call_uuid, position, request.form, dial_action_url))
    return _xml(body)


@bp.post("/fallback")
def fallback_url():
    """Twilio's "primary handler fails" URL: the snapshot's route, never the database."""
    try:
        if fallback.enabled():
            return _xml(fallback.answer_voice(request.form, dial_action_url, source="fallback"))
        log.error("fallback URL called for CallSid %r (voice URL failed; outage routing off)",
                  request.form.get("CallSid"))
    except Exception:  # noqa: BLE001  the caller must still hear something sensible
        log.exception("fallback URL failed; caller hears the sorry message")
    return _xml(twiml.say_and_hangup(callflow.MSG_ERROR))


@bp.post("/status")
def status():
    def run():
        callflow.status_callback(request.form)
        return ""

    def outage():
        fallback.journal_status(request.form)
        return ""
    # Twilio only needs a 2xx; an error goes to the log (or the status to the journal).
    _bounded(run, outage=outage)
    return Response(status=204)
