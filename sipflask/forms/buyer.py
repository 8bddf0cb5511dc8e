"""The buyer editor: its form, the record the shared rules check, messages per field, saving.

Every rule comes from :mod:`sipflask.core.buyer_rules` (``check_buyer`` and what it calls):
this module only turns the submitted form into the record ``check_buyer`` takes (the
import/export shape), maps the report's paths (``sip_headers[2].name``) back to the form's fields
(``headers-2-name``), and hands the cleaned record to :mod:`sipflask.records` (the writer
``flask import`` uses too). What is form-specific and lives here:

* blank header rows (no name, no value) are ignored, so "Add Header" never blocks a save;
* a phone number carries no SIP settings: with a phone Number the SIP fields are neither checked
  nor kept (saving removes the SIP username, password and headers);
* the SIP password is write-only: the field is never filled in, "keep" is the default, "clear"
  removes it, typing a new one replaces it, and an empty username removes auth altogether;
* opening hours, closures and caps: see ``forms/buyer_hours.py``; health checks: ``buyer_health``.

:class:`BuyerEditor` bundles one request's form with what the editor page shows (messages,
token help, the sample call and the live preview), each computed only when a template asks.
"""
from __future__ import annotations

import re
from functools import cached_property

from flask import current_app, request, url_for
from sqlalchemy import select

from sipflask.callflow import clock
from sipflask.core import buyer_rules, sip, tokens, validation
from sipflask.core.validation import ascii_int
from sipflask.extensions import db
from sipflask.forms.buyer_fields import (CAP_COUNTS, CLEAR, KEEP, MAX_HEADERS, BuyerForm,
                                         initial_data, known_tags)
from sipflask.forms.buyer_health import HEALTH_CHOICES, HealthEditing
from sipflask.forms.buyer_hours import HoursEditing
from sipflask.forms.buyer_sample import SamplePreview
from sipflask.forms.common import check_ref_field, check_unique, suggest_ref, text, unstorable
from sipflask.forms.editor_messages import FORM, EditorMessages
from sipflask.forms.header_rows import HeaderRows
from sipflask.models import Buyer, Campaign
from sipflask.records import routing, write

HEADERS = "headers"    # messages about the header rows as a whole (Twilio's length limit)

_ROW_PATH = re.compile(r"sip_headers\[(\d+)\](?:\.(name|value))?\Z")


