"""Putting a buyer or a campaign back to a version its history kept, through the same checks
and the same writer as the editor and ``flask import``: a version the rules no longer accept
(a ref another buyer took since) is refused with the reason, and the restore is itself recorded,
as action ``restore`` with a note naming the change it came from.

Secrets are never in the history, so they are not restored: the buyer keeps the SIP password it
has now. A buyer's campaigns are not part of its version (they are the campaigns' routing lists);
a campaign's routing list is, and buyers deleted since are left out of it, with a warning.
A version of a record deleted since brings it back as a new record.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from sipflask.callflow import clock
from sipflask.core import buyer_rules, history_diff, validation
from sipflask.extensions import db
from sipflask.history import context, snapshots
from sipflask.history.model import ChangeRecord
from sipflask.models import Buyer, Campaign
from sipflask.records import routing, write

RESTORABLE = ("buyer", "campaign")


@dataclass
class Outcome:
    ok: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    record_id: int | None = None


def can_restore(change: ChangeRecord) -> bool:
    return change.record_type in RESTORABLE and bool(change.snapshot)


def preview(change: ChangeRecord) -> list[dict] | None:
    """What a restore would change on the record as it is now (secrets aside); None when the
    record was deleted since (a restore brings it back)."""
    model = Buyer if change.record_type == "buyer" else Campaign
    row = db.session.get(model, change.record_id) if change.record_id else None
    if row is None:
        return None
    current, _secrets = snapshots.kind_of(row).snapshot(row)
    return [c for c in history_diff.diff(current, change.snapshot)
            if c["field"] != "sip_password"]


def restore(change: ChangeRecord) -> Outcome:
    """Check the version ``change`` kept and write it, with its own history row; commit."""
    if not can_restore(change):
        return Outcome(errors=["Only buyers and campaigns can be restored."])
    if change.record_type == "buyer":
        return _restore_buyer(change)
    return _restore_campaign(change)


def _lines(report: validation.Report) -> list[str]:
    return report.lines()


def _unique_ref(report: validation.Report, model, ref: str, row, what: str) -> None:
    stmt = select(model).where(model.ref == ref)
    if row is not None and row.id is not None:
        stmt = stmt.where(model.id != row.id)
    other = db.session.scalar(stmt.limit(1))
    if other is not None:
        report.error("ref", f"Ref {ref!r} is now used by {what} {other.name!r}: rename that "
                            "one first.")


def _save(change: ChangeRecord, row, writes) -> Outcome:
    note = f"restored from change {change.id}"
    with context.acting(action="restore", note=note):
        ok = write.commit(writes)
    if not ok:
        return Outcome(errors=[write.REFUSED])
    return Outcome(ok=True, record_id=row.id)


def _restore_buyer(change: ChangeRecord) -> Outcome:
    rec = dict(change.snapshot)
    rec["sip_password"] = None  # keep the stored one: history never holds it
    buyer = db.session.get(Buyer, change.record_id) if change.record_id else None
    report, clean = buyer_rules.check_buyer(
        rec, default_region=current_app.config.get("DEFAULT_REGION"), now=clock.now())
    ref = validation.check_ref(report, rec)
    if ref:
        _unique_ref(report, Buyer, ref, buyer, "buyer")
    if clean.get("sip_username") and not (buyer is not None and buyer.has_sip_password):
        report.error("sip_password", f"SIP username {clean['sip_username']!r} needs a password "
                                     "and none is stored (history never keeps passwords): "
                                     "restore, then type the password in the editor.")
    if not report.ok:
        return Outcome(errors=_lines(report))
    if buyer is None:
        buyer = Buyer()
        db.session.add(buyer)
    outcome = _save(change, buyer, lambda: write.write_buyer(buyer, {**clean, "ref": ref}))
    if outcome.ok and change.action == "delete":
        outcome.warnings.append("The buyer is back, on no campaign: add it to routing lists "
                                "on the campaigns' pages.")
    return outcome


def _restore_campaign(change: ChangeRecord) -> Outcome:
    rec = dict(change.snapshot)
    campaign = db.session.get(Campaign, change.record_id) if change.record_id else None
    report = validation.check_campaign(rec)
    ref = validation.check_ref(report, rec)
    if ref:
        _unique_ref(report, Campaign, ref, campaign, "campaign")
    if not report.ok:
        return Outcome(errors=_lines(report))
    refs = [r for r in rec.get("buyers") or []]
    found = {b.ref: b for b in db.session.scalars(select(Buyer).where(Buyer.ref.in_(refs)))}
    missing = [r for r in refs if r not in found]
    if campaign is None:
        campaign = Campaign(settings={})
        db.session.add(campaign)

    def writes():
        write.write_campaign(campaign, {"ref": ref, "name": rec["name"],
                                        "settings": rec.get("settings") or {}})
        routing.replace(campaign, [found[r] for r in refs if r in found])

    outcome = _save(change, campaign, writes)
    if outcome.ok and missing:
        outcome.warnings.append("Left out of the routing list, deleted since: "
                                + ", ".join(missing) + ".")
    return outcome
