"""The buyer editor's WTForms classes, its first values from a stored buyer, and the tag keys
the chosen campaigns' numbers offer as tokens."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (BooleanField, FieldList, Form, FormField, PasswordField, RadioField,
                     SelectField, SelectMultipleField, StringField, TextAreaField)

from sipflask.core import tokens, validation
from sipflask.extensions import db
from sipflask.models import Buyer, Number

MAX_HEADERS = 50
KEEP, CLEAR = "keep", "clear"


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