class BuyerEditor(EditorMessages, HeaderRows, HoursEditing, HealthEditing, SamplePreview):
    """The buyer form of one request plus everything the editor page shows beside it."""

    builtin_tokens = tokens.BUILTIN_TOKENS
    max_header_rows = MAX_HEADERS
    header_rows_full = (f"At most {MAX_HEADERS} headers (Twilio's 1024-character limit comes "
                        "first).")
    header_rows_field = "sip_headers"

    def __init__(self, buyer: Buyer | None = None, *, submitted: bool | None = None):
        self.buyer = buyer
        self.submitted = request.method == "POST" if submitted is None else submitted
        if self.submitted:
            self.form = BuyerForm()
        else:
            self.form = BuyerForm(formdata=None, data=initial_data(buyer))
        self.autofocus: str | None = None  # the field id of a range or closure just added
        self.extra_errors: dict[str, list[str]] = {}
        self._choices()
        if self.submitted:
            self.keep_stored_values()
            self.keep_stored_health()
        if not self.submitted or "sample-number" not in request.form:
            self.reset_sample(self.default_number, keep_caller=False)

    # --- choices ----------------------------------------------------------------------------

    @cached_property
    def all_campaigns(self) -> list[Campaign]:
        return list(db.session.scalars(select(Campaign).order_by(Campaign.name, Campaign.id)))

    def _choices(self) -> None:
        f = self.form
        f.password_action.choices = [(KEEP, "Keep it"), (CLEAR, "Clear it")]
        f.cap_counts.choices = list(CAP_COUNTS)
        f.health_check.choices = list(HEALTH_CHOICES)
        f.campaigns.choices = [(str(c.id), c.name) for c in self.all_campaigns]
        f.sample.number.choices = [("", "— none —")] + [
            (str(n.id), f"{n.number} · {n.campaign.name}") for n in self.all_numbers]
        f.sample.publisher.choices = [("", "— no publisher —")] + [
            (str(p.id), f"{p.name} (AFID {p.afid})") for p in self.all_publishers]

    @property
    def selected_campaign_ids(self) -> set[int]:
        known = {c.id for c in self.all_campaigns}
        return {n for n in (ascii_int(x) for x in (self.form.campaigns.data or [])) if n in known}

    @property
    def unknown_campaigns(self) -> list[str]:
        """Posted campaigns not in the list: an error, never silently dropped."""
        known = {str(c.id) for c in self.all_campaigns}
        return [x for x in (self.form.campaigns.data or []) if x not in known]

    @cached_property
    def known_tags(self) -> list[str]:
        return known_tags(self.selected_campaign_ids)

    # --- record and checks ------------------------------------------------------------------

    @property
    def number_text(self) -> str:
        return text(self.form.number.data).strip()

    @property
    def is_sip(self) -> bool:
        return sip.is_sip(self.number_text)

    @property
    def has_stored_password(self) -> bool:
        return bool(self.buyer is not None and self.buyer.has_sip_password)

    @property
    def password_action(self) -> str:
        return CLEAR if self.form.password_action.data == CLEAR else KEEP

    @property
    def has_sip_values(self) -> bool:
        """Anything typed in the SIP section (shown even for a phone number, so it's not lost)."""
        f = self.form
        return bool(text(f.sip_username.data).strip() or any(
            text(e.form.name.data).strip() or text(e.form.value.data).strip()
            for e in f.headers.entries))

    def record(self) -> tuple[dict, list[str]]:
        """The form as a ``check_buyer`` record, and the form row id of each header it holds."""
        f = self.form
        sip_mode = self.is_sip
        rows, row_ids = [], []
        if sip_mode:
            for entry in f.headers.entries:
                name, value = text(entry.form.name.data), text(entry.form.value.data)
                if not name.strip() and not value.strip():
                    continue
                rows.append({"name": name, "value": value})
                row_ids.append(entry.id)
        rec = {
            "name": text(f.name.data), "ref": text(f.ref.data).strip(),
            "number": text(f.number.data),
            "sip_username": text(f.sip_username.data) if sip_mode else "",
            "sip_password": (text(f.sip_password.data) or None) if sip_mode else None,
            "sip_headers": rows,
            "priority": text(f.priority.data).strip(), "weight": text(f.weight.data).strip(),
            "timeout": text(f.timeout.data).strip(), **self.caps_record(),
            **self.schedule_part[0], "paused": bool(f.paused.data),
            "health": self.health_record(),
        }
        if self.buyer is None and not rec["ref"] and rec["name"].strip():
            rec["ref"] = suggest_ref(Buyer, rec["name"])
        return rec, row_ids

    @cached_property
    def check(self) -> tuple[validation.Report, dict, dict, list[str]]:
        """``(report, clean, rec, row_ids)`` from the shared rules plus the form's own."""
        rec, row_ids = self.record()
        report, clean = buyer_rules.check_buyer(
            rec, default_region=current_app.config.get("DEFAULT_REGION"),
            known_tokens=self.known_tags, now=clock.now())
        check_ref_field(report, rec, creating=self.buyer is None)
        check_unique(report, Buyer, "ref", rec["ref"], self.buyer,
                "Ref {value!r} is already used by buyer {other.name!r}.")
        if self.is_sip:
            typed = rec["sip_password"]
            if typed and not clean["sip_username"] and not report.errors.get("sip_username"):
                report.error("sip_username", "Enter the SIP username that goes with this "
                                             "password, or leave both empty for no auth.")
            if clean["sip_username"] and not self.will_send_password_for(clean, typed):
                report.warn("sip_password", "No password: without one the username is not sent "
                                            "either, and the TwiML carries no credentials.")
        if unknown := self.unknown_campaigns:
            report.error("campaigns", f"Choose a campaign from the list: {unknown[0][:20]!r} is "
                                      "not one (it no longer exists or never did; reload the page).")
        for path, msgs in self.extra_errors.items():
            for m in msgs:
                report.error(path, m)
        taken = {self.field_id(path, row_ids) for path in report.errors}
        for field_id, message in self.unstorable_fields.items():
            if field_id not in taken:
                report.error(field_id, message)
        return report, clean, rec, row_ids

    @cached_property
    def unstorable_fields(self) -> dict[str, str]:
        """Posted values that can't be stored as sent (not the sample call: it is not stored)."""
        return unstorable(self.form, skip=("csrf_token", "sample")) if self.submitted else {}

    def forget(self) -> None:
        """Drop the cached check so it runs again (after a refused save)."""
        for name in ("check", "messages", "preview"):
            self.__dict__.pop(name, None)

    def will_send_password_for(self, clean: dict, typed: str | None) -> bool:
        if not clean.get("sip_username"):
            return False
        return bool(typed) or (self.has_stored_password and self.password_action == KEEP)

    @property
    def will_send_password(self) -> bool:
        if not self.is_sip:
            return False
        _report, clean, rec, _ = self.check
        return self.will_send_password_for(clean, rec["sip_password"])

    @property
    def report(self) -> validation.Report:
        return self.check[0]

    def field_id(self, path: str, row_ids: list[str]) -> str:
        if path in self.unstorable_fields:  # already a field id (``headers-2-value``)
            return path
        found = self.schedule_field_id(path) or self.health_field_id(path)
        if found is not None:
            return found
        m = _ROW_PATH.match(path)
        if m:
            j = int(m.group(1))
            return f"{row_ids[j]}-{m.group(2) or 'name'}" if j < len(row_ids) else HEADERS
        if path == "sip_headers":
            return HEADERS
        head = re.split(r"[.\[]", path, maxsplit=1)[0]
        if head in self.form._fields and head not in ("csrf_token", "sample", "headers",
                                                      "hours", "closures", "hours_mode"):
            return head
        return FORM

    # --- saving -----------------------------------------------------------------------------

    def save(self) -> Buyer | None:
        """Check and save; returns the saved buyer, or None (messages say why; DB unchanged)."""
        if self.form_expired():
            return None
        report, clean, rec, _ = self.check
        if not report.ok:
            return None
        buyer = self.buyer or Buyer()
        if self.buyer is None:
            db.session.add(buyer)

        def writes():
            write.write_buyer(buyer, {**clean, "ref": rec["ref"]},
                              clear_password=self.password_action == CLEAR)
            routing.place_buyer(buyer, self.selected_campaign_ids)

        if not write.commit(writes):
            self.forget()
            if self.report.ok:  # not a clash the checks can name: say so at the top
                self.extra_errors.setdefault("", []).append(write.REFUSED)
                self.forget()
            return None
        self.form.ref.data = buyer.ref
        return buyer

    # --- urls -------------------------------------------------------------------------------

    def url(self, endpoint: str, **kw) -> str:
        if self.buyer is not None:
            return url_for(f"buyers.{endpoint}", id=self.buyer.id, **kw)
        return url_for(f"buyers.{endpoint}", **kw)

    @property
    def save_url(self) -> str:
        return self.url("edit") if self.buyer is not None else url_for("buyers.new")
