"""Webhooks (docs/webhooks.md): the list page (enable/disable and delete inline), the editor and
each webhook's delivery log. Admins and members alike.

The editor (``/webhooks/new``, ``/webhooks/<id>/edit``) is one form that works without
JavaScript; htmx enhances it through the endpoints below, each of which answers a plain form
post with the whole editor page and an htmx request with just its fragment (``htmx.render``):

* ``check``: the messages of one field as the user types (``?field=url``, ``headers-2-value``);
* ``tokens``: the chosen event's words, tokens and filters;
* ``log``: a page of the delivery log;
* ``webhook_send.test`` (blueprints/webhook_send.py): Send test, and Retry now on a delivery.

"Add header", "Remove" and "Generate" are submit buttons of the form itself (``action=
add-header`` / ``remove-header-N`` / ``generate-secret``): they change the form and save
nothing; htmx swaps just their section.

Secrets (the signing secret, secret header values) never reach a template: only whether one is
stored (``forms/webhook.py`` says how typed ones ride along sealed).
"""
from flask import (Blueprint, abort, flash, make_response, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from sipflask.blueprints.lists import (get_or_404, list_url, matching, paginate, safe_back,
                                       search_text)
from sipflask.core.validation import ascii_int
from sipflask.forms.webhook import FORM, HEADERS, WebhookEditor
from sipflask.forms.webhook_fields import filters_summary
from sipflask.htmx import invalid_status, is_htmx, redirect_to, removed, render
from sipflask.records import webhooks as records
from sipflask.webhooks import log_view, queries
from sipflask.webhooks.model import Webhook

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

PAGE = "webhooks/edit.html"
FORM_PARTIAL = "webhooks/partial/form.html"


# --- list --------------------------------------------------------------------------------------

@bp.route("/")
def index():
    q = search_text()
    stmt = (select(Webhook).order_by(Webhook.name, Webhook.id)
            .options(selectinload(Webhook.headers), selectinload(Webhook.filter_campaign),
                     selectinload(Webhook.filter_publisher),
                     selectinload(Webhook.filter_buyer)))
    results = paginate(matching(stmt, q, Webhook.name, Webhook.ref, Webhook.url, Webhook.event))
    return render("webhooks/index.html", "webhooks/partial/rows.html", results=results, q=q,
                  next_url=list_url(), **_row_context(results.items))


def _row_context(webhooks) -> dict:
    return {"latest": queries.latest_for_webhooks([w.id for w in webhooks]),
            "summaries": {w.id: filters_summary(w) for w in webhooks}}


def _set_enabled(id: int, enabled: bool):
    webhook = get_or_404(Webhook, id)
    records.set_enabled(webhook, enabled)
    if is_htmx():
        return render_template("webhooks/partial/row.html", webhook=webhook,
                               next_url=safe_back(url_for(".index")), **_row_context([webhook]))
    flash(f"{'Enabled' if enabled else 'Disabled'} webhook {webhook.name}.", "success")
    return redirect(safe_back(url_for(".index")))


@bp.post("/<int:id>/enable")
def enable(id):
    return _set_enabled(id, True)


@bp.post("/<int:id>/disable")
def disable(id):
    return _set_enabled(id, False)


@bp.post("/<int:id>/delete")
def delete(id):
    webhook = get_or_404(Webhook, id)
    name = webhook.name
    records.delete_webhook(webhook)
    return removed(f"Deleted webhook {name}.", safe_back(url_for(".index")))


# --- editor ------------------------------------------------------------------------------------

def _webhook(id):
    return None if id is None else get_or_404(Webhook, id)


def _log_page() -> int:
    return ascii_int(request.args.get("page", "1"), 100_000) or 1


def log_context(webhook: Webhook) -> dict:
    """A page of the webhook's delivery log (``?page=``) and what its template needs."""
    log = queries.deliveries_for_webhook(webhook.id, _log_page())
    calls = log_view.calls_by_id(log.items)
    return {"webhook": webhook, "log": log, "calls": calls, "show_webhook": False,
            "next_url": url_for("webhooks.edit", id=webhook.id, page=log.page) + "#webhook-log",
            "mask": log_view.masker([webhook], calls.values(), current_user.is_admin)}


def editor_page(ed: WebhookEditor, partial: str, status: int = 200, **extra):
    """The editor page, or ``partial`` for htmx; the delivery log only on the full page. Also
    what blueprints/webhook_send.py answers a plain Send test post with."""
    log = {}
    if ed.webhook is not None and not is_htmx():
        log = log_context(ed.webhook)
    return render(PAGE, partial, ed=ed, **log, **extra), status


def _editor_post(ed: WebhookEditor):
    """A submit of the editor form: Add header / Remove / Generate (the form only) or Save."""
    action = request.form.get("action", "save")
    try:
        if ed.header_row_action(action):
            return editor_page(ed, "webhooks/partial/headers.html")
    except ValueError:
        abort(400)
    if action == "generate-secret":
        ed.generate_secret()
        return editor_page(ed, "webhooks/partial/signing.html")
    if action != "save":
        abort(400)
    creating = ed.webhook is None
    webhook = ed.save()
    if webhook is not None:
        flash(f"Webhook {webhook.name} {'created' if creating else 'saved'}.", "success")
        return redirect_to(url_for(".edit", id=webhook.id))
    return editor_page(ed, FORM_PARTIAL, invalid_status())


@bp.route("/new", methods=["GET", "POST"])
def new():
    ed = WebhookEditor()
    if request.method == "POST":
        return _editor_post(ed)
    return editor_page(ed, FORM_PARTIAL)


@bp.route("/<int:id>/edit", methods=["GET", "POST"])
def edit(id):
    ed = WebhookEditor(get_or_404(Webhook, id))
    if request.method == "POST":
        return _editor_post(ed)
    return editor_page(ed, FORM_PARTIAL)


def _field_arg() -> str:
    field = request.args.get("field", "")
    if len(field) > 64 or not all(c.isalnum() or c in "_-" for c in field):
        abort(400)
    return field


@bp.post("/check", defaults={"id": None})
@bp.post("/<int:id>/check")
def check(id):
    """Messages of one field (``?field=``) as the user types; a plain post checks the whole
    form. A header field also refreshes the other rows' name messages (duplicates) and the
    rows' own message out of band; the event, the filters and the method theirs."""
    field = _field_arg()
    ed = WebhookEditor(_webhook(id), submitted=True)
    oob: list[str] = []
    if field.startswith("headers-"):
        oob = [e.form.name.id for e in ed.form.headers.entries
               if e.form.name.id != field and (e.form.name.data or "").strip()]
        oob.append(HEADERS)
    elif field in ("event", "include_key"):
        oob = list(EVENT_OOB) + ["include_key"]
    elif field == "method":
        oob = ["body", "body_format"]
    elif field.startswith("filter_tag"):
        oob = ["filter_tag_key", "filter_tag_value"]
    oob = [o for o in oob if o != field]
    return editor_page(ed, "webhooks/partial/check.html", field=field or FORM, oob=oob)


# What a change of event may change besides the token help: the tokens it has, the filters it
# can match.
EVENT_OOB = ("event", "url", "body", "filter_campaign", "filter_publisher", "filter_buyer")


@bp.post("/tokens", defaults={"id": None})
@bp.post("/<int:id>/tokens")
def tokens(id):
    """The token help for the chosen event, and for htmx the messages the event changes (out
    of band)."""
    ed = WebhookEditor(_webhook(id), submitted=True)
    return editor_page(ed, "webhooks/partial/tokens.html", oob=EVENT_OOB if is_htmx() else ())


@bp.get("/<int:id>/log")
def log(id):
    """One page of the webhook's delivery log: the fragment for htmx (the pager's links), else
    the webhook's page showing that page of its log."""
    webhook = get_or_404(Webhook, id)
    if is_htmx():
        return render_template("webhooks/partial/log.html", **log_context(webhook))
    return make_response(*editor_page(WebhookEditor(webhook, submitted=False), FORM_PARTIAL))
