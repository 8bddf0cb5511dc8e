"""What to probe for a buyer (or a URI not saved yet): the SIP URI and the headers its INVITE
would carry, tokens expanded with a sample call by the webhook's own planning (the buyer
editor's preview path), so the probe asks the PBX what a real call would.

The SIP password never enters: OPTIONS is not authenticated, and the spec carries the preview's
mask in its place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from sipflask.callflow import preview
from sipflask.callflow.planning import plan_for, token_values, with_plugin_values
from sipflask.core import sip
from sipflask.core.dialplan import BuyerSpec
from sipflask.core.redact import MASK

__all__ = ["Endpoint", "EndpointError", "for_buyer", "for_uri", "twilio_ranges"]

#: Twilio places calls from us1 unless the URI names another region (``;region=ie1``).
DEFAULT_REGION = "us1"


class EndpointError(ValueError):
    """Nothing to probe: not a SIP buyer, or a URI that does not parse after tokens."""


@dataclass(frozen=True)
class Endpoint:
    uri: str  # the request URI: tokens expanded, no ?headers
    headers: tuple[tuple[str, str], ...]
    dropped: tuple[str, ...] = ()


def _plan(spec: BuyerSpec) -> Endpoint:
    if not sip.is_sip(spec.number):
        raise EndpointError(f"{spec.number!r} is not a SIP URI (sip:user@host): only SIP "
                            "endpoints can be probed")
    info, _ = with_plugin_values(preview.call_info(preview.SampleCall()))
    # The action URL only lands in TwiML, which a probe never sends.
    plan = plan_for(info, spec, token_values(info, spec.id or None), action="/").plan
    if plan.error:
        raise EndpointError(plan.error)
    return Endpoint(plan.target.partition("?")[0], tuple((h.name, h.value) for h in plan.sent),
                    tuple(f"{h.name}: {why}" for h, why in plan.dropped))


def for_buyer(buyer) -> Endpoint:
    """A stored Buyer's endpoint, with its own headers."""
    return _plan(BuyerSpec(id=buyer.id, name=buyer.name, number=buyer.number,
                           sip_username=buyer.sip_username or "",
                           sip_password=MASK if buyer.sip_password_encrypted else "",
                           sip_headers=[(h.name, h.value) for h in buyer.headers],
                           timeout=buyer.timeout or 30))


def for_uri(uri: str) -> Endpoint:
    """A URI typed by hand: default headers only."""
    return _plan(BuyerSpec(id=0, name="", number=(uri or "").strip()))


def twilio_ranges(uri: str) -> dict:
    """Where Twilio's INVITE will come from for ``uri``: its ``;region=`` (else us1) and that
    region's signalling ranges (data/twilio_sip_ips.json), because a PBX that whitelists Twilio
    answers Twilio, not necessarily sipflask's probe."""
    data = json.loads(resources.files("sipflask").joinpath("data/twilio_sip_ips.json")
                      .read_text(encoding="utf-8"))
    params = dict(p.partition("=")[::2] for p in uri.partition(";")[2].split(";") if p)
    region = {k.lower(): v for k, v in params.items()}.get("region", DEFAULT_REGION).lower()
    cidrs = [r["cidr"] for r in data["signalling"] if r["region"] == region]
    return {"region": region, "signalling": cidrs, "known_region": bool(cidrs)}
