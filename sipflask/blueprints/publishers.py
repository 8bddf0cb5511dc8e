"""Publishers: list with active search, create, edit, inline delete."""
from flask import Blueprint, flash, url_for
from sqlalchemy import select

from sipflask.blueprints.lists import (get_or_404, list_url, matching, number_counts, paginate,
                                       safe_back, search_text)
from sipflask.extensions import db
from sipflask.forms.common import REF_HINT
from sipflask.forms.setup import publisher_form, save_publisher
from sipflask.htmx import invalid_status, redirect_to, removed, render
from sipflask.models import Number, Publisher
from sipflask.records import write

bp = Blueprint("publishers", __name__, url_prefix="/publishers")


@bp.route("/")
def index():
    q = search_text()
    stmt = select(Publisher).order_by(Publisher.name, Publisher.id)
    results = paginate(matching(stmt, q, Publisher.name, Publisher.ref, Publisher.afid))
    return render("publishers/index.html", "publishers/partial/rows.html", results=results, q=q,
                  counts=number_counts(Number.publisher_id, [p.id for p in results.items]),
                  next_url=list_url())


def _form_page(form, publisher=None):
    status = invalid_status(bool(form.errors))
    return render("publishers/form.html", "publishers/partial/form.html", form=form,
                  publisher=publisher, ref_hint=REF_HINT), status


def _saved(publisher, verb):
    flash(f"Publisher {publisher.name} {verb}.", "success")
    target = url_for(".index")
    return redirect_to(target)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = publisher_form()
    publisher = save_publisher(form)
    if publisher is not None:
        return _saved(publisher, "created")
    return _form_page(form)


@bp.route("/<int:id>/edit", methods=["GET", "POST"])
def edit(id):
    publisher = get_or_404(Publisher, id)
    form = publisher_form(publisher)
    if save_publisher(form, publisher) is not None:
        return _saved(publisher, "saved")
    return _form_page(form, publisher)


@bp.post("/<int:id>/delete")
def delete(id):
    publisher = get_or_404(Publisher, id)
    name, count = publisher.name, len(publisher.numbers)
    # The ORM (and the FK's ON DELETE SET NULL) leaves the numbers in place, without publisher.
    write.delete_publisher(publisher)
    db.session.commit()
    detail = ""
    if count:
        detail = (f"; its {count} numbers now have no publisher" if count > 1
                  else "; its 1 number now has no publisher")
    return removed(f"Deleted publisher {name}{detail}.", safe_back(url_for(".index")))
