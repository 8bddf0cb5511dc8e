"""The forms of the Twilio numbers pages (blueprints/twilio_numbers.py): where chosen numbers go
(campaign, publisher, sub ID), the search for numbers to buy, and the search's results carried
in the buy form so that a refused or partly failed purchase shows them again without asking
Twilio a second time.

The checks themselves are the records' and the core's (``records/twilio_report.check_target``,
``core/number_search.check_search``): this module only puts their messages on the fields.
"""
from __future__ import annotations

import json
import re

from flask import current_app
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired

from sipflask.core import number_search
from sipflask.extensions import db
from sipflask.forms.common import CHOOSE, text
from sipflask.models import Campaign, Publisher
from sipflask.twilio_rest.numbers import CAPABILITIES, AvailableNumber

__all__ = ["TargetForm", "SearchForm", "ReleaseForm", "target_form", "search_form", "searched",
           "apply_fields", "chosen_numbers", "offers_from", "offer_value", "MAX_CHOSEN"]

# The most numbers one submit imports or buys: each is a request to Twilio (up to 20 s when
# Twilio is slow), and a page must answer while its visitor still waits.
MAX_CHOSEN = 100
SEARCH_FIELDS = ("country", "type", "area_code", "contains", "region", "locality",
                 "near_number", "limit")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
TYPE_CHOICES = [("local", "Local"), ("toll-free", "Toll-free"), ("mobile", "Mobile")]


class TargetForm(FlaskForm):
    """Where the chosen numbers go; the numbers themselves are the ``number`` checkboxes."""

    campaign = SelectField("Campaign", validate_choice=False)
    publisher = SelectField("Publisher", validate_choice=False)
    sub_id = StringField("Sub ID")


class SearchForm(FlaskForm):
    """A search for numbers for sale: a GET form (nothing changes), so no CSRF token."""

    class Meta:
        csrf = False

    country = StringField("Country")
    type = SelectField("Type", validate_choice=False)
    area_code = StringField("Area code")
    contains = StringField("Contains")
    region = StringField("Region")
    locality = StringField("Locality")
    near_number = StringField("Near number")
    limit = StringField("Show at most")


def target_form(formdata=None) -> TargetForm:
    form = TargetForm(formdata=formdata) if formdata is not None else TargetForm()
    form.campaign.choices = [(CHOOSE, "— choose a campaign —")] + [
        (c.ref, f"{c.name} ({c.ref})")
        for c in db.session.scalars(select(Campaign).order_by(Campaign.name))]
    form.publisher.choices = [(CHOOSE, "— no publisher —")] + [
        (p.ref, f"{p.name} ({p.ref}, AFID {p.afid})")
        for p in db.session.scalars(select(Publisher).order_by(Publisher.name))]
    return form


def search_form(formdata) -> SearchForm:
    """The search as typed (``formdata``: the query string, or the buy form's hidden copy)."""
    form = SearchForm(formdata=formdata)
    form.type.choices = list(TYPE_CHOICES)  # per instance: wtforms warns about tuples in the class
    if not form.country.data:
        form.country.data = current_app.config.get("DEFAULT_REGION") or "US"
    if not form.limit.data:
        form.limit.data = str(number_search.DEFAULT_LIMIT)
    return form


def searched(form: SearchForm) -> dict[str, str]:
    """The search's values, for ``twilio_rest.numbers.search_available``."""
    return {name: text(getattr(form, name).data) for name in SEARCH_FIELDS}


def apply_fields(form: FlaskForm, fields: dict[str, str]) -> list[str]:
    """Put each message of ``fields`` (field -> problem) on its field; returns those that name
    no field of ``form`` (the chosen numbers: shown above the list)."""
    rest = []
    for name, message in fields.items():
        fld = form._fields.get(name)
        if fld is not None and name != "csrf_token":
            fld.errors = list(fld.errors) + [message]
        else:
            rest.append(message)
    return rest


def chosen_numbers(values: list[str]) -> tuple[list[str], str]:
    """The ticked numbers, and the problem with them ("" when none)."""
    chosen = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if not chosen:
        return [], "Tick at least one number."
    if len(chosen) > MAX_CHOSEN:
        return chosen, (f"{len(chosen)} numbers ticked: at most {MAX_CHOSEN} at a time (each "
                        "is one request to Twilio).")
    return chosen, ""


# --- search results carried in the buy form ------------------------------------------------------

def offer_value(offer: AvailableNumber) -> str:
    """One search result as a hidden field's value."""
    caps = ",".join(k for k in CAPABILITIES if offer.capabilities.get(k))
    return json.dumps([offer.phone_number, offer.friendly_name, offer.locality, offer.region,
                       offer.iso_country, caps, offer.address_requirements])


def _offer(raw: str) -> AvailableNumber | None:
    try:
        values = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not (isinstance(values, list) and len(values) == 7
            and all(isinstance(v, str) and len(v) <= 100 for v in values)
            and _E164.fullmatch(values[0])):
        return None
    number, friendly, locality, region, country, caps, address = values
    return AvailableNumber(number, friendly, locality, region, country,
                           {k: k in caps.split(",") for k in CAPABILITIES}, address)


def offers_from(values: list[str]) -> list[AvailableNumber]:
    """The search results the buy form carried (what it shows only: the purchase itself uses
    the ticked numbers); anything malformed is dropped."""
    found: dict[str, AvailableNumber] = {}
    for raw in values[:number_search.MAX_LIMIT]:
        offer = _offer(raw)
        if offer is not None and offer.phone_number not in found:
            found[offer.phone_number] = offer
    return list(found.values())


class ReleaseForm(FlaskForm):
    """Releasing a number can't be undone (Twilio may give it to someone else): the box must
    be ticked, which works without JavaScript, unlike a confirm() dialog."""

    confirm = BooleanField("Yes, release this number", validators=[DataRequired(
        message="Tick the box to confirm: the number leaves the Twilio account for good.")])
