"""What per-call hooks are given: the :class:`CallInfo` and copies safe to hand to a plugin.

Plain data only, never the database session or an app context: third-party hooks run in
worker threads (see :mod:`sipflask.plugins.runner`).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CallInfo:
    """What a plugin knows about a call: plain data, safe to hand to a worker thread."""

    uuid: str
    key: str = field(repr=False)  # the postback key: never in a repr that may be logged
    caller: str = ""
    called: str = ""
    campaign_id: int | None = None
    campaign_ref: str = ""
    campaign_name: str = ""
    campaign_settings: dict = field(default_factory=dict)
    publisher_id: int | None = None
    afid: str = ""
    sub_id: str = ""
    tags: dict = field(default_factory=dict)


def call_info(call) -> CallInfo:
    """Build a :class:`CallInfo` from a ``models.Call`` (in the request thread)."""
    campaign = call.campaign
    publisher = call.publisher
    return CallInfo(
        uuid=call.uuid or "",
        key=call.key or "",
        caller=call.caller or "",
        called=call.called or "",
        campaign_id=call.campaign_id,
        campaign_ref=campaign.ref if campaign else "",
        campaign_name=campaign.name if campaign else "",
        campaign_settings=copy.deepcopy(campaign.settings or {}) if campaign else {},
        publisher_id=call.publisher_id,
        afid=publisher.afid if publisher else "",
        sub_id=call.sub_id or "",
        tags=dict(call.tags or {}),
    )


def safe_buyer(buyer: Any) -> Any:
    """A copy of ``buyer`` for third-party plugins, without the decrypted SIP password."""
    if dataclasses.is_dataclass(buyer) and not isinstance(buyer, type):
        changes = {"sip_password": ""} if hasattr(buyer, "sip_password") else {}
        return copy.deepcopy(dataclasses.replace(buyer, **changes))
    return copy.deepcopy(buyer)
