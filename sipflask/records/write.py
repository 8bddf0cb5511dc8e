"""The one writer of checked setup records: what a form, the buyer editor and ``flask import``
store, once a ``validation.check_*`` report came back clean.

Callers pass cleaned values (the shape ``check_*`` returns) and commit themselves; each writer
returns whether it changed anything, which the import counts as "updated" or "unchanged".
Each writer tracks the row for the change history (:mod:`sipflask.history`) before touching it,
so the commit that stores the change also stores who made it and what changed.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sipflask.core import capwindows
from sipflask.extensions import db
from sipflask import history
from sipflask.models import Buyer, BuyerHeader, Campaign, Number, Publisher
from sipflask.siphealth import state
from sipflask.webhooks.model import Webhook

# Shown when the database refuses a write the checks allowed: a unique value taken between the
# check and the commit, by another request.
REFUSED = ("Not saved: the database refused the change (it was probably changed at the same "
           "time). Check the values and save again.")

BUYER_FIELDS = ("ref", "name", "number", "sip_username", "priority", "weight", "timeout",
                "concurrency_cap", "hourly_cap", "daily_cap", "monthly_cap", "total_cap",
                "cap_counts", "time_zone", "hours", "closures", "paused", "health_check",
                "health_codes", "health_down_after", "health_up_after")
# A change of any of these starts the buyer's health afresh (siphealth/state.py): a down state
# counted against the old URI or settings must not keep the buyer out of rotation.
HEALTH_RESET = ("number", "health_check", "health_codes", "health_down_after", "health_up_after")


def commit(writes: Callable[[], object] | None = None) -> bool:
    """Run ``writes`` (which may flush) and commit; False, rolled back, when the database
    refuses, so the form can say why instead of failing."""
    try:
        if writes is not None:
            writes()
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
        return False


def assign(obj, values: dict) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def write_publisher(publisher: Publisher, rec: dict) -> bool:
    history.track(publisher)
    return assign(publisher, {"ref": rec["ref"], "name": rec["name"].strip(),
                              "afid": rec["afid"]})


def write_campaign(campaign: Campaign, rec: dict) -> bool:
    """Name and ref; ``settings`` only when the record has them (the form never does)."""
    history.track(campaign)
    values = {"ref": rec["ref"], "name": rec["name"].strip()}
    if rec.get("settings") is not None:
        values["settings"] = rec["settings"]
    return assign(campaign, values)


def write_number(number: Number, e164: str, campaign: Campaign, publisher: Publisher | None,
                 sub_id: str | None, tags: dict) -> bool:
    history.track(number)
    return assign(number, {"number": e164, "campaign": campaign, "publisher": publisher,
                           "sub_id": (sub_id or "").strip() or None, "tags": tags})


def write_buyer(buyer: Buyer, clean: dict, *, clear_password: bool = False) -> bool:
    """Store a ``check_buyer`` result (plus its ``ref``) on ``buyer``.

    The password is write-only: ``None`` or empty keeps the stored one (an export without
    --with-secrets has empty passwords, and the editor never shows it), a typed one replaces
    it, ``clear_password`` removes it, and no username means no auth, so it goes too.
    A stored buyer whose number or health settings change starts its health state afresh.
    """
    history.track(buyer)
    if buyer.id is not None and buyer.ref != clean["ref"]:
        # Their routing lists name the buyer by ref: keep each campaign's history in step.
        for entry in buyer.routing:
            if entry.campaign is not None:
                history.track(entry.campaign)
    moved_zone = buyer.id is not None and buyer.time_zone != clean["time_zone"]
    reset = [k for k in HEALTH_RESET if buyer.id is not None and getattr(buyer, k) != clean[k]]
    changed = assign(buyer, {key: clean[key] for key in BUYER_FIELDS})
    if moved_zone:
        _rekey_windows(buyer)
    if reset:
        state.reset(buyer.id, "the number changed" if reset == ["number"]
                    else "health checks changed")
    typed = clean["sip_password"]
    if not clean["sip_username"] or (clear_password and not typed):
        if buyer.sip_password_encrypted:
            buyer.sip_password_encrypted = ""
            changed = True
    elif typed and (not buyer.has_sip_password or buyer.sip_password != typed):
        buyer.sip_password = typed
        changed = True
    wanted = list(clean["sip_headers"])
    if [(h.name, h.value) for h in buyer.headers] != wanted:
        buyer.headers = [BuyerHeader(position=i, name=n, value=v)
                         for i, (n, v) in enumerate(wanted)]
        changed = True
    return changed


def _rekey_windows(buyer: Buyer) -> None:
    """A buyer moved to another zone keeps its counts, in the new zone's current windows: left
    on the old zone's keys, a counter could sit on a date the new zone has not reached yet (UTC
    to New York at 01:00 UTC) and not reset at the buyer's next midnight."""
    keys = capwindows.window_keys(buyer.time_zone, datetime.now(timezone.utc))
    if buyer.calls_hour_key is not None:
        buyer.calls_hour_key = keys[capwindows.HOURLY]
    if buyer.calls_day is not None:
        buyer.calls_day = date.fromisoformat(keys[capwindows.DAILY])
    if buyer.calls_month_key is not None:
        buyer.calls_month_key = keys[capwindows.MONTHLY]


def set_paused(buyer: Buyer, paused: bool) -> bool:
    """Pause or resume from the list page (no commit)."""
    history.track(buyer)
    return assign(buyer, {"paused": paused})


def _filtered_webhooks_go(**where) -> None:
    """Webhooks filtered to a record being deleted go with it (the database would cascade
    anyway): recorded in the history, rather than firing for every record's calls."""
    for hook in db.session.scalars(select(Webhook).filter_by(**where)):
        history.track_delete(hook)
        db.session.delete(hook)


def delete_buyer(buyer: Buyer) -> None:
    """Delete (no commit): its routing entries and headers go with it, so the campaigns it was
    on change too; past calls keep their attempts, without the buyer; webhooks filtered to it
    are deleted."""
    _filtered_webhooks_go(filter_buyer_id=buyer.id)
    for entry in buyer.routing:
        if entry.campaign is not None:
            history.track(entry.campaign)
    history.track_delete(buyer)
    db.session.delete(buyer)


def delete_campaign(campaign: Campaign) -> None:
    _filtered_webhooks_go(filter_campaign_id=campaign.id)
    history.track_delete(campaign)
    db.session.delete(campaign)


def delete_number(number: Number) -> None:
    history.track_delete(number)
    db.session.delete(number)


def delete_publisher(publisher: Publisher) -> None:
    """Delete (no commit); its numbers stay, without a publisher; webhooks filtered to it go."""
    _filtered_webhooks_go(filter_publisher_id=publisher.id)
    for number in publisher.numbers:
        history.track(number)
    history.track_delete(publisher)
    db.session.delete(publisher)
