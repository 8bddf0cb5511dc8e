"""The editor's "Send test": the webhook *as typed* (a draft that is never stored) and the call
whose values it is sent with.

The draft takes every field from the form, checked by the same rules as a save. A secret left
empty is the stored one, as a save would keep it: a secret header's value by its name, the
signing secret unless "remove" is ticked. The draft is a ``Webhook`` that is never added to the
session, so nothing about it is written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import select

from sipflask.extensions import db
from sipflask.forms.common import text
from sipflask.forms.webhook import SAMPLE, WebhookEditor
from sipflask.models import Call
from sipflask.webhooks.model import Webhook, WebhookHeader
from sipflask.webhooks.tries import TryResult

__all__ = ["WebhookTest", "draft_webhook", "chosen_call"]

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


@dataclass
class WebhookTest:
    """What the Send test panel shows: the request and the response, or why nothing was sent
    (``error``: the form's problems, an unknown call) or ``throttled``."""

    result: TryResult | None = None
    error: str | None = None
    throttled: str | None = None
    call: Call | None = None
    mask: Callable[[object], str] = str
    words: str = ""  # the result's error in plain words
    problems: list[str] = field(default_factory=list)  # the form's errors, when not sent


def draft_webhook(ed: WebhookEditor) -> Webhook | None:
    """The webhook as typed, or None when the form has errors (its messages say which)."""
    report, clean, _rec, _ = ed.check
    if not report.ok:
        return None
    hook = Webhook(ref=clean["ref"], name=clean["name"], event=clean["event"], url=clean["url"],
                   method=clean["method"], body_format=clean["body_format"], body=clean["body"],
                   include_key=clean["include_key"], enabled=True)
    stored = {h.name.lower(): h for h in (ed.webhook.headers if ed.webhook else [])
              if h.secret and h.value_encrypted}
    rows = []
    for i, spec in enumerate(clean["headers"]):
        row = WebhookHeader(position=i, name=spec.name, secret=spec.secret, value="")
        if not spec.secret:
            row.value = spec.value
        elif spec.value:
            row.secret_value = spec.value
        else:  # check_secrets made sure there is one to keep
            row.value_encrypted = stored[spec.name.lower()].value_encrypted
        rows.append(row)
    hook.headers = rows
    if clean["signing_secret"]:
        hook.signing_secret = clean["signing_secret"]
    elif ed.has_stored_secret and not ed.form.clear_signing_secret.data:
        hook.signing_secret_encrypted = ed.webhook.signing_secret_encrypted
    else:
        hook.signing_secret_encrypted = ""
    return hook


def chosen_call(ed: WebhookEditor) -> tuple[Call | None, str | None]:
    """The call chosen to send (None: the made-up sample call), or the reason there is none."""
    typed = text(ed.form.test_call_uuid.data).strip().lower()
    if typed and not _UUID_RE.match(typed):
        return None, ("A call's id looks like 3f2c9a51-0d4e-4b7a-9c1e-5a6b7c8d9e0f (the end of "
                      "its page's address in the call log).")
    uuid = typed or text(ed.form.test_call.data).strip()
    if not uuid or uuid == SAMPLE:
        return None, None
    call = db.session.scalar(select(Call).where(Call.uuid == uuid)) \
        if _UUID_RE.match(uuid) else None
    if call is None:
        return None, ("That call is no longer in the call log: choose another, or the sample "
                      "call.")
    return call, None
