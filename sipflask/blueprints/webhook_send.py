"""Requests sent from a page, now: the editor's "Send test" and the delivery log's "Retry now".

* ``test`` (``/webhooks/test``, ``/webhooks/<id>/test``): a submit of the editor form itself,
  so it sends the webhook *as typed* (``forms/webhook_test.py``), once, with the chosen call's
  values or a made-up call's, and shows the request (secrets masked) and the response (status,
  headers, the first 2 kB of the body, the time) or why nothing came back, in words. Nothing is
  saved or logged. htmx gets the result panel, a plain post the whole editor page with it.
* ``retry`` (``/webhooks/deliveries/<id>/retry``): one delivery sent again now
  (``deliver.retry_now``), from the webhook's page or the call's; htmx gets the delivery back,
  a plain post goes back with a flash.

Both make sipflask send a request where a user says, so both count against one limit per
signed-in user (``THROTTLE_WEBHOOK_TEST``, sipflask/throttle.py); past it the same answer
comes back with 429, ``Retry-After`` and the panel saying when to try again. The address rules
(``WEBHOOKS_ALLOW_PRIVATE``) apply as to every delivery.
"""
from __future__ import annotations

import math

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import NotFound

from sipflask import throttle
from sipflask.blueprints.lists import get_or_404, safe_back
from sipflask.blueprints.webhooks import editor_page
from sipflask.extensions import db
from sipflask.forms.webhook import WebhookEditor
from sipflask.forms.webhook_test import WebhookTest, chosen_call, draft_webhook
from sipflask.htmx import is_htmx
from sipflask.webhooks import deliver, log_view
from sipflask.webhooks.model import Delivery, Webhook

bp = Blueprint("webhook_send", __name__, url_prefix="/webhooks")

PANEL = "webhooks/partial/test_result.html"
DELIVERY = "webhooks/partial/delivery.html"


def _editor(id) -> WebhookEditor:
    return WebhookEditor(None if id is None else get_or_404(Webhook, id), submitted=True)


def run_test(ed: WebhookEditor) -> WebhookTest:
    draft = draft_webhook(ed)
    if draft is None:
        return WebhookTest(error="the webhook as typed has errors: fix them, then send the "
                                 "test.", problems=ed.error_lines())
    call, problem = chosen_call(ed)
    if problem:
        return WebhookTest(error=problem)
    mask = log_view.masker([draft, ed.webhook], [call] if call else [], current_user.is_admin)
    # Nothing is written here: end the read transaction so its pooled connection serves
    # others while this request waits on the receiver.
    db.session.rollback()
    result = deliver.send_test(draft, call)
    return WebhookTest(result=result, call=call, mask=mask, words=log_view.in_words(result.error))


@bp.post("/test", defaults={"id": None})
@bp.post("/<int:id>/test")
def test(id):
    ed = _editor(id)
    return editor_page(ed, PANEL, webhook_test=run_test(ed))


@bp.post("/deliveries/<int:id>/retry")
def retry(id):
    delivery = get_or_404(Delivery, id)
    webhook = delivery.webhook
    result = deliver.retry_now(delivery)
    if result is None:
        done = "A worker is sending this delivery right now: see its result in a moment."
    elif result.state == "delivered":
        done = f"Delivered: HTTP {result.status}."
    else:
        words = log_view.in_words(result.error)
        done = f"Tried again: {result.state}" + (f", HTTP {result.status}" if result.status
                                                   else "") + (f". {words}" if words else ".")
    back = safe_back(url_for("webhooks.edit", id=webhook.id))
    if not is_htmx():
        flash(done, "success" if result is not None and result.state == "delivered" else "warning")
        return redirect(back)
    return _delivery_fragment(id, done, back)


def _delivery_fragment(id: int, done: str, back: str):
    """The delivery as its log shows it, with ``done`` said on it."""
    db.session.expire_all()
    delivery = get_or_404(Delivery, id)
    calls = log_view.calls_by_id([delivery])
    return render_template(DELIVERY, d=delivery, calls=calls, done=done, next_url=back,
                           show_webhook=request.form.get("show_webhook") == "1",
                           mask=log_view.masker([delivery.webhook], calls.values(),
                                                current_user.is_admin))


@bp.errorhandler(429)
def too_many(exc):
    """``throttle`` refused this: the panel (or the delivery, or the page) saying when to try
    again; the editor keeps what was typed."""
    seconds = throttle.retry_after()
    wait = f"{math.ceil(seconds / 60)} minutes" if seconds > 90 else f"{seconds} seconds"
    message = f"Too many requests sent from the pages: try again in {wait}."
    headers = {"Retry-After": str(seconds)}
    args = request.view_args or {}
    if request.endpoint == "webhook_send.retry":
        if is_htmx():
            try:
                return _delivery_fragment(args.get("id", 0), message, safe_back(
                    url_for("webhooks.index"))), 429, headers
            except NotFound as unknown:
                return current_app.handle_http_exception(unknown)
        flash(message, "error")
        response = redirect(safe_back(url_for("webhooks.index")))
        response.headers.update(headers)
        return response
    try:
        ed = _editor(args.get("id"))
    except NotFound as unknown:  # raised from here it would become a 500
        return current_app.handle_http_exception(unknown)
    response, status = editor_page(ed, PANEL, 429, webhook_test=WebhookTest(throttled=message))
    return response, status, headers
