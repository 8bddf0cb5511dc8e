"""The call path's clock: the real time, or the instant a simulated call arrives.

``simulate-call --at 2026-12-07T08:59:00-05:00`` runs the call's webhooks under
:func:`starting_at`: every read of :func:`now` on the call path (routing, opening hours, cap
windows, leases, the times stored on the call and its attempts) then sees that instant plus the
time that has passed since, so every step of the call keeps one clock. The shift lives in a
context variable, so it covers the requests the simulator makes in-process and nothing else
(real webhooks from Twilio always run on the real clock). :func:`stopped_at` holds the clock
at one instant instead: the outage journal's replay of something that happened then.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import Iterator

_NO_SHIFT = timedelta()
_shift: ContextVar[timedelta] = ContextVar("sipflask_clock_shift", default=_NO_SHIFT)
_stopped: ContextVar[datetime | None] = ContextVar("sipflask_clock_stopped", default=None)


def now() -> datetime:
    """Now (aware, UTC) on the call's clock."""
    return _stopped.get() or datetime.now(timezone.utc) + _shift.get()


@contextmanager
def starting_at(at: datetime) -> Iterator[None]:
    """Run the block with the clock set to ``at`` (aware) from this moment on."""
    if at.tzinfo is None:
        raise ValueError("the instant needs a UTC offset, e.g. 2026-12-07T08:59:00-05:00")
    token = _shift.set(at - datetime.now(timezone.utc))
    try:
        yield
    finally:
        _shift.reset(token)


@contextmanager
def stopped_at(at: datetime) -> Iterator[None]:
    """Run the block with the clock standing at ``at`` (aware): a replayed event happened at
    one instant, however long replaying it takes."""
    if at.tzinfo is None:
        raise ValueError("the instant needs a UTC offset, e.g. 2026-12-07T08:59:00-05:00")
    token = _stopped.set(at.astimezone(timezone.utc))
    try:
        yield
    finally:
        _stopped.reset(token)


def advance(seconds: float) -> None:
    """Move the block's clock on (the simulator: a dialled buyer talked for ``seconds``)."""
    stopped = _stopped.get()
    if stopped is not None:
        _stopped.set(stopped + timedelta(seconds=seconds))
        return
    _shift.set(_shift.get() + timedelta(seconds=seconds))
