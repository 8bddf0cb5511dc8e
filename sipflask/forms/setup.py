"""Web forms for publishers, campaigns (and their routing lists) and tracking numbers.

A submitted form becomes a record in the import/export JSON shape, ``validation.check_*`` checks
it (the same rules as ``flask import``), uniqueness is checked against the database, and every
error lands on the field it is about (``common.apply_report``); errors whose path names no field
are shown at the top of the form. Nothing is written unless all of it is right, and then
:mod:`sipflask.records` writes it, as it does for an import.
"""
from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField

from sipflask.core import validation
from sipflask.extensions import db
from sipflask.forms.common import (CHOOSE, apply_report, check_ref_field, check_unique, parse_tags,
                                   save_checked, saved, suggest_ref, tags_text, text)
from sipflask.models import Buyer, Campaign, CampaignBuyer, Number, Publisher
from sipflask.records import routing, write

# --- publishers ------------------------------------------------------------------------------

class PublisherForm(FlaskForm):
    name = StringField("Name")
    ref = StringField("Ref")
    afid = StringField("AFID")


def publisher_form(publisher: Publisher | None = None) -> PublisherForm:
    if publisher is None:
        return PublisherForm()
    return PublisherForm(data={"name": publisher.name, "ref": publisher.ref,
                               "afid": publisher.afid})


def save_publisher(form: PublisherForm, publisher: Publisher | None = None) -> Publisher | None:
    """Check and save; returns the saved publisher, or None with the errors on ``form``."""
    if not form.validate_on_submit():
        return None
    rec = {"name": text(form.name.data), "ref": text(form.ref.data).strip(),
           "afid": text(form.afid.data).strip()}
    if publisher is None and not rec["ref"] and rec["name"].strip():
        rec["ref"] = form.ref.data = suggest_ref(Publisher, rec["name"])

    def check() -> validation.Report:
        report = validation.check_publisher(rec)
        check_ref_field(report, rec, creating=publisher is None)
        check_unique(report, Publisher, "ref", rec["ref"], publisher,
                "Ref {value!r} is already used by publisher {other.name!r}.")
        check_unique(report, Publisher, "afid", rec["afid"], publisher,
                "AFID {value!r} already belongs to publisher {other.name!r}.")
        return report

    return save_checked(form, check, publisher, Publisher,
                        lambda row: write.write_publisher(row, rec))


# --- campaigns -------------------------------------------------------------------------------

class CampaignForm(FlaskForm):
    name = StringField("Name")
    ref = StringField("Ref")


class RoutingAddForm(FlaskForm):
    # Choices are checked against the stored buyers below, with a message that says what is wrong.
    buyer = SelectField("Add a buyer", validate_choice=False)


def campaign_form(campaign: Campaign | None = None) -> CampaignForm:
    if campaign is None:
        return CampaignForm()
    return CampaignForm(data={"name": campaign.name, "ref": campaign.ref})


def save_campaign(form: CampaignForm, campaign: Campaign | None = None) -> Campaign | None:
    if not form.validate_on_submit():
        return None
    rec = {"name": text(form.name.data), "ref": text(form.ref.data).strip(),
           "buyers": [e.buyer.ref for e in campaign.routing] if campaign else []}
    if campaign is None and not rec["ref"] and rec["name"].strip():
        rec["ref"] = form.ref.data = suggest_ref(Campaign, rec["name"])

    def check() -> validation.Report:
        report = validation.check_campaign(rec)
        check_ref_field(report, rec, creating=campaign is None)
        check_unique(report, Campaign, "ref", rec["ref"], campaign,
                "Ref {value!r} is already used by campaign {other.name!r}.")
        return report

    return save_checked(form, check, campaign, lambda: Campaign(settings={}),
                        lambda row: write.write_campaign(row, rec))


def routing_form(campaign: Campaign) -> RoutingAddForm:
    form = RoutingAddForm()
    on_list = {e.buyer_id for e in campaign.routing}
    form.buyer.choices = [(CHOOSE, "— choose a buyer —")] + [
        (b.ref, f"{b.name} ({b.ref})")
        for b in db.session.scalars(select(Buyer).order_by(Buyer.name, Buyer.id))
        if b.id not in on_list]
    return form


