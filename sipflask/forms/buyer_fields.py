"""The buyer editor's WTForms classes, its first values from a stored buyer, and the tag keys
the chosen campaigns' numbers offer as tokens.

The opening hours are ``hours_mode`` (``always`` = open 24/7, ``weekly`` = the grid), one list
of range fields a day (``hours-mon-0``, ``hours-mon-1``...) and closure rows
(``closures-0-date``, ``closures-0-hours``: ranges separated by commas, empty = closed all day);
:mod:`sipflask.forms.buyer_hours` turns them into the record the rules check."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (BooleanField, FieldList, Form, FormField, HiddenField, PasswordField,
                     RadioField, SelectField, SelectMultipleField, StringField, TextAreaField)

from sipflask.core import capwindows, health_rules, tokens, validation
from sipflask.core.schedule import DAYS
from sipflask.core.schedule_rules import MAX_CLOSURES, MAX_RANGES_A_DAY
from sipflask.extensions import db
from sipflask.models import Buyer, Number

MAX_HEADERS = 50
KEEP, CLEAR = "keep", "clear"
ALWAYS, WEEKLY = "always", "weekly"  # hours_mode: open 24/7, or the weekly grid
CAP_COUNTS = ((capwindows.DIALLED, "dialled: every call offered to the buyer"),
              (capwindows.CONNECTED, "connected: calls the buyer answered"))


class HeaderForm(Form):
    """One SIP header row (a plain subform: the CSRF token belongs to the outer form)."""

    name = StringField("Header name")
    value = StringField("Value")


class HoursForm(Form):
    """The weekly grid: one list of ``HH:MM-HH:MM`` fields a day (``hours-mon-0``...)."""


for _day in DAYS:
    setattr(HoursForm, _day, FieldList(StringField("Open"), max_entries=MAX_RANGES_A_DAY))


class ClosureForm(Form):
    """One dated closure: the local date and the ranges open that day (empty: closed)."""

    date = StringField("Date", render_kw={"type": "date"})
    hours = StringField("Open that day")


class SampleForm(Form):
    """The sample call the preview runs through the webhook's code."""

    number = SelectField("Tracking number", validate_choice=False)
    caller = StringField("Caller")
    publisher = SelectField("Publisher", validate_choice=False)
    sub_id = StringField("Sub ID")
    tags = TextAreaField("Tags (key=value, one a line)", render_kw={"rows": 3})
    # When the call arrives, read in the buyer's time zone as typed; empty = now.
    moment = StringField("Moment of the call", render_kw={"type": "datetime-local"})


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
    hourly_cap = StringField("Calls per hour cap")
    daily_cap = StringField("Calls per day cap")
    monthly_cap = StringField("Calls per month cap")
    total_cap = StringField("Lifetime calls cap")
    cap_counts = SelectField("The hour, day, month and lifetime caps count",
                             default=capwindows.DIALLED, validate_choice=False)
    time_zone = StringField("Time zone")
    hours_mode = HiddenField(default=ALWAYS)
    hours = FormField(HoursForm)
    closures = FieldList(FormField(ClosureForm), max_entries=MAX_CLOSURES)
    paused = BooleanField("Paused (skipped by routing)")
    health_check = SelectField("Check by", default="off", validate_choice=False)
    health_codes = StringField("Replies that mean up")
    health_down_after = StringField("Down after N failed probes")
    health_up_after = StringField("Up after M answered probes")
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


def schedule_data(buyer: Buyer | None) -> dict:
    """The hours section's first values: the stored zone, hours and closures (24/7 if none)."""
    if buyer is None:
        return {"time_zone": "UTC", "hours_mode": ALWAYS, "hours": {d: [] for d in DAYS},
                "closures": []}
    hours = buyer.hours
    return {"time_zone": buyer.time_zone or "UTC",
            "hours_mode": ALWAYS if hours is None else WEEKLY,
            "hours": {d: list((hours or {}).get(d) or []) for d in DAYS},
            "closures": [{"date": c.get("date", ""), "hours": ", ".join(c.get("hours") or [])}
                         for c in buyer.closures or []]}


def caps_data(buyer: Buyer | None) -> dict:
    """The caps added with opening hours, and what they count."""
    if buyer is None:
        return {"cap_counts": capwindows.DIALLED}
    return {"hourly_cap": _num(buyer.hourly_cap), "monthly_cap": _num(buyer.monthly_cap),
            "total_cap": _num(buyer.total_cap),
            "cap_counts": buyer.cap_counts or capwindows.DIALLED}


def health_data(buyer: Buyer | None) -> dict:
    """The health-check fields: the stored settings, or checks off with the default runs."""
    health = health_rules.health_export(buyer) if buyer is not None else \
        health_rules.HEALTH_DEFAULTS
    return {"health_check": health["check"],
            "health_codes": ", ".join(str(c) for c in health["accepted_codes"]),
            "health_down_after": str(health["down_after"]),
            "health_up_after": str(health["up_after"])}


def initial_data(buyer: Buyer | None) -> dict:
    if buyer is None:
        return {"priority": "1", "weight": "1", "timeout": "30", "password_action": KEEP,
                "headers": [], "campaigns": [], **schedule_data(None), **caps_data(None),
                **health_data(None)}
    return {**schedule_data(buyer), **caps_data(buyer), **health_data(buyer),
        "name": buyer.name, "ref": buyer.ref, "number": buyer.number,
        "sip_username": buyer.sip_username or "", "password_action": KEEP,
        "headers": [{"name": h.name, "value": h.value} for h in buyer.headers],
        "priority": _num(buyer.priority), "weight": _num(buyer.weight),
        "timeout": _num(buyer.timeout), "concurrency_cap": _num(buyer.concurrency_cap),
        "daily_cap": _num(buyer.daily_cap), "paused": buyer.paused,
        "campaigns": [str(e.campaign_id) for e in buyer.routing],
    }
