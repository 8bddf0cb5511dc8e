"""Buyers: the list page (active search, health, pause/resume and delete inline) and the editor.

The editor (``/buyers/new``, ``/buyers/<id>/edit``) is one form that works without JavaScript;
htmx enhances it through the endpoints below, each of which answers a plain form post with the
whole editor page and an htmx request with just its fragment (``htmx.render``):

* ``check``: the messages of one field as the user types (``?field=number``, ``headers-2-name``);
* ``sip_section``: the SIP section, swapped in when the Number starts with ``sip:``;
* ``preview``: TwiML and INVITE for the sample call, made by the webhook's own code;
* ``sample``: the sample call's fields filled from the chosen tracking number;
* ``tokens``: the token help for the chosen campaigns;
* ``siphealth.test_draft`` / ``test_saved`` (blueprints/siphealth.py): Test endpoint.

"Add Header" and "Remove" are submit buttons of the form itself (``action=add-header`` /
``remove-header-N``): they change the rows and save nothing. So are the opening hours' buttons
(``hours-add-mon``, ``hours-remove-mon-N``, ``hours-copy-mon``, ``hours-preset-lunch``,
``hours-weekly``, ``closure-add``, ``closure-remove-N``); htmx swaps just the hours section.

The list and the buyer page show each buyer's state now (``callflow.availability.status``:
open or closed until, cap use); ``reset-caps`` (admins) starts its counts again from 0.

SIP passwords never reach a template: only whether one is stored (``Buyer.has_sip_password``);
the preview masks it.
"""
from flask import (Blueprint, abort, flash, make_response, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from sipflask.blueprints.lists import (get_or_404, list_url, matching, paginate, safe_back,
                                       search_text)
from sipflask.callflow import availability, caps, clock
from sipflask.calllog import health as calllog
from sipflask.extensions import db
from sipflask.forms.buyer import FORM, HEADERS, BuyerEditor
from sipflask.htmx import invalid_status, is_htmx, redirect_to, removed, render
from sipflask.models import Buyer, CampaignBuyer
from sipflask.records import write
from sipflask.siphealth import status as endpoint_status

bp = Blueprint("buyers", __name__, url_prefix="/buyers")

PAGE = "buyers/edit.html"


# --- list --------------------------------------------------------------------------------------

@bp.route("/")
def index():
    q = search_text()
    stmt = (select(Buyer).order_by(Buyer.name, Buyer.id)
            .options(selectinload(Buyer.routing).selectinload(CampaignBuyer.campaign),
                     # availability.status reads it for buyers with health checks on
                     selectinload(Buyer.health)))
    results = paginate(matching(stmt, q, Buyer.name, Buyer.number, Buyer.ref))
    return render("buyers/index.html", "buyers/partial/rows.html", results=results, q=q,
                  next_url=list_url(), **_row_context(results.items))


def _row_context(buyers) -> dict:
    """What a list row shows beside the buyer: health over 24 h, down by health checks, and
    open/closed and cap use now (one instant for the whole page)."""
    now = clock.now()
    ids = [b.id for b in buyers]
    return {"healths": calllog.buyer_health(ids), "downs": endpoint_status.down_causes(ids),
            "statuses": {b.id: availability.status(b, now) for b in buyers}}


def _set_paused(id: int, paused: bool):
    buyer = get_or_404(Buyer, id)
    write.set_paused(buyer, paused)
    db.session.commit()
    if is_htmx():
        return render_template("buyers/partial/row.html", buyer=buyer,
                               next_url=safe_back(url_for(".index")), **_row_context([buyer]))
    flash(f"{'Paused' if paused else 'Resumed'} buyer {buyer.name}.", "success")
    return redirect(safe_back(url_for(".index")))


@bp.post("/<int:id>/pause")
def pause(id):
    return _set_paused(id, True)


@bp.post("/<int:id>/resume")
def resume(id):
    return _set_paused(id, False)


@bp.post("/<int:id>/delete")
def delete(id):
    buyer = get_or_404(Buyer, id)
    name = buyer.name
    write.delete_buyer(buyer)
    db.session.commit()
    return removed(f"Deleted buyer {name}.", safe_back(url_for(".index")))


# --- editor ------------------------------------------------------------------------------------

def _buyer(id):
    return None if id is None else get_or_404(Buyer, id)


def editor_page(ed: BuyerEditor, partial: str, status: int = 200, **extra):
    """The editor page, or ``partial`` for htmx; health, state and campaigns only on the full
    page. Also the page blueprints/siphealth.py answers a plain Test endpoint post with."""
    health = state = endpoint = None
    if ed.buyer is not None and not is_htmx():
        health = calllog.buyer_health([ed.buyer.id]).get(ed.buyer.id)
        state = availability.status(ed.buyer)
        endpoint = endpoint_status.panel(ed.buyer)
    return render(PAGE, partial, ed=ed, health=health, state=state, endpoint=endpoint,
                  **extra), status


def _saved(buyer: Buyer, verb: str):
    flash(f"Buyer {buyer.name} {verb}.", "success")
    return redirect_to(url_for(".edit", id=buyer.id))


def _editor_post(ed: BuyerEditor):
    """A submit of the editor form: Add Header / Remove (rows only) or Save."""
    action = request.form.get("action", "save")
    try:
        if ed.header_row_action(action):
            return _rows_changed(ed)
        if ed.schedule_action(action):
            return _rows_changed(ed, "buyers/partial/hours.html")
    except ValueError:
        abort(400)
    if action != "save":
        abort(400)
    creating = ed.buyer is None
    buyer = ed.save()
    if buyer is not None:
        return _saved(buyer, "created" if creating else "saved")
    return editor_page(ed, "buyers/partial/form.html", invalid_status())


def _rows_changed(ed: BuyerEditor, partial: str = "buyers/partial/headers.html"):
    response = make_response(*editor_page(ed, partial))
    if is_htmx():
        response.headers["HX-Trigger-After-Settle"] = "preview-refresh"
    return response


@bp.route("/new", methods=["GET", "POST"])
def new():
    ed = BuyerEditor()
    if request.method == "POST":
        return _editor_post(ed)
    return editor_page(ed, "buyers/partial/form.html")


@bp.route("/<int:id>/edit", methods=["GET", "POST"])
def edit(id):
    ed = BuyerEditor(get_or_404(Buyer, id))
    if request.method == "POST":
        return _editor_post(ed)
    return editor_page(ed, "buyers/partial/form.html")


def _field_arg() -> str:
    field = request.args.get("field", "")
    if len(field) > 64 or not all(c.isalnum() or c in "_-" for c in field):
        abort(400)
    return field


@bp.post("/check", defaults={"id": None})
@bp.post("/<int:id>/check")
def check(id):
    """Messages of one field (``?field=``) as the user types; a plain post checks the whole form.

    Header fields also refresh the other rows' name messages (duplicates) and the limit message
    out of band; the Number refreshes the limit message (it only applies to SIP URIs).
    """
    field = _field_arg()
    ed = BuyerEditor(_buyer(id), submitted=True)
    oob = []
    if field.startswith("headers-"):
        # Another row's duplicate-name message may have changed; blank rows are left alone.
        oob = [entry.form.name.id for entry in ed.form.headers.entries
               if entry.form.name.id != field and (entry.form.name.data or "").strip()]
        oob.append(HEADERS)
    elif field == "number":
        oob = [HEADERS, "health_check"]  # checks on need a SIP URI
    else:
        oob = ed.schedule_oob(field) or []
    return editor_page(ed, "buyers/partial/check.html", field=field or FORM, oob=oob)


@bp.post("/sip-section", defaults={"id": None})
@bp.post("/<int:id>/sip-section")
def sip_section(id):
    ed = BuyerEditor(_buyer(id), submitted=True)
    return editor_page(ed, "buyers/partial/sip.html")


@bp.post("/preview", defaults={"id": None})
@bp.post("/<int:id>/preview")
def preview(id):
    ed = BuyerEditor(_buyer(id), submitted=True)
    return editor_page(ed, "buyers/partial/preview.html")


@bp.post("/sample", defaults={"id": None})
@bp.post("/<int:id>/sample")
def sample(id):
    """The sample call's fields filled in from the chosen tracking number (caller kept)."""
    ed = BuyerEditor(_buyer(id), submitted=True)
    ed.reset_sample(ed.number_by_id(ed.form.sample.number.data))
    response = make_response(*editor_page(ed, "buyers/partial/sample.html"))
    if is_htmx():
        response.headers["HX-Trigger-After-Settle"] = "preview-refresh"
    return response


@bp.post("/tokens", defaults={"id": None})
@bp.post("/<int:id>/tokens")
def tokens(id):
    ed = BuyerEditor(_buyer(id), submitted=True)
    return editor_page(ed, "buyers/partial/tokens.html")


@bp.post("/<int:id>/reset-caps")
def reset_caps(id):
    """Admins: start the buyer's hourly, daily, monthly and lifetime counts again from 0
    (logged with who did it). htmx gets the buyer's state card back, a plain post a redirect."""
    if not current_user.is_admin:
        abort(403)
    buyer = get_or_404(Buyer, id)
    caps.reset(buyer.id, current_user.email)
    db.session.commit()
    db.session.refresh(buyer)
    message = f"Caps of buyer {buyer.name} reset: its hourly, daily, monthly and lifetime " \
              "counts start again from 0."
    if is_htmx():
        return render_template("buyers/partial/now.html", buyer=buyer,
                               state=availability.status(buyer), done=message)
    flash(message, "success")
    return redirect(url_for(".edit", id=buyer.id))
