"""Changes to users, recorded by listening to the ``User`` mapper: whatever code creates a user,
changes an email, a role or a password, or deletes one (the CLI, a settings page), the history
row goes into the same transaction, through the same connection.

Email and role are recorded before/after; the password hash only as "changed". Any other
column (a session token or version that changes at every sign-out) is not a setup change and is
left out: an update that touches only such columns records nothing.
"""
from __future__ import annotations

from sqlalchemy import event, inspect

from sipflask.core import history_diff
from sipflask.history import context, snapshots
from sipflask.history.model import ChangeRecord
from sipflask.history.record import new_record
from sipflask.models import User

FIELDS = ("email", "role")
SECRET = "password"


def _insert(connection, user: User, action: str, changes: list, snapshot: dict | None) -> None:
    record = new_record(context.current(), "user", user.id, user.email, user.email, action,
                        changes, snapshot)
    values = {c.name: getattr(record, c.key) for c in ChangeRecord.__table__.columns
              if c.name != "id"}
    connection.execute(ChangeRecord.__table__.insert().values(**values))


def _before(user: User) -> tuple[dict, bool]:
    """The recorded fields as they were before this flush, and whether the password changed."""
    state = inspect(user)
    before = {}
    for name in FIELDS:
        hist = state.attrs[name].history
        before[name] = hist.deleted[0] if hist.deleted else getattr(user, name)
    return before, state.attrs.password_hash.history.has_changes()


@event.listens_for(User, "after_insert")
def _created(mapper, connection, user: User) -> None:
    after, _secrets = snapshots.user(user)
    secrets = [SECRET] if user.password_hash else []
    _insert(connection, user, history_diff.CREATE, history_diff.diff(None, after, secrets), after)


@event.listens_for(User, "after_update")
def _updated(mapper, connection, user: User) -> None:
    before, password_changed = _before(user)
    after, _secrets = snapshots.user(user)
    changes = history_diff.diff(before, after, [SECRET] if password_changed else [])
    if changes:
        _insert(connection, user, context.current().action or history_diff.UPDATE, changes,
                after)


@event.listens_for(User, "after_delete")
def _deleted(mapper, connection, user: User) -> None:
    before, _secrets = snapshots.user(user)
    _insert(connection, user, history_diff.DELETE, history_diff.diff(before, None), before)
