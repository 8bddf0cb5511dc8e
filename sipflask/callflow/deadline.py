"""A hard bound on one webhook's database time, even when the database stops answering.

PostgreSQL's ``statement_timeout`` ends a slow statement, but not a server (or a network path)
that has stopped answering altogether: the client then waits on its socket until gunicorn kills
the worker at 30 s, long after Twilio gave up at 15 s. While a webhook runs inside
:func:`watch`, every connection it checks out is noted; when ``DB_WEBHOOK_BUDGET`` runs out, a
watchdog thread shuts those sockets down, so the blocked read fails at once (an
``OperationalError``; SQLAlchemy discards the connection) and the webhook answers without the
database. Checkouts after that fail at once too (``sqlalchemy.exc.TimeoutError``).

The pool's pre-ping is done here, after the connection is noted, so that a ping into a silent
server is bounded as well (SQLAlchemy's own pre-ping runs before any checkout hook could note it).
Only network databases are watched; SQLite has its busy timeout.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from functools import partial

from sqlalchemy import event, exc

log = logging.getLogger("sipflask.db")

_TICK = 0.05  # how often the watchdog looks: the budget is honoured to within this


class Watch:
    """One webhook's deadline and the connections it holds."""

    __slots__ = ("deadline", "expired", "_conns", "_lock")

    def __init__(self, budget: float):
        self.deadline = time.monotonic() + budget
        self.expired = False
        self._conns: dict[int, object] = {}
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def attach(self, dbapi_conn) -> None:
        with self._lock:
            self._conns[id(dbapi_conn)] = dbapi_conn

    def detach(self, dbapi_conn) -> None:
        with self._lock:
            self._conns.pop(id(dbapi_conn), None)

    def expire(self) -> None:
        with self._lock:
            if self.expired:
                return
            self.expired = True
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            _cut(conn)


_watches: dict[int, Watch] = {}  # thread ident -> its watch
_watchdog: dict[str, object] = {}


def _cut(dbapi_conn) -> None:
    """Shut the connection's socket down: whoever blocks on it gets an error at once."""
    try:
        fd = dbapi_conn.fileno()
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()
        log.error("database did not answer within the webhook's budget: connection cut")
    except Exception:  # noqa: BLE001  already closed or gone: nothing left to cut
        log.debug("cutting a database connection failed", exc_info=True)


def _watch_loop() -> None:
    while True:
        time.sleep(_TICK)
        now = time.monotonic()
        for w in list(_watches.values()):
            if not w.expired and w.deadline <= now:
                w.expire()


def _ensure_watchdog() -> None:
    # Per process: a gunicorn worker forked from a master that had one must start its own.
    thread = _watchdog.get("thread")
    if thread is None or _watchdog.get("pid") != os.getpid() or not thread.is_alive():
        thread = threading.Thread(target=_watch_loop, name="sipflask-db-watchdog", daemon=True)
        _watchdog.update(thread=thread, pid=os.getpid())
        thread.start()


@contextmanager
def watch(budget: float):
    """Bound this thread's database time to ``budget`` seconds (0 or less: unbounded)."""
    if budget <= 0:
        yield None
        return
    ident = threading.get_ident()
    w = _watches[ident] = Watch(budget)
    _ensure_watchdog()
    try:
        yield w
    finally:
        _watches.pop(ident, None)


def current() -> Watch | None:
    return _watches.get(threading.get_ident())


def _on_connect(dbapi_conn, record):
    record.info["sipflask.fresh"] = True  # just opened: no ping needed, like SQLAlchemy's


def _on_checkout(dialect, dbapi_conn, record, proxy):
    w = current()
    if w is not None:
        if w.expired:
            raise exc.TimeoutError("the webhook's database time ran out")
        w.attach(dbapi_conn)
    if dialect is None or record.info.pop("sipflask.fresh", False):
        return
    try:
        dialect.do_ping(dbapi_conn)
    except Exception as err:
        if w is not None and w.expired:
            raise exc.TimeoutError("the database did not answer the pre-ping in time") from err
        # the pool replaces the connection and tries again
        raise exc.DisconnectionError("pre-ping failed") from err


def _on_checkin(dbapi_conn, record):
    # Back in the pool (its rollback done): another thread may take it, so it is not ours to cut.
    w = current()
    if w is not None and dbapi_conn is not None:
        w.detach(dbapi_conn)


def guard(engine) -> None:
    """Watch ``engine``'s connections; the pre-ping (``pool_pre_ping``) moves in here."""
    ping = engine.pool._pre_ping
    engine.pool._pre_ping = False  # kept by pool.recreate(): engine.dispose() keeps this setup
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "checkout", partial(_on_checkout, engine.dialect if ping else None))
    event.listen(engine, "checkin", _on_checkin)


def init_app(app) -> None:
    with app.app_context():
        from sipflask.extensions import db
        for engine in db.engines.values():
            if engine.dialect.name != "sqlite":
                guard(engine)
