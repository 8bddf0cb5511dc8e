"""A webhook and an event's values turned into the request to send, and its summary to show.

The request is rendered when it is sent, from the webhook as it is then (a URL fixed after a
failure is used by the next try) and the values the event stored. sipflask's own headers go
last: ``X-Sipflask-Delivery`` (the delivery's uuid, the same on every try: the receiver's
idempotency key), ``X-Sipflask-Event`` and, with a signing secret, ``X-Sipflask-Timestamp``
and ``X-Sipflask-Signature`` (docs/webhooks.md). The summary stored with each try and shown on
the pages has every secret masked: secret headers' values and the call's key.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from sipflask import __version__, crypto
from sipflask.core import webhook_delivery, webhook_render
from sipflask.webhooks.model import Webhook

__all__ = ["Prepared", "spec_of", "prepare", "MASK"]

MASK = "[secret]"
SUMMARY_BODY = 2048
USER_AGENT = f"sipflask-webhooks/{__version__}"


@dataclass
class Prepared:
    rendered: webhook_render.Rendered | None
    headers: list[tuple[str, str]] = field(default_factory=list)  # everything sent
    errors: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def spec_of(webhook: Webhook) -> webhook_render.WebhookSpec:
    """The webhook as the pure renderer sees it, secret header values decrypted (raises
    ``crypto.SecretError`` when one can't be)."""
    headers = tuple(webhook_render.HeaderSpec(h.name, h.secret_value if h.secret else h.value,
                                              bool(h.secret)) for h in webhook.headers)
    return webhook_render.WebhookSpec(url=webhook.url, method=webhook.method,
                                      body_format=webhook.body_format or "",
                                      body=webhook.body or "", headers=headers)


def _masked(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:  # a 1-letter "secret" would mask every such letter
            text = text.replace(secret, MASK)
    return text


def summary(method: str, url: str, headers: list[tuple[str, str]], body: bytes,
            secret_names: set[str], secrets: list[str]) -> dict:
    """The request as shown: secret headers' values and any secret text (the call's key) masked;
    the body cut to its first 2 kB. The signature is shown: it reveals nothing of its key."""
    shown = [[name, MASK if name.lower() in secret_names else _masked(value, secrets)]
             for name, value in headers]
    text = body[:SUMMARY_BODY].decode("utf-8", "replace").replace("\x00", "\ufffd")
    return {"method": method, "url": _masked(url, secrets), "headers": shown,
            "body": _masked(text, secrets), "body_bytes": len(body)}


def prepare(webhook: Webhook, values: dict[str, str], delivery_uuid: str, event: str, *,
            test: bool = False, now: float | None = None) -> Prepared:
    """Render ``webhook`` for ``values`` (a delivery's, with the call's key when allowed)."""
    secret_names = {h.name.lower() for h in webhook.headers if h.secret}
    try:
        spec = spec_of(webhook)
        signing = webhook.signing_secret
    except crypto.SecretError as exc:
        return Prepared(None, errors=[f"{exc}: enter the webhook's secrets again"])
    rendered = webhook_render.render(spec, values, bool(webhook.include_key))
    secrets = [values.get("call_key", "")] + [h.value for h in spec.headers if h.secret]
    if isinstance(rendered, list):
        return Prepared(None, errors=rendered,
                        summary={"method": spec.method, "url": _masked(spec.url, secrets),
                                 "headers": [], "body": ""})
    headers = list(rendered.headers) + [("User-Agent", USER_AGENT),
                                        ("X-Sipflask-Delivery", delivery_uuid),
                                        ("X-Sipflask-Event", event)]
    if test:
        headers.append(("X-Sipflask-Test", "true"))
    if signing:
        stamp = str(int(now if now is not None else time.time()))
        headers += [("X-Sipflask-Timestamp", stamp),
                    ("X-Sipflask-Signature",
                     webhook_delivery.signature(signing, stamp, rendered.body))]
    return Prepared(rendered, headers=headers,
                    summary=summary(rendered.method, rendered.url, headers, rendered.body,
                                    secret_names, secrets))
