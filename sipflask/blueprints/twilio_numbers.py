"""The Twilio account's numbers, as pages: "Import from Twilio" (the account's numbers, those
ticked imported into a campaign) and "Buy numbers" (a search of the numbers for sale, those
ticked bought into a campaign). Linked from the numbers list.

Plain form posts and full pages, and the same with htmx (each page's area swapped in place).
Importing is for every signed-in user; buying costs money, so it is for admins only. What
happens to each number is the records' (``records/twilio_numbers.py``): the page shows their
report, one line per number. Twilio's refusals are shown in words at the top of the area, never
as an error page: no credentials, no ``PUBLIC_URL``, credentials refused, Twilio down.
"""
from __future__ import annotations

from flask import Blueprint, abort, request
from flask_login import current_user

from sipflask.blueprints.lists import list_url
from sipflask.blueprints.twilio_pages import (SHOW, account_listing, problem_for,
                                              setup_problems)
from sipflask.forms import twilio_numbers as forms
from sipflask.htmx import invalid_status, render
from sipflask.records import twilio_numbers
from sipflask.twilio_rest import numbers as twilio
from sipflask.twilio_rest.number_errors import NumbersError

bp = Blueprint("twilio_numbers", __name__, url_prefix="/numbers/twilio")

# The page shows this many of the account's numbers at a time (filter and pages for more).
IMPORT_PER_PAGE = 100
ADMINS_ONLY = {"twilio_numbers.buy", "twilio_numbers.buy_chosen"}


@bp.before_request
def admins_buy():
    # auth.require_login (an app-wide hook) has already sent anonymous users to the login page.
    if request.endpoint in ADMINS_ONLY and not current_user.is_admin:
        abort(403)


def _checked_target(form) -> tuple[list[str], str, bool]:
    """The ticked numbers, the problem with them, and whether the whole post is fit to go to
    Twilio (CSRF, a campaign, numbers): the fields' messages are on ``form``."""
    chosen, numbers_error = forms.chosen_numbers(request.form.getlist("number"))
    valid = form.validate_on_submit()
    if not form.campaign.data:
        form.campaign.errors = list(form.campaign.errors) + [
            "Choose the campaign the numbers go to."]
    return chosen, numbers_error, valid and not numbers_error and not form.campaign.errors


def _run(operation, form, chosen):
    """Import or buy ``chosen``; the report, and the input problem with the numbers."""
    report = operation(chosen, form.campaign.data, form.publisher.data or None,
                       form.sub_id.data or "")
    return report, " ".join(forms.apply_fields(form, report.fields))


# --- import ---------------------------------------------------------------------------------------

def _import_page(form, *, report=None, numbers_error="", chosen=(), status=200):
    listing = account_listing(IMPORT_PER_PAGE)
    problems = setup_problems()
    if listing.problem is not None and listing.problem not in problems:
        problems.append(listing.problem)
    return render("numbers/twilio/import.html", "numbers/twilio/partial/import.html",
                  form=form, listing=listing, problems=problems, report=report,
                  numbers_error=numbers_error, chosen=set(chosen), show_choices=SHOW,
                  action=list_url(), max_chosen=forms.MAX_CHOSEN), status


@bp.route("/import", methods=["GET", "POST"])
def import_page():
    if request.method == "GET":
        return _import_page(forms.target_form())
    form = forms.target_form(request.form)
    chosen, numbers_error, ready = _checked_target(form)
    if not ready:
        return _import_page(form, numbers_error=numbers_error, chosen=chosen,
                            status=invalid_status())
    report, numbers_error = _run(twilio_numbers.import_numbers, form, chosen)
    if report.bad_input:
        return _import_page(form, numbers_error=numbers_error, chosen=chosen,
                            status=invalid_status())
    failed = {line.number for line in report.errors}
    return _import_page(form, report=report, chosen=[n for n in chosen if n in failed])


# --- buy ------------------------------------------------------------------------------------------

def _buy_page(search, form, *, offers=(), searched=False, report=None, problem=None,
              numbers_error="", chosen=(), status=200):
    problems = setup_problems()
    if problem is not None and problem not in problems:
        problems.append(problem)
    return render("numbers/twilio/buy.html", "numbers/twilio/partial/buy.html",
                  search=search, form=form, offers=list(offers), searched=searched,
                  report=report, problems=problems, numbers_error=numbers_error,
                  chosen=set(chosen), search_fields=forms.SEARCH_FIELDS,
                  offer_value=forms.offer_value, capability_words=twilio.capability_words,
                  max_chosen=forms.MAX_CHOSEN), status


@bp.get("/buy")
def buy():
    """The search (a GET form: its URL can be kept and shared) and what it found."""
    search = forms.search_form(request.args)
    if "country" not in request.args:
        return _buy_page(search, forms.target_form())
    try:
        offers = twilio.search_available(**forms.searched(search))
    except NumbersError as exc:
        if exc.kind != "input":
            return _buy_page(search, forms.target_form(), searched=True,
                             problem=problem_for(exc))
        forms.apply_fields(search, exc.fields)
        return _buy_page(search, forms.target_form(), status=invalid_status())
    return _buy_page(search, forms.target_form(), offers=offers, searched=True)


@bp.post("/buy")
def buy_chosen():
    """Buy the ticked numbers; the search's results come back with the report, less those
    bought (a refused number stays ticked, to try again or untick)."""
    search = forms.search_form(request.form)
    offers = forms.offers_from(request.form.getlist("offer"))
    form = forms.target_form(request.form)
    chosen, numbers_error, ready = _checked_target(form)
    if not ready:
        return _buy_page(search, form, offers=offers, searched=True, chosen=chosen,
                         numbers_error=numbers_error, status=invalid_status())
    report, numbers_error = _run(twilio_numbers.buy_numbers, form, chosen)
    if report.bad_input:
        return _buy_page(search, form, offers=offers, searched=True, chosen=chosen,
                         numbers_error=numbers_error, status=invalid_status())
    bought = {line.number for line in report.done}
    return _buy_page(search, form, offers=[o for o in offers if o.phone_number not in bought],
                     searched=True, report=report,
                     chosen=[n for n in chosen if n not in bought])
