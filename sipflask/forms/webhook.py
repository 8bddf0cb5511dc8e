"""The webhook editor: its form turned into the record ``core/webhook_rules.check_webhook``
takes (the import/export shape), the report's paths mapped back to the form's fields
(``headers[2].value`` -> ``headers-2-value``, ``filters.campaign`` -> ``filter_campaign``), and
saving through ``records/webhooks.save_webhook`` (the writer ``flask import`` uses too).

What is form-specific and lives here:

* blank header rows (no name, no value) are ignored, so "Add header" never blocks a save;
* a secret header's value and the signing secret are write-only: an empty field keeps what is
  stored; what was typed and not saved yet comes back sealed (``forms/webhook_fields.py``);
* "Generate" makes a signing secret and shows it this once, to copy to the receiving server;
* a GET sends no body, so its body format is not asked for.
"""
from __future__ import annotations

import re
from functools import cached_property

from flask import request, url_for
from sqlalchemy import select

from sipflask.account.clock import localtime
from sipflask.core import tokens, validation, webhook_rules
from sipflask.extensions import db
from sipflask.forms.common import CHOOSE, suggest_ref, text, unstorable
from sipflask.forms.editor_messages import FORM, EditorMessages
from sipflask.forms.header_rows import HeaderRows
from sipflask.forms.webhook_fields import (EVENT_WORDS, MAX_HEADERS, TOKEN_WORDS,
                                           SecretsEditing, WebhookForm, initial_data)
from sipflask.models import Buyer, Call, Campaign, Publisher
from sipflask.records import webhooks as records
from sipflask.webhooks.model import Webhook

HEADERS = "headers"    # messages about the header rows as a whole
SAMPLE = "sample"      # the test_call choice of the made-up sample call
RECENT_CALLS = 20

_ROW_PATH = re.compile(r"headers\[(\d+)\](?:\.(name|value|secret))?\Z")
_FILTER_FIELDS = {"filters.campaign": "filter_campaign", "filters.publisher": "filter_publisher",
                  "filters.buyer": "filter_buyer", "filters.tag_key": "filter_tag_key",
                  "filters.tag_value": "filter_tag_value", "filters": "filter_campaign"}


