"""Call events into deliveries: the outbox.

The call flow reports each event here inside the transaction that writes the call's own change
(``callflow/store.py``, ``callflow/voice.py``, ``callflow/callbacks.py``,
``calllog/postbacks.py``). For every enabled webhook of that event whose filters match, one
``webhook_deliveries`` row is inserted in that same transaction (at its commit, every event's
rows in one statement): a call that is rolled back sends nothing, and a committed one can't
lose its deliveries. Nothing is sent here; after the
commit ``webhooks/notify.py`` queues the delivery job.

The enabled webhooks are read once per ``ROUTING_CACHE_SECONDS`` per process (like
``callflow/directory.py``) and forgotten at once in the process that saves one: with no webhook
set up, an event costs a dictionary lookup. The event's values are only worked out when a
webhook matches.
"""
from __future__ import annotations

import threading
import time
import uuid as uuidlib
from dataclasses import dataclass
from typing import Callable

from flask import current_app, has_app_context
from sqlalchemy import delete, event, insert, select
from sqlalchemy.orm import Session

from sipflask.extensions import db
from sipflask.models import Call, utcnow
from sipflask.webhooks import notify, payload
from sipflask.webhooks.model import Delivery, Webhook, WebhookHeader

__all__ = ["Hook", "Facts", "enabled_hooks", "matches", "emit", "write", "clear_cache",
           "on_call_written", "call_routed", "take_back", "call_answered", "call_completed",
           "call_converted", "call_replayed", "outcome_replayed", "attempt_replayed"]

_KEY = "sipflask.webhooks.enabled"
_PENDING = "sipflask.webhooks.pending"
_WROTE = "sipflask.webhooks.wrote"
_CHANGED = "sipflask.webhooks.changed"
_lock = threading.Lock()
_INSERT = insert(Delivery.__table__)


@dataclass(frozen=True)
class Hook:
    """An enabled webhook as matching sees it."""
    id: int
    event: str
    campaign_id: int | None
    publisher_id: int | None
    buyer_id: int | None
    tag_key: str
    tag_value: str


@dataclass(frozen=True)
class Facts:
    """What the filters look at: the call's campaign, publisher and tags, the event's buyer."""
    campaign_id: int | None
    publisher_id: int | None
    buyer_id: int | None
    tags: dict


_QUERY = select(Webhook.id, Webhook.event, Webhook.filter_campaign_id,
                Webhook.filter_publisher_id, Webhook.filter_buyer_id, Webhook.filter_tag_key,
                Webhook.filter_tag_value).where(Webhook.enabled.is_(True)).order_by(Webhook.id)


def enabled_hooks(name: str) -> tuple[Hook, ...]:
    """The enabled webhooks of event ``name`` (cached per process)."""
    app = current_app._get_current_object()
    ttl = float(app.config.get("ROUTING_CACHE_SECONDS", 0) or 0)
    hit = app.extensions.get(_KEY)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1].get(name, ())
    by_event: dict[str, tuple[Hook, ...]] = {}
    for row in db.session.execute(_QUERY):
        hook = Hook(row[0], row[1], row[2], row[3], row[4], row[5] or "", row[6] or "")
        by_event[hook.event] = by_event.get(hook.event, ()) + (hook,)
    if ttl > 0:
        with _lock:
            app.extensions[_KEY] = (time.monotonic() + ttl, by_event)
    return by_event.get(name, ())


def clear_cache() -> None:
    """Forget the enabled webhooks in this process (a webhook was saved here)."""
    if has_app_context():
        current_app.extensions.pop(_KEY, None)


def matches(hook: Hook, facts: Facts) -> bool:
    if hook.campaign_id is not None and hook.campaign_id != facts.campaign_id:
        return False
    if hook.publisher_id is not None and hook.publisher_id != facts.publisher_id:
        return False
    if hook.buyer_id is not None and hook.buyer_id != facts.buyer_id:
        return False
    if hook.tag_key and str((facts.tags or {}).get(hook.tag_key, "")) != hook.tag_value:
        return False
    return True


def emit(name: str, call_id: int | None, facts: Facts, values: Callable[[], dict]) -> list[str]:
    """Add one delivery of event ``name`` per matching enabled webhook to the current
    transaction; ``values`` is called only when one matches. Returns their uuids.

    The rows wait in the session until :func:`write` (the call flow calls it before it locks a
    buyer's row, so the insert never lengthens that lock) or the commit, and go in then, every
    waiting event's in one statement: the voice webhook's call.started and call.routed cost
    one round trip. A rollback drops them. A webhook deleted or disabled meanwhile by another
    process can't fail the call: the job drops or fails its delivery."""
    hooks = [h for h in enabled_hooks(name) if matches(h, facts)]
    if not hooks:
        return []
    stored = values()
    stored.pop("call_key", None)  # read from the call at sending time, if ever
    now = utcnow()
    rows = [dict(uuid=str(uuidlib.uuid4()), webhook_id=h.id, call_id=call_id, event=name,
                 payload=stored, state="pending", tries=0, next_try_at=now, sending_until=None,
                 created_at=now, last_status=None, last_error="") for h in hooks]
    db.session.info.setdefault(_PENDING, []).extend(rows)
    return [r["uuid"] for r in rows]


