"""Recording changes: the setup writers (``sipflask/records``, ``sipflask/account/settings.py``)
call :func:`track` on a row before they change it and :func:`track_delete` before they delete
it; when the session commits, each tracked row is compared with what it became and one
``ChangeRecord`` per changed row is written in that same transaction.

Tracking first and comparing at the commit means a row changed by several steps of one save
(a buyer and its routing lists, a campaign's name and its list) gets one record with every field,
and an import of 50 records writes its 50 history rows atomically with them: if the commit fails,
neither the change nor its history exists. A rollback forgets what was tracked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from sipflask.core import history_diff
from sipflask.extensions import db
from sipflask.history import context, snapshots
from sipflask.history.model import ChangeRecord
from sipflask.models import utcnow

_KEY = "sipflask_history_notes"


@dataclass
class Note:
    row: Any
    kind: snapshots.Kind
    before: dict | None
    before_secrets: dict = field(default_factory=dict)
    deleted: bool = False


def _notes(session: Session) -> dict[int, Note]:
    return session.info.setdefault(_KEY, {})


def _is_new(row) -> bool:
    state = inspect(row)
    return state.transient or state.pending


def track(row) -> None:
    """Remember ``row`` as it is now (nothing, if it is new); call before changing it.
    Tracking the same row again in one transaction keeps the first version."""
    notes = _notes(db.session())
    if id(row) in notes:
        return
    kind = snapshots.kind_of(row)
    if _is_new(row):
        notes[id(row)] = Note(row, kind, None)
    else:
        public, secrets = kind.snapshot(row)
        notes[id(row)] = Note(row, kind, public, secrets)


def track_delete(row) -> None:
    """Remember ``row`` as it is now, as deleted; call before ``session.delete(row)``."""
    track(row)
    _notes(db.session())[id(row)].deleted = True


def build(note: Note, actor: context.Actor) -> ChangeRecord | None:
    """The history row for one tracked row, or None when nothing recorded changed."""
    row, kind = note.row, note.kind
    gone = note.deleted or inspect(row).deleted or inspect(row).was_deleted
    if not gone and kind.refresh:
        db.session.expire(row, list(kind.refresh))
    after, secrets = (None, {}) if gone else kind.snapshot(row)
    action = history_diff.action_for(note.before, after)
    if action is None:
        return None
    changed = [k for k in set(note.before_secrets) | set(secrets)
               if note.before is not None and after is not None
               and note.before_secrets.get(k) != secrets.get(k)]
    if action == history_diff.CREATE:
        changed = [k for k, v in secrets.items() if v]
    changes = history_diff.diff(note.before, after, changed)
    if action == history_diff.UPDATE and not changes:
        return None
    if actor.action and action != history_diff.DELETE:
        action = actor.action
    return new_record(actor, kind.name, row.id, kind.ref(row), kind.label(row), action,
                      changes, after if after is not None else note.before)


def new_record(actor: context.Actor, record_type: str, record_id: int | None, ref: str,
               label: str, action: str, changes: list, snapshot: dict | None) -> ChangeRecord:
    return ChangeRecord(
        at=utcnow(), actor_id=actor.actor_id, actor_label=(actor.label or "")[:254],
        source=actor.source, address=actor.address, record_type=record_type,
        record_id=record_id, record_ref=(ref or "")[:254], record_label=(label or "")[:200],
        action=action, changes=changes, snapshot=snapshot, note=(actor.note or "")[:200])


@event.listens_for(Session, "before_commit")
def _write_notes(session: Session) -> None:
    notes = session.info.pop(_KEY, None)
    if not notes:
        return
    session.flush()  # new rows get their ids; the snapshots read what is about to be stored
    actor = context.current()
    for note in notes.values():
        record = build(note, actor)
        if record is not None:
            session.add(record)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)
