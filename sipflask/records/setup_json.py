"""The whole setup (publishers, campaigns, numbers, buyers) as JSON: export, validate, import.

The shape is a contract that users script against; keys are stable. ``ref`` is the user's own
key and makes import idempotent (numbers are keyed by the number itself). Import validates the
whole document with the same rules as the forms before it writes anything, then writes it in
one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import select

from sipflask.core import inbound, validation
from sipflask.extensions import db
from sipflask.models import (
    Buyer,
    BuyerHeader,
    Campaign,
    CampaignBuyer,
    Number,
    Publisher,
)
from sipflask.records import inbound as inbound_settings

SECTIONS = ("publishers", "campaigns", "numbers", "buyers")
# Optional sections: an object each, not a list of records.
EXTRA_SECTIONS = ("inbound",)


class SetupError(Exception):
    def __init__(self, report: validation.Report):
        super().__init__("\n".join(report.lines()))
        self.report = report


@dataclass
class ImportResult:
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SECTIONS, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SECTIONS, 0))
    unchanged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SECTIONS, 0))
    warnings: list[str] = field(default_factory=list)
    inbound: str | None = None  # "created" / "updated" / "unchanged" when the file had it

    def summary(self) -> str:
        parts = []
        for s in SECTIONS:
            parts.append(f"{s}: {self.created[s]} created, {self.updated[s]} updated, "
                         f"{self.unchanged[s]} unchanged")
        if self.inbound:
            parts.append(f"inbound: {self.inbound} (run 'flask --app sipflask inbound sync' "
                         "to apply it at Twilio)" if self.inbound != "unchanged"
                         else "inbound: unchanged")
        return "\n".join(parts)


# --- export -----------------------------------------------------------------------------------

def buyer_record(buyer: Buyer, with_secrets: bool = False) -> dict[str, Any]:
    return {
        "id": buyer.id, "ref": buyer.ref, "name": buyer.name, "number": buyer.number,
        "sip_username": buyer.sip_username or "",
        "sip_password": buyer.sip_password if with_secrets else "",
        "sip_headers": [{"name": h.name, "value": h.value} for h in buyer.headers],
        "priority": buyer.priority, "weight": buyer.weight, "timeout": buyer.timeout,
        "concurrency_cap": buyer.concurrency_cap, "daily_cap": buyer.daily_cap,
        "paused": buyer.paused,
    }


def export_setup(with_secrets: bool = False) -> dict[str, list[dict[str, Any]]]:
    s = db.session
    return {
        "publishers": [{"id": p.id, "ref": p.ref, "name": p.name, "afid": p.afid}
                       for p in s.scalars(select(Publisher).order_by(Publisher.id))],
        "campaigns": [{"id": c.id, "ref": c.ref, "name": c.name,
                       "buyers": [e.buyer.ref for e in c.routing],
                       **({"settings": c.settings} if c.settings else {})}
                      for c in s.scalars(select(Campaign).order_by(Campaign.id))],
        "numbers": [{"id": n.id, "number": n.number, "campaign": n.campaign.ref,
                     "publisher": n.publisher.ref if n.publisher else None,
                     "sub_id": n.sub_id, "tags": n.tags or {}}
                    for n in s.scalars(select(Number).order_by(Number.id))],
        "buyers": [buyer_record(b, with_secrets)
                   for b in s.scalars(select(Buyer).order_by(Buyer.id))],
        # Never the inbound credentials, even --with-secrets: they belong to the partner.
        "inbound": inbound_settings.export_settings(),
    }


# --- validation -------------------------------------------------------------------------------

def _refs(doc, section, key="ref") -> list:
    return [r.get(key) for r in doc.get(section, []) if isinstance(r, dict)]


def validate_setup(doc: Any) -> tuple[validation.Report, dict]:
    """Check the whole document; returns the report and cleaned records per section."""
    report = validation.Report()
    clean: dict[str, list[dict]] = {s: [] for s in SECTIONS}
    if not isinstance(doc, dict):
        report.error("$", "The file must hold a JSON object with publishers, campaigns, "
                          "numbers and buyers.")
        return report, clean
    for key in doc:
        if key not in SECTIONS + EXTRA_SECTIONS:
            report.error(key, f"Unknown section {key!r}; expected "
                              f"{', '.join(SECTIONS + EXTRA_SECTIONS)}.")
    if "inbound" in doc:
        report.merged("inbound", inbound.check_settings(doc["inbound"]))
    for section in SECTIONS:
        if not isinstance(doc.get(section, []), list):
            report.error(section, "Must be a list.")
    if report.errors:
        return report, clean
    region = current_app.config.get("DEFAULT_REGION")
    s = db.session

    pub_refs = {ref for ref in _refs(doc, "publishers") if isinstance(ref, str)}
    pub_refs |= set(s.scalars(select(Publisher.ref)))
    camp_refs = {ref for ref in _refs(doc, "campaigns") if isinstance(ref, str)}
    camp_refs |= set(s.scalars(select(Campaign.ref)))
    buyer_refs = {ref for ref in _refs(doc, "buyers") if isinstance(ref, str)}
    buyer_refs |= set(s.scalars(select(Buyer.ref)))

    # Tag keys on numbers become known token names for buyers' tokens (warning only).
    known_tags = {k for r in doc.get("numbers", []) if isinstance(r, dict)
                  and isinstance(r.get("tags"), dict) for k in r["tags"]}
    known_tags |= {k for tags in s.scalars(select(Number.tags)) for k in (tags or {})}

    def section_records(section):
        for i, rec in enumerate(doc.get(section, [])):
            path = f"{section}[{i}]"
            if not isinstance(rec, dict):
                report.error(path, "Each entry must be an object.")
                continue
            yield i, path, rec

    def unique(section, i, path, key, value, seen):
        if value in seen:
            report.error(f"{path}.{key}", f"{value!r} is used again (first at "
                                          f"{section}[{seen[value]}]).")
        else:
            seen[value] = i

    seen_ref: dict = {}
    seen_afid: dict = {}
    stored_afids = dict(s.execute(select(Publisher.afid, Publisher.ref)).all())
    for i, path, rec in section_records("publishers"):
        sub = validation.check_publisher(rec)
        ref = validation.check_ref(sub, rec)
        report.merged(path, sub)
        if ref:
            unique("publishers", i, path, "ref", ref, seen_ref)
        afid = rec.get("afid")
        if isinstance(afid, str) and afid:
            unique("publishers", i, path, "afid", afid, seen_afid)
            owner = stored_afids.get(afid)
            if owner is not None and owner != ref:
                report.error(f"{path}.afid", f"AFID {afid!r} already belongs to publisher "
                                             f"{owner!r}.")
        if sub.ok:
            clean["publishers"].append({"ref": ref, "name": rec["name"].strip(), "afid": afid})

    seen_ref = {}
    for i, path, rec in section_records("campaigns"):
        sub = validation.check_campaign(rec)
        ref = validation.check_ref(sub, rec)
        if isinstance(rec.get("buyers"), list):
            for j, bref in enumerate(rec["buyers"]):
                if isinstance(bref, str) and bref not in buyer_refs:
                    sub.error(f"buyers[{j}]", f"No buyer with ref {bref!r}.")
        report.merged(path, sub)
        if ref:
            unique("campaigns", i, path, "ref", ref, seen_ref)
        if sub.ok:
            clean["campaigns"].append({"ref": ref, "name": rec["name"].strip(),
                                       "buyers": list(rec.get("buyers", [])),
                                       "settings": rec.get("settings")})

    seen_number: dict = {}
    for i, path, rec in section_records("numbers"):
        sub, e164 = validation.check_number(rec, region)
        camp = rec.get("campaign")
        if isinstance(camp, str) and camp and camp not in camp_refs:
            sub.error("campaign", f"No campaign with ref {camp!r}.")
        pub = rec.get("publisher")
        if isinstance(pub, str) and pub and pub not in pub_refs:
            sub.error("publisher", f"No publisher with ref {pub!r}.")
        report.merged(path, sub)
        if e164:
            unique("numbers", i, path, "number", e164, seen_number)
        if sub.ok:
            clean["numbers"].append({
                "number": e164, "campaign": camp, "publisher": pub or None,
                "sub_id": (rec.get("sub_id") or "").strip() or None,
                "tags": validation.check_tags(validation.Report(), rec.get("tags"))})

    seen_ref = {}
    for i, path, rec in section_records("buyers"):
        sub, cleaned = validation.check_buyer(rec, default_region=region,
                                              known_tokens=known_tags)
        ref = validation.check_ref(sub, rec)
        report.merged(path, sub)
        if ref:
            unique("buyers", i, path, "ref", ref, seen_ref)
        if sub.ok:
            cleaned["ref"] = ref
            clean["buyers"].append(cleaned)
    return report, clean


# --- import -----------------------------------------------------------------------------------

def _assign(obj, values: dict) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _tally(result: ImportResult, section: str, created: bool, changed: bool) -> None:
    bucket = result.created if created else result.updated if changed else result.unchanged
    bucket[section] += 1


def _upsert(model, key_attr, key, values, section, result):
    """Create or update the row whose ``key_attr`` is ``key``; counts it in ``result``."""
    obj = db.session.scalar(select(model).where(getattr(model, key_attr) == key))
    created = obj is None
    if created:
        obj = model(**{key_attr: key})
        db.session.add(obj)
    changed = _assign(obj, values)
    db.session.flush()
    _tally(result, section, created, changed)
    return obj


def import_setup(doc: Any) -> ImportResult:
    """Validate then write ``doc``; raises SetupError, writing nothing, if anything is wrong."""
    report, clean = validate_setup(doc)
    if not report.ok:
        raise SetupError(report)
    result = ImportResult()
    result.warnings = [f"{p}: {m}" for p, ms in report.warnings.items() for m in ms]
    try:
        _write(clean, result)
        if isinstance(doc.get("inbound"), dict):
            result.inbound = inbound_settings.apply_settings(doc["inbound"])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _write(clean: dict, result: ImportResult) -> None:
    s = db.session
    pubs = {}
    for rec in clean["publishers"]:
        obj = _upsert(Publisher, "ref", rec["ref"], {"name": rec["name"], "afid": rec["afid"]},
                      "publishers", result)
        pubs[obj.ref] = obj

    buyers = {}
    for rec in clean["buyers"]:
        obj = s.scalar(select(Buyer).where(Buyer.ref == rec["ref"]))
        created = obj is None
        if created:
            obj = Buyer(ref=rec["ref"])
            s.add(obj)
        changed = _assign(obj, {k: rec[k] for k in (
            "name", "number", "sip_username", "priority", "weight", "timeout",
            "concurrency_cap", "daily_cap", "paused")})
        # An export without --with-secrets has empty passwords: importing it back must not
        # wipe the stored ones. No username means no auth, so the password goes too.
        if not rec["sip_username"]:
            if obj.sip_password_encrypted:
                obj.sip_password_encrypted = ""
                changed = True
        elif rec["sip_password"] and (created or obj.sip_password != rec["sip_password"]):
            obj.sip_password = rec["sip_password"]
            changed = True
        wanted = list(rec["sip_headers"])
        if [(h.name, h.value) for h in obj.headers] != wanted:
            obj.headers = [BuyerHeader(position=i, name=n, value=v)
                           for i, (n, v) in enumerate(wanted)]
            changed = True
        s.flush()
        _tally(result, "buyers", created, changed)
        buyers[obj.ref] = obj

    camps = {}
    for rec in clean["campaigns"]:
        obj = s.scalar(select(Campaign).where(Campaign.ref == rec["ref"]))
        created = obj is None
        if created:
            obj = Campaign(ref=rec["ref"], settings={})
            s.add(obj)
        values = {"name": rec["name"]}
        if rec.get("settings") is not None:
            values["settings"] = rec["settings"]
        changed = _assign(obj, values)
        wanted = rec["buyers"]
        if [e.buyer.ref for e in obj.routing] != wanted:
            obj.routing.clear()
            s.flush()
            for pos, bref in enumerate(wanted):
                buyer = buyers.get(bref) or s.scalar(select(Buyer).where(Buyer.ref == bref))
                obj.routing.append(CampaignBuyer(buyer=buyer, position=pos))
            changed = True
        s.flush()
        _tally(result, "campaigns", created, changed)
        camps[obj.ref] = obj

    for rec in clean["numbers"]:
        camp = camps.get(rec["campaign"]) or s.scalar(
            select(Campaign).where(Campaign.ref == rec["campaign"]))
        pub = None
        if rec["publisher"]:
            pub = pubs.get(rec["publisher"]) or s.scalar(
                select(Publisher).where(Publisher.ref == rec["publisher"]))
        _upsert(Number, "number", rec["number"], {
            "campaign_id": camp.id, "publisher_id": pub.id if pub else None,
            "sub_id": rec["sub_id"], "tags": rec["tags"]}, "numbers", result)