def write(session=None) -> None:
    """Insert the deliveries waiting in this transaction now (one statement)."""
    session = session or db.session()
    rows = session.info.pop(_PENDING, None)
    if rows:
        session.execute(_INSERT, rows)
        session.info[_WROTE] = True


# --- the call flow's events ---------------------------------------------------------------

def on_call_written(state, status: str, inserted: bool, reason: str) -> None:
    """``store.write_call`` wrote a call: it started (inserted to be routed), was refused, or
    found no buyer."""
    info = state.info
    name = {"routing": "call.started" if inserted else None, "rejected": "call.rejected",
            "no-buyer": "call.no_buyer"}.get(status)
    if name is None:
        return
    facts = Facts(info.campaign_id, info.publisher_id, None, info.tags)
    extra = {"reason": reason} if name != "call.started" else {}
    emit(name, state.id, facts, lambda: payload.for_info(info, name, **extra))


def call_routed(state, buyer, attempt: int) -> list[str]:
    """A buyer (a routing row) is about to be reserved and dialled, as attempt ``attempt``
    (1 for the first): its deliveries, and any still waiting, are written now, before the
    reservation locks the buyer's row. Returns their uuids for :func:`take_back`."""
    info = state.info
    uuids = emit("call.routed", state.id, Facts(info.campaign_id, info.publisher_id, buyer.id,
                                                info.tags),
                 lambda: payload.for_info(info, "call.routed", buyer.id, buyer_name=buyer.name,
                                          attempt=attempt))
    write()
    return uuids


def take_back(call_id: int, uuids: list[str]) -> None:
    """The reservation was refused: the attempt is taken back, and its routed deliveries."""
    if uuids:
        db.session.execute(delete(Delivery.__table__).where(
            Delivery.call_id == call_id, Delivery.uuid.in_(uuids)))


def _facts(call: Call, buyer_id: int | None) -> Facts:
    return Facts(call.campaign_id, call.publisher_id, buyer_id, dict(call.tags or {}))


def call_answered(call: Call, attempt, at=None) -> None:
    """The dial-action says the buyer answered (``completed``/``answered``); written now,
    before the buyer's slot is given back (which locks its row). ``at``: when, if not now."""
    emit("call.answered", call.id, _facts(call, attempt.buyer_id),
         lambda: payload.for_call(call, "call.answered", attempt, at))
    write()


def call_completed(call: Call, at=None) -> None:
    """The call ended (status callback, or the lease sweeper), the first time it closes;
    written now, before its slots are given back. ``at``: when, if not now."""
    attempt = payload.buyer_attempt(call)
    emit("call.completed", call.id, _facts(call, attempt.buyer_id if attempt else None),
         lambda: payload.for_call(call, "call.completed", attempt, at))
    write()


def call_converted(call: Call) -> None:
    """The call's first accepted postback marked it converted."""
    attempt = payload.buyer_attempt(call)
    emit("call.converted", call.id, _facts(call, attempt.buyer_id if attempt else None),
         lambda: payload.for_call(call, "call.converted", attempt))


def call_replayed(call: Call) -> None:
    """The outage journal wrote a call the voice webhook answered without the database
    (``callflow/journal.py``): its start, and its refusal or lack of a buyer, stamped with the
    time they happened. A replayed entry is never replayed again, so neither are these."""
    at = call.created_at
    emit("call.started", call.id, _facts(call, None),
         lambda: payload.for_call(call, "call.started", at=at))
    outcome_replayed(call, at)


def outcome_replayed(call: Call, at) -> None:
    """A journalled call ended at ``at``: completed, refused, or with no buyer."""
    if call.status == "completed":
        call_completed(call, at)
        return
    name = {"no-buyer": "call.no_buyer", "rejected": "call.rejected"}.get(call.status)
    if name is not None:
        emit(name, call.id, _facts(call, None), lambda: payload.for_call(call, name, at=at))


def attempt_replayed(call: Call, attempt) -> None:
    """The journal's call was dialled to a buyer during the outage (attempt ``position``)."""
    emit("call.routed", call.id, _facts(call, attempt.buyer_id),
         lambda: payload.for_call(call, "call.routed", attempt, attempt.started_at))


# --- after the transaction ----------------------------------------------------------------

@event.listens_for(Session, "after_flush")
def _note_webhook_changes(session, flush_context):
    if any(isinstance(obj, (Webhook, WebhookHeader))
           for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "before_commit")
def _write_deliveries(session):
    write(session)


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    if not has_app_context():
        return
    if session.info.pop(_CHANGED, False):
        clear_cache()
    if session.info.pop(_WROTE, False):
        notify.poke(current_app._get_current_object())


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction):
    if transaction.parent is None and not transaction.nested:
        # Ended without a commit (a rollback), or after one: nothing of it is left to write.
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session):
    session.info.pop(_PENDING, None)
    session.info.pop(_WROTE, None)
    session.info.pop(_CHANGED, None)
