"""An event's token values: the call's routing tokens (``callflow/planning.token_values``: the
built-ins and the call's tags, plugin values included) plus the event's own values
(``core/webhook_events.py``), all as text.

What a delivery stores (its ``payload``) never holds the call's key: ``values_to_send`` adds it
back, from the call, only for a webhook that may send it.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sipflask import plugins
from sipflask.callflow import clock
from sipflask.callflow.planning import token_values
from sipflask.core import webhook_events
from sipflask.models import Attempt, Call

__all__ = ["for_info", "for_call", "event_time", "buyer_attempt", "values_to_send"]

ANSWERED = ("completed", "answered")


def event_time(at: datetime | None = None) -> str:
    """ISO 8601 in UTC with a Z, to the second: when the event happened on the call's clock."""
    at = at or clock.now()
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def for_info(info: plugins.CallInfo, event: str, buyer_id: int | None = None,
             at: datetime | None = None, **extra) -> dict[str, str]:
    """The values of ``event`` for a call being routed (a ``CallInfo``), without the key;
    ``at``: when it happened, if not now (a call the outage journal writes afterwards)."""
    values = token_values(info, buyer_id)
    values.pop("call_key", None)
    values.update(event=event, event_time=event_time(at))
    values.update({k: _text(v) for k, v in extra.items()})
    return values


def buyer_attempt(call: Call) -> Attempt | None:
    """The attempt an event about the call's buyer is about: the answered one, else the last
    one that had a buyer."""
    attempts = sorted(call.attempts, key=lambda a: a.position)
    answered = [a for a in attempts if a.dial_status in ANSWERED and a.buyer_id is not None]
    if answered:
        return answered[-1]
    with_buyer = [a for a in attempts if a.buyer_id is not None]
    return with_buyer[-1] if with_buyer else None


def for_call(call: Call, event: str, attempt: Attempt | None = None,
             at: datetime | None = None) -> dict[str, str]:
    """The values of ``event`` for a stored call (``attempt``: the one it is about; default
    :func:`buyer_attempt`; ``at``: when, if not now), without the key. Tokens the event does
    not have stay unset."""
    attempt = attempt if attempt is not None else buyer_attempt(call)
    wanted = set(webhook_events.EVENT_TOKENS.get(event, ()))
    everything = {
        "buyer_name": attempt.buyer_name if attempt else "",
        "attempt": attempt.position + 1 if attempt else "",
        "dial_status": attempt.dial_status if attempt else "",
        "sip_code": attempt.sip_code if attempt else "",
        "duration": (attempt.duration if event == "call.answered" and attempt
                     else call.duration),
        "call_status": call.status, "revenue": call.revenue, "reason": call.reason,
    }
    extra = {k: v for k, v in everything.items() if k in wanted}
    buyer_id = attempt.buyer_id if attempt is not None and "buyer_id" in wanted else None
    return for_info(plugins.call_info(call), event, buyer_id, at, **extra)


def values_to_send(payload: dict, include_key: bool, call_key: str | None) -> dict[str, str]:
    """A delivery's stored values, with the call's key when the webhook may send it."""
    values = {k: _text(v) for k, v in (payload or {}).items()}
    values["call_key"] = (call_key or "") if include_key else ""
    return values
