"""The app's Huey queue: which backend, each job wrapped in an app context with logging and
failure counting, and ``run_due`` for ``flask worker --once``."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey

from sipflask.jobs import JOBS, Job

log = logging.getLogger("sipflask.jobs")

_build_lock = threading.Lock()
# Counters live in the queue's storage (atomic increments on SQLite and Redis), so /metrics on
# any web process reports failures of workers anywhere.
FAILED_KEY = "sipflask.jobs.failed."
RUN_KEY = "sipflask.jobs.run."
# Bounds one --once pass: a job that keeps queueing work must not keep cron's run going forever.
ONCE_MAX_TASKS = 10_000


@dataclass
class Queue:
    """Huey plus the task wrapper registered for each job, by job name."""
    huey: object
    tasks: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)  # (job name, exception) in this process

    def counter(self, prefix: str, name: str) -> int:
        return int(self.huey.storage.incr(prefix + name, 0) or 0)


def get_queue(app: Flask | None = None) -> Queue:
    """The app's queue, built on first use (a web process that never queues opens nothing)."""
    app = app or current_app._get_current_object()
    queue = app.extensions.get("sipflask_jobs")
    if queue is None:
        with _build_lock:
            queue = app.extensions.get("sipflask_jobs")
            if queue is None:
                queue = app.extensions["sipflask_jobs"] = build_queue(app)
    return queue


def get_huey(app: Flask | None = None):
    return get_queue(app).huey


def build_queue(app: Flask) -> Queue:
    name = app.config["JOBS_QUEUE_NAME"]
    if app.config.get("REDIS_URL"):
        # socket_timeout above huey's 1 s blocking read; connect timeout keeps /readyz quick.
        from redis import ConnectionPool
        pool = ConnectionPool.from_url(app.config["REDIS_URL"], socket_connect_timeout=2,
                                       socket_timeout=5)
        huey = RedisHuey(name, connection_pool=pool)
    else:
        path = app.config.get("JOBS_SQLITE_PATH") or Path(app.instance_path) / "jobs.sqlite"
        huey = SqliteHuey(name, filename=str(path))
    queue = Queue(huey)
    for job in JOBS.values():
        queue.tasks[job.name] = _register(app, queue, job)
    return queue


def _register(app: Flask, queue: Queue, job: Job):
    def run(*args, **kwargs):
        started = time.monotonic()
        with app.app_context():
            try:
                result = job.func(*args, **kwargs)
            except Exception as exc:
                queue.huey.storage.incr(FAILED_KEY + job.name)
                queue.failures.append((job.name, exc))
                log.warning("job %s failed after %.3fs: %s", job.name,
                            time.monotonic() - started, type(exc).__name__)
                raise
        queue.huey.storage.incr(RUN_KEY + job.name)
        log.info("job %s done in %.3fs", job.name, time.monotonic() - started)
        return result

    run.__module__ = job.func.__module__
    run.__doc__ = job.func.__doc__
    if job.schedule is None:
        return queue.huey.task(name=job.name, **job.options)(run)
    return queue.huey.periodic_task(job.schedule, name=job.name, **job.options)(run)


def run_due(queue: Queue) -> list:
    """Run every periodic job due now and every queued (or scheduled and due) task, then return
    the failures: ``[(job name, exception), ...]``."""
    huey = queue.huey
    now = huey._get_timestamp()
    for task in huey.read_periodic(now) + huey.read_schedule(now):
        huey.enqueue(task)
    queue.failures.clear()
    for _ in range(ONCE_MAX_TASKS):
        task = huey.dequeue()
        if task is None:
            break
        huey.execute(task)
    return list(queue.failures)
