"""The outage journal: calls answered while the database could not be reached, kept on local
disk until they are replayed into the database.

``OUTAGE_JOURNAL`` (default ``<instance>/outage-journal.jsonl``) is append-only JSON lines, one
entry per webhook answered without the database (``callflow/fallback.py`` writes them: a call
and the attempt it dialled, a dial-action, a status callback), each written under an exclusive
lock and fsync'd before the TwiML goes back. :func:`replay` moves the file aside and writes
every entry into the database, idempotently (a call is known by its uuid, an attempt by its
position, a status callback closes a call only once), so running it twice or after a crash
half-way stores each call once. The call's webhook events (``call.started``, ``call.routed``,
``call.answered``, ``call.no_buyer``) are written as it is replayed, each stamped with the time
it happened. It runs every minute in the worker (``outage_journal.replay``)
and, in the web process, right after a webhook found the database working again.
"""
from __future__ import annotations

import fcntl
import glob
import json
import logging
import os
import threading
import time
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from sipflask import jobs
from sipflask.extensions import db

log = logging.getLogger("sipflask.outage")

_REPLAYING = ".replay"
_replay_lock = threading.Lock()


def path(app=None) -> str:
    return (app or current_app).config["OUTAGE_JOURNAL"]


def append(entry: dict) -> None:
    """Add one entry, on disk (fsync'd) before this returns. Raises OSError when it can't."""
    line = (json.dumps({**entry, "at": datetime.now(timezone.utc).isoformat()},
                       separators=(",", ":"), default=str) + "\n").encode()
    target = path()
    while True:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # replay() may have moved the file away while we waited for the lock: write
            # into the new one, never into a file already read.
            if os.path.exists(target) and os.fstat(fd).st_ino == os.stat(target).st_ino:
                os.write(fd, line)
                os.fsync(fd)
                return
        finally:
            os.close(fd)


def pending(app=None) -> bool:
    """True when entries wait for replay (a file check: cheap enough for every webhook)."""
    target = path(app)
    return os.path.exists(target) or bool(glob.glob(glob.escape(target) + ".*" + _REPLAYING))


