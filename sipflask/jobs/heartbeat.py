"""The worker's heartbeat: a job every minute writes "last alive at" into the queue's storage,
which every web process can read (the same SQLite file, or the same Redis), for ``/readyz``."""
from __future__ import annotations

import time

from sipflask import jobs
from sipflask.jobs.queue import get_huey

KEY = "sipflask.worker.heartbeat"


@jobs.periodic(jobs.crontab(), name="heartbeat")
def heartbeat():
    """Record that a worker is running jobs (wall-clock seconds: machines need NTP)."""
    get_huey().put(KEY, time.time())


def last_heartbeat(app=None) -> float | None:
    """When a worker last ran the heartbeat job (Unix time), or None if never."""
    return get_huey(app).get(KEY, peek=True)
