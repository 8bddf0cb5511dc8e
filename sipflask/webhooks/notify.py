"""After a commit that wrote deliveries: queue ``webhooks.deliver_now`` so they go out in
seconds, not at the next minute's run, without the request that made the call waiting for it.

Queueing is a write to the job queue (a file on SQLite, a round trip to Redis): it is done by
one small thread per process, woken by :func:`poke`. Pokes that arrive while it queues (or in
the half second after) are folded into one more queueing, so a burst of calls queues a couple
of jobs a second, not one each, and every commit is followed by a queueing that comes after it. The thread ends after a
minute with nothing to do and starts again on the next poke (so a forked worker starts its own).
"""
from __future__ import annotations

import logging
import threading
import time

__all__ = ["poke", "IDLE_SECONDS", "QUEUE_PAUSE"]

log = logging.getLogger("sipflask.webhooks")

IDLE_SECONDS = 60.0
QUEUE_PAUSE = 0.5
_KEY = "sipflask.webhooks.notifier"
_start_lock = threading.Lock()


class _Notifier:
    def __init__(self, app):
        self.app = app
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.queued = 0  # how many times this process queued the job (tests read it)

    def poke(self) -> None:
        self.wake.set()
        with _start_lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="webhooks-notify",
                                               daemon=True)
                self.thread.start()

    def _loop(self) -> None:
        while True:
            if not self.wake.wait(IDLE_SECONDS):
                with _start_lock:  # a poke now either sees this thread gone or is seen here
                    if not self.wake.is_set():
                        self.thread = None
                        return
            self.wake.clear()
            try:
                with self.app.app_context():
                    from sipflask.webhooks.deliver import deliver_now
                    deliver_now.enqueue()
                self.queued += 1
            except Exception as exc:  # noqa: BLE001  the minute's run sends them anyway
                log.warning("could not queue webhook deliveries: %s: %s", type(exc).__name__,
                            str(exc)[:200])
            # Pokes meanwhile fold into one more queueing after this pause: at most a few a
            # second per process, however busy, and still after every commit that poked.
            time.sleep(QUEUE_PAUSE)


def notifier(app) -> _Notifier:
    found = app.extensions.get(_KEY)
    if found is None:
        with _start_lock:
            found = app.extensions.setdefault(_KEY, _Notifier(app))
    return found


def poke(app) -> None:
    """Queue the delivery job soon (never in the caller's thread)."""
    notifier(app).poke()
