"""The one writer of buyers' health state (``endpoint_health``) and its changes: probes and
real calls report here, the pure rules in core/endpointhealth.py decide, this stores.

Every update runs under the state row's lock (``SELECT ... FOR UPDATE``; on SQLite, whose one
writer is the lock, a write first), so a probe result and a failed call arriving together are
both counted. Nothing here commits: the caller's transaction does (a probe round commits per
buyer; a dial-action with its call).
"""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from sipflask.account.settings import account_zone
from sipflask.callflow import directory
from sipflask.core import endpointhealth as rules_core
from sipflask.core.endpointhealth import Change, Rules, State
from sipflask.extensions import db
from sipflask.siphealth.model import EndpointHealth, EndpointHealthEvent

__all__ = ["rules_for", "record_probe", "record_call", "record_attempt", "claim", "reset",
           "health_of"]

log = logging.getLogger("sipflask.siphealth")

_FIELDS = [f.name for f in dataclasses.fields(State)]
_T = EndpointHealth.__table__


def rules_for(buyer) -> Rules:
    """A Buyer's (or a routing row's) health rules, with the deployment's call-failure settings."""
    config = current_app.config
    return Rules(mode=buyer.health_check, down_after=buyer.health_down_after,
                 up_after=buyer.health_up_after,
                 call_failures=int(config.get("SIP_HEALTH_CALL_FAILURES", 5)),
                 retry=timedelta(seconds=float(config.get("SIP_HEALTH_RETRY_SECONDS", 120))))


def _clock(when: datetime) -> str:
    """``14:03`` on the account's clock; the date too when it is not today there."""
    zone = account_zone()
    local = when.astimezone(zone)
    now = datetime.now(zone)
    return local.strftime("%H:%M" if local.date() == now.date() else "%Y-%m-%d %H:%M")


def _locked(buyer_id: int) -> EndpointHealth:
    """The buyer's state row, locked until the transaction ends; created when missing."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(_T).where(_T.c.buyer_id == buyer_id)
                           .values(buyer_id=_T.c.buyer_id))
    row = db.session.scalar(select(EndpointHealth).where(EndpointHealth.buyer_id == buyer_id)
                            .with_for_update().execution_options(populate_existing=True))
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            db.session.add(EndpointHealth(buyer_id=buyer_id))
    except Exception:  # noqa: BLE001  another process created it first: lock theirs
        pass
    return db.session.scalar(select(EndpointHealth).where(EndpointHealth.buyer_id == buyer_id)
                             .with_for_update().execution_options(populate_existing=True))


def _apply(row: EndpointHealth, new: State, change: Change | None, at: datetime) -> None:
    for name in _FIELDS:
        setattr(row, name, getattr(new, name))
    if change is not None:
        db.session.add(EndpointHealthEvent(buyer_id=row.buyer_id, at=at, state=change.state,
                                           source=change.source, cause=change.cause[:500]))
        log.warning("buyer %s is %s: %s", row.buyer_id, change.state, change.cause)
        # This process routes on the new state at once; the others within the cache time.
        directory.clear_cache()


def _state(row: EndpointHealth) -> State:
    return State(**{name: getattr(row, name) for name in _FIELDS})


def record_probe(buyer_id: int, rules: Rules, alive: bool, kind: str, summary: str,
                 at: datetime) -> Change | None:
    """Count one probe's result (``summary``: its verdict, shown on the buyer's page)."""
    row = _locked(buyer_id)
    new, change = rules_core.after_probe(_state(row), rules, alive, kind, at, _clock)
    _apply(row, new, change, at)
    row.last_probe_at, row.last_probe_alive, row.last_probe = at, alive, summary[:300]
    return change


def record_call(buyer_id: int, rules: Rules, code: int | None, at: datetime) -> Change | None:
    """Count one real call attempt that ended with SIP ``code``."""
    if code is None or rules.mode == "off":
        return None
    row = _locked(buyer_id)
    new, change = rules_core.after_call(_state(row), rules, code, at, _clock)
    if new != _state(row):
        _apply(row, new, change, at)
    return change


def record_attempt(campaign_id: int | None, buyer_id: int | None, code: int | None,
                   at: datetime) -> Change | None:
    """A dial-action's hook: count the attempt if its buyer has health checks on.

    The buyer's settings come from the routing list (cached), so a buyer without checks costs
    nothing; for one with checks, a failure here is logged and the dial-action carries on
    (its savepoint is rolled back, never the call's transaction)."""
    if code is None or buyer_id is None or campaign_id is None:
        return None
    row = next((b for b in directory.campaign_buyers(campaign_id) if b.id == buyer_id), None)
    if row is None or row.health_check == "off":
        return None
    try:
        with db.session.begin_nested():
            return record_call(buyer_id, rules_for(row), code, at)
    except Exception:  # noqa: BLE001  health bookkeeping must never fail a call
        log.exception("buyer %s: the failed-call count could not be updated", buyer_id)
        return None


def claim(buyer_id: int, at: datetime, interval: float) -> bool:
    """Take this interval's probe of the buyer; False when another process already has.

    One conditional UPDATE, so across every worker of the deployment one wins. The next claim
    opens a little before a full interval has passed, so a round that starts early by a moment
    does not skip a beat."""
    _locked(buyer_id)  # exists
    won = db.session.execute(
        update(_T).where(_T.c.buyer_id == buyer_id,
                         or_(_T.c.next_probe_at.is_(None), _T.c.next_probe_at <= at))
        .values(next_probe_at=at + timedelta(seconds=interval * 0.8))).rowcount == 1
    return won


def reset(buyer_id: int, why: str) -> None:
    """Forget the buyer's health (its checks were turned off or changed); a buyer that was
    down is recorded as up again, with ``why``."""
    row = db.session.get(EndpointHealth, buyer_id)
    if row is None:
        return
    if row.state == "down":
        db.session.add(EndpointHealthEvent(buyer_id=buyer_id, state="up", source="settings",
                                           cause=why[:500]))
        directory.clear_cache()
    db.session.execute(delete(EndpointHealth).where(EndpointHealth.buyer_id == buyer_id))


def health_of(buyer_id: int) -> EndpointHealth | None:
    return db.session.get(EndpointHealth, buyer_id)
