"""The buyer editor: its form, the record the shared rules check, messages per field, saving.

Every rule comes from :mod:`sipflask.validation` (``check_buyer`` and what it calls): this module
only turns the submitted form into the record ``check_buyer`` takes (the import/export shape),
maps the report's paths (``sip_headers[2].name``) back to the form's fields (``headers-2-name``),
and writes the cleaned record. What is form-specific and lives here:

* blank header rows (no name, no value) are ignored, so "Add Header" never blocks a save;
* a phone number carries no SIP settings: with a phone Number the SIP fields are neither checked
  nor kept (saving removes the SIP username, password and headers);
* the SIP password is write-only: the field is never filled in, "keep" is the default, "clear"
  removes it, typing a new one replaces it, and an empty username removes auth altogether.

:class:`BuyerEditor` bundles one request's form with what the editor page shows (messages,
token help, the sample call and the live preview), each computed only when a template asks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from flask import current_app, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)

from sipflask.callflow import preview
from sipflask.core import sip, tokens, validation
from sipflask.core.validation import ascii_int
from sipflask.extensions import db
from sipflask.forms.setup import (
    check_ref_field,
    check_unique,
    parse_tags,
    suggest_ref,
    tags_text,
)
from sipflask.models import (
    Buyer,
    BuyerHeader,
    Campaign,
    CampaignBuyer,
    Number,
    Publisher,
)

MAX_HEADERS = 50
KEEP, CLEAR = "keep", "clear"
FORM = "form"          # messages about the whole form
HEADERS = "headers"    # messages about the header rows as a whole (Twilio's length limit)


class HeaderForm(Form):
    """One SIP header row (a plain subform: the CSRF token belongs to the outer form)."""

    name = StringField("Header name")
    value = StringField("Value")


class SampleForm(Form):
    """The sample call the preview runs through the webhook's code."""

    number = SelectField("Tracking number", validate_choice=False)
    caller = StringField("Caller")
    publisher = SelectField("Publisher", validate_choice=False)
    sub_id = StringField("Sub ID")
    tags = TextAreaField("Tags (key=value, one a line)", render_kw={"rows": 3})


class BuyerForm(FlaskForm):
    name = StringField("Name")
    ref = StringField("Ref")
    number = StringField("Number")
    sip_username = StringField("SIP Username")
    sip_password = PasswordField("SIP Password")  # PasswordField never renders its value
    # Choices set per instance (see BuyerEditor._choices), like the other forms' selects.
    password_action = RadioField("Stored password", default=KEEP, validate_choice=False)
    headers = FieldList(FormField(HeaderForm), min_entries=0, max_entries=MAX_HEADERS)
    priority = StringField("Priority")
    weight = StringField("Weight")
    timeout = StringField("Ring timeout (seconds)")
    concurrency_cap = StringField("Concurrent calls cap")
    daily_cap = StringField("Calls per day cap")
    paused = BooleanField("Paused (skipped by routing)")
    campaigns = SelectMultipleField("Campaigns", validate_choice=False)
    sample = FormField(SampleForm)


@dataclass
class Messages:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.errors or self.warnings)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _num(value) -> str:
    return "" if value is None else str(value)


def known_tags(campaign_ids: set[int] | None) -> list[str]:
    """Tag keys seen on the numbers of these campaigns (all numbers when none is chosen)."""
    stmt = select(Number.tags)
    if campaign_ids:
        stmt = stmt.where(Number.campaign_id.in_(campaign_ids))
    keys = {k for tags in db.session.scalars(stmt) for k in (tags or {})
            if isinstance(k, str) and validation.TAG_KEY_RE.match(k)}
    return sorted(keys - set(tokens.BUILTIN_TOKENS))


def initial_data(buyer: Buyer | None) -> dict:
    if buyer is None:
        return {"priority": "1", "weight": "1", "timeout": "30", "password_action": KEEP,
                "headers": [], "campaigns": []}
    return {
        "name": buyer.name, "ref": buyer.ref, "number": buyer.number,
        "sip_username": buyer.sip_username or "", "password_action": KEEP,
        "headers": [{"name": h.name, "value": h.value} for h in buyer.headers],
        "priority": _num(buyer.priority), "weight": _num(buyer.weight),
        "timeout": _num(buyer.timeout), "concurrency_cap": _num(buyer.concurrency_cap),
        "daily_cap": _num(buyer.daily_cap), "paused": buyer.paused,
        "campaigns": [str(e.campaign_id) for e in buyer.routing],
    }