def add_to_routing(form: RoutingAddForm, campaign: Campaign) -> bool:
    """Append the chosen buyer to the campaign's routing list; False with errors on the form."""
    if not form.validate_on_submit():
        return False
    ref = text(form.buyer.data)
    if not ref:
        form.buyer.errors.append("Choose a buyer to add.")
        return False
    buyer = db.session.scalar(select(Buyer).where(Buyer.ref == ref)) \
        if validation.REF_RE.match(ref) else None
    if buyer is None:
        form.buyer.errors.append("That buyer no longer exists; reload the page.")
        return False
    rec = {"name": campaign.name, "buyers": [e.buyer.ref for e in campaign.routing] + [ref]}
    report = validation.check_campaign(rec)
    if not report.ok:
        apply_report(form, report, aliases={"buyers": "buyer", "name": ""})
        return False
    routing.append(campaign, buyer)
    return saved(form, validation.Report)


def move_in_routing(campaign: Campaign, entry: CampaignBuyer, direction: str) -> None:
    routing.move(campaign, entry, direction)
    db.session.commit()


def remove_from_routing(campaign: Campaign, entry: CampaignBuyer) -> None:
    routing.remove(campaign, entry)
    db.session.commit()


# --- numbers ---------------------------------------------------------------------------------

class NumberForm(FlaskForm):
    number = StringField("Number")
    campaign = SelectField("Campaign", validate_choice=False)
    publisher = SelectField("Publisher", validate_choice=False)
    sub_id = StringField("Sub ID")
    tags = TextAreaField("Tags", render_kw={"rows": 4})


def _number_choices(form: NumberForm) -> tuple[dict, dict]:
    campaigns = {c.ref: c for c in db.session.scalars(select(Campaign).order_by(Campaign.name))}
    publishers = {p.ref: p for p in db.session.scalars(select(Publisher).order_by(Publisher.name))}
    form.campaign.choices = [(CHOOSE, "— choose a campaign —")] + [
        (ref, f"{c.name} ({ref})") for ref, c in campaigns.items()]
    form.publisher.choices = [(CHOOSE, "— no publisher —")] + [
        (ref, f"{p.name} ({ref}, AFID {p.afid})") for ref, p in publishers.items()]
    return campaigns, publishers


def number_form(number: Number | None = None, campaign_ref: str = "") -> NumberForm:
    if number is None:
        form = NumberForm(data={"campaign": campaign_ref})
    else:
        form = NumberForm(data={
            "number": number.number, "campaign": number.campaign.ref,
            "publisher": number.publisher.ref if number.publisher else CHOOSE,
            "sub_id": number.sub_id or "", "tags": tags_text(number.tags)})
    _number_choices(form)
    return form


def save_number(form: NumberForm, number: Number | None = None) -> Number | None:
    campaigns, publishers = _number_choices(form)
    if not form.validate_on_submit():
        return None
    tags, tag_problems = parse_tags(text(form.tags.data))
    rec = {"number": text(form.number.data), "campaign": text(form.campaign.data),
           "publisher": text(form.publisher.data) or None, "sub_id": text(form.sub_id.data),
           "tags": tags}
    e164 = ""

    def check() -> validation.Report:
        nonlocal e164
        report, e164 = validation.check_number(rec, current_app.config.get("DEFAULT_REGION"))
        for problem in tag_problems:
            report.error("tags", problem)
        if rec["campaign"] and rec["campaign"] not in campaigns:
            report.error("campaign", "That campaign no longer exists; choose another.")
        if rec["publisher"] and rec["publisher"] not in publishers:
            report.error("publisher", "That publisher no longer exists; choose another.")
        check_unique(report, Number, "number", e164, number,
                "{value} is already a tracking number of campaign {other.campaign.name!r}.")
        return report

    def write_into(row: Number) -> None:
        write.write_number(row, e164, campaigns[rec["campaign"]],
                           publishers.get(rec["publisher"]) if rec["publisher"] else None,
                           rec["sub_id"], validation.check_tags(validation.Report(), tags))
        form.number.data = e164

    return save_checked(form, check, number, Number, write_into)