def _read(filename: str) -> list[dict]:
    entries = []
    with open(filename, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            try:
                entries.append(json.loads(line))
            except ValueError:
                # a line cut short by a crash mid-write: nothing after it in that write
                log.error("outage journal %s line %d is not JSON; skipped", filename, number)
    return entries


def _take_current(target: str) -> None:
    """Move the live journal aside (under its lock) so that new entries start a new file."""
    try:
        fd = os.open(target, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.path.exists(target) and os.fstat(fd).st_ino == os.stat(target).st_ino:
            os.replace(target, f"{target}.{time.time_ns()}{_REPLAYING}")
    finally:
        os.close(fd)


def replay(wait: bool = True) -> int:
    """Write every journalled entry into the database; returns how many were applied.

    Stops (keeping what is left for the next run) when the database still can't be reached.
    One replay runs at a time across processes; ``wait=False`` returns 0 at once when another
    one is running (a webhook must not wait for it).
    """
    target = path()
    with open(target + ".lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return 0
        _take_current(target)
        applied = 0
        for filename in sorted(glob.glob(glob.escape(target) + ".*" + _REPLAYING)):
            for entry in _read(filename):
                try:
                    _apply(entry)
                    db.session.commit()
                    applied += 1
                except SQLAlchemyError as exc:
                    db.session.rollback()
                    if unreachable(exc):
                        log.warning("outage journal: database still unreachable; %d entries "
                                    "replayed, the rest waits", applied)
                        return applied
                    log.exception("outage journal entry could not be stored; kept in %s",
                                  target + ".rejected")
                    _keep_rejected(target, entry)
            os.unlink(filename)
    if applied:
        log.warning("outage journal: %d entries replayed into the database", applied)
    return applied


def _keep_rejected(target: str, entry: dict) -> None:
    with open(target + ".rejected", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def replay_soon(app) -> None:
    """After a webhook found the database working: replay in the background, once at a time."""
    if not _replay_lock.acquire(blocking=False):
        return

    def run():
        try:
            with app.app_context():
                replay()
        except Exception:  # noqa: BLE001  the worker's job tries again within a minute
            log.exception("outage journal replay failed")
        finally:
            _replay_lock.release()

    threading.Thread(target=run, name="sipflask-journal-replay", daemon=True).start()


REPLAY_JOB_BUDGET = 60.0  # seconds: a silent database must not hold the replay lock forever


@jobs.periodic(jobs.crontab(), name="outage_journal.replay")
def replay_job() -> int:
    """Every minute: replay the outage journal, if there is one."""
    from sipflask.callflow import deadline
    if not pending():
        return 0
    with deadline.watch(REPLAY_JOB_BUDGET):
        try:
            return replay()
        finally:
            db.session.remove()  # inside the watch: giving the connection back is bounded too


# --- writing entries into the database ------------------------------------------------------------

def unreachable(exc: BaseException) -> bool:
    """True for the errors that mean the database can't be reached or won't answer in time
    (not for a statement it refused: those are bugs, not outages)."""
    import sqlite3

    from sqlalchemy import exc as sa
    if isinstance(getattr(exc, "orig", None), sqlite3.OperationalError):
        # sqlite3 calls every error "operational", a missing table too
        return any(m in str(exc.orig).lower() for m in ("locked", "busy", "unable to open",
                                                         "disk i/o"))
    return isinstance(exc, (sa.OperationalError, sa.InterfaceError, sa.TimeoutError,
                            sa.DisconnectionError))


OUTAGE_NOTE = "answered during a database outage from the routing snapshot (caps not checked)"
_ATTEMPT_KEYS = ("position", "buyer_id", "buyer_name", "kind", "dialled", "sip_username",
                 "headers_sent", "headers_dropped")


def _at(entry: dict) -> datetime:
    return datetime.fromisoformat(entry["at"])


def _apply(entry: dict) -> None:
    kind = entry.get("kind")
    if kind == "call":
        _apply_call(entry)
    elif kind == "dial":
        _apply_dial(entry)
    elif kind == "status":
        from sipflask.callflow import clock, status_callback
        with clock.stopped_at(_at(entry)):  # the call ended then, and its webhooks say so
            status_callback(entry.get("params") or {})
    else:
        log.error("outage journal: unknown entry kind %r skipped", kind)


def _add_attempt(call, attempt: dict | None, at: datetime) -> None:
    from sipflask.models import Attempt
    if not attempt or any(a.position == attempt["position"] for a in call.attempts):
        return
    from sipflask.core.phone import e164_number
    added = Attempt(**{k: attempt.get(k) for k in _ATTEMPT_KEYS},
                    holds_slot=False, started_at=at,
                    skipped=[{"buyer_id": None, "buyer": "", "reason": OUTAGE_NOTE}],
                    call_created_at=call.created_at, caller_num=e164_number(call.caller))
    call.attempts.append(added)
    from sipflask.webhooks import events as webhook_events
    webhook_events.attempt_replayed(call, added)


def _apply_call(entry: dict) -> None:
    from sipflask.models import Call
    if db.session.scalar(select(Call.id).where(Call.uuid == entry["uuid"])) is not None:
        return  # replayed before
    call_sid, reason = entry.get("call_sid"), entry.get("reason") or OUTAGE_NOTE
    if call_sid and db.session.scalar(select(Call.id).where(Call.call_sid == call_sid)):
        # The voice webhook stored this CallSid too (it answered, late, before the fallback
        # URL was used): keep both, the journalled one without the (unique) CallSid.
        reason, call_sid = f"{reason}; CallSid {call_sid} is also stored as another call", None
    call = Call(uuid=entry["uuid"], key=entry["key"], call_sid=call_sid,
                caller=entry.get("caller", ""), called=entry.get("called", ""),
                number_id=entry.get("number_id"), campaign_id=entry.get("campaign_id"),
                publisher_id=entry.get("publisher_id"), sub_id=entry.get("sub_id") or None,
                tags=entry.get("tags") or {}, tag_sources=entry.get("tag_sources") or {},
                status=entry.get("status", "routing"), reason=reason[:500],
                created_at=_at(entry),
                ended_at=None if entry.get("status") == "routing" else _at(entry))
    db.session.add(call)
    db.session.flush()  # the call's id, for its webhooks' deliveries
    from sipflask.webhooks import events as webhook_events
    webhook_events.call_replayed(call)
    _add_attempt(call, entry.get("attempt"), _at(entry))
    from sipflask.callflow import store
    store.refresh_outcome(call)


def _int_or_none(value) -> int | None:
    from sipflask.core.validation import ascii_int
    return ascii_int(value.strip()) if isinstance(value, str) else None


def _apply_dial(entry: dict) -> None:
    from sipflask.callflow import RETRY_STATUSES, caps, store
    from sipflask.models import Call
    from sipflask.webhooks import events as webhook_events
    call = db.session.scalar(select(Call).where(Call.uuid == entry["uuid"]))
    if call is None:
        log.error("outage journal: dial-action for unknown call %s skipped", entry["uuid"])
        return
    params = entry.get("params") or {}
    status = (params.get("DialCallStatus") or "").lower()
    attempt = next((a for a in call.attempts if a.position == entry["position"]), None)
    if attempt is not None and attempt.dial_status is None:
        attempt.dial_status = status or "unknown"
        attempt.sip_code = _int_or_none(params.get("DialSipResponseCode"))
        attempt.duration = _int_or_none(params.get("DialCallDuration"))
        attempt.ended_at = _at(entry)
        if attempt.dial_status in store.ANSWERED:
            webhook_events.call_answered(call, attempt, _at(entry))
        caps.release(attempt, answered=attempt.dial_status in store.ANSWERED)
    _add_attempt(call, entry.get("attempt"), _at(entry))
    if entry.get("attempt") is None and call.status in ("ringing", "routing"):
        call.status = "no-buyer" if status in RETRY_STATUSES else "completed"
        call.ended_at = call.ended_at or _at(entry)
        webhook_events.outcome_replayed(call, _at(entry))
    store.refresh_outcome(call)
