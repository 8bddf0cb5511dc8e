"""The whole setup (publishers, campaigns, numbers, buyers, webhooks) as JSON: export, validate,
import.

The shape is a contract that users script against; keys are stable. ``ref`` is the user's own
key and makes import idempotent (numbers are keyed by the number itself). Import checks the
whole document (:mod:`sipflask.records.setup_check`) before it writes anything, then writes it in
one transaction, through the same writers as the forms (:mod:`sipflask.records.write`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError

from sipflask import history
from sipflask.core import health_rules, validation
from sipflask.extensions import db
from sipflask.models import Buyer, Campaign, Number, Publisher
from sipflask.records import inbound as inbound_settings
from sipflask.records import routing, write
from sipflask.records import webhooks as webhook_records
from sipflask.records.setup_check import SECTIONS, validate_setup
from sipflask.webhooks.model import Webhook


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
    # keep_existing imports (``flask demo``): the keys of records left as they were stored.
    kept: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SECTIONS})

    def summary(self) -> str:
        parts = []
        for s in SECTIONS:
            line = (f"{s}: {self.created[s]} created, {self.updated[s]} updated, "
                    f"{self.unchanged[s]} unchanged")
            if self.kept[s]:
                line += (f"; kept {len(self.kept[s])} existing {s} as they are: "
                         f"{', '.join(self.kept[s])}")
            parts.append(line)
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
        "hourly_cap": buyer.hourly_cap, "monthly_cap": buyer.monthly_cap,
        "total_cap": buyer.total_cap, "cap_counts": buyer.cap_counts or "dialled",
        "time_zone": buyer.time_zone or "UTC", "hours": buyer.hours,
        "closures": list(buyer.closures or []), "health": health_rules.health_export(buyer),
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
        # Secret header values and signing secrets only --with-secrets, like SIP passwords.
        "webhooks": webhook_records.export_webhooks(with_secrets),
        # Never the inbound credentials, even --with-secrets: they belong to the partner.
        "inbound": inbound_settings.export_settings(),
    }


# --- import -----------------------------------------------------------------------------------

def _tally(result: ImportResult, section: str, created: bool, changed: bool) -> None:
    bucket = result.created if created else result.updated if changed else result.unchanged
    bucket[section] += 1


def _find(model, key_attr: str, key, **new):
    """The row whose ``key_attr`` is ``key``, or a new one added to the session; and whether it
    is new."""
    obj = db.session.scalar(select(model).where(getattr(model, key_attr) == key))
    if obj is not None:
        return obj, False
    obj = model(**{key_attr: key}, **new)
    db.session.add(obj)
    return obj, True


# Each section's key in the document and on the row: what "already exists" means.
_KEYS = {"publishers": (Publisher, "ref"), "campaigns": (Campaign, "ref"),
         "numbers": (Number, "number"), "buyers": (Buyer, "ref"), "webhooks": (Webhook, "ref")}


def _without_existing(doc: Any) -> tuple[Any, dict[str, list[str]]]:
    """``doc`` minus the records whose key is already stored, and those keys per section.

    Keys are compared as written: the demo file spells its numbers in E.164, as they are stored.
    """
    kept: dict[str, list[str]] = {s: [] for s in SECTIONS}
    if not isinstance(doc, dict):
        return doc, kept
    out = dict(doc)
    for section, (model, attr) in _KEYS.items():
        records = doc.get(section)
        if not isinstance(records, list):
            continue
        stored = set(db.session.scalars(select(getattr(model, attr))))
        out[section] = []
        for rec in records:
            key = rec.get(attr) if isinstance(rec, dict) else None
            if isinstance(key, str) and key in stored:
                kept[section].append(key)
            else:
                out[section].append(rec)
    return out, kept


def import_setup(doc: Any, *, keep_existing: bool = False) -> ImportResult:
    """Validate then write ``doc``; raises SetupError, writing nothing, if anything is wrong.

    ``keep_existing`` (``flask demo``) only creates what is missing: a record whose key is
    stored is left exactly as the user last saved it, and listed in ``ImportResult.kept``.
    """
    kept: dict[str, list[str]] = {s: [] for s in SECTIONS}
    if isinstance(doc, dict) and "history" in doc:
        # What ``export --history`` adds for audits: a record of the past, nothing to import.
        doc = {k: v for k, v in doc.items() if k != "history"}
    if keep_existing:
        doc, kept = _without_existing(doc)
    report, clean = validate_setup(doc)
    if not report.ok:
        raise SetupError(report)
    result = ImportResult(kept=kept)
    result.warnings = [f"{p}: {m}" for p, ms in report.warnings.items() for m in ms]
    try:
        with history.acting(source=history.IMPORT):
            _write(clean, result)
            if isinstance(doc.get("inbound"), dict):
                result.inbound = inbound_settings.apply_settings(doc["inbound"])
            db.session.commit()
    except (DataError, IntegrityError) as exc:
        # Checked above, so only a value stored meanwhile by someone else (a ref taken by a
        # form save during the import) gets here: say so rather than show a traceback.
        db.session.rollback()
        refused = validation.Report()
        refused.error("$", "the database refused the write, so nothing was imported (was the "
                           f"setup changed at the same time?): {str(exc.orig).strip()[:300]}")
        raise SetupError(refused) from None
    except Exception:
        db.session.rollback()
        raise
    return result


def _write(clean: dict, result: ImportResult) -> None:
    # Buyers before campaigns (routing lists name them), campaigns before numbers.
    pubs = {}
    for rec in clean["publishers"]:
        obj, created = _find(Publisher, "ref", rec["ref"])
        _tally(result, "publishers", created, write.write_publisher(obj, rec))
        pubs[obj.ref] = obj
    buyers = {}
    for rec in clean["buyers"]:
        obj, created = _find(Buyer, "ref", rec["ref"])
        changed = write.write_buyer(obj, rec)
        db.session.flush()
        _tally(result, "buyers", created, changed)
        buyers[obj.ref] = obj
    camps = {}
    for rec in clean["campaigns"]:
        obj, created = _find(Campaign, "ref", rec["ref"], settings={})
        changed = write.write_campaign(obj, rec)
        wanted = [buyers.get(ref) or _stored(Buyer, ref) for ref in rec["buyers"]]
        changed = routing.replace(obj, wanted) or changed
        db.session.flush()
        _tally(result, "campaigns", created, changed)
        camps[obj.ref] = obj
    for rec in clean["numbers"]:
        # Campaign and publisher first: looking them up flushes the session, and a new number
        # added before it would be flushed without its campaign.
        campaign = camps.get(rec["campaign"]) or _stored(Campaign, rec["campaign"])
        publisher = pubs.get(rec["publisher"]) or _stored(Publisher, rec["publisher"]) \
            if rec["publisher"] else None
        obj, created = _find(Number, "number", rec["number"])
        changed = write.write_number(obj, rec["number"], campaign, publisher, rec["sub_id"],
                                     rec["tags"])
        db.session.flush()
        _tally(result, "numbers", created, changed)
    for rec in clean["webhooks"]:  # last: their filters name any of the above
        obj, created = _find(Webhook, "ref", rec["ref"])
        changed = webhook_records.write_webhook(obj, rec)
        db.session.flush()
        _tally(result, "webhooks", created, changed)


def _stored(model, ref: str):
    return db.session.scalar(select(model).where(model.ref == ref))
