"""The events a webhook can be set up for, the tokens each one has besides the call's routing
tokens, the filters that can match it, and a made-up call's values. Pure: no Flask, no database.
"""
from __future__ import annotations

from sipflask.core import tokens

__all__ = ["EVENTS", "COMMON_TOKENS", "EVENT_TOKENS", "EVENT_ONLY_TOKENS", "EVENT_FILTERS",
           "ALL_FILTERS", "sample_values"]

EVENTS = ("call.started", "call.routed", "call.answered", "call.completed", "call.no_buyer",
          "call.converted", "call.rejected")
# Every event has the routing tokens (tokens.BUILTIN_TOKENS and the call's tags) and these.
COMMON_TOKENS = ("event", "event_time")
_BUYER = ("buyer_id", "buyer_name")
EVENT_TOKENS: dict[str, tuple[str, ...]] = {
    "call.started": (),
    "call.routed": _BUYER + ("attempt",),
    "call.answered": _BUYER + ("attempt", "dial_status", "sip_code", "duration"),
    "call.completed": _BUYER + ("dial_status", "sip_code", "duration", "call_status"),
    "call.no_buyer": ("reason",),
    "call.converted": _BUYER + ("revenue", "duration"),
    "call.rejected": ("reason",),
}
EVENT_ONLY_TOKENS = tuple(dict.fromkeys(t for ts in EVENT_TOKENS.values() for t in ts
                                        if t not in tokens.BUILTIN_TOKENS))
# The filters an event can match on: a call refused before routing has no campaign, and only
# some events are about a buyer.
ALL_FILTERS = ("campaign", "publisher", "buyer", "tag")
EVENT_FILTERS: dict[str, tuple[str, ...]] = {
    "call.started": ("campaign", "publisher", "tag"),
    "call.routed": ALL_FILTERS, "call.answered": ALL_FILTERS,
    "call.completed": ALL_FILTERS, "call.converted": ALL_FILTERS,
    "call.no_buyer": ("campaign", "publisher", "tag"),
    "call.rejected": ("tag",),
}


def sample_values(event: str = "call.completed") -> dict[str, str]:
    """A made-up call's token values, for checks and for "Send test" without a real call."""
    values = {name: "x" for name in tokens.BUILTIN_TOKENS}
    values.update(
        call_uuid="00000000-0000-4000-8000-000000000000", call_key="0" * 64, campaign_id="1",
        campaign_name="Sample campaign", buyer_id="1", buyer_name="Sample buyer",
        publisher_id="1", afid="sample", sub_id="sample", caller_number="+14155550100",
        called_number="+18885550100", caller_state="CA", caller_zip="94105",
        caller_city="San Francisco", caller_country="US", attempt="1", dial_status="completed",
        sip_code="200", duration="42", call_status="completed", revenue="12.50",
        reason="sample reason", event=event, event_time="2026-01-01T12:00:00Z")
    return values
