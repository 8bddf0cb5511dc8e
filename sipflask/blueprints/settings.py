"""Account settings (admins only): the account time zone every time in the UI is shown in.

One plain POST form (CSRF-checked by the app-wide ``CSRFProtect``, like every form); htmx only
swaps it in place. A zone that is not an IANA name is shown again with its message next to the
field and nothing is saved; an empty field means "use the configuration" (``TIME_ZONE``,
``SIPFLASK_TIME_ZONE``). The reading and writing is in :mod:`sipflask.account.settings`.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from sipflask.account import clock
from sipflask.account import settings as account
from sipflask.core.schedule_rules import zone_choices
from sipflask.htmx import invalid_status, redirect_to, render
from sipflask.models import utcnow

bp = Blueprint("settings", __name__, url_prefix="/settings")

MAX_TYPED = 100


@bp.before_request
def admins_only():
    # auth.require_login (an app-wide hook) has already sent anonymous users to the login page.
    if not current_user.is_admin:
        abort(403)


def _page(typed: str, error: str | None = None, status: int = 200):
    return render("settings/index.html", "settings/partial/form.html", typed=typed, error=error,
                  stored=account.stored_zone(), configured=account.configured_zone(),
                  zone=account.zone_name(), zones=zone_choices(),
                  now_text=clock.localtime(utcnow(), clock.MINUTES)), status


@bp.route("/", methods=["GET", "POST"])
def index():
    if request.method == "GET":
        return _page(account.stored_zone() or "")
    typed = request.form.get("time_zone", "")[:MAX_TYPED]  # no zone name is this long
    report = account.save_time_zone(typed)
    if not report.ok:
        return _page(typed.strip(), " ".join(report.errors["time_zone"]),
                     status=invalid_status())
    zone = account.zone_name()
    where = "" if account.stored_zone() else " (from the configuration)"
    flash(f"Settings saved. Times are shown in {zone}{where}.", "success")
    return redirect_to(url_for(".index"))
