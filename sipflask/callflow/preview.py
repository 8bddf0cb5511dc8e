"""The buyer editor's live preview: a sample call run through the webhook's own code.

A :class:`SampleCall` (caller, tracking number, publisher, sub_id, tags as the user typed them)
becomes a :class:`sipflask.plugins.CallInfo` like the one the voice webhook builds from a stored
call; plugin token values are added the way ``callflow.start_call`` adds them; then
``planning.token_values`` and ``planning.plan_for`` -- the functions the webhook runs for every
attempt -- produce the TwiML and the headers, for a :class:`BuyerSpec` made straight from the
editor's checked values (:func:`draft_spec`). Nothing is written to the database.

:func:`at_moment` answers the preview's other question: at the sample call's moment, is the
buyer *as typed* open and under its caps (its draft schedule and caps, its stored counters),
and for each campaign ticked, who would take the call instead (``callflow/availability.py``:
the same reasons routing writes).

The SIP password never enters the preview: the buyer spec carries :data:`MASK` in its place
whenever a password would be sent, so the TwiML shows ``password="********"`` exactly where the
webhook puts the real one.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from xml.dom import minidom

from sipflask import plugins
from sipflask.callflow import availability
from sipflask.callflow.planning import plan_for, token_values, with_plugin_values
from sipflask.core import localclock, schedule
from sipflask.core.buyer_rules import MAX_TIMEOUT, MIN_TIMEOUT
from sipflask.core.dialplan import AttemptPlan, BuyerSpec
from sipflask.core.invite import Invite, build_invite
from sipflask.core.redact import MASK
from sipflask.models import Number, Publisher
from sipflask.urls import dial_action_url

# A sample call's uuid and key: every real call gets its own (a random UUID4 and 256-bit key).
SAMPLE_UUID = "5d0c7a36-2f4b-4c1e-9a57-8b3e1f6d2c90"
SAMPLE_KEY = "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d0f"
DEFAULT_CALLER = "+14155552671"


@dataclass
class SampleCall:
    caller: str = DEFAULT_CALLER
    number: Number | None = None
    publisher: Publisher | None = None
    sub_id: str = ""
    tags: dict = field(default_factory=dict)


def call_info(sample: SampleCall) -> plugins.CallInfo:
    """The CallInfo the webhook would build for a call like ``sample`` (see plugins.call_info)."""
    number = sample.number
    campaign = number.campaign if number is not None else None
    publisher = sample.publisher
    return plugins.CallInfo(
        uuid=SAMPLE_UUID, key=SAMPLE_KEY, caller=sample.caller or "",
        called=number.number if number is not None else "",
        campaign_id=campaign.id if campaign else None,
        campaign_ref=campaign.ref if campaign else "",
        campaign_name=campaign.name if campaign else "",
        campaign_settings=copy.deepcopy(campaign.settings or {}) if campaign else {},
        publisher_id=publisher.id if publisher else None,
        afid=publisher.afid if publisher else "",
        sub_id=sample.sub_id or "",
        tags={str(k): str(v) for k, v in (sample.tags or {}).items()},
    )


def draft_spec(clean, *, buyer_id: int | None, number: str, send_password: bool) -> BuyerSpec:
    """The buyer being edited as the webhook would plan it, from the editor's checked values
    (``clean``: name, sip_username, timeout, sip_headers as (name, value) pairs); the password
    is :data:`MASK` when one would be sent, and a timeout out of range falls back to 30."""
    timeout = clean["timeout"]
    if not (isinstance(timeout, int) and MIN_TIMEOUT <= timeout <= MAX_TIMEOUT):
        timeout = 30
    return BuyerSpec(id=buyer_id, name=clean["name"], number=number,
                     sip_username=clean["sip_username"] or "",
                     sip_password=MASK if send_password else "",
                     sip_headers=[(n, v) for n, v in clean["sip_headers"]], timeout=timeout)


@dataclass
class Preview:
    info: plugins.CallInfo
    values: dict
    plan: AttemptPlan
    invite: Invite | None
    failures: list
    action: str

    @property
    def twiml(self) -> str:
        return self.plan.twiml

    @property
    def error(self) -> str | None:
        return self.plan.error

    @property
    def twiml_pretty(self) -> str:
        return pretty_xml(self.plan.twiml)


def pretty_xml(xml: str) -> str:
    """TwiML with one element a line, for reading (declaration and escaping unchanged)."""
    if not xml:
        return ""
    declaration = ""
    if xml.startswith("<?xml"):
        end = xml.index("?>") + 2
        declaration, xml = xml[:end] + "\n", xml[end:]
    text = minidom.parseString(xml).documentElement.toprettyxml(indent="  ")
    return declaration + "\n".join(line for line in text.splitlines() if line.strip())


def build(spec: BuyerSpec, sample: SampleCall, buyer_id: int | None) -> Preview:
    """Plan the first attempt of ``sample`` to ``spec`` with the webhook's functions.

    ``spec.sip_password`` must already be :data:`MASK` or empty (see the module docstring).
    """
    if spec.sip_password not in ("", MASK):
        raise ValueError("the preview never handles a real SIP password")
    info, failures = with_plugin_values(call_info(sample))
    values = token_values(info, buyer_id)
    action = dial_action_url(info, 0)
    planned = plan_for(info, spec, values, action)
    invite = build_invite(planned.plan, info.caller, sip_username=spec.sip_username,
                          has_password=bool(spec.sip_password))
    return Preview(info=info, values=values, plan=planned.plan, invite=invite,
                   failures=failures + planned.failures, action=action)


# --- the sample call's moment -----------------------------------------------------------------

@dataclass(frozen=True)
class DraftBuyer:
    """The buyer being edited as ``availability.status`` reads it: the caps, pause, priority
    and schedule as typed; the counters as stored (zero for a new buyer)."""

    id: int
    name: str
    priority: int
    weight: int
    paused: bool
    schedule: schedule.Schedule
    concurrency_cap: int | None = None
    hourly_cap: int | None = None
    daily_cap: int | None = None
    monthly_cap: int | None = None
    total_cap: int | None = None
    active_calls: int = 0
    calls_hour: int = 0
    calls_hour_key: str | None = None
    calls_today: int = 0
    calls_day: date | None = None
    calls_month: int = 0
    calls_month_key: str | None = None
    calls_total: int = 0


COUNTERS = ("active_calls", "calls_hour", "calls_hour_key", "calls_today", "calls_day",
            "calls_month", "calls_month_key", "calls_total")
CAPS = ("concurrency_cap", "hourly_cap", "daily_cap", "monthly_cap", "total_cap")


def _int(value, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def draft_buyer(clean: dict, stored=None) -> DraftBuyer:
    """``clean`` is ``check_buyer``'s result (usable even with errors: bad parts fall back);
    ``stored`` the saved Buyer, if any. A new buyer's id is 0 (no stored row has it)."""
    try:
        sched = schedule.build(clean["time_zone"], clean["hours"], clean["closures"])
    except ValueError:
        sched = schedule.Schedule("UTC")
    counters = {k: getattr(stored, k) for k in COUNTERS} if stored is not None else {}
    caps = {k: clean[k] if isinstance(clean.get(k), int) else None for k in CAPS}
    return DraftBuyer(id=stored.id if stored is not None else 0, name=clean["name"],
                      priority=_int(clean["priority"], 1), weight=_int(clean["weight"], 1),
                      paused=bool(clean["paused"]), schedule=sched, **caps, **counters)


