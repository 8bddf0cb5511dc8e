"""What routing reads on every call: tracking numbers and campaigns' buyers, as plain rows.

The voice webhook is the hot path, so these are lean Core queries (no ORM objects), and the
results may be cached per process for ``ROUTING_CACHE_SECONDS`` (default 2): a busy campaign then
costs no reads at all. What must be exact stays exact without the cache: caps and ``paused`` are
checked again by the database in ``caps.reserve``, so pausing a buyer takes effect at once; an
edit to a buyer's number or headers, or to a routing list, reaches calls at once in the process
that made it and within the cache time in the others.
Unknown numbers are never cached, so a number added now routes on its next call.

Apart from the cache, each process keeps the last rows it read for every number and routing
list (the *snapshot*, :func:`snapshot_number`, :func:`snapshot_buyers`), whatever the cache time:
only outage routing (``callflow/fallback.py``) reads it, when the database can't be reached.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from sipflask.core import schedule
from sipflask.extensions import db
from sipflask.models import Buyer, BuyerHeader, Campaign, CampaignBuyer, Number, Publisher
from sipflask.siphealth.model import EndpointHealth


@dataclass(frozen=True)
class NumberRow:
    id: int
    number: str
    sub_id: str
    tags: dict
    campaign_id: int
    campaign_ref: str
    campaign_name: str
    campaign_settings: dict
    publisher_id: int | None
    afid: str


@dataclass(frozen=True)
class BuyerRow:
    id: int
    name: str
    number: str
    sip_username: str
    sip_password_encrypted: str
    priority: int
    weight: int
    timeout: int
    paused: bool
    concurrency_cap: int | None
    daily_cap: int | None
    active_calls: int
    calls_today: int
    calls_day: date | None
    hourly_cap: int | None
    monthly_cap: int | None
    total_cap: int | None
    cap_counts: str
    calls_hour: int
    calls_hour_key: str | None
    calls_month: int
    calls_month_key: str | None
    calls_total: int
    time_zone: str
    hours: dict | None
    closures: list
    headers: tuple[tuple[str, str], ...]
    # Compiled once per read (callflow/availability.py), not once per call.
    schedule: schedule.Schedule | None = None
    # Health-aware routing (siphealth/): the buyer's settings and its state as last read.
    health_check: str = "off"
    health_down_after: int = 3
    health_up_after: int = 2
    health_state: str | None = None
    health_cause: str = ""
    health_retry_at: datetime | None = None


_NUMBER = (select(Number.id, Number.number, Number.sub_id, Number.tags, Number.campaign_id,
                  Campaign.ref, Campaign.name, Campaign.settings, Number.publisher_id,
                  Publisher.afid)
           .join(Campaign, Campaign.id == Number.campaign_id)
           .outerjoin(Publisher, Publisher.id == Number.publisher_id))

_BUYERS = (select(Buyer.id, Buyer.name, Buyer.number, Buyer.sip_username,
                  Buyer.sip_password_encrypted, Buyer.priority, Buyer.weight, Buyer.timeout,
                  Buyer.paused, Buyer.concurrency_cap, Buyer.daily_cap, Buyer.active_calls,
                  Buyer.calls_today, Buyer.calls_day, Buyer.hourly_cap, Buyer.monthly_cap,
                  Buyer.total_cap, Buyer.cap_counts, Buyer.calls_hour, Buyer.calls_hour_key,
                  Buyer.calls_month, Buyer.calls_month_key, Buyer.calls_total, Buyer.time_zone,
                  Buyer.hours, Buyer.closures, Buyer.health_check, Buyer.health_down_after,
                  Buyer.health_up_after, EndpointHealth.state, EndpointHealth.cause,
                  EndpointHealth.retry_at)
           .join(CampaignBuyer, CampaignBuyer.buyer_id == Buyer.id)
           .outerjoin(EndpointHealth, EndpointHealth.buyer_id == Buyer.id)
           .order_by(CampaignBuyer.position))
_HEALTH = 6  # the health columns, last in _BUYERS

_HEADERS = select(BuyerHeader.buyer_id, BuyerHeader.name, BuyerHeader.value).order_by(
    BuyerHeader.buyer_id, BuyerHeader.position)


class _Cache:
    """A small TTL cache shared by the threads of one process."""

    def __init__(self):
        self._data: dict = {}
        self._lock = threading.Lock()

    def get(self, key, ttl: float):
        if ttl <= 0:
            return None
        hit = self._data.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key, value, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            if len(self._data) > 10_000:  # bounded: old entries go wholesale
                self._data.clear()
            self._data[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class _Snapshot:
    """The last rows read per key, kept until read again (stale, but there when needed)."""

    def __init__(self):
        self._data: dict = {}

    def put(self, key, value) -> None:
        if len(self._data) > 10_000 and key not in self._data:
            self._data.clear()  # bounded: a process serving 10,000 numbers starts over
        self._data[key] = value  # one assignment: atomic for the threads of the process

    def get(self, key):
        return self._data.get(key)


def _snapshot() -> _Snapshot:
    app = current_app._get_current_object()
    snap = app.extensions.get("sipflask.snapshot")
    if snap is None:
        snap = app.extensions["sipflask.snapshot"] = _Snapshot()
    return snap


def snapshot_number(e164: str) -> NumberRow | None:
    """The number as this process last read it (any age), or None; reads no database."""
    return _snapshot().get(("number", e164))


def snapshot_buyers(campaign_id: int) -> tuple[BuyerRow, ...] | None:
    """The campaign's routing list as this process last read it (any age), or None."""
    return _snapshot().get(("buyers", campaign_id))


