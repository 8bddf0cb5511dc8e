"""Account settings (admins only): the account time zone every time in the UI is shown in, and
the Twilio account (Account SID, auth token, API key pair) with its "Check" button.

Plain POST forms (CSRF-checked by the app-wide ``CSRFProtect``, like every form); htmx only
swaps them in place. Bad input is shown again with its message next to the field and nothing
is saved. An empty zone means "use the configuration" (``TIME_ZONE``, ``SIPFLASK_TIME_ZONE``).
The Twilio secrets are never sent back to the browser. The reading and writing is in
:mod:`sipflask.account.settings`, the Twilio form's checks in :mod:`sipflask.forms.twilio_account`,
which account is in use in :mod:`sipflask.twilio_rest.account`, the check in
:mod:`sipflask.twilio_rest.account_check`.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from sipflask.account import clock
from sipflask.account import settings as account
from sipflask.core.schedule_rules import zone_choices
from sipflask.forms import twilio_account as twilio_form
from sipflask.htmx import invalid_status, is_htmx, redirect_to, render
from sipflask.models import utcnow
from sipflask.twilio_rest import account as twilio_account
from sipflask.twilio_rest import account_check

bp = Blueprint("settings", __name__, url_prefix="/settings")

MAX_TYPED = 100


@bp.before_request
def admins_only():
    # auth.require_login (an app-wide hook) has already sent anonymous users to the login page.
    if not current_user.is_admin:
        abort(403)


@bp.app_template_global("twilio_webhooks_refused")
def twilio_webhooks_refused() -> bool:
    """True until an auth token is configured (environment or settings page): the banners on
    the overview and numbers pages (``settings/twilio_banner.html``)."""
    return not twilio_account.signing_token()


def _page(typed: str, error: str | None = None, status: int = 200, *, form=None, check=None,
          partial: str = "settings/partial/form.html"):
    stored = account.stored_twilio()
    return render("settings/index.html", partial, typed=typed, error=error,
                  stored=account.stored_zone(), configured=account.configured_zone(),
                  zone=account.zone_name(), zones=zone_choices(),
                  now_text=clock.localtime(utcnow(), clock.MINUTES),
                  twilio=form or twilio_form.saved_form(stored), twilio_stored=stored,
                  in_use=twilio_account.in_use(), check=check), status


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


@bp.post("/twilio")
def twilio():
    form = twilio_form.TwilioAccountForm()
    if not twilio_form.save(form, account.stored_twilio()):
        return _page(account.stored_zone() or "", form=form, status=invalid_status(),
                     partial="settings/partial/twilio.html")
    flash(_saved_message(), "success")
    return redirect_to(url_for(".index") + "#twilio")


def _saved_message() -> str:
    used = twilio_account.in_use()
    if used.source == twilio_account.ENVIRONMENT:
        return ("Twilio account saved. It is not used while the environment names one "
                "(SIPFLASK_TWILIO_...).")
    if used.webhooks_refused:
        return "Twilio account saved. Without an Auth Token Twilio's webhooks are refused."
    return "Twilio account saved. Use Check to make sure Twilio accepts it."


@bp.post("/twilio/check")
def twilio_check():
    result = account_check.check()
    if is_htmx():
        return render("settings/index.html", "settings/partial/twilio_check.html",
                      check=result)
    return _page(account.stored_zone() or "", check=result)
