"""Web forms for publishers, campaigns and numbers, and the glue to the shared rules.

A submitted form becomes a record in the import/export JSON shape, ``validation.check_*`` checks
it (the same rules as ``flask import``), uniqueness is checked against the database, and every
error lands on the field it is about (``apply_report``); errors whose path names no field are
shown at the top of the form. Nothing is written unless all of it is right.

Also here: the few helpers the list pages share (search text, pagination, ids, safe "back" URLs).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable
from urllib.parse import urlsplit

from flask import abort, current_app, request
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectField, StringField, TextAreaField

from sipflask.core import validation
from sipflask.extensions import db
from sipflask.models import Buyer, Campaign, CampaignBuyer, Number, Publisher

MAX_ID = 2**31 - 1  # PostgreSQL INTEGER: a larger id in a URL is simply "not found"
MAX_PAGE = 100_000
MAX_QUERY = 100

CHOOSE = ""  # value of the "choose one" / "none" option of a select


# --- list helpers ---------------------------------------------------------------------------

def get_or_404(model, ident: int):
    if ident > MAX_ID:
        abort(404)
    return db.get_or_404(model, ident)


def search_text() -> str:
    """The ``q`` argument, trimmed, without control characters (PostgreSQL refuses NUL)."""
    q = request.args.get("q", "", type=str)
    return validation.CONTROL_RE.sub("", q).strip()[:MAX_QUERY]


def like(q: str) -> str:
    """A LIKE pattern matching ``q`` anywhere, with ``%``/``_`` taken literally (escape ``\\``)."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def number_counts(column, ids) -> dict[int, int]:
    """How many tracking numbers each of ``ids`` has, by ``column`` (``Number.campaign_id``,
    ``Number.publisher_id``): one GROUP BY for a whole list page."""
    if not ids:
        return {}
    return dict(db.session.execute(select(column, func.count(Number.id))
                                   .where(column.in_(ids)).group_by(column)).all())


def paginate(stmt):
    page = request.args.get("page", 1, type=int)
    page = min(max(page, 1), MAX_PAGE)
    return db.paginate(stmt, page=page, per_page=current_app.config["PER_PAGE"],
                       error_out=False, count=True)


def safe_back(default: str) -> str:
    """The ``next`` form value if it is a path on this site, else ``default``."""
    target = request.form.get("next") or request.args.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme \
            and not parts.netloc and "\\" not in target:
        return target
    return default


def list_url() -> str:
    """Where a plain (non-htmx) POST from a list row sends the user back to."""
    return request.full_path.rstrip("?")


# --- report -> form --------------------------------------------------------------------------

def apply_report(form: FlaskForm, report: validation.Report,
                 aliases: dict[str, str] | None = None) -> None:
    """Put each error of ``report`` on the form field its path starts with.

    ``sip_headers[2].name`` goes to field ``sip_headers``; ``aliases`` maps a path head to a
    differently named field. Paths naming no field are kept, with their path, in
    ``form.form_errors`` and shown at the top of the form.
    """
    aliases = aliases or {}
    for path, messages in report.errors.items():
        head = re.split(r"[.\[]", path, maxsplit=1)[0]
        name = aliases.get(head, head)
        fld = form._fields.get(name) if name and name != "csrf_token" else None
        if fld is not None:
            fld.errors = list(fld.errors) + list(messages)
        else:
            form.form_errors.extend(f"{path}: {m}" if path else m for m in messages)


def check_unique(report: validation.Report, model, attr: str, value, current, message: str) -> None:
    """Report ``message`` on ``attr`` if another row of ``model`` already holds ``value``."""
    if not value or report.errors.get(attr):
        return
    stmt = select(model).where(getattr(model, attr) == value)
    if current is not None and current.id is not None:
        stmt = stmt.where(model.id != current.id)
    other = db.session.scalar(stmt.limit(1))
    if other is not None:
        report.error(attr, message.format(value=value, other=other))


def _commit(form: FlaskForm, recheck: Callable[[], validation.Report]) -> bool:
    """Commit; if the database refuses (someone saved the same ref a moment ago), roll back and
    explain on the form instead of failing."""
    try:
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
        report = recheck()
        if report.errors:
            apply_report(form, report)
        else:
            form.form_errors.append("Not saved: the database refused the change (it was probably "
                                    "changed at the same time). Check the values and save again.")
        return False


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def slugify(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:48].strip("-")


