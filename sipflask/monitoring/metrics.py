"""Prometheus metrics: their names (a contract, listed in docs/deployment.md), the functions the
call path calls to count what happened, and ``render`` for ``/metrics``.

Label values are bounded here (known words, numeric SIP codes, clipped plugin names) so a caller
controlling a webhook value can never grow the number of series without limit.
"""
from __future__ import annotations

import logging
import os
import re

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

# Twilio gives up on a webhook after 15 s; the buckets resolve the range that matters below it.
WEBHOOK_SECONDS = Histogram(
    "sipflask_webhook_duration_seconds", "Time to answer a Twilio webhook, by endpoint.",
    ["endpoint"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15))
# Series that exist from the start, so dashboards and alerts see 0 rather than no data.
for _endpoint in ("voice", "dial_action", "status"):
    WEBHOOK_SECONDS.labels(endpoint=_endpoint)
CALLS = Counter("sipflask_calls", "Calls by final outcome.", ["outcome"])
ATTEMPTS = Counter("sipflask_attempts", "Dial attempts by SIP response code (none: no code).",
                   ["sip_code"])
SKIPS = Counter("sipflask_buyer_skips", "Buyers skipped while routing, by reason.", ["reason"])
PLUGIN_TIMEOUTS = Counter("sipflask_plugin_timeouts", "Plugin hook calls cut off by the "
                          "time limit, by plugin.", ["plugin"])

SKIP_REASONS = frozenset({"cap", "hours", "paused", "unreachable"})
_WORD = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def observe_webhook(seconds: float, endpoint: str = "voice") -> None:
    WEBHOOK_SECONDS.labels(endpoint=endpoint if _WORD.match(endpoint) else "other").observe(seconds)


def call_outcome(status: str) -> None:
    """Count a call's final outcome: Twilio's DialCallStatus or our own word (e.g. no-buyer)."""
    status = (status or "").strip().lower()
    CALLS.labels(outcome=status if _WORD.match(status) else "other").inc()


def attempt_sip_code(code) -> None:
    """Count one dial attempt by its SIP response code (None or junk counts as "none")."""
    try:
        value = int(code)
    except (TypeError, ValueError):
        value = 0
    ATTEMPTS.labels(sip_code=str(value) if 100 <= value <= 699 else "none").inc()


def skip(kind: str) -> None:
    """Count a buyer skipped while routing: "cap" (concurrency or daily cap), "hours", "paused",
    "unreachable" (health-aware routing)."""
    SKIPS.labels(reason=kind if kind in SKIP_REASONS else "other").inc()


def plugin_timeout(plugin: str) -> None:
    PLUGIN_TIMEOUTS.labels(plugin=str(plugin)[:64] or "unknown").inc()


class JobCollector:
    """Job numbers read from the queue's storage at scrape time, so they are the same whichever
    web process answers and whichever machine ran the job."""

    def __init__(self, queue, heartbeat_at):
        self.queue, self.heartbeat_at = queue, heartbeat_at

    def collect(self):
        from sipflask.jobs import JOBS
        from sipflask.jobs.queue import FAILED_KEY, RUN_KEY
        try:
            queued = GaugeMetricFamily("sipflask_jobs_queued", "Jobs waiting in the queue.",
                                       value=self.queue.huey.pending_count())
            failed = CounterMetricFamily("sipflask_jobs_failed", "Job runs that raised, by job.",
                                         labels=["job"])
            runs = CounterMetricFamily("sipflask_jobs_run", "Job runs that finished, by job.",
                                       labels=["job"])
            for name in sorted(JOBS):
                failed.add_metric([name], self.queue.counter(FAILED_KEY, name))
                runs.add_metric([name], self.queue.counter(RUN_KEY, name))
            beat = GaugeMetricFamily("sipflask_worker_heartbeat_timestamp_seconds",
                                     "When a worker last ran the heartbeat job (Unix time).",
                                     value=self.heartbeat_at() or 0)
        except Exception as exc:  # a queue that is down must not take the other metrics along
            log.warning("job metrics unavailable: %s", type(exc).__name__)
            return
        yield from (queued, failed, runs, beat)


class _Forward:
    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


def render(queue, heartbeat_at) -> tuple[bytes, str]:
    """The exposition text: this process's metrics, or every gunicorn worker's when
    PROMETHEUS_MULTIPROC_DIR is set, plus the job numbers."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(JobCollector(queue, heartbeat_at))
    return generate_latest(registry), CONTENT_TYPE_LATEST
