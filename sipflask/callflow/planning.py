"""Planning one attempt, shared by the voice webhook and the buyer editor's preview.

A call's token values, a buyer as the pure core sees it (:class:`BuyerSpec`), the plugins' token
values and headers, and :func:`plan_for`, which turns them into TwiML. Nothing here writes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from flask import current_app

from sipflask import crypto, plugins
from sipflask.callflow import directory
from sipflask.callflow.params import TWILIO_CALLER_TAGS
from sipflask.core import dialplan, sip


def token_values(call: plugins.CallInfo, buyer_id: int | None = None) -> dict[str, str]:
    """Every token's value for a call: its tags first, then the built-ins (which win)."""
    tags = call.tags or {}
    values = {k: str(v) for k, v in tags.items()}
    values.update(
        call_uuid=call.uuid, call_key=call.key,
        campaign_id=str(call.campaign_id) if call.campaign_id is not None else "",
        campaign_name=call.campaign_name,
        buyer_id=str(buyer_id) if buyer_id is not None else "",
        publisher_id=str(call.publisher_id) if call.publisher_id is not None else "",
        afid=call.afid, sub_id=call.sub_id, caller_number=call.caller, called_number=call.called,
    )
    for tag in TWILIO_CALLER_TAGS.values():
        values[tag] = str(tags.get(tag, ""))
    return values


def buyer_spec(buyer: directory.BuyerRow) -> dialplan.BuyerSpec:
    """A routing-list row as the pure core sees it (password decrypted)."""
    return dialplan.BuyerSpec(
        id=buyer.id, name=buyer.name, number=buyer.number,
        sip_username=buyer.sip_username or "",
        sip_password=crypto.decrypt(current_app.config["SECRET_KEY"], buyer.sip_password_encrypted),
        sip_headers=list(buyer.headers), timeout=buyer.timeout)


@dataclass
class PlannedAttempt:
    """An attempt's plan plus what the plugins did, before anything is stored."""

    plan: dialplan.AttemptPlan
    failures: list


def plan_for(call_like: plugins.CallInfo, spec: dialplan.BuyerSpec, values: Mapping[str, str],
             action: str) -> PlannedAttempt:
    """Headers from every source, then the plan: shared by the webhook and the preview."""
    failures: list = []
    if sip.is_sip(spec.number):
        defaults, plugin_headers, own, failures = plugins.collect_sip_headers(
            call_like, spec, values)
        plan = dialplan.plan_attempt(spec, values, plugin_headers, action=action,
                                     defaults=defaults, own_headers=own)
    else:
        plan = dialplan.plan_attempt(spec, values, [], action=action)
    return PlannedAttempt(plan, failures)


def with_plugin_values(info: plugins.CallInfo, sources: dict | None = None
                       ) -> tuple[plugins.CallInfo, list]:
    """``info`` with the plugins' token values added to its tags (the number's and Twilio's
    own tags win over plugins), and the plugins that failed; ``sources`` gets each new tag's
    source. The webhook and the buyer editor's preview both go through here."""
    extra, extra_sources, failures = plugins.collect_token_values(info)
    if not extra:
        return info, failures
    tags = dict(info.tags)
    for k, v in extra.items():
        if k not in tags:
            tags[k] = v
            if sources is not None:
                sources[k] = extra_sources.get(k, "plugin")
    return dataclasses.replace(info, tags=tags), failures