def _cache() -> tuple[_Cache, float]:
    app = current_app._get_current_object()
    cache = app.extensions.get("sipflask.directory")
    if cache is None:
        cache = app.extensions["sipflask.directory"] = _Cache()
    return cache, float(app.config.get("ROUTING_CACHE_SECONDS", 0) or 0)


def clear_cache() -> None:
    """Forget cached numbers and buyers in this process (e.g. right after an edit)."""
    _cache()[0].clear()


_WATCHED = (Buyer, BuyerHeader, Campaign, CampaignBuyer, Number, Publisher)
# EndpointHealth is not watched: siphealth/state.py clears the cache when a state flips, not on
# every probe's counters.


@event.listens_for(Session, "after_flush")
def _note_setup_changes(session, flush_context):
    if any(isinstance(obj, _WATCHED)
           for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info["sipflask.setup_changed"] = True


@event.listens_for(Session, "after_commit")
def _forget_after_setup_changes(session):
    # An edit made in this process shows on its next call; other processes pick it up when
    # their cache time runs out.
    if session.info.pop("sipflask.setup_changed", False) and has_app_context():
        clear_cache()


@event.listens_for(Session, "after_rollback")
def _nothing_changed(session):
    session.info.pop("sipflask.setup_changed", None)


def find_number(e164: str) -> NumberRow | None:
    cache, ttl = _cache()
    key = ("number", e164)
    row = cache.get(key, ttl)
    if row is not None:
        return row
    found = db.session.execute(_NUMBER.where(Number.number == e164)).first()
    if found is None:
        return None
    row = NumberRow(found[0], found[1], found[2] or "", dict(found[3] or {}), found[4],
                    found[5], found[6], dict(found[7] or {}), found[8], found[9] or "")
    cache.put(key, row, ttl)
    _snapshot().put(key, row)
    return row


def _buyer_row(found, headers) -> BuyerRow:
    *columns, time_zone, hours, closures = found[:-_HEALTH]
    check, down_after, up_after, state, cause, retry_at = found[-_HEALTH:]
    return BuyerRow(*columns, time_zone or "UTC", hours, list(closures or ()), headers,
                    schedule.compiled(time_zone, hours, closures), check or "off",
                    down_after or 3, up_after or 2, state, cause or "", retry_at)


def campaign_buyers(campaign_id: int) -> tuple[BuyerRow, ...]:
    """The campaign's routing list in the user's order, each buyer with its headers."""
    cache, ttl = _cache()
    key = ("buyers", campaign_id)
    rows = cache.get(key, ttl)
    if rows is not None:
        return rows
    found = db.session.execute(_BUYERS.where(CampaignBuyer.campaign_id == campaign_id)).all()
    headers: dict[int, list[tuple[str, str]]] = {}
    if found:
        for buyer_id, name, value in db.session.execute(
                _HEADERS.where(BuyerHeader.buyer_id.in_([r[0] for r in found]))):
            headers.setdefault(buyer_id, []).append((name, value))
    rows = tuple(_buyer_row(r, tuple(headers.get(r[0], ()))) for r in found)
    cache.put(key, rows, ttl)
    _snapshot().put(key, rows)
    return rows
