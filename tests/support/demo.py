"""The ``demo`` fixture's data, made once per process and backend and copied into each test.

``flask demo`` costs ~0.1-1 s a test (the whole import: validation, ORM writes), and ~800 tests
start from it. The real command runs once per backend and configuration, in a database of its
own; its rows (and, on PostgreSQL, its sequences' positions) are kept in memory and inserted
into each test's database, which then holds what the command would have written.

The copy is only taken when it is exactly equivalent: every table the demo writes is still empty
in the test's database (the import keeps what exists, so stored rows change its result), and the
app's configuration matches the one the copy was made with (``DEFAULT_REGION`` shapes the
numbers, ``SECRET_KEY`` the encrypted SIP passwords...). Anything else runs the real command.
``tests/test_demo_fixture.py`` checks that both ways give the same database.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from sipflask.extensions import db
from tests.support import app as support

# Settings that name this test's own files or database (the engine options carry the schema):
# they differ between the template's app and the test's without changing what the import writes.
PER_TEST_KEYS = {"SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS", "PLUGINS_DIR",
                 "OUTAGE_JOURNAL", "JOBS_SQLITE_PATH"}


@dataclass
class Snapshot:
    """What ``flask demo`` wrote: table name -> rows, and PostgreSQL sequence positions."""
    rows: dict[str, list[dict]]
    sequences: dict[str, tuple[str, int, bool]] = field(default_factory=dict)


_snapshots: dict[tuple, Snapshot | None] = {}


def config_key(app, backend: str) -> tuple | None:
    """The app's configuration as a comparable value; None when a setting has no stable text
    (an object shown by its address), since two such apps can't be told equal."""
    items = []
    for key in sorted(app.config):
        if key in PER_TEST_KEYS:
            continue
        shown = repr(app.config[key])
        if " at 0x" in shown:
            return None
        items.append((key, shown))
    return (backend, tuple(sorted(db.metadata.tables)), tuple(items))


def run_demo_command(app) -> None:
    # Its own context: pytest-flask keeps the test app's pushed, and the command would use it.
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output or repr(result.exception)


def load_demo(app, backend: str, overrides: dict) -> bool:
    """Put the demo data into ``app``'s database: copied when equivalent (True), else by the
    real command (False)."""
    key = config_key(app, backend)
    if key is not None and key not in _snapshots:
        snapshot, made_with = _make_snapshot(backend, overrides)
        _snapshots[made_with] = snapshot
        _snapshots.setdefault(key, None)  # a test app that differs: always the real command
    snapshot = _snapshots.get(key) if key is not None else None
    if snapshot is None or not _copy(app, snapshot):
        run_demo_command(app)
        return False
    return True


def _make_snapshot(backend: str, overrides: dict) -> tuple[Snapshot, tuple]:
    folder = Path(tempfile.mkdtemp(prefix="sipflask-demo-"))
    config = dict(overrides)
    schema = None
    if backend == "postgres":
        schema = f"{support.SCHEMA}_demo"
        config["SQLALCHEMY_DATABASE_URI"] = _fresh_schema(support.pg_or_skip(), schema)
    template = support.make_app(folder, "sqlite", **config)
    try:
        run_demo_command(template)
        with template.app_context():
            snapshot = _read(db.engine, backend)
            key = config_key(template, backend)
            db.session.remove()
            db.engine.dispose()
    finally:
        if schema:
            _drop_schema(support.pg_or_skip(), schema)
        shutil.rmtree(folder, ignore_errors=True)
    return snapshot, key


def _fresh_schema(url: str, schema: str) -> str:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return support.schema_url(url, schema)


def _drop_schema(url: str, schema: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


def _read(engine, backend: str) -> Snapshot:
    rows, sequences = {}, {}
    with engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            found = [dict(r._mapping) for r in conn.execute(select(table))]
            if not found:
                continue
            rows[table.name] = found
            if backend == "postgres":
                for column in table.primary_key.columns:
                    seq = conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                      {"t": table.name, "c": column.name})
                    if seq:
                        last, called = conn.execute(
                            text(f"SELECT last_value, is_called FROM {seq}")).one()
                        sequences[table.name] = (column.name, last, called)
    return Snapshot(rows, sequences)


# The change history is a log: rows written before the demo (users created first) stay first and
# the demo's rows follow, with the ids the database gives them, as the real command would.
APPENDED = {"change_records"}


def _copy(app, snapshot: Snapshot) -> bool:
    """Insert the snapshot's rows; False (nothing written) when a table it fills has rows."""
    tables = [t for t in db.metadata.sorted_tables if t.name in snapshot.rows]
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            appended = set()
            for table in tables:
                if conn.scalar(select(func.count()).select_from(table)):
                    if table.name not in APPENDED:
                        return False
                    appended.add(table.name)
            for table in tables:
                rows = snapshot.rows[table.name]
                if table.name in appended:
                    keys = {c.name for c in table.primary_key.columns}
                    rows = [{k: v for k, v in r.items() if k not in keys} for r in rows]
                conn.execute(table.insert(), rows)
            for name, (column, last, called) in snapshot.sequences.items():
                if name in appended:
                    continue
                conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, :c), :v, :called)"),
                             {"t": name, "c": column, "v": last, "called": called})
    return True
