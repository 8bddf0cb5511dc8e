"""The webhook editor's WTForms classes, its first values from a stored webhook, what each event
means in words, and its write-only secrets (``SecretsEditing``), sealed while typed but not
saved yet.

Secrets are write-only (docs/webhooks.md, "Setting up a webhook"): a stored signing secret or
secret header value never reaches a page. One typed in this form is not sent back either: when
the form comes back (Add header, Remove, a field error) it rides along *sealed*, encrypted with a
key derived from ``SECRET_KEY`` for this purpose only (``headers-N-sealed``,
``signing_sealed``), so nothing has to be typed twice and no page ever holds it in clear.
"""
from __future__ import annotations

import secrets
from functools import cached_property

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (BooleanField, FieldList, Form, FormField, HiddenField, PasswordField,
                     RadioField, SelectField, StringField, TextAreaField)

from sipflask import crypto
from sipflask.core import webhook_rules
from sipflask.forms.common import text
from sipflask.webhooks.model import Webhook

MAX_HEADERS = webhook_rules.MAX_HEADERS
# Another key than the one secrets are stored with: a stored value_encrypted posted as a sealed
# value is not readable as one.
_SEAL_CONTEXT = ":webhook-editor-seal"

EVENT_WORDS = {
    "call.started": "A call came in and was accepted for a campaign (before any buyer rings).",
    "call.routed": "A buyer was dialled (once per buyer tried).",
    "call.answered": "A buyer answered the call.",
    "call.completed": "The call ended (answered or not), with how it went.",
    "call.no_buyer": "No buyer could take the call (closed, capped, paused or all failed).",
    "call.converted": "A buyer reported a conversion (postback), with the revenue.",
    "call.rejected": "The call was refused before routing (inbound SIP refused, or an unknown "
                     "number).",
}
TOKEN_WORDS = {
    "event": "the event's name", "event_time": "when it happened (UTC, ISO 8601)",
    "buyer_id": "the buyer's id", "buyer_name": "the buyer's name",
    "attempt": "which try of the call (1, 2...)", "dial_status": "Twilio's dial status",
    "sip_code": "the SIP response code", "duration": "seconds talked",
    "call_status": "the call's final status", "revenue": "the revenue reported",
    "reason": "why, in words",
}


def seal(value: str) -> str:
    return crypto.encrypt(current_app.config["SECRET_KEY"] + _SEAL_CONTEXT, value or "")


def unseal(token: str) -> str:
    """The sealed value, or "" when there is none or it can't be read (a forged or stale
    token: the field is then simply empty)."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        return ""
    try:
        return crypto.decrypt(current_app.config["SECRET_KEY"] + _SEAL_CONTEXT, token)
    except (crypto.SecretError, ValueError, TypeError):
        return ""


class HeaderRowForm(Form):
    """One request header row (a plain subform: the CSRF token belongs to the outer form)."""

    name = StringField("Header name")
    value = StringField("Value")
    secret = BooleanField("Secret")
    sealed = HiddenField()


class WebhookForm(FlaskForm):
    name = StringField("Name")
    ref = StringField("Ref")
    event = SelectField("Event", validate_choice=False)
    url = StringField("URL")
    # Choices set per instance (WebhookEditor._choices), like the other forms' selects.
    method = SelectField("Method", default="POST", validate_choice=False)
    body_format = RadioField("Body format", default="json", validate_choice=False)
    body = TextAreaField("Body template", render_kw={"rows": 8})
    include_key = BooleanField("Include the secret key ([call_key])")
    headers = FieldList(FormField(HeaderRowForm), min_entries=0, max_entries=MAX_HEADERS)
    signing_secret = PasswordField("Signing secret")  # PasswordField never renders its value
    signing_sealed = HiddenField()
    clear_signing_secret = BooleanField("Remove the stored signing secret")
    filter_campaign = SelectField("Campaign", validate_choice=False)
    filter_publisher = SelectField("Publisher", validate_choice=False)
    filter_buyer = SelectField("Buyer", validate_choice=False)
    filter_tag_key = StringField("Tag name")
    filter_tag_value = StringField("Tag value")
    enabled = BooleanField("Enabled (sends events)")
    test_call = SelectField("Call to send", validate_choice=False)
    test_call_uuid = StringField("Or a call's id")


def initial_data(webhook: Webhook | None) -> dict:
    if webhook is None:
        return {"event": "call.completed", "method": "POST", "body_format": "json",
                "enabled": True, "headers": []}
    return {
        "name": webhook.name, "ref": webhook.ref, "event": webhook.event, "url": webhook.url,
        "method": webhook.method, "body_format": webhook.body_format or "json",
        "body": webhook.body or "", "include_key": bool(webhook.include_key),
        # A secret row's value stays empty: empty means "keep the stored one".
        "headers": [{"name": h.name, "value": "" if h.secret else h.value,
                     "secret": bool(h.secret)} for h in webhook.headers],
        "filter_campaign": webhook.filter_campaign.ref if webhook.filter_campaign else "",
        "filter_publisher": webhook.filter_publisher.ref if webhook.filter_publisher else "",
        "filter_buyer": webhook.filter_buyer.ref if webhook.filter_buyer else "",
        "filter_tag_key": webhook.filter_tag_key or "",
        "filter_tag_value": webhook.filter_tag_value or "",
        "enabled": bool(webhook.enabled),
    }


def filters_summary(webhook: Webhook) -> list[str]:
    """The list page's words for a webhook's filters (empty: every call)."""
    out = []
    for label, target in (("campaign", webhook.filter_campaign),
                          ("publisher", webhook.filter_publisher),
                          ("buyer", webhook.filter_buyer)):
        if target is not None:
            out.append(f"{label} {target.name}")
    if webhook.filter_tag_key:
        out.append(f"tag {webhook.filter_tag_key}={webhook.filter_tag_value}")
    return out


class SecretsEditing:
    """The webhook editor's write-only secrets (mixed into ``forms/webhook.WebhookEditor``):
    what was typed, what rides along sealed, whether one is stored."""

    @property
    def has_stored_secret(self) -> bool:
        return bool(self.webhook is not None and self.webhook.has_signing_secret)

    @cached_property
    def typed_secret(self) -> str:
        """A signing secret typed (or generated) and not saved yet; "" for none."""
        f = self.form
        return text(f.signing_secret.data) or unseal(text(f.signing_sealed.data))

    @property
    def sealed_secret(self) -> str:
        return seal(self.typed_secret) if self.typed_secret else ""

    def row_value(self, entry) -> str:
        """A header row's value: as typed, or for a secret row its sealed value."""
        row = entry.form
        return text(row.value.data) or unseal(text(row.sealed.data))

    def sealed_value(self, entry) -> str:
        """What a secret row carries to the next answer (never the stored value)."""
        value = self.row_value(entry) if entry.form.secret.data else ""
        return seal(value) if value else ""

    def stored_secret_names(self) -> set[str]:
        if self.webhook is None:
            return set()
        return {h.name.lower() for h in self.webhook.headers if h.secret and h.value_encrypted}

    def row_is_stored(self, entry) -> bool:
        return text(entry.form.name.data).strip().lower() in self.stored_secret_names()

    def generate_secret(self) -> None:
        self.generated_secret = secrets.token_urlsafe(32)
        self.form.signing_secret.data = self.generated_secret
        self.form.clear_signing_secret.data = False
        self.__dict__.pop("typed_secret", None)
        self.forget()
