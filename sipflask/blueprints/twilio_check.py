"""The numbers list's Twilio actions: "Check now" (the drift check of every number), a number's
"Fix" (its configuration at Twilio set back to sipflask's), and "Release" (admins only: the
number leaves the Twilio account and sipflask, after a confirmation page that needs no script).

Plain posts go back to the list with a message; htmx gets the list's results (Check now), the
number's row (Fix) or the confirmation form again (a refused Release) to swap in place. Checks
and fixes are for every signed-in user: they only set back what sipflask set. The work is the
records' (``records/twilio_check.py``, ``records/twilio_numbers.py``).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from sipflask.blueprints.lists import get_or_404, safe_back
from sipflask.blueprints.numbers import list_context
from sipflask.blueprints.twilio_pages import Problem, setup_problems
from sipflask.extensions import db
from sipflask.forms.twilio_numbers import ReleaseForm
from sipflask.htmx import invalid_status, is_htmx, redirect_to, render
from sipflask.models import Number
from sipflask.records import twilio_check, twilio_numbers

bp = Blueprint("twilio_check", __name__, url_prefix="/numbers")

ADMINS_ONLY = {"twilio_check.release"}


@bp.before_request
def admins_release():
    # auth.require_login (an app-wide hook) has already sent anonymous users to the login page.
    if request.endpoint in ADMINS_ONLY and not current_user.is_admin:
        abort(403)


def _list_url() -> str:
    """The list as it was shown (its search and page ride on the action's query string)."""
    args = {k: request.args[k] for k in ("q", "page") if request.args.get(k)}
    return url_for("numbers.index", **args)


def _check_notice(report: twilio_check.CheckReport) -> tuple[str, Problem]:
    if report.problem:
        missing = setup_problems()
        return "error", (missing[0] if missing else Problem(report.summary()))
    if report.drifted or report.missing:
        return "warning", Problem(report.summary() + " The Twilio column says what differs.")
    return "success", Problem(report.summary())


@bp.post("/twilio/check")
def check_now():
    """Compare every number with the account now (the job does it every 15 minutes)."""
    tone, notice = _check_notice(twilio_check.check_numbers())
    if is_htmx():
        return render_template("numbers/partial/rows.html", notice=notice, notice_tone=tone,
                               **list_context(next_url=_list_url()))
    flash(notice.text, tone)
    return redirect(_list_url())


@bp.post("/<int:id>/twilio/fix")
def fix(id):
    """Set the number's configuration at Twilio back to what sipflask sets."""
    number = get_or_404(Number, id)
    e164 = number.number
    report = twilio_check.fix_number(number)
    words = "; ".join(line.text for line in (*report.done, *report.errors)) or report.problem
    back = safe_back(url_for("numbers.index"))
    if is_htmx():
        number = db.session.get(Number, id)  # as the fix stored it
        if number is None:
            return ""
        return render_template("numbers/partial/row.html", number=number, next_url=back,
                                row_notice=words, row_notice_ok=report.ok)
    flash(f"{e164}: {words}", "success" if report.ok else "error")
    return redirect(back)


def _release_page(number, form, back, report=None, status=200):
    return render("numbers/twilio/release.html", "numbers/twilio/partial/release.html",
                  number=number, form=form, back=back, report=report), status


@bp.route("/<int:id>/twilio/release", methods=["GET", "POST"])
def release(id):
    """A confirmation page; its form releases the number from the account and sipflask."""
    number = get_or_404(Number, id)
    back = safe_back(url_for("numbers.index"))
    form = ReleaseForm()
    if request.method == "GET":
        return _release_page(number, form, back)
    if not form.validate_on_submit():
        return _release_page(number, form, back, status=invalid_status())
    e164 = number.number
    report = twilio_numbers.release_number(number)
    if not report.ok:
        return _release_page(number, form, back, report=report)
    flash(f"{e164}: " + "; ".join(line.text for line in report.done), "success")
    return redirect_to(back)