def suggest_ref(model, name: str) -> str:
    """A free ref made from ``name`` (``Acme Media`` -> ``acme-media``, then ``acme-media-2``)."""
    base = slugify(name)
    if not base:
        return ""
    taken = set(db.session.scalars(select(model.ref).where(model.ref.like(base + "%"))))
    ref, n = base, 2
    while ref in taken:
        ref, n = f"{base}-{n}", n + 1
    return ref


def check_ref_field(report: validation.Report, rec: dict, creating: bool) -> None:
    # Left empty on create with no name to make it from: "Name is required" says what to do.
    if creating and not rec["ref"] and report.errors.get("name"):
        return
    validation.check_ref(report, rec)


REF_HINT = "Your own short key, used by import/export. Left empty, it is made from the name."


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
    rec = {"name": _text(form.name.data), "ref": _text(form.ref.data).strip(),
           "afid": _text(form.afid.data).strip()}
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

    report = check()
    if not report.ok:
        apply_report(form, report)
        return None
    if publisher is None:
        publisher = Publisher()
        db.session.add(publisher)
    publisher.name = rec["name"].strip()
    publisher.ref = rec["ref"]
    publisher.afid = rec["afid"]
    return publisher if _commit(form, check) else None


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
    rec = {"name": _text(form.name.data), "ref": _text(form.ref.data).strip(),
           "buyers": [e.buyer.ref for e in campaign.routing] if campaign else []}
    if campaign is None and not rec["ref"] and rec["name"].strip():
        rec["ref"] = form.ref.data = suggest_ref(Campaign, rec["name"])

    def check() -> validation.Report:
        report = validation.check_campaign(rec)
        check_ref_field(report, rec, creating=campaign is None)
        check_unique(report, Campaign, "ref", rec["ref"], campaign,
                "Ref {value!r} is already used by campaign {other.name!r}.")
        return report

    report = check()
    if not report.ok:
        apply_report(form, report)
        return None
    if campaign is None:
        campaign = Campaign(settings={})
        db.session.add(campaign)
    campaign.name = rec["name"].strip()
    campaign.ref = rec["ref"]
    return campaign if _commit(form, check) else None


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
    ref = _text(form.buyer.data)
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
    campaign.routing.append(CampaignBuyer(buyer=buyer, position=len(campaign.routing)))
    return _commit(form, validation.Report)


def _renumber(entries: list[CampaignBuyer]) -> None:
    for i, entry in enumerate(entries):
        entry.position = i


def move_in_routing(campaign: Campaign, entry: CampaignBuyer, direction: str) -> None:
    entries = list(campaign.routing)
    i = entries.index(entry)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(entries):
        entries[i], entries[j] = entries[j], entries[i]
    _renumber(entries)
    db.session.commit()


def remove_from_routing(campaign: Campaign, entry: CampaignBuyer) -> None:
    campaign.routing.remove(entry)
    _renumber(campaign.routing)
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


def tags_text(tags: dict | None) -> str:
    return "\n".join(f"{k}={v}" for k, v in (tags or {}).items())


def parse_tags(text: str) -> tuple[dict, list[str]]:
    """``key=value`` lines into a dict; returns it and a message per line that isn't one."""
    tags: dict[str, str] = {}
    problems: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            problems.append(f"Line {n} ({line.strip()[:40]!r}) is not key=value.")
        elif key in tags:
            problems.append(f"Line {n}: tag {key!r} is set twice.")
        else:
            tags[key] = value
    return tags, problems


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
    tags, tag_problems = parse_tags(_text(form.tags.data))
    rec = {"number": _text(form.number.data), "campaign": _text(form.campaign.data),
           "publisher": _text(form.publisher.data) or None, "sub_id": _text(form.sub_id.data),
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

    report = check()
    if not report.ok:
        apply_report(form, report)
        return None
    if number is None:
        number = Number()
        db.session.add(number)
    number.number = e164
    number.campaign = campaigns[rec["campaign"]]
    number.publisher = publishers.get(rec["publisher"]) if rec["publisher"] else None
    number.sub_id = rec["sub_id"].strip() or None
    number.tags = validation.check_tags(validation.Report(), tags)
    form.number.data = e164
    return number if _commit(form, check) else None
