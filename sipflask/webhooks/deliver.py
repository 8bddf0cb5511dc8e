"""Sending deliveries from the job runner, and the pages' "Send test" and "Retry now".

``webhooks.deliver`` runs every minute and ``webhooks.deliver_now`` whenever a committed call
wrote deliveries (``webhooks/events.py`` queues it); both send everything due, in batches: the
batch is claimed (``tries.claim``), the requests are made in a thread pool
(``WEBHOOK_CONCURRENCY``, default 8) with no database connection held, and each result is
stored with its own commit. Any number of workers may run these at once: a delivery is sent by
the one that claimed it. State lives in the database, so a restart loses nothing: what was
pending is sent by the next run, what was being sent when a worker died is sent again once its
claim runs out (at-least-once; ``X-Sipflask-Delivery`` lets the receiver drop the repeat).
"""
from __future__ import annotations

import uuid as uuidlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, inspect, or_, select
from sqlalchemy.orm import selectinload

from sipflask import jobs
from sipflask.core import webhook_events
from sipflask.extensions import db
from sipflask.models import Call, utcnow
from sipflask.webhooks import payload, request, transport, tries
from sipflask.webhooks.model import Delivery, Webhook
from sipflask.webhooks.tries import TryResult

__all__ = ["TryResult", "send_test", "retry_now", "deliver_due", "deliver_round",
           "deliver_now", "MAX_PER_RUN"]

MAX_PER_RUN = 10_000  # one run's bound: a backlog bigger than this waits for the next run


def _concurrency() -> int:
    try:
        return min(max(int(current_app.config.get("WEBHOOK_CONCURRENCY", 8)), 1), 64)
    except (TypeError, ValueError):
        return 8


def _due(at: datetime, limit: int) -> list[int]:
    return list(db.session.scalars(
        select(Delivery.id).where(Delivery.state == "pending", Delivery.next_try_at <= at,
                                  or_(Delivery.sending_until.is_(None),
                                      Delivery.sending_until <= at))
        .order_by(Delivery.next_try_at, Delivery.id).limit(limit)))


def _load(ids: list[int]) -> list[Delivery]:
    return list(db.session.scalars(
        select(Delivery).where(Delivery.id.in_(ids))
        .options(selectinload(Delivery.webhook).selectinload(Webhook.headers))
        .order_by(Delivery.id).execution_options(populate_existing=True)))


def _drop(ids: list[int]) -> None:
    """Deliveries whose webhook was deleted as they were written (another process's cache):
    they go, as the webhook's whole log did."""
    if ids:
        db.session.execute(delete(Delivery).where(Delivery.id.in_(ids)))


def _run(jobs_: list[tries.Job], conf: tries.Settings, at: datetime | None) -> list[TryResult]:
    """Send claimed jobs (in threads when there are several) and store each result."""
    db.session.commit()  # the claims are stored; no connection is held while sending
    if len(jobs_) > 1:
        with ThreadPoolExecutor(max_workers=min(_concurrency(), len(jobs_))) as pool:
            done = list(pool.map(lambda j: tries.send_job(j, conf), jobs_))
    else:
        done = [tries.send_job(j, conf) for j in jobs_]
    results = []
    for job in done:
        try:
            results.append(tries.finish(job, conf, at or utcnow()))
            db.session.commit()
        except Exception:  # noqa: BLE001  its claim runs out and it is sent again
            db.session.rollback()
            current_app.logger.exception("webhook delivery %s: result not stored",
                                         job.delivery_id)
    return results


def deliver_due(limit: int = 100, at: datetime | None = None) -> dict:
    """Send up to ``limit`` due deliveries this worker can claim; returns counts by state
    (``at``: the clock, for tests; the retry schedule counts from it)."""
    conf = tries.settings()
    now = at or utcnow()
    counts: dict[str, int] = {}
    batch = max(_concurrency(), 1)
    ids = _due(now, limit)
    for start in range(0, len(ids), batch):
        won = [i for i in ids[start:start + batch] if tries.claim(i, now, conf.lease)]
        db.session.commit()
        if not won:
            continue
        loaded = _load(won)
        jobs_ = [tries.prepare_job(d, now, conf.max_tries) for d in loaded if d.webhook]
        _drop([d.id for d in loaded if d.webhook is None])
        for result in _run(jobs_, conf, at):
            counts[result.state] = counts.get(result.state, 0) + 1
        now = at or utcnow()
    return counts


def _deliver_all(at: datetime | None = None) -> dict:
    """Everything due, batch after batch, until nothing is due (bounded by MAX_PER_RUN)."""
    total: dict[str, int] = {}
    if not inspect(db.engine).has_table(Delivery.__tablename__):
        return total  # a worker started before `flask db upgrade`
    sent = 0
    while sent < MAX_PER_RUN:
        counts = deliver_due(100, at)
        if not counts:
            break
        for state, n in counts.items():
            total[state] = total.get(state, 0) + n
            sent += n
    return total


@jobs.periodic(jobs.crontab(), name="webhooks.deliver")
def deliver_round(at: datetime | None = None) -> dict:
    """Every minute: send every delivery that is due (retries, and anything a missed
    ``deliver_now`` left)."""
    return _deliver_all(at)


@jobs.task(name="webhooks.deliver_now")
def deliver_now() -> dict:
    """Queued after a commit that wrote deliveries: send them now rather than within a minute."""
    return _deliver_all()


def retry_now(delivery: Delivery, at: datetime | None = None) -> TryResult | None:
    """Send one delivery again now, whatever its state (the delivery log's "Retry now"); None
    when a worker is sending it at this moment (or its webhook is gone)."""
    conf = tries.settings()
    now = at or utcnow()
    won = tries.claim(delivery.id, now, conf.lease, due_only=False)
    db.session.commit()
    if not won:
        return None
    [loaded] = _load([delivery.id])
    if loaded.webhook is None:
        _drop([loaded.id])
        db.session.commit()
        return None
    job = tries.prepare_job(loaded, now, max(conf.max_tries, loaded.tries))
    results = _run([job], conf, at)
    return results[0] if results else None


def send_test(webhook: Webhook, call: Call | None = None) -> TryResult:
    """Fire the webhook once now, with ``call``'s values (a made-up call's when None), and show
    the request and the response; nothing is stored. The request carries
    ``X-Sipflask-Test: true``."""
    conf = tries.settings()
    if call is not None:
        values = payload.values_to_send(payload.for_call(call, webhook.event),
                                        bool(webhook.include_key), call.key)
    else:
        values = webhook_events.sample_values(webhook.event)
        values["event_time"] = payload.event_time(utcnow())
        if not webhook.include_key:
            values["call_key"] = ""
    prepared = request.prepare(webhook, values, str(uuidlib.uuid4()), webhook.event, test=True)
    if prepared.rendered is None:
        return TryResult(prepared.summary, error="; ".join(prepared.errors), refused=True)
    r = prepared.rendered
    response = transport.send(r.method, r.url, prepared.headers, r.body, timeout=conf.timeout,
                              allow_private=conf.allow_private, ca_bundle=conf.ca_bundle)
    return TryResult(prepared.summary, response.status, response.headers,
                     response.body.decode("utf-8", "replace"), response.duration_ms,
                     response.error, response.refused)
