"""Inbound SIP settings (admins only), the sync with Twilio, and Twilio's IP ranges page.

The settings page is one form: enable, domain base name, credential rows and IP whitelist rows.
"Add"/"Remove" row buttons are real submit buttons (``name="action"``): the server answers with
the form re-drawn with one row more or less and saves nothing, so they work without JavaScript;
htmx only swaps the form in place. "Save" checks everything and saves all of it or nothing, with
each error next to its field or row.

Stored passwords are never sent back to the browser: a stored credential's row has an empty
"new password" field, and typing one there replaces the password (and marks the credential for
the next sync by clearing its Twilio SID: Twilio can't tell us which password it holds).
The form's rows and checks are in :mod:`sipflask.forms.inbound`, the writing in
:mod:`sipflask.records.inbound`.
"""
from __future__ import annotations

import json
from importlib import resources

from flask import Blueprint, abort, flash, has_request_context, render_template, request, url_for
from flask_login import current_user

from sipflask.core import inbound, ip_whitelist
from sipflask.forms import inbound as settings_form
from sipflask.htmx import invalid_status, is_htmx, redirect_to, render
from sipflask.records import inbound as inbound_settings
from sipflask.twilio_rest import sip_sync as provisioning

bp = Blueprint("inbound", __name__, url_prefix="/inbound")

# Pages any signed-in user may read; the rest is for admins.
MEMBER_ENDPOINTS = {"inbound.twilio_ips"}


@bp.before_request
def admins_only():
    # auth.require_login (an app-wide hook) has already sent anonymous users to the login page.
    if request.endpoint not in MEMBER_ENDPOINTS and not current_user.is_admin:
        abort(403)


# --- SIP addresses for the numbers pages --------------------------------------------------------

@bp.app_template_global("inbound_sip_addresses")
def inbound_sip_addresses(number) -> list[str]:
    """Template helper behind ``inbound/macros.html``'s ``sip_addresses(number)``; the settings
    are read once per request."""
    if not has_request_context():
        return inbound.sip_addresses(number, inbound_settings.load_settings())
    # Cached on the request, not on g: g belongs to the app context, which can outlive a
    # request (pytest-flask keeps one for a whole test).
    req = request._get_current_object()
    if not hasattr(req, "_sipflask_inbound"):
        req._sipflask_inbound = inbound_settings.load_settings()
    return inbound.sip_addresses(number, req._sipflask_inbound)


def _page(form, creds, ips, *, status=200, result=None, sync_error=None, unsaved=False):
    settings = inbound_settings.load_settings()
    context = dict(form=form, creds=creds, ips=ips, settings=settings, result=result,
                   sync_error=sync_error, unsaved=unsaved, domains=_domains(settings),
                   pending=_pending(settings), max_ips=ip_whitelist.MAX_IPS)
    # The sync button swaps only the Twilio box; everything else swaps the form.
    return render("inbound/index.html", "inbound/partial/form.html",
                  by_target={"inbound-twilio": "inbound/partial/twilio.html"}, **context), status


def _domains(settings) -> tuple[str, str] | None:
    if settings is None or not settings.name:
        return None
    return inbound.domain_names(settings.name)


def _pending(settings) -> bool:
    """True when the settings were saved after the last sync."""
    if settings is None:
        return False
    if settings.synced_at is None:
        return bool(settings.enabled or settings.domain_sid or settings.ip_domain_sid)
    return settings.updated_at is not None and settings.updated_at > settings.synced_at


@bp.route("/", methods=["GET", "POST"])
def index():
    settings = inbound_settings.load_settings()
    if request.method == "GET":
        return _page(settings_form.SettingsForm(obj=settings), *settings_form.rows_from_db())
    form = settings_form.SettingsForm()
    # CSRF is checked for every POST by the app-wide CSRFProtect; validate() checks it again.
    if not form.validate():
        return _page(form, *settings_form.rows_from_db(), status=400)
    creds, ips = settings_form.rows_from_form(inbound_settings.stored_credentials())
    action = request.form.get("action", "save")
    if settings_form.apply_row_action(action, creds, ips):
        return _page(form, *settings_form.shown(creds, ips), unsaved=True)
    ok, entries = settings_form.check(form, creds, ips)
    if not ok:
        return _page(form, *settings_form.shown(creds, ips), status=invalid_status(),
                     unsaved=True)
    settings_form.save(form, creds, entries)
    flash("Inbound SIP settings saved. Sync to Twilio to apply them there.", "success")
    return redirect_to(url_for(".index"))


@bp.post("/sync")
def sync():
    result, error = None, None
    try:
        result = provisioning.sync()
    except provisioning.SyncError as exc:
        error = str(exc)
    settings = inbound_settings.load_settings()
    form = settings_form.SettingsForm(obj=settings)
    creds, ips = settings_form.rows_from_db()
    return _page(form, creds, ips, result=result, sync_error=error,
                 status=200 if error is None or is_htmx() else 502)


# --- Twilio's addresses ---------------------------------------------------------------------------

def twilio_ip_data() -> dict:
    return json.loads(resources.files("sipflask").joinpath("data/twilio_sip_ips.json").read_text())


@bp.get("/twilio-ips")
def twilio_ips():
    data = twilio_ip_data()
    return render_template("inbound/twilio_ips.html", data=data,
                           all_cidrs=[r["cidr"] for r in data["signalling"]])
