"""The inbound SIP settings form: enable, domain base name, credential rows and IP rows.

Rows are plain posted fields (``cred-3-username``, ``ip-2``), not a WTForms FieldList, so "Add"
and "Remove" buttons can renumber them freely; a stored credential is identified by its id and
its username always comes from the database, never from the form.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import request
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField

from sipflask.core import inbound, ip_whitelist
from sipflask.core.validation import ascii_int, unstorable_problem
from sipflask.forms.common import unstorable
from sipflask.models import InboundCredential
from sipflask.records import inbound as inbound_settings

MAX_CREDENTIALS = 100
MAX_ROWS = 200  # rows a posted form may hold (the IP list may exceed 100 only to be refused)


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


def rows_from_db() -> tuple[list[CredRow], list[IpRow]]:
    creds = [CredRow(id=c.id, username=c.username)
             for c in inbound_settings.stored_credentials().values()]
    return shown(creds, [IpRow(ip.cidr) for ip in inbound_settings.stored_ips()])


def shown(creds: list[CredRow], ips: list[IpRow]) -> tuple[list[CredRow], list[IpRow]]:
    """The rows to draw: an empty list gets one blank row to type into."""
    return creds or [CredRow()], ips or [IpRow()]


def rows_from_form(stored: dict[int, InboundCredential]) -> tuple[list[CredRow], list[IpRow]]:
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


def apply_row_action(action: str, creds: list[CredRow], ips: list[IpRow]) -> bool:
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


def check(form: SettingsForm, creds: list[CredRow], ips: list[IpRow]) -> tuple[bool, list]:
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
    for fld_id, message in unstorable(form).items():  # what no rule above refused already
        if not form[fld_id].errors:
            form[fld_id].errors = [message]
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
        if row.password and not row.password_error:
            row.password_error = _unstorable("The password", row.password)
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


def _unstorable(label: str, value: str) -> str | None:
    problem = unstorable_problem(value, posted=True)
    return f"{label} {problem}." if problem else None


def save(form: SettingsForm, creds: list[CredRow], entries: list) -> None:
    """Store what ``check`` passed, and commit."""
    inbound_settings.save_page(bool(form.enabled.data), form.name.data,
                               [(r.id, r.username, r.password) for r in creds],
                               [e.text for e in entries])
