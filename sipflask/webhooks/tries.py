"""One try of one delivery: the claim, the request, the result stored.

The claim is one conditional UPDATE: it sets ``sending_until`` (and counts the try) only when
no other worker holds the delivery, so across every worker of the deployment one wins; a
worker that dies lets go when ``sending_until`` passes, and the delivery is sent again
(at least once). The request is made with no database connection held, and its result is
stored with one UPDATE (only while the claim is still ours) and one ``DeliveryTry`` row.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import insert, or_, select, update

from sipflask.core import webhook_delivery
from sipflask.extensions import db
from sipflask.models import Call
from sipflask.webhooks import payload, request, transport
from sipflask.webhooks.model import Delivery, DeliveryTry, Webhook

__all__ = ["Job", "TryResult", "claim", "prepare_job", "send_job", "finish", "settings"]

log = logging.getLogger("sipflask.webhooks")

_D, _T = Delivery.__table__, DeliveryTry.__table__


@dataclass
class Settings:
    timeout: tuple[float, float]
    max_tries: int
    allow_private: bool
    ca_bundle: str | None

    @property
    def lease(self) -> timedelta:
        """Long enough for a lookup, a connect and a slow answer, with room to spare."""
        return timedelta(seconds=2 * sum(self.timeout) + 60)


def _bool(value) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


def _timeout(value) -> tuple[float, float]:
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        value = (value, value)
    try:
        connect, read = (float(v) for v in (list(value) * 2)[:2])
    except (TypeError, ValueError):
        return 5.0, 10.0
    return min(max(connect, 0.1), 60.0), min(max(read, 0.1), 120.0)


def settings() -> Settings:
    config = current_app.config
    try:
        max_tries = min(max(int(config.get("WEBHOOK_MAX_TRIES", 6)), 1), 50)
    except (TypeError, ValueError):
        max_tries = webhook_delivery.DEFAULT_MAX_TRIES
    return Settings(_timeout(config.get("WEBHOOK_TIMEOUT", (5, 10))), max_tries,
                    _bool(config.get("WEBHOOKS_ALLOW_PRIVATE", False)),
                    config.get("WEBHOOK_CA_BUNDLE") or None)


@dataclass
class TryResult:
    """One try as the pages and the CLI show it (secrets masked)."""
    request: dict
    status: int | None = None
    headers: list = field(default_factory=list)
    body: str = ""
    duration_ms: int | None = None
    error: str = ""
    refused: bool = False
    state: str | None = None  # the delivery's state afterwards (None for a test)
    retry_at: datetime | None = None


@dataclass
class Job:
    """A claimed delivery, ready to send without the database."""
    delivery_id: int
    claim: datetime
    tries: int
    prepared: request.Prepared | None
    stop: str = ""  # why it is not sent at all
    response: transport.Response | None = None


def claim(delivery_id: int, at: datetime, lease: timedelta, *, due_only: bool = True) -> bool:
    """Take the delivery for one try (``due_only``: only when it is pending and due)."""
    where = [_D.c.id == delivery_id,
             or_(_D.c.sending_until.is_(None), _D.c.sending_until <= at)]
    if due_only:
        where += [_D.c.state == "pending", _D.c.next_try_at <= at]
    won = db.session.execute(update(_D).where(*where).values(
        sending_until=at + lease, state="pending", tries=_D.c.tries + 1)).rowcount == 1
    return won


def prepare_job(delivery: Delivery, at: datetime, max_tries: int) -> Job:
    """The request for a delivery this worker claimed (``at``: the claim's time)."""
    hook: Webhook = delivery.webhook
    job = Job(delivery.id, delivery.sending_until, delivery.tries, None)
    if not hook.enabled:
        job.stop = "the webhook is disabled"
    elif delivery.tries > max_tries:
        job.stop = (f"no result was stored for try {delivery.tries - 1} (did the worker "
                    "stop?); gave up")
    if job.stop:
        return job
    key = None
    if hook.include_key and delivery.call_id is not None:
        key = db.session.scalar(select(Call.key).where(Call.id == delivery.call_id))
    values = payload.values_to_send(delivery.payload, bool(hook.include_key), key)
    job.prepared = request.prepare(hook, values, delivery.uuid, delivery.event,
                                   now=at.timestamp())
    return job


def send_job(job: Job, conf: Settings) -> Job:
    """Make the request (any thread: no database, no app context)."""
    prepared = job.prepared
    if job.stop or prepared is None or prepared.rendered is None:
        return job
    r = prepared.rendered
    job.response = transport.send(r.method, r.url, prepared.headers, r.body,
                                  timeout=conf.timeout, allow_private=conf.allow_private,
                                  ca_bundle=conf.ca_bundle)
    return job


def _verdict(job: Job, conf: Settings, at: datetime) -> tuple[str, datetime | None, str]:
    """The delivery's new state, when to try again, and the error to show."""
    response = job.response
    if job.stop:
        return "failed", None, job.stop
    if response is None:  # nothing could be rendered
        return "refused", None, "; ".join(job.prepared.errors if job.prepared else [])
    if response.refused:
        return "refused", None, response.error
    verdict = webhook_delivery.outcome(response.status, response.error, job.tries,
                                       conf.max_tries)
    if not verdict.retry:
        return verdict.state, None, verdict.reason if verdict.state != "delivered" else ""
    after = webhook_delivery.parse_retry_after(dict((k.lower(), v) for k, v in response.headers)
                                               .get("retry-after"), at)
    return "pending", at + webhook_delivery.retry_delay(job.tries, after), verdict.reason


def finish(job: Job, conf: Settings, at: datetime) -> TryResult:
    """Store the try and the delivery's new state (no commit); returns the try as shown."""
    state, retry_at, error = _verdict(job, conf, at)
    response = job.response or transport.Response()
    shown = job.prepared.summary if job.prepared else {}
    body = response.body.decode("utf-8", "replace").replace("\x00", "\ufffd")
    db.session.execute(insert(_T).values(
        delivery_id=job.delivery_id, at=at, request_summary=shown, status=response.status,
        duration_ms=response.duration_ms if job.response else None, error=error[:500],
        response_headers=[list(h) for h in response.headers], response_body=body))
    db.session.execute(update(_D).where(_D.c.id == job.delivery_id,
                                        _D.c.sending_until == job.claim)
                       .values(state=state, next_try_at=retry_at, sending_until=None,
                               last_status=response.status, last_error=error[:500]))
    if state != "delivered":
        log.warning("webhook delivery %s: %s (try %d%s)", job.delivery_id, error or state,
                    job.tries, f", again at {retry_at:%H:%M:%S}" if retry_at else "")
    return TryResult(shown, response.status, response.headers, body,
                     response.duration_ms if job.response else None, error,
                     state == "refused", state, retry_at)