_ROW_PATH = re.compile(r"sip_headers\[(\d+)\](?:\.(name|value))?\Z")


class BuyerEditor:
    """The buyer form of one request plus everything the editor page shows beside it."""

    builtin_tokens = tokens.BUILTIN_TOKENS

    def __init__(self, buyer: Buyer | None = None, *, submitted: bool | None = None):
        self.buyer = buyer
        self.submitted = request.method == "POST" if submitted is None else submitted
        if self.submitted:
            self.form = BuyerForm()
        else:
            self.form = BuyerForm(formdata=None, data=initial_data(buyer))
        self.autofocus_row: int | None = None
        self.extra_errors: dict[str, list[str]] = {}
        self._choices()
        if not self.submitted or "sample-number" not in request.form:
            self.reset_sample(self.default_number, keep_caller=False)

    # --- choices ----------------------------------------------------------------------------

    @cached_property
    def all_campaigns(self) -> list[Campaign]:
        return list(db.session.scalars(select(Campaign).order_by(Campaign.name, Campaign.id)))

    @cached_property
    def all_numbers(self) -> list[Number]:
        return list(db.session.scalars(select(Number).order_by(Number.id)))

    @cached_property
    def all_publishers(self) -> list[Publisher]:
        return list(db.session.scalars(select(Publisher).order_by(Publisher.name, Publisher.id)))

    def _choices(self) -> None:
        f = self.form
        f.password_action.choices = [(KEEP, "Keep it"), (CLEAR, "Clear it")]
        f.campaigns.choices = [(str(c.id), c.name) for c in self.all_campaigns]
        f.sample.number.choices = [("", "— none —")] + [
            (str(n.id), f"{n.number} · {n.campaign.name}") for n in self.all_numbers]
        f.sample.publisher.choices = [("", "— no publisher —")] + [
            (str(p.id), f"{p.name} (AFID {p.afid})") for p in self.all_publishers]

    @property
    def selected_campaign_ids(self) -> set[int]:
        return {n for n in (ascii_int(x) for x in (self.form.campaigns.data or [])) if n}


    @cached_property
    def known_tags(self) -> list[str]:
        return known_tags(self.selected_campaign_ids)

    # --- the sample call --------------------------------------------------------------------

    @property
    def default_number(self) -> Number | None:
        ids = self.selected_campaign_ids
        for number in self.all_numbers:
            if number.campaign_id in ids:
                return number
        return self.all_numbers[0] if self.all_numbers else None

    def number_by_id(self, value) -> Number | None:
        value = _text(value)
        return next((n for n in self.all_numbers if str(n.id) == value), None)

    def reset_sample(self, number: Number | None, *, keep_caller: bool = True) -> None:
        """Fill the sample call's fields from a tracking number (its publisher, sub_id, tags)."""
        s = self.form.sample
        s.number.data = str(number.id) if number else ""
        if not keep_caller or not _text(s.caller.data).strip():
            s.caller.data = preview.DEFAULT_CALLER
        s.publisher.data = str(number.publisher_id) if number and number.publisher_id else ""
        s.sub_id.data = (number.sub_id or "") if number else ""
        s.tags.data = tags_text(number.tags) if number else ""

    @cached_property
    def sample(self) -> tuple[preview.SampleCall, list[str]]:
        s = self.form.sample
        tags, problems = parse_tags(_text(s.tags.data))
        report = validation.Report()
        tags = validation.check_tags(report, tags)
        problems += [m for msgs in report.errors.values() for m in msgs]
        publisher = next((p for p in self.all_publishers if str(p.id) == _text(s.publisher.data)),
                         None)
        call = preview.SampleCall(caller=_text(s.caller.data).strip(),
                                  number=self.number_by_id(s.number.data), publisher=publisher,
                                  sub_id=_text(s.sub_id.data).strip(), tags=tags)
        return call, problems

    # --- record and checks ------------------------------------------------------------------

    @property
    def number_text(self) -> str:
        return _text(self.form.number.data).strip()

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
        return bool(_text(f.sip_username.data).strip() or any(
            _text(e.form.name.data).strip() or _text(e.form.value.data).strip()
            for e in f.headers.entries))

    def record(self) -> tuple[dict, list[str]]:
        """The form as a ``check_buyer`` record, and the form row id of each header it holds."""
        f = self.form
        sip_mode = self.is_sip
        rows, row_ids = [], []
        if sip_mode:
            for entry in f.headers.entries:
                name, value = _text(entry.form.name.data), _text(entry.form.value.data)
                if not name.strip() and not value.strip():
                    continue
                rows.append({"name": name, "value": value})
                row_ids.append(entry.id)
        rec = {
            "name": _text(f.name.data), "ref": _text(f.ref.data).strip(),
            "number": _text(f.number.data),
            "sip_username": _text(f.sip_username.data) if sip_mode else "",
            "sip_password": (_text(f.sip_password.data) or None) if sip_mode else None,
            "sip_headers": rows,
            "priority": _text(f.priority.data).strip(), "weight": _text(f.weight.data).strip(),
            "timeout": _text(f.timeout.data).strip(),
            "concurrency_cap": _text(f.concurrency_cap.data).strip(),
            "daily_cap": _text(f.daily_cap.data).strip(),
            "paused": bool(f.paused.data),
        }
        if self.buyer is None and not rec["ref"] and rec["name"].strip():
            rec["ref"] = suggest_ref(Buyer, rec["name"])
        return rec, row_ids

    @cached_property
    def check(self) -> tuple[validation.Report, dict, dict, list[str]]:
        """``(report, clean, rec, row_ids)`` from the shared rules plus the form's own."""
        rec, row_ids = self.record()
        report, clean = validation.check_buyer(
            rec, default_region=current_app.config.get("DEFAULT_REGION"),
            known_tokens=self.known_tags)
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
        known_ids = {c.id for c in self.all_campaigns}
        if self.selected_campaign_ids - known_ids:
            report.error("campaigns", "A chosen campaign no longer exists; reload the page.")
        for path, msgs in self.extra_errors.items():
            for m in msgs:
                report.error(path, m)
        return report, clean, rec, row_ids

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
        m = _ROW_PATH.match(path)
        if m:
            j = int(m.group(1))
            return f"{row_ids[j]}-{m.group(2) or 'name'}" if j < len(row_ids) else HEADERS
        if path == "sip_headers":
            return HEADERS
        head = re.split(r"[.\[]", path, maxsplit=1)[0]
        if head in self.form._fields and head not in ("csrf_token", "sample", "headers"):
            return head
        return FORM

    @cached_property
    def messages(self) -> dict[str, Messages]:
        report, _clean, _rec, row_ids = self.check
        out: dict[str, Messages] = {}
        for kind, found in (("errors", report.errors), ("warnings", report.warnings)):
            for path, msgs in found.items():
                fid = self.field_id(path, row_ids)
                text = msgs if fid != FORM or not path else [f"{path}: {m}" for m in msgs]
                getattr(out.setdefault(fid, Messages()), kind).extend(text)
        return out

    def shown_messages(self) -> dict[str, Messages]:
        """What the page shows: everything after a submit; only warnings on a first load."""
        if self.submitted:
            return self.messages
        return {k: Messages(warnings=m.warnings) for k, m in self.messages.items() if m.warnings}

    def msgs(self, field_id: str) -> Messages:
        return self.shown_messages().get(field_id) or Messages()

    # --- header rows ------------------------------------------------------------------------

    def add_header(self) -> None:
        if len(self.form.headers.entries) >= MAX_HEADERS:
            self.extra_errors.setdefault("sip_headers", []).append(
                f"At most {MAX_HEADERS} headers (Twilio's 1024-character limit comes first).")
            return
        self.form.headers.append_entry({"name": "", "value": ""})
        self.autofocus_row = len(self.form.headers.entries) - 1

    def remove_header(self, index: int) -> None:
        if 0 <= index < len(self.form.headers.entries):
            self.form.headers.pop_entry(index)

    # --- preview ----------------------------------------------------------------------------

    @cached_property
    def preview(self) -> preview.Preview:
        _report, clean, _rec, _ = self.check
        # The same spec the webhook plans with, from the checked values; the password is never read.
        spec = preview.draft_spec(clean, buyer_id=self.buyer.id if self.buyer else None,
                                  number=clean["number"] or self.number_text,
                                  send_password=self.will_send_password)
        sample, _problems = self.sample
        return preview.build(spec, sample, self.buyer.id if self.buyer else None)

    # --- saving -----------------------------------------------------------------------------

    def save(self) -> Buyer | None:
        """Check and save; returns the saved buyer, or None (messages say why; DB unchanged)."""
        if not self.form.validate_on_submit() and self.form.errors.get("csrf_token"):
            self.extra_errors.setdefault("", []).append(
                "The form expired; reload the page and try again.")
            self.forget()
            return None
        report, clean, rec, _ = self.check
        if not report.ok:
            return None
        creating = self.buyer is None
        buyer = self.buyer or Buyer()
        try:
            self._write(buyer, creating, clean, rec)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            self.forget()
            if self.report.ok:
                self.extra_errors.setdefault("", []).append(
                    "Not saved: the database refused the change (it was probably changed at the "
                    "same time). Check the values and save again.")
                self.forget()
            return None
        self.form.ref.data = buyer.ref
        return buyer

    def _write(self, buyer: Buyer, creating: bool, clean: dict, rec: dict) -> None:
        if creating:
            db.session.add(buyer)
        buyer.ref = rec["ref"]
        buyer.name = clean["name"]
        buyer.number = clean["number"]
        if not self.is_sip:
            buyer.sip_username, buyer.sip_password_encrypted = "", ""
        else:
            buyer.sip_username = clean["sip_username"]
            typed = clean["sip_password"]
            if not buyer.sip_username:
                buyer.sip_password_encrypted = ""   # no username, no auth
            elif typed:
                buyer.sip_password = typed
            elif self.password_action == CLEAR:
                buyer.sip_password_encrypted = ""
        wanted = list(clean["sip_headers"]) if self.is_sip else []
        if creating or [(h.name, h.value) for h in buyer.headers] != wanted:
            buyer.headers = [BuyerHeader(position=i, name=n, value=v)
                             for i, (n, v) in enumerate(wanted)]
        for key in ("priority", "weight", "timeout", "concurrency_cap", "daily_cap", "paused"):
            setattr(buyer, key, clean[key])
        self._save_routing(buyer, creating)

    def _save_routing(self, buyer: Buyer, creating: bool) -> None:
        """Put the buyer on the chosen campaigns' routing lists (at the end) and off the others."""
        wanted = self.selected_campaign_ids
        current = {} if creating else {e.campaign_id: e for e in buyer.routing}
        touched = set()
        for cid, entry in current.items():
            if cid not in wanted:
                db.session.delete(entry)
                touched.add(cid)
        db.session.flush()
        for cid in sorted(wanted - set(current)):
            last = db.session.scalar(select(func.max(CampaignBuyer.position))
                                     .where(CampaignBuyer.campaign_id == cid))
            db.session.add(CampaignBuyer(campaign_id=cid, buyer=buyer,
                                         position=0 if last is None else last + 1))
        for cid in touched:
            entries = db.session.scalars(select(CampaignBuyer)
                                         .where(CampaignBuyer.campaign_id == cid)
                                         .order_by(CampaignBuyer.position)).all()
            for i, entry in enumerate(entries):
                entry.position = i

    # --- urls -------------------------------------------------------------------------------

    def url(self, endpoint: str, **kw) -> str:
        if self.buyer is not None:
            return url_for(f"buyers.{endpoint}", id=self.buyer.id, **kw)
        return url_for(f"buyers.{endpoint}", **kw)

    @property
    def save_url(self) -> str:
        return self.url("edit") if self.buyer is not None else url_for("buyers.new")