@dataclass(frozen=True)
class Route:
    """One ticked campaign at the moment: its routing list with the draft in place."""

    campaign_id: int
    name: str
    seats: tuple[availability.Seat, ...]
    first: tuple[availability.Seat, ...]    # who a call goes to first (draft included)
    instead: tuple[availability.Seat, ...]  # who takes it when the draft can't or doesn't
    draft: availability.Seat

    @property
    def draft_first(self) -> bool:
        return self.draft in self.first


@dataclass(frozen=True)
class Moment:
    when: datetime
    text: str                      # "Mon Dec 7 12:30 America/New_York"
    status: availability.BuyerStatus
    routes: tuple[Route, ...]


def route(campaign_id: int, name: str, draft: DraftBuyer, reason: str | None,
          when: datetime) -> Route:
    seats = availability.lineup(campaign_id, when)
    here = next((i for i, s in enumerate(seats) if s.buyer_id == draft.id), len(seats))
    others = [s for s in seats if s.buyer_id != draft.id]
    mine = availability.Seat(draft.id, draft.name, draft.priority, reason)
    lineup = others[:here] + [mine] + others[here:]
    return Route(campaign_id, name, tuple(lineup), tuple(availability.first_choices(lineup)),
                 tuple(availability.first_choices(others)), mine)


def at_moment(clean: dict, stored, campaigns: list[tuple[int, str]], when: datetime) -> Moment:
    """The draft buyer's state at ``when`` and who takes the call on each of ``campaigns``."""
    draft = draft_buyer(clean, stored)
    status = availability.status(draft, when)
    text = localclock.clock_text(draft.schedule.tz, when, weekday=True, month_day=True)
    routes = tuple(route(cid, name, draft, status.reason, when) for cid, name in campaigns)
    return Moment(when, text, status, routes)
