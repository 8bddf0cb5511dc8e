"""Buyers: the list page (active search, pause/resume and delete inline).

The buyer editor comes later. SIP passwords never reach a template from here: the rows show only
whether one is set (``Buyer.has_sip_password``).
"""
from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..forms import get_or_404, like, list_url, paginate, safe_back, search_text
from ..htmx import is_htmx, render
from ..models import Buyer, CampaignBuyer

bp = Blueprint("buyers", __name__, url_prefix="/buyers")


@bp.after_request
def vary_on_htmx(response):
    response.vary.add("HX-Request")
    return response


@bp.route("/")
def index():
    q = search_text()
    stmt = (select(Buyer).order_by(Buyer.name, Buyer.id)
            .options(selectinload(Buyer.routing).selectinload(CampaignBuyer.campaign)))
    if q:
        pattern = like(q)
        stmt = stmt.where(or_(Buyer.name.ilike(pattern, escape="\\"),
                              Buyer.number.ilike(pattern, escape="\\"),
                              Buyer.ref.ilike(pattern, escape="\\")))
    results = paginate(stmt)
    return render("buyers/index.html", "buyers/partial/rows.html", results=results, q=q,
                  next_url=list_url())


def _set_paused(id: int, paused: bool):
    buyer = get_or_404(Buyer, id)
    buyer.paused = paused
    db.session.commit()
    if is_htmx():
        return render_template("buyers/partial/row.html", buyer=buyer,
                               next_url=safe_back(url_for(".index")))
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
    # Its routing entries and headers go with it; past calls keep the attempt, without buyer.
    db.session.delete(buyer)
    db.session.commit()
    if is_htmx():
        return ""
    flash(f"Deleted buyer {name}.", "success")
    return redirect(safe_back(url_for(".index")))
