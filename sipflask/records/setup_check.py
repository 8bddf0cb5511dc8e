"""Checking a whole setup document before ``flask import`` writes any of it.

Each record goes through the same ``validation.check_*`` as the web forms; on top of that the
document is checked as a whole: refs and AFIDs unique within it and against what is stored,
references (a number's campaign, a campaign's buyers) pointing at something that exists either
in the file or in the database. Returns the report and the cleaned records, per section.

A buyer's time zone, hours and closures and its caps (checked by ``check_buyer``) are all
optional: absent, the buyer is on UTC, open 24/7, with no caps, counting
dialled attempts. A closure dated before the buyer's own today is a warning, not an error. Its
``health`` object (health checks, ``core/health_rules.py``) is optional too: absent, checks are off.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator

from flask import current_app
from sqlalchemy import select

from sipflask.core import buyer_rules, inbound, jsondoc, validation, webhook_rules
from sipflask.extensions import db
from sipflask.models import Buyer, Campaign, Number, Publisher
from sipflask.records import webhooks as webhook_records
from sipflask.webhooks.model import Webhook

SECTIONS = ("publishers", "campaigns", "numbers", "buyers", "webhooks")
# Optional sections: an object each, not a list of records.
EXTRA_SECTIONS = ("inbound",)
# The keys each record may have: what export writes (``id`` is written and ignored). Tags and a
# campaign's settings are free-form objects; their keys are not checked here.
RECORD_KEYS = {
    "publishers": ("id", "ref", "name", "afid"),
    "campaigns": ("id", "ref", "name", "buyers", "settings"),
    "numbers": ("id", "number", "campaign", "publisher", "sub_id", "tags"),
    "buyers": ("id", "ref", "name", "number", "sip_username", "sip_password", "sip_headers",
               "priority", "weight", "timeout", "concurrency_cap", "daily_cap", "paused",
               "hourly_cap", "monthly_cap", "total_cap", "cap_counts",
               "time_zone", "hours", "closures", "health"),
    "webhooks": webhook_rules.RECORD_KEYS,
}
HEADER_KEYS = ("name", "value")


def _refs(doc, section, key="ref") -> set:
    return {r.get(key) for r in doc.get(section, [])
            if isinstance(r, dict) and isinstance(r.get(key), str)}


@dataclass
class _Check:
    """One document being checked: its report, the cleaned records so far, the refs known."""

    doc: dict
    report: validation.Report = field(default_factory=validation.Report)
    clean: dict[str, list[dict]] = field(default_factory=lambda: {s: [] for s in SECTIONS})

    def __post_init__(self):
        s = db.session
        self.region = current_app.config.get("DEFAULT_REGION")
        self.now = datetime.now(timezone.utc)  # the buyers' own today, for past closures
        self.pub_refs = _refs(self.doc, "publishers") | set(s.scalars(select(Publisher.ref)))
        self.camp_refs = _refs(self.doc, "campaigns") | set(s.scalars(select(Campaign.ref)))
        self.buyer_refs = _refs(self.doc, "buyers") | set(s.scalars(select(Buyer.ref)))
        # Refs of stored buyers that have a SIP password (an empty one in the file keeps it).
        self.stored_passwords = set(s.scalars(
            select(Buyer.ref).where(Buyer.sip_password_encrypted != "")))
        # Tag keys on numbers become known token names for buyers' tokens (warning only).
        self.known_tags = {k for r in self.doc.get("numbers", []) if isinstance(r, dict)
                           and isinstance(r.get("tags"), dict) for k in r["tags"]}
        self.known_tags |= {k for tags in s.scalars(select(Number.tags)) for k in (tags or {})}

    def records(self, section) -> Iterator[tuple[int, str, dict]]:
        for i, rec in enumerate(self.doc.get(section, [])):
            path = f"{section}[{i}]"
            if not isinstance(rec, dict):
                self.report.error(path, "Each entry must be an object.")
                continue
            validation.check_keys(self.report, rec, RECORD_KEYS[section], path)
            yield i, path, rec

    def unique(self, section, i, path, key, value, seen: dict) -> None:
        if value in seen:
            self.report.error(f"{path}.{key}", f"{value!r} is used again (first at "
                                               f"{section}[{seen[value]}]).")
        else:
            seen[value] = i


def validate_setup(doc: Any) -> tuple[validation.Report, dict]:
    """Check the whole document; returns the report and cleaned records per section.

    Values no column can hold (NUL, lone surrogates, NaN) or nesting past the limit stop the
    check before any record is read: each is listed with its path, and nothing else."""
    unstorable = jsondoc.problems(doc)
    if unstorable:
        report = validation.Report()
        for path, message in unstorable:
            report.error(path, message)
        return report, {s: [] for s in SECTIONS}
    shape = _check_shape(doc)
    # Records are still checked after an unknown section or a bad inbound section, so every
    # error is listed at once; only a document that has no lists of records stops here.
    if not isinstance(doc, dict) or any(not isinstance(doc.get(s, []), list) for s in SECTIONS):
        return shape, {s: [] for s in SECTIONS}
    check = _Check(doc, report=shape)
    _check_publishers(check)
    _check_campaigns(check)
    _check_numbers(check)
    _check_buyers(check)
    _check_webhooks(check)
    return check.report, check.clean


def _check_shape(doc: Any) -> validation.Report:
    report = validation.Report()
    if not isinstance(doc, dict):
        report.error("$", "The file must hold a JSON object with publishers, campaigns, "
                          "numbers, buyers and webhooks.")
        return report
    validation.check_keys(report, doc, SECTIONS + EXTRA_SECTIONS, what="section")
    if "inbound" in doc:
        report.merged("inbound", inbound.check_settings(doc["inbound"]))
    for section in SECTIONS:
        if not isinstance(doc.get(section, []), list):
            report.error(section, "Must be a list.")
    return report


def _check_publishers(check: _Check) -> None:
    seen_ref: dict = {}
    seen_afid: dict = {}
    stored_afids = dict(db.session.execute(select(Publisher.afid, Publisher.ref)).all())
    for i, path, rec in check.records("publishers"):
        sub = validation.check_publisher(rec)
        ref = validation.check_ref(sub, rec)
        check.report.merged(path, sub)
        if ref:
            check.unique("publishers", i, path, "ref", ref, seen_ref)
        afid = rec.get("afid")
        if isinstance(afid, str) and afid:
            check.unique("publishers", i, path, "afid", afid, seen_afid)
            owner = stored_afids.get(afid)
            if owner is not None and owner != ref:
                check.report.error(f"{path}.afid", f"AFID {afid!r} already belongs to "
                                                   f"publisher {owner!r}.")
        if sub.ok:
            check.clean["publishers"].append({"ref": ref, "name": rec["name"].strip(),
                                              "afid": afid})


def _check_campaigns(check: _Check) -> None:
    seen_ref: dict = {}
    for i, path, rec in check.records("campaigns"):
        sub = validation.check_campaign(rec)
        ref = validation.check_ref(sub, rec)
        if isinstance(rec.get("buyers"), list):
            for j, bref in enumerate(rec["buyers"]):
                if isinstance(bref, str) and bref not in check.buyer_refs:
                    sub.error(f"buyers[{j}]", f"No buyer with ref {bref!r}.")
        check.report.merged(path, sub)
        if ref:
            check.unique("campaigns", i, path, "ref", ref, seen_ref)
        if sub.ok:
            check.clean["campaigns"].append({"ref": ref, "name": rec["name"].strip(),
                                             "buyers": list(rec.get("buyers", [])),
                                             "settings": rec.get("settings")})


def _check_numbers(check: _Check) -> None:
    seen_number: dict = {}
    for i, path, rec in check.records("numbers"):
        sub, e164 = validation.check_number(rec, check.region)
        camp = rec.get("campaign")
        if isinstance(camp, str) and camp and camp not in check.camp_refs:
            sub.error("campaign", f"No campaign with ref {camp!r}.")
        pub = rec.get("publisher")
        if isinstance(pub, str) and pub and pub not in check.pub_refs:
            sub.error("publisher", f"No publisher with ref {pub!r}.")
        check.report.merged(path, sub)
        if e164:
            check.unique("numbers", i, path, "number", e164, seen_number)
        if sub.ok:
            check.clean["numbers"].append({
                "number": e164, "campaign": camp, "publisher": pub or None,
                "sub_id": rec.get("sub_id") or None,
                "tags": validation.check_tags(validation.Report(), rec.get("tags"))})


def _check_buyers(check: _Check) -> None:
    seen_ref: dict = {}
    for i, path, rec in check.records("buyers"):
        sub, cleaned = buyer_rules.check_buyer(rec, default_region=check.region,
                                              known_tokens=check.known_tags, now=check.now)
        ref = validation.check_ref(sub, rec)
        if isinstance(rec.get("sip_headers"), list):
            for j, row in enumerate(rec["sip_headers"]):
                if isinstance(row, dict):
                    validation.check_keys(sub, row, HEADER_KEYS, f"sip_headers[{j}]")
        _check_credentials(sub, rec, cleaned, check.stored_passwords)
        check.report.merged(path, sub)
        if ref:
            check.unique("buyers", i, path, "ref", ref, seen_ref)
        if sub.ok:
            cleaned["ref"] = ref
            check.clean["buyers"].append(cleaned)


def _check_credentials(sub: validation.Report, rec: dict, cleaned: dict,
                       stored_passwords: set) -> None:
    """A username needs a password, in the file or stored: without one every call to the buyer
    goes out without credentials and fails with 401/403 (an export made without secrets)."""
    if not cleaned.get("sip_username") or cleaned.get("sip_password"):
        return
    if rec.get("ref") in stored_passwords:
        return
    sub.error("sip_password", f"SIP username {cleaned['sip_username']!r} has no password, here "
                              "or stored, so calls would fail authentication (401/403). Export "
                              "with 'flask --app sipflask export --with-secrets', or set "
                              "sip_password in the file.")


def _check_webhooks(check: _Check) -> None:
    """Each webhook as the editor checks it; its filters may name records of the file."""
    seen_ref: dict = {}
    known = {"campaign": check.camp_refs, "publisher": check.pub_refs,
             "buyer": check.buyer_refs}
    for i, path, rec in check.records("webhooks"):
        sub, clean = webhook_rules.check_webhook(rec, known_tokens=check.known_tags)
        for key, refs in known.items():
            ref = clean["filters"].get(key)
            if ref is not None and ref not in refs:
                sub.error(f"filters.{key}", f"No {key} with ref {ref!r}.")
        stored = db.session.scalar(select(Webhook).where(Webhook.ref == clean["ref"])) \
            if clean["ref"] else None
        webhook_records.check_secrets(sub, clean, stored)
        check.report.merged(path, sub)
        if clean["ref"]:
            check.unique("webhooks", i, path, "ref", clean["ref"], seen_ref)
        if sub.ok:
            check.clean["webhooks"].append(clean)
