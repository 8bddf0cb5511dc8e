"""Tracking numbers: list with active search (and each number's state at Twilio), create, edit,
inline delete. The Twilio actions are in blueprints/twilio_numbers.py and twilio_check.py."""
from flask import Blueprint, flash, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from sipflask.blueprints.lists import (get_or_404, list_url, matching, paginate, safe_back,
                                       search_text)
from sipflask.core.phone import digits_only
from sipflask.extensions import db
from sipflask.forms.setup import number_form, save_number
from sipflask.htmx import invalid_status, redirect_to, removed, render
from sipflask.models import Campaign, Number, Publisher
from sipflask.records import write

bp = Blueprint("numbers", __name__, url_prefix="/numbers")


def list_context(next_url: str | None = None) -> dict:
    """The list's page as asked (``q``, ``page``), with the Twilio state's last check: for the
    list itself and for the Twilio actions that answer htmx with it (blueprints/twilio_check.py).
    """
    q = search_text()
    stmt = (select(Number).join(Number.campaign).outerjoin(Number.publisher)
            .options(joinedload(Number.campaign), joinedload(Number.publisher))
            .order_by(Number.number, Number.id))
    # "(888) 222-3333" finds +18882223333: compare the digits typed.
    digits = digits_only(q)
    by_digits = [Number.number.like(f"%{digits}%")] if len(digits) >= 3 else []
    results = paginate(matching(stmt, q, Number.number, Number.sub_id, Campaign.name,
                                Campaign.ref, Publisher.name, Publisher.afid, extra=by_digits))
    return dict(results=results, q=q, next_url=next_url or list_url(),
                last_checked=db.session.scalar(select(func.max(Number.twilio_checked_at))))


@bp.route("/")
def index():
    return render("numbers/index.html", "numbers/partial/rows.html", **list_context())


def _form_page(form, number=None):
    status = invalid_status(bool(form.errors))
    return render("numbers/form.html", "numbers/partial/form.html", form=form,
                  number=number), status


def _saved(number, verb):
    flash(f"Number {number.number} {verb}.", "success")
    target = safe_back(url_for(".index"))
    return redirect_to(target)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = number_form(campaign_ref=request.args.get("campaign", "", type=str))
    number = save_number(form)
    if number is not None:
        return _saved(number, "created")
    return _form_page(form)


@bp.route("/<int:id>/edit", methods=["GET", "POST"])
def edit(id):
    number = get_or_404(Number, id)
    form = number_form(number)
    if save_number(form, number) is not None:
        return _saved(number, "saved")
    return _form_page(form, number)


@bp.post("/<int:id>/delete")
def delete(id):
    number = get_or_404(Number, id)
    value = number.number
    write.delete_number(number)
    db.session.commit()
    return removed(f"Deleted number {value}.", safe_back(url_for(".index")))
