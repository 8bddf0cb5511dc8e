"""Readiness checks for ``/readyz``: the database answers, its schema is at the newest
migration, and a worker ran the heartbeat job recently.

Each check answers only True or False; why it failed goes to the log, never to the response,
which anyone can read.
"""
from __future__ import annotations

import logging
import time
from functools import lru_cache

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from sipflask.extensions import db, migrate

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _script_heads(directory: str) -> frozenset:
    config = Config()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def database_ok(app) -> bool:
    db.session.execute(text("SELECT 1"))
    return True


def migrations_ok(app) -> bool:
    current = MigrationContext.configure(db.session.connection()).get_current_heads()
    return frozenset(current) == _script_heads(migrate.directory)


def worker_ok(app) -> bool:
    max_age = app.config.get("WORKER_HEARTBEAT_MAX_AGE")
    if not max_age:  # 0 or None: this deployment runs no worker (not recommended)
        return True
    from sipflask.jobs.heartbeat import last_heartbeat
    at = last_heartbeat(app)
    return at is not None and time.time() - at <= float(max_age)


CHECKS = {"database": database_ok, "migrations": migrations_ok, "worker": worker_ok}


def run_checks(app) -> dict[str, bool]:
    results = {}
    for name, check in CHECKS.items():
        if name == "migrations" and not results.get("database"):
            results[name] = False  # no point asking a database that did not answer
            continue
        try:
            results[name] = bool(check(app))
        except Exception as exc:
            log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
            results[name] = False
            if name != "worker":
                db.session.rollback()
    return results
