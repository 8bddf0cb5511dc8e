"""Inbound SIP settings (admins only), the sync with Twilio, and Twilio's IP ranges page.

The settings page is one form: enable, domain base name, credential rows and IP whitelist rows.
"Add"/"Remove" row buttons are real submit buttons (``name="action"``): the server answers with
the form re-drawn with one row more or less and saves nothing, so they work without JavaScript;
htmx only swaps the form in place. "Save" checks everything and saves all of it or nothing, with
each error next to its field or row.

Stored passwords are never sent back to the browser: a stored credential's row has an empty
"new password" field, and typing one there replaces the password (and marks the credential for
the next sync by clearing its Twilio SID: Twilio can't tell us which password it holds).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources

from flask import (
    Blueprint,
    abort,
    flash,
    has_request_context,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, StringField

from sipflask.core import inbound, ip_whitelist
from sipflask.core.validation import ascii_int
from sipflask.extensions import db
from sipflask.htmx import invalid_status, is_htmx, redirect_to
from sipflask.models import InboundCredential, InboundIp, utcnow
from sipflask.records import inbound as inbound_settings
from sipflask.twilio_rest import sip_sync as provisioning

bp = Blueprint("inbound", __name__, url_prefix="/inbound")

# Pages any signed-in user may read; the rest is for admins.
MEMBER_ENDPOINTS = {"inbound.twilio_ips"}
MAX_CREDENTIALS = 100
MAX_ROWS = 200  # rows a posted form may hold (the IP list may exceed 100 only to be refused)


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


# --- the settings form --------------------------------------------------------------------------

class SettingsForm(FlaskForm):
    enabled = BooleanField("Enable inbound SIP")
    name = StringField("Domain base name")


@dataclass
class CredRow:
    id: int | None = None
    username: str = ""
    password: str = ""  # typed in this form, not stored yet
    error: str | None = None
    password_error: str | None = None

    @property
    def stored(self) -> bool:
        return self.id is not None


@dataclass
class IpRow:
    value: str = ""
    error: str | None = None


_CRED_RE = re.compile(r"cred-(\d{1,4})-(id|username|password)\Z")
_IP_RE = re.compile(r"ip-(\d{1,4})\Z")


def _stored_credentials() -> dict[int, InboundCredential]:
    return {c.id: c for c in db.session.scalars(
        select(InboundCredential).order_by(InboundCredential.username))}


def _rows_from_db() -> tuple[list[CredRow], list[IpRow]]:
    creds = [CredRow(id=c.id, username=c.username) for c in _stored_credentials().values()]
    ips = [IpRow(ip.cidr) for ip in inbound_settings.stored_ips()]
    return creds or [CredRow()], ips or [IpRow()]


def _rows_from_form(stored: dict[int, InboundCredential]) -> tuple[list[CredRow], list[IpRow]]:
    by_index: dict[int, dict[str, str]] = {}
    ips: dict[int, str] = {}
    for key, value in request.form.items():
        if m := _CRED_RE.match(key):
            by_index.setdefault(int(m.group(1)), {})[m.group(2)] = value
        elif m := _IP_RE.match(key):
            ips[int(m.group(1))] = value
    creds: list[CredRow] = []
    seen_ids: set[int] = set()
    for i in sorted(by_index)[:MAX_ROWS]:
        fields = by_index[i]
        raw_id = fields.get("id", "")
        if raw_id:
            # A stored credential: its username comes from the database, never from the form.
            cred_id = ascii_int(raw_id)
            cred = stored.get(cred_id) if cred_id is not None else None
            if cred is None or cred.id in seen_ids:
                continue  # removed meanwhile (another tab), or posted twice
            seen_ids.add(cred.id)
            creds.append(CredRow(id=cred.id, username=cred.username,
                                 password=fields.get("password", "")))
        else:
            creds.append(CredRow(username=fields.get("username", "").strip(),
                                 password=fields.get("password", "")))
    ip_rows = [IpRow(ips[i]) for i in sorted(ips)[:MAX_ROWS]]
    return creds, ip_rows


def _apply_row_action(action: str, creds: list[CredRow], ips: list[IpRow]) -> bool:
    """Add or remove a row; True when ``action`` was one of those."""
    if action == "add-credential":
        creds.append(CredRow())
    elif action == "add-ip":
        ips.append(IpRow())
    elif m := re.fullmatch(r"remove-credential-(\d{1,4})", action):
        if int(m.group(1)) < len(creds):
            del creds[int(m.group(1))]
    elif m := re.fullmatch(r"remove-ip-(\d{1,4})", action):
        if int(m.group(1)) < len(ips):
            del ips[int(m.group(1))]
    else:
        return False
    return True


def _validate(form: SettingsForm, creds: list[CredRow], ips: list[IpRow]) -> tuple[bool, list]:
    """Check everything; errors land on the form fields and rows. Returns (ok, IP entries)."""
    ok = True
    name = inbound.normalise_name(form.name.data)
    form.name.data = name
    if name or form.enabled.data:
        problem = inbound.name_problem(name)
        if problem:
            form.name.errors = list(form.name.errors) + [
                problem if name else "Enter a base name before enabling inbound SIP."]
            ok = False
    usernames: dict[str, int] = {}
    for i, row in enumerate(creds):
        if not row.stored:
            if not row.username and not row.password:
                continue  # a blank new row is ignored
            row.error = inbound.username_problem(row.username)
            if row.error is None:
                low = row.username.lower()
                if low in usernames:
                    row.error = f"{row.username} is already in row {usernames[low] + 1}."
            row.password_error = inbound.password_problem(row.password)
        elif row.password:
            row.password_error = inbound.password_problem(row.password)
        if row.username:
            usernames.setdefault(row.username.lower(), i)
        ok = ok and row.error is None and row.password_error is None
    entries, errors, whole = ip_whitelist.check_ip_list([r.value for r in ips])
    for i, message in errors.items():
        ips[i].error = message
        ok = False
    if whole:
        form.form_errors.append(whole)
        ok = False
    kept = [r for r in creds if r.stored or r.username or r.password]
    if len(kept) > MAX_CREDENTIALS:
        form.form_errors.append(f"At most {MAX_CREDENTIALS} credentials.")
        ok = False
    return ok, [e for e in entries if e is not None]


def _save(form: SettingsForm, creds: list[CredRow], entries: list) -> None:
    settings = inbound_settings.get_settings()
    settings.enabled = bool(form.enabled.data)
    settings.name = form.name.data
    stored = _stored_credentials()
    posted_ids = {r.id for r in creds if r.stored}
    for cred_id, cred in stored.items():
        if cred_id not in posted_ids:
            db.session.delete(cred)
    db.session.flush()  # a removed username may come back as a new row
    for row in creds:
        if row.stored:
            if row.password:
                cred = stored[row.id]
                cred.password = row.password
                cred.twilio_sid = None  # password changed: the next sync sets it at Twilio
        elif row.username:
            cred = InboundCredential(username=row.username)
            cred.password = row.password
            db.session.add(cred)
    wanted = [e.text for e in entries]
    current = {ip.cidr: ip for ip in db.session.scalars(select(InboundIp))}
    for text, ip in current.items():
        if text not in wanted:
            db.session.delete(ip)
    db.session.flush()
    for text in wanted:
        if text not in current:
            db.session.add(InboundIp(cidr=text))
    settings.updated_at = utcnow()
    db.session.commit()


def _page(form, creds, ips, *, status=200, result=None, sync_error=None, unsaved=False):
    settings = inbound_settings.load_settings()
    context = dict(form=form, creds=creds, ips=ips, settings=settings, result=result,
                   sync_error=sync_error, unsaved=unsaved, domains=_domains(settings),
                   pending=_pending(settings), max_ips=ip_whitelist.MAX_IPS)
    template = "inbound/index.html"
    if is_htmx():
        target = request.headers.get("HX-Target", "")
        template = "inbound/partial/twilio.html" if target == "inbound-twilio" \
            else "inbound/partial/form.html"
    return render_template(template, **context), status


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
    form = SettingsForm(obj=settings) if request.method == "GET" else SettingsForm()
    if request.method == "GET":
        creds, ips = _rows_from_db()
        return _page(form, creds, ips)
    # CSRF is checked for every POST by the app-wide CSRFProtect; validate() checks it again.
    if not form.validate():
        return _page(form, *_rows_from_db(), status=400)
    creds, ips = _rows_from_form(_stored_credentials())
    action = request.form.get("action", "save")
    if _apply_row_action(action, creds, ips):
        return _page(form, creds or [CredRow()], ips or [IpRow()], unsaved=True)
    ok, entries = _validate(form, creds, ips)
    if not ok:
        return _page(form, creds or [CredRow()], ips or [IpRow()],
                     status=invalid_status(), unsaved=True)
    _save(form, creds, entries)
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
    form = SettingsForm(obj=settings)
    creds, ips = _rows_from_db()
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
