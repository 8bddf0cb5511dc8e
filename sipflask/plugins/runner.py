"""Running third-party hook implementations in a shared thread pool, each with a time budget.

Every implementation of a hook starts at once; each may take ``PLUGIN_TIMEOUT_MS`` and all of
them together ``PLUGIN_TOTAL_TIMEOUT_MS``. One that raises or runs out of time is skipped and
recorded as a :class:`PluginFailure`: the call still routes (SPEC "Plugins").
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy
from flask import Flask

from sipflask.core.redact import redact
from sipflask.plugins.loading import one_line

log = logging.getLogger("sipflask.plugins")

#: Threads shared by every app in the process for third-party hook calls.
MAX_WORKERS = 8

_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_pid: int | None = None
_executor_lock = threading.Lock()


@dataclass
class PluginFailure:
    """A plugin hook call that was skipped for one call (recorded on the attempt)."""

    plugin: str
    hook: str
    error: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def _get_executor() -> concurrent.futures.ThreadPoolExecutor:
    # Recreated after a fork (gunicorn --preload): the parent's threads do not exist
    # in the child, and an executor that believes it has them would never run anything.
    global _executor, _executor_pid
    with _executor_lock:
        if _executor is None or _executor_pid != os.getpid():
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=MAX_WORKERS, thread_name_prefix="sipflask-plugin"
            )
            _executor_pid = os.getpid()
        return _executor


def _budget(app: Flask) -> tuple[float, float]:
    per = float(app.config.get("PLUGIN_TIMEOUT_MS") or 300)
    total = float(app.config.get("PLUGIN_TOTAL_TIMEOUT_MS") or 1000)
    return per / 1000.0, total / 1000.0


def fail(failures: list[PluginFailure], plugin: str, hook: str, error: str) -> None:
    # Logged by report() once the call's secrets are masked out of the message.
    failures.append(PluginFailure(plugin, hook, error))


def report(failures: list[PluginFailure], secrets: Iterable[str]) -> list[PluginFailure]:
    """Mask the call's secrets in the failures' messages, then log them.

    A plugin's own error text may quote what it was given (``f"failed for {call}"``): the call's
    postback key or the buyer's SIP password must not reach the log, the call log or a CSV.
    """
    masked = []
    for f in failures:
        error = redact(f.error, secrets)
        masked.append(PluginFailure(f.plugin, f.hook, error))
        # Who and what went wrong, never the values a plugin returned (they may be secret).
        log.warning("plugin %s skipped in %s: %s", f.plugin, f.hook, error)
    return masked


def call_third_party(
    app: Flask,
    hook: str,
    impls: Sequence[pluggy.HookImpl],
    make_kwargs: Callable[[], dict[str, Any]],
    failures: list[PluginFailure],
) -> list[tuple[str, Any]]:
    """Run ``impls`` of ``hook`` in the pool; results in the order of ``impls``.

    Returns ``(plugin name, result)`` for those that finished in time without
    raising; the others are added to ``failures``. A queued implementation counts
    its wait against both budgets.
    """
    if not impls:
        return []
    per, total = _budget(app)
    executor = _get_executor()
    start = time.monotonic()
    running = []
    for impl in impls:
        kwargs = make_kwargs()  # a fresh copy each, so one plugin cannot change another's input
        args = {name: kwargs[name] for name in impl.argnames}
        running.append((impl, executor.submit(impl.function, **args)))

    results: list[tuple[str, Any]] = []
    for impl, future in running:
        deadline = start + min(per, total)
        concurrent.futures.wait([future], timeout=max(0.0, deadline - time.monotonic()))
        if not future.done():
            future.cancel()  # stops it only if it has not started; a running thread is left
            fail(failures, impl.plugin_name, hook,
                 f"timed out after {round(min(per, total) * 1000)} ms")
            continue
        exc = future.exception()
        if exc is not None:
            fail(failures, impl.plugin_name, hook, one_line(f"{type(exc).__name__}: {exc}"))
            continue
        results.append((impl.plugin_name, future.result()))
    return results
