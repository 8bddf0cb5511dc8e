"""What the pages show beside the delivery log: each delivery's call (for its link) and the
secrets to mask in what was sent and what came back.

A receiver may echo the request it got (many test servers do), so a response body can hold a
secret header's value or the signature key's holder's data: every text of a try is shown
through the mask, which holds the webhooks' secret header values, their signing secrets and,
for members, the calls' postback keys (``[call_key]``; admins see those on the call page too).
"""
from __future__ import annotations

from typing import Callable, Iterable

from sqlalchemy import select

from sipflask.core.redact import MIN_MASKED_LENGTH, redact
from sipflask.crypto import SecretError
from sipflask.extensions import db
from sipflask.models import Call
from sipflask.webhooks.model import Delivery, Webhook

__all__ = ["calls_by_id", "webhook_secrets", "masker", "in_words"]


def calls_by_id(deliveries: Iterable[Delivery]) -> dict[int, Call]:
    ids = {d.call_id for d in deliveries if d.call_id is not None}
    if not ids:
        return {}
    return {c.id: c for c in db.session.scalars(select(Call).where(Call.id.in_(ids)))}


def webhook_secrets(webhooks: Iterable[Webhook | None]) -> list[str]:
    """The signing secrets and secret header values of ``webhooks``, only to mask them."""
    found: set[str] = set()
    for webhook in {w for w in webhooks if w is not None}:
        readers = [lambda w=webhook: w.signing_secret] if webhook.has_signing_secret else []
        readers += [lambda h=h: h.secret_value for h in webhook.headers
                    if h.secret and h.value_encrypted]
        for read in readers:
            try:
                found.add(read())
            except SecretError:  # undecryptable (key changed): it can't have been sent either
                continue
    return [s for s in found if len(s) >= MIN_MASKED_LENGTH]


def masker(webhooks: Iterable[Webhook | None], calls: Iterable[Call], is_admin: bool,
           extra: Iterable[str] = ()) -> Callable[[object], str]:
    secrets = webhook_secrets(webhooks) + [s for s in extra if s]
    if not is_admin:
        secrets += [c.key for c in calls if c is not None and c.key]

    def mask(value) -> str:
        return redact(value, secrets)

    return mask


# What a try's error means, for the patterns transport.py's messages carry (the message itself
# is shown too: it names the host and the address).
_WORDS = (
    ("refused:", "Not sent: the address is not allowed."),
    ("Connection refused", "Connection refused: nothing is listening at that address and port."),
    ("connect timeout", "Timed out connecting: the server did not accept the connection in "
                        "time (a firewall dropping it, or a host that is down)."),
    ("read timeout", "Timed out waiting for the answer: the server took the request but did "
                     "not answer in time."),
    ("DNS:", "The host name could not be looked up."),
    ("TLS error", "The HTTPS connection failed: the certificate was not accepted."),
    ("Connection reset", "The server closed the connection without answering."),
    ("RemoteDisconnected", "The server closed the connection without answering."),
)


def in_words(error: str) -> str:
    """A plain sentence for a try's error ("" when none is known; the error speaks for
    itself)."""
    for needle, words in _WORDS:
        if needle in (error or ""):
            return words
    return ""
