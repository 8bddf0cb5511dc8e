"""Campaigns: list with active search, create, edit (name/ref, numbers, ordered routing list),
inline delete (refused while the campaign still has numbers)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from sipflask.blueprints.lists import (get_or_404, list_url, matching, number_counts, paginate,
                                       safe_back, search_text)
from sipflask.extensions import db
from sipflask.forms.common import REF_HINT
from sipflask.forms.setup import (add_to_routing, campaign_form, move_in_routing,
                                  remove_from_routing, routing_form, save_campaign)
from sipflask.htmx import invalid_status, is_htmx, redirect_to, removed, render
from sipflask.models import Campaign, CampaignBuyer, Number
from sipflask.records import write

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")


@bp.route("/")
def index():
    q = search_text()
    stmt = (select(Campaign).order_by(Campaign.name, Campaign.id)
            .options(selectinload(Campaign.routing).selectinload(CampaignBuyer.buyer)))
    results = paginate(matching(stmt, q, Campaign.name, Campaign.ref))
    return render("campaigns/index.html", "campaigns/partial/rows.html", results=results, q=q,
                  counts=number_counts(Number.campaign_id, [c.id for c in results.items]),
                  next_url=list_url())


def _saved(campaign, verb, target):
    flash(f"Campaign {campaign.name} {verb}.", "success")
    return redirect_to(target)


def _edit_context(campaign):
    return dict(campaign=campaign, routing=routing_form(campaign),
                numbers=db.session.scalars(select(Number).where(Number.campaign_id == campaign.id)
                                           .order_by(Number.number)).all())


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = campaign_form()
    campaign = save_campaign(form)
    if campaign is not None:
        # Straight to its page: the routing list and numbers are set up there.
        return _saved(campaign, "created", url_for(".edit", id=campaign.id))
    status = invalid_status(bool(form.errors))
    return render("campaigns/form.html", "campaigns/partial/form.html", form=form,
                  campaign=None, ref_hint=REF_HINT), status


@bp.route("/<int:id>/edit", methods=["GET", "POST"])
def edit(id):
    campaign = get_or_404(Campaign, id)
    form = campaign_form(campaign)
    if save_campaign(form, campaign) is not None:
        return _saved(campaign, "saved", url_for(".edit", id=campaign.id))
    status = invalid_status(bool(form.errors))
    return render("campaigns/form.html", "campaigns/partial/form.html", form=form,
                  ref_hint=REF_HINT, **_edit_context(campaign)), status


@bp.post("/<int:id>/delete")
def delete(id):
    campaign = get_or_404(Campaign, id)
    name = campaign.name
    count = len(campaign.numbers)
    if not count:
        try:
            write.delete_campaign(campaign)
            db.session.commit()
        except IntegrityError:  # a number was added to it a moment ago
            db.session.rollback()
            count = len(campaign.numbers) or 1
    if count:
        message = (f"Campaign {name} still has {count} number{'s' if count != 1 else ''}: "
                   "move or delete its numbers first.")
        if is_htmx():
            return render_template("campaigns/partial/row.html", campaign=campaign,
                                   counts={campaign.id: count}, error=message,
                                   next_url=safe_back(url_for(".index"))), 409
        flash(message, "error")
        return redirect(safe_back(url_for(".index")))
    return removed(f"Deleted campaign {name}.", safe_back(url_for(".index")))


# --- routing list ----------------------------------------------------------------------------

def _routing_response(campaign, form=None, message=None):
    """The routing list fragment for htmx; for a plain POST, back to the campaign page."""
    db.session.expire(campaign)
    if form is not None and form.errors:
        ctx = _edit_context(campaign)
        ctx["routing"] = form  # keeps the choice made and its error
        status = invalid_status()
        return render("campaigns/form.html", "campaigns/partial/routing.html",
                      form=campaign_form(campaign), ref_hint=REF_HINT, **ctx), status
    if is_htmx():
        return render("campaigns/form.html", "campaigns/partial/routing.html",
                      **_edit_context(campaign))
    if message:
        flash(message, "success")
    return redirect(url_for(".edit", id=campaign.id) + "#routing")


def _entry(campaign, buyer_id):
    for entry in campaign.routing:
        if entry.buyer_id == buyer_id:
            return entry
    abort(404)


@bp.post("/<int:id>/routing/add")
def routing_add(id):
    campaign = get_or_404(Campaign, id)
    form = routing_form(campaign)
    if add_to_routing(form, campaign):
        db.session.expire(campaign)
        return _routing_response(campaign, message=f"Added {campaign.routing[-1].buyer.name} "
                                                   "to the routing list.")
    return _routing_response(campaign, form)


@bp.post("/<int:id>/routing/<int:buyer_id>/move")
def routing_move(id, buyer_id):
    campaign = get_or_404(Campaign, id)
    entry = _entry(campaign, buyer_id)
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        abort(400)
    name = entry.buyer.name
    move_in_routing(campaign, entry, direction)
    return _routing_response(campaign, message=f"Moved {name} {direction}.")


@bp.post("/<int:id>/routing/<int:buyer_id>/remove")
def routing_remove(id, buyer_id):
    campaign = get_or_404(Campaign, id)
    entry = _entry(campaign, buyer_id)
    name = entry.buyer.name
    remove_from_routing(campaign, entry)
    return _routing_response(campaign, message=f"Removed {name} from the routing list.")
