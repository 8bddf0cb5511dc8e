"""The change history: ``/history/`` lists every recorded change (admins), filtered by record
type, record, who made it and local dates, paged; ``/history/<id>`` shows one change field by
field; ``/history/<id>/restore`` puts a buyer or campaign back to that version (admins, after a
confirmation step that works without JavaScript).

Members may open the changes of the records their own pages show (buyers, campaigns, numbers,
publisher): the History section of those pages links here. Users, inbound SIP and account
settings are for admins only, as are the list and restore.
"""
from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from sipflask.account import account_zone
from sipflask.blueprints.lists import get_or_404, paginate
from sipflask.core import history_diff
from sipflask.history import queries, restore
from sipflask.history.model import ChangeRecord
from sipflask.history.snapshots import RECORD_TYPES
from sipflask.htmx import redirect_to, render

bp = Blueprint("history", __name__, url_prefix="/history")
# The History section that the pages of buyers, campaigns, numbers... include
# (templates/history/partial/section.html) reads its rows with this.
bp.add_app_template_global(queries.for_record, "history_for")

# Where each kind of record is edited, for the links from a change.
RECORD_PAGES = {"buyer": "buyers.edit", "campaign": "campaigns.edit", "number": "numbers.edit",
                "publisher": "publishers.edit", "inbound": "inbound.index",
                "account": "settings.index"}


def _admin_only() -> None:
    if not current_user.is_admin:
        abort(403)


def record_url(change: ChangeRecord) -> str | None:
    endpoint = RECORD_PAGES.get(change.record_type)
    if endpoint is None or change.record_id is None:
        return None
    if endpoint.endswith(".edit"):
        return url_for(endpoint, id=change.record_id)
    return url_for(endpoint)


@bp.app_context_processor
def history_helpers():
    return {"history_summary": history_diff.summary, "history_show": history_diff.show,
            "history_record_url": record_url}


@bp.route("/")
def index():
    _admin_only()
    filters = queries.Filters.from_args(request.args, account_zone())
    results = paginate(queries.listing(filters))
    return render("history/index.html", "history/partial/rows.html", results=results,
                  filters=filters, args=filters.args(), record_types=RECORD_TYPES + ("history",))


def _change(id: int) -> ChangeRecord:
    change = get_or_404(ChangeRecord, id)
    if not current_user.is_admin and change.record_type not in queries.MEMBER_TYPES:
        abort(403)
    return change


@bp.route("/<int:id>")
def detail(id):
    change = _change(id)
    return render("history/detail.html", "history/partial/detail.html", change=change,
                  restorable=restore.can_restore(change), confirm=False, outcome=None)


@bp.post("/<int:id>/restore")
def restore_version(id):
    _admin_only()
    change = _change(id)
    if not restore.can_restore(change):
        abort(404)
    if request.form.get("confirm") != "yes":
        return render("history/detail.html", "history/partial/detail.html", change=change,
                      restorable=True, confirm=True, outcome=None,
                      preview=restore.preview(change))
    outcome = restore.restore(change)
    if not outcome.ok:
        return render("history/detail.html", "history/partial/detail.html", change=change,
                      restorable=True, confirm=False, outcome=outcome), 409
    message = f"Restored {change.record_type} {change.record_label or change.record_ref} to " \
              f"the version of change {change.id}."
    flash(" ".join([message, *outcome.warnings]), "success")
    endpoint = RECORD_PAGES[change.record_type]
    return redirect_to(url_for(endpoint, id=outcome.record_id))
