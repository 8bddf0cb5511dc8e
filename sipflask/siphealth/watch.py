"""Health-aware routing's probes: every ``SIP_HEALTH_INTERVAL`` seconds (default 30) each buyer
with health checks set to ``options`` gets one OPTIONS check (siphealth/check.py, the Test
endpoint button's own), and the result goes to siphealth/state.py.

Huey checks periodic jobs once a minute, so the minute's job probes and then queues the
rounds for the rest of the minute (at 30 s with the default). Any number of workers, on any
number of machines, may run these rounds: each buyer's probe is claimed first with one
conditional UPDATE (``state.claim``), so a buyer is probed once per interval whoever runs it.

The network waits happen in a thread pool (``SIP_HEALTH_CONCURRENCY``, default 16) with no
database connection held; the results are written by the job's own thread, one commit each.
"""
from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from sipflask import jobs
from sipflask.callflow import caps
from sipflask.core import endpointhealth
from sipflask.core.sipoptions import DEFAULT_ACCEPTED, SipMessageError, check_accepted_codes
from sipflask.extensions import db
from sipflask.models import Buyer
from sipflask.siphealth import check, endpoint, state
from sipflask.siphealth import dns as sipdns

__all__ = ["probe_round", "probe_again", "run_round"]

log = logging.getLogger("sipflask.siphealth")

DEFAULT_INTERVAL = 30


@dataclass
class _Probe:
    buyer_id: int
    rules: endpointhealth.Rules
    target: endpoint.Endpoint | None
    accepted: tuple[int, ...]
    error: str = ""


def _setting(name: str, default: float, low: float, high: float) -> float:
    try:
        value = float(current_app.config.get(name, default))
    except (TypeError, ValueError):
        return default
    return min(max(value, low), high)


def interval() -> float:
    """Seconds between two probes of one buyer (``SIP_HEALTH_INTERVAL``, 5 to 3600)."""
    return _setting("SIP_HEALTH_INTERVAL", DEFAULT_INTERVAL, 5, 3600)


def _accepted(buyer: Buyer) -> tuple[int, ...]:
    try:
        return check_accepted_codes(buyer.health_codes or "") or DEFAULT_ACCEPTED
    except SipMessageError:
        return DEFAULT_ACCEPTED  # refused when saved; a hand-edited row falls back


def _claimed(at: datetime, every: float) -> list[_Probe]:
    """The buyers due for a probe that this process won, each planned (tokens expanded)."""
    buyers = db.session.scalars(select(Buyer).where(Buyer.health_check == "options")
                                .options(selectinload(Buyer.headers))
                                .order_by(Buyer.id)).all()
    planned = []
    for buyer in buyers:
        won = state.claim(buyer.id, at, every)
        db.session.commit()
        if not won:
            continue
        probe = _Probe(buyer.id, state.rules_for(buyer), None, _accepted(buyer))
        try:
            probe.target = endpoint.for_buyer(buyer)
        except endpoint.EndpointError as exc:
            probe.error = str(exc)
        planned.append(probe)
    return planned


def _check(probe: _Probe, timeout: float, deadline: float) -> check.Diagnosis:
    lookup = check.lookup_from_config(current_app.config, deadline=deadline)
    return check.check_endpoint(probe.target.uri, lookup, probe.target.headers,
                                timeout=timeout, accepted=probe.accepted, deadline=deadline)


def _outcome(diagnosis: check.Diagnosis) -> tuple[bool, str]:
    last = diagnosis.probes[-1] if diagnosis.probes else None
    if diagnosis.alive:
        return True, ""
    if last is None:
        return False, "dns" if diagnosis.resolution.error else "failed"
    return False, endpointhealth.probe_kind(last.failure, last.status)


def _record(probe: _Probe, result, at: datetime) -> bool | None:
    if probe.error:
        alive, kind, summary = False, "invalid", probe.error
    elif isinstance(result, Exception):
        alive, kind, summary = False, "failed", f"the probe failed: {type(result).__name__}"
    else:
        (alive, kind), summary = _outcome(result), result.verdict
    try:
        state.record_probe(probe.buyer_id, probe.rules, alive, kind, summary, at)
        db.session.commit()
    except Exception:  # noqa: BLE001  a buyer deleted meanwhile, a database hiccup: next one
        db.session.rollback()
        log.exception("buyer %s: the probe's result could not be stored", probe.buyer_id)
        return None
    return alive


def run_round(at: datetime | None = None) -> dict:
    """Probe every buyer due now that no other process has claimed; returns counts."""
    at = at or caps.now()
    every = interval()
    try:
        check.lookup_from_config(current_app.config)
    except sipdns.NameserverError as exc:
        log.error("health probes skipped: %s", exc)
        return {"skipped": str(exc)}
    probes = _claimed(at, every)
    db.session.rollback()  # no connection held while the network answers
    counts = {"probed": len(probes), "alive": 0, "down": 0}
    if not probes:
        return counts
    timeout = _setting("SIP_HEALTH_TIMEOUT", 4, 0.5, 30)
    deadline = time.monotonic() + max(timeout * 2, min(every, 30))
    app = current_app._get_current_object()

    def one(probe: _Probe):
        if probe.error:
            return None
        with app.app_context():
            try:
                return _check(probe, timeout, deadline)
            except Exception as exc:  # noqa: BLE001  recorded as a failed probe
                return exc

    workers = int(_setting("SIP_HEALTH_CONCURRENCY", 16, 1, 128))
    with ThreadPoolExecutor(max_workers=min(workers, len(probes))) as pool:
        results = list(pool.map(one, probes))
    for probe, result in zip(probes, results):
        alive = _record(probe, result, at)
        if alive is not None:
            counts["alive" if alive else "down"] += 1
    return counts


@jobs.periodic(jobs.crontab(), name="siphealth.probe")
def probe_round(at: datetime | None = None) -> dict:
    """Every minute: probe the buyers that are due, then queue this minute's other rounds."""
    every = interval()
    if db.session.scalar(select(Buyer.id).where(Buyer.health_check == "options").limit(1)):
        for k in range(1, math.ceil(60 / every)):
            probe_again.enqueue_in(k * every)
    return run_round(at)


@jobs.task(name="siphealth.probe_again")
def probe_again() -> dict:
    """One of the minute's later rounds (queued by :func:`probe_round`)."""
    return run_round()
