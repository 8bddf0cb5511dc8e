"""``flask --app sipflask worker``: run the background-job consumer; ``--once`` runs every job
that is due (periodic jobs whose time has come, and queued tasks) and exits, for cron and
scripts: status 0, or 1 with one line saying which job failed."""
from __future__ import annotations

import logging
import sys
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import with_appcontext

from sipflask.jobs.queue import get_queue, run_due

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


@contextmanager
def _silenced(*names):
    # --once speaks in one line; the tracebacks stay available by running the consumer.
    loggers = [logging.getLogger(name) for name in names]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, before):
            lg.disabled = was


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _run_once(queue) -> None:
    with _silenced("huey", "sipflask.jobs"):
        try:
            failures = run_due(queue)
        except Exception as exc:  # the queue itself (a Redis that is down, a locked file)
            raise click.ClickException(f"the job queue could not be read: {_one_line(exc)}")
    if failures:
        shown = "; ".join(f"{name}: {_one_line(exc)}" for name, exc in failures[:3])
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        click.echo(f"Error: {len(failures)} job run(s) failed: {shown}{more}", err=True)
        sys.exit(1)


@click.command("worker")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Jobs run at the same time (threads).")
@click.option("--once", is_flag=True, help="Run every job that is due, then exit.")
@with_appcontext
def worker_command(workers, once):
    """Run background jobs (the heartbeat and every job registered in sipflask.jobs)."""
    queue = get_queue(current_app._get_current_object())
    if once:
        _run_once(queue)
        return
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    # Ctrl-C (SIGINT) lets running jobs finish; SIGTERM interrupts them (systemd: KillSignal).
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=True)
    consumer.run()
