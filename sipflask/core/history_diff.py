"""What changed between two versions of a setup record, field by field: the pure part of the
change history (``sipflask/history``).

A version is a plain dict of JSON values (what :mod:`sipflask.history.snapshots` makes of a row),
or None when the record did not exist. Secrets never reach this module as values: the caller
passes only the names of the secret fields that changed, and a change records the name alone,
so no history row can leak a password, not even an encrypted one.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

CREATE, UPDATE, DELETE, RESTORE = "create", "update", "delete", "restore"
ACTIONS = (CREATE, UPDATE, DELETE, RESTORE)
# What a secret's change says instead of its values.
CHANGED = "changed"
# Objects compared member by member, each change named ``health.check``: a buyer's health
# settings are four separate choices, and "health" alone would not say which one changed.
NESTED = ("health",)


def action_for(before: dict | None, after: dict | None) -> str | None:
    """create, update or delete; None when the record neither existed before nor after."""
    if before is None and after is None:
        return None
    if before is None:
        return CREATE
    return DELETE if after is None else UPDATE


def diff(before: dict | None, after: dict | None,
         changed_secrets: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The fields that differ, in a stable order (first version's keys, then new ones):
    ``{"field", "before", "after"}`` each, or ``{"field", "secret": True, "change": "changed"}``
    for a secret. A missing side (create, delete) reads as None; so does a member of a
    :data:`NESTED` object that a version does not have (one kept before the object existed)."""
    old, new = _flat(before or {}), _flat(after or {})
    out: list[dict[str, Any]] = []
    for key in list(old) + [k for k in new if k not in old]:
        a, b = old.get(key), new.get(key)
        if a != b:
            out.append({"field": key, "before": a, "after": b})
    for name in sorted(set(changed_secrets)):
        out.append({"field": name, "secret": True, "change": CHANGED})
    return out


def _flat(version: dict) -> dict:
    out: dict[str, Any] = {}
    for key, value in version.items():
        if key in NESTED and isinstance(value, dict):
            out.update({f"{key}.{member}": v for member, v in value.items()})
        else:
            out[key] = value
    return out


def changed_fields(changes: list[dict[str, Any]]) -> list[str]:
    return [c.get("field", "") for c in changes or []]


def summary(action: str, changes: list[dict[str, Any]], limit: int = 4) -> str:
    """One line for a list: ``name, priority and 2 more``; create/delete say so."""
    if action == CREATE:
        return "created"
    if action == DELETE:
        return "deleted"
    names = changed_fields(changes)
    if not names:
        return "no field changed"
    head = ", ".join(names[:limit])
    extra = len(names) - limit
    return f"{head} and {extra} more" if extra > 0 else head


def show(value: Any) -> str:
    """A stored value as a page shows it: text as is, empty as a dash, the rest as JSON-ish."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                       for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict) and all(isinstance(v, (str, int, float)) for v in value.values()):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