class WebhookEditor(EditorMessages, HeaderRows, SecretsEditing):
    """The webhook form of one request plus what the editor page shows beside it."""

    max_header_rows = MAX_HEADERS
    header_rows_full = f"At most {MAX_HEADERS} headers."
    blank_header_row = {"name": "", "value": "", "secret": False}
    builtin_tokens = tokens.BUILTIN_TOKENS
    common_tokens = webhook_rules.COMMON_TOKENS
    event_words = EVENT_WORDS
    token_words = TOKEN_WORDS
    key_warning = webhook_rules.KEY_WARNING
    all_event_tokens = webhook_rules.EVENT_TOKENS

    def __init__(self, webhook: Webhook | None = None, *, submitted: bool | None = None):
        self.webhook = webhook
        self.submitted = request.method == "POST" if submitted is None else submitted
        if self.submitted:
            self.form = WebhookForm()
        else:
            self.form = WebhookForm(formdata=None, data=initial_data(webhook))
        self.autofocus: str | None = None
        self.generated_secret: str | None = None  # shown once, on the answer to "Generate"
        self.extra_errors: dict[str, list[str]] = {}
        self._choices()

    # --- choices ----------------------------------------------------------------------------

    def _choices(self) -> None:
        f = self.form
        f.event.choices = [(e, e) for e in webhook_rules.EVENTS]
        f.method.choices = [("POST", "POST"), ("GET", "GET")]
        f.body_format.choices = [("json", "JSON"), ("form", "Form")]
        for fld, model, none in ((f.filter_campaign, Campaign, "any campaign"),
                                 (f.filter_publisher, Publisher, "any publisher"),
                                 (f.filter_buyer, Buyer, "any buyer")):
            rows = db.session.execute(select(model.ref, model.name).order_by(model.name,
                                                                             model.id)).all()
            fld.choices = [(CHOOSE, f"— {none} —")] + [(ref, name) for ref, name in rows]
        f.test_call.choices = [(SAMPLE, "A made-up sample call")] + [
            (c.uuid, f"{localtime(c.created_at, '%Y-%m-%d %H:%M')} · {c.caller or 'unknown'}"
                     f" · {c.status}")
            for c in self.recent_calls]

    @cached_property
    def recent_calls(self) -> list[Call]:
        return list(db.session.scalars(select(Call).order_by(Call.id.desc())
                                       .limit(RECENT_CALLS)))

    @property
    def event(self) -> str:
        event = text(self.form.event.data)
        return event if event in webhook_rules.EVENTS else ""

    @property
    def event_tokens(self) -> tuple[str, ...]:
        return webhook_rules.EVENT_TOKENS.get(self.event, ())

    @property
    def event_filters(self) -> tuple[str, ...]:
        return webhook_rules.EVENT_FILTERS.get(self.event, webhook_rules.ALL_FILTERS)

    @cached_property
    def known_tags(self) -> list[str]:
        return sorted(records.known_tags() - set(tokens.BUILTIN_TOKENS))

    @property
    def is_get(self) -> bool:
        return text(self.form.method.data).upper() == "GET"

    # --- record and checks ------------------------------------------------------------------

    def record(self) -> tuple[dict, list[str]]:
        """The form as a ``check_webhook`` record, and the form row id of each header in it."""
        f = self.form
        rows, row_ids = [], []
        for entry in f.headers.entries:
            name, value = text(entry.form.name.data), self.row_value(entry)
            if not name.strip() and not value.strip():
                continue
            rows.append({"name": name, "value": value, "secret": bool(entry.form.secret.data)})
            row_ids.append(entry.id)
        method = text(f.method.data).upper() or "POST"
        rec = {
            "ref": text(f.ref.data).strip(), "name": text(f.name.data), "event": text(f.event.data),
            "url": text(f.url.data).strip(), "method": method,
            "body_format": "" if method == "GET" else text(f.body_format.data) or "json",
            "body": text(f.body.data), "headers": rows, "include_key": bool(f.include_key.data),
            "filters": {"campaign": text(f.filter_campaign.data) or None,
                        "publisher": text(f.filter_publisher.data) or None,
                        "buyer": text(f.filter_buyer.data) or None,
                        "tag_key": text(f.filter_tag_key.data).strip(),
                        "tag_value": text(f.filter_tag_value.data)},
            "enabled": bool(f.enabled.data), "signing_secret": self.typed_secret,
        }
        if self.webhook is None and not rec["ref"] and rec["name"].strip():
            rec["ref"] = suggest_ref(Webhook, rec["name"])
        return rec, row_ids

    @cached_property
    def check(self) -> tuple[validation.Report, dict, dict, list[str]]:
        """``(report, clean, rec, row_ids)``: the shared rules, then what save_webhook checks
        against the database (ref taken, filters that exist, secrets to keep)."""
        rec, row_ids = self.record()
        report, clean = webhook_rules.check_webhook(rec, known_tokens=self.known_tags)
        if clean["ref"]:
            stmt = select(Webhook.name).where(Webhook.ref == clean["ref"])
            if self.webhook is not None:
                stmt = stmt.where(Webhook.id != self.webhook.id)
            other = db.session.scalar(stmt.limit(1))
            if other is not None:
                report.error("ref", f"Ref {clean['ref']!r} is already used by webhook {other!r}.")
        if report.ok:
            records.check_refs(report, clean)
            records.check_secrets(report, clean, self.webhook)
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
        # Sealed values are checked when unsealed (a bad one is simply empty).
        skip = ("csrf_token", "test_call", "test_call_uuid", "sealed", "signing_sealed")
        return unstorable(self.form, skip=skip) if self.submitted else {}

    def forget(self) -> None:
        for name in ("check", "messages"):
            self.__dict__.pop(name, None)

    @property
    def report(self) -> validation.Report:
        return self.check[0]

    def error_lines(self) -> list[str]:
        """Every error, labelled with its field (for a panel far from the fields)."""
        labels = {name: fld.label.text for name, fld in self.form._fields.items()}
        lines = []
        for fid, found in self.messages.items():
            head = fid.split("-", 2)
            label = f"Header {int(head[1]) + 1}" if fid.startswith("headers-") \
                and len(head) > 1 and head[1].isdigit() else labels.get(fid, "")
            lines += [f"{label}: {m}" if label else m for m in found.errors]
        return lines

    def field_id(self, path: str, row_ids: list[str]) -> str:
        if path in self.unstorable_fields:  # already a field id (``headers-2-value``)
            return path
        m = _ROW_PATH.match(path)
        if m:
            j = int(m.group(1))
            return f"{row_ids[j]}-{m.group(2) or 'name'}" if j < len(row_ids) else HEADERS
        if path in _FILTER_FIELDS:
            return _FILTER_FIELDS[path]
        if path == "headers":
            return HEADERS
        if path in self.form._fields and path not in ("csrf_token", "headers", "test_call",
                                                      "test_call_uuid"):
            return path
        return FORM

    # --- saving -----------------------------------------------------------------------------

    def save(self) -> Webhook | None:
        """Check and save; the saved webhook, or None (messages say why; nothing written)."""
        if self.form_expired():
            return None
        report, _clean, rec, _ = self.check
        if not report.ok:
            return None
        saved, result = records.save_webhook(
            self.webhook, rec, clear_signing_secret=bool(self.form.clear_signing_secret.data))
        if saved is None:
            db.session.rollback()
            # Someone saved the same ref a moment ago, or deleted a filter's target.
            for path, msgs in result.errors.items():
                self.extra_errors.setdefault("" if path == "$" else path, []).extend(msgs)
            self.forget()
            return None
        return saved

    # --- urls -------------------------------------------------------------------------------

    def url(self, endpoint: str, **kw) -> str:
        if self.webhook is not None:
            return url_for(f"webhooks.{endpoint}", id=self.webhook.id, **kw)
        return url_for(f"webhooks.{endpoint}", **kw)

    @property
    def save_url(self) -> str:
        return self.url("edit") if self.webhook is not None else url_for("webhooks.new")
