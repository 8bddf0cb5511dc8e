"""Background jobs on Huey: the registry of jobs, and the queue bound to the app.

The queue is ``SqliteHuey`` in the instance folder (``<instance>/jobs.sqlite``) unless
``SIPFLASK_REDIS_URL`` is set; then it is ``RedisHuey``, so web and worker processes on several
machines share one queue, one heartbeat and one set of job counters. ``flask --app sipflask
worker`` runs the consumer; ``flask --app sipflask worker --once`` runs what is due and exits.

Adding a job is two lines in the module that owns the work (and the module's name in
``JOB_MODULES`` below if nothing else imports it)::

    @jobs.periodic(jobs.crontab(minute="*/5"))   # or @jobs.task() for work queued on demand
    def sweep_leases(): ...

Every job runs inside an app context (``db.session`` works and is removed afterwards), is logged
with its name and duration, and a failure is counted (``sipflask_jobs_failed_total``) and logged
without stopping the worker. Queue an on-demand job with ``deliver_webhook.enqueue(arg, ...)``;
arguments are pickled, so pass ids, not ORM objects. Huey checks periodic jobs once a minute,
so a crontab finer than a minute is not possible.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from huey import crontab

__all__ = ["crontab", "periodic", "task", "Job", "JOBS", "JOB_MODULES", "init_app"]

log = logging.getLogger(__name__)

# Modules holding jobs, imported by init_app so their decorators have run before the queue is
# built (web and worker must know the same jobs by the same names).
JOB_MODULES = ("sipflask.jobs.heartbeat", "sipflask.siphealth.watch",
               "sipflask.records.twilio_check", "sipflask.webhooks.deliver")


@dataclass
class Job:
    """One registered job: a function, and a crontab schedule unless it is queued on demand."""
    name: str
    func: Callable
    schedule: Callable | None = None
    options: dict = field(default_factory=dict)

    def enqueue(self, *args, **kwargs):
        """Queue this job on the current app's queue; returns Huey's result handle."""
        from sipflask.jobs.queue import get_queue
        return get_queue().tasks[self.name](*args, **kwargs)

    def enqueue_in(self, delay: float, *args, **kwargs):
        """Queue this job to run ``delay`` seconds from now (Huey's schedule)."""
        from sipflask.jobs.queue import get_queue
        return get_queue().tasks[self.name].schedule(args=args, kwargs=kwargs, delay=delay)

    def __call__(self, *args, **kwargs):
        # Calling a job runs it here and now (tests, the shell); enqueue() is the async path.
        return self.func(*args, **kwargs)


JOBS: dict[str, Job] = {}


def _register(func, schedule, name, options) -> Job:
    job = Job(name or f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}", func, schedule,
              options)
    if job.name in JOBS and JOBS[job.name].func is not func:
        raise ValueError(f"two jobs are named {job.name!r}")
    JOBS[job.name] = job
    return job


def periodic(schedule, name: str | None = None, **options):
    """Register a job run whenever ``schedule`` (e.g. ``crontab(minute="*/5")``) matches."""
    return lambda func: _register(func, schedule, name, options)


def task(name: str | None = None, **options):
    """Register a job that runs when queued (``job.enqueue(...)``); options go to Huey
    (``retries=3, retry_delay=60``...)."""
    return lambda func: _register(func, None, name, options)


def init_app(app):
    from importlib import import_module

    for module in JOB_MODULES:
        import_module(module)
    # Built on first use, not here: a web process that never touches the queue opens no file.
    app.extensions["sipflask_jobs"] = None
