"""Who makes a change and from where, as the change history records it.

In a web request: the signed-in user (id and email at the time), source ``web`` and the client
address (``request.remote_addr``, which the proxy settings make the real client's). On the
command line: ``cli``. In a background job (no request, no command): ``system``. A use case can
say more for the changes it makes (:func:`acting`): an import is source ``import``, a restore is
action ``restore``.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, replace

import click
from flask import has_request_context, request
from flask_login import current_user

WEB, CLI, IMPORT, API, SYSTEM = "web", "cli", "import", "api", "system"
SOURCES = (WEB, CLI, IMPORT, API, SYSTEM)


@dataclass(frozen=True)
class Actor:
    actor_id: int | None
    label: str
    source: str
    address: str = ""
    # Set by a restore: every change made inside it is recorded as action "restore".
    action: str | None = None
    note: str = ""


_override: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "sipflask_history_override", default=None)


def _base() -> Actor:
    command = click.get_current_context(silent=True)
    # A command first: a test harness may keep a request context around a CLI call. Under
    # ``flask run --without-threads`` requests run inside the "run" command: those are web.
    if command is not None and command.command.name != "run":
        return Actor(None, CLI, CLI)
    if has_request_context():
        user = current_user
        address = (request.remote_addr or "")[:64]
        if user is not None and getattr(user, "is_authenticated", False):
            return Actor(user.id, user.email, WEB, address)
        return Actor(None, "anonymous", WEB, address)
    return Actor(None, SYSTEM, SYSTEM)


def current() -> Actor:
    """Who is changing things now, with whatever :func:`acting` added."""
    actor = _base()
    extra = _override.get()
    return replace(actor, **extra) if extra else actor


@contextmanager
def acting(**fields):
    """Record the changes made inside the block with these ``Actor`` fields changed, e.g.
    ``acting(source="import")`` or ``acting(action="restore", note="restored from change 12")``."""
    token = _override.set({**(_override.get() or {}), **fields})
    try:
        yield
    finally:
        _override.reset(token)
