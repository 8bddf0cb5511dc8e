"""Test apps and users: ``make_app`` on SQLite or on this process's own PostgreSQL schema, the
two logins the ``auth`` fixture creates, and the PostgreSQL schema's lifecycle."""
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, inspect, text
from werkzeug.routing import Rule

from sipflask import create_app
from sipflask.extensions import db

PG_URL = os.environ.get("SIPFLASK_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI") == "true"

TWILIO_AUTH_TOKEN = "test-auth-token-0123456789abcdef"
TWILIO_ACCOUNT_SID = "AC" + "0" * 32
PUBLIC_URL = "https://sipflask.test"

ADMIN_EMAIL = "admin@example.com"
MEMBER_EMAIL = "member@example.com"
PASSWORD = "correct-horse-battery"


def _compile_each_url_builder_once() -> None:
    """Every test builds its own app, and with it Werkzeug compiles two URL builders per route
    through ``ast`` (about 0.1 s of the 0.13 s an app takes; 2,600 tests). A builder depends
    only on the rule's parsed parts, its defaults and ``append_unknown``, and reads the rule's
    converters through its ``self`` argument, so one compiled per distinct rule serves every
    app of the process. Test speed only: the app itself is untouched."""
    compile_builder = Rule._compile_builder
    builders = {}

    def cached(self, append_unknown=True):
        key = (tuple(self._trace), repr(sorted((self.defaults or {}).items())), append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Rule._compile_builder = cached


_compile_each_url_builder_once()


class _TemplatesCompiledOnce(BytecodeCache):
    """Every test's app has its own Jinja environment, which compiles each template it renders
    (about 2 s of every 30 in a page test module). Compiled code, kept here by template and
    checked against its source, serves every app of the process: they are all configured
    alike. Test speed only: the app itself is untouched."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        code = self.compiled.get((bucket.key, bucket.checksum))
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.compiled[(bucket.key, bucket.checksum)] = bucket.bytecode_to_string()


_TEMPLATES = _TemplatesCompiledOnce()

# One schema per pytest process, so two test runs on the same database can't trip each other.
SCHEMA = f"sipflask_test_{os.getpid()}"


def pg_or_skip():
    """The PostgreSQL URL, or skip (fail in CI: there the PostgreSQL tests must run)."""
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI=true but SIPFLASK_TEST_DATABASE_URL is not set: the PostgreSQL "
                        "tests must run in CI (.ci/run sets it).")
        pytest.skip("PostgreSQL tests need SIPFLASK_TEST_DATABASE_URL "
                    "(e.g. postgresql://postgres@127.0.0.1:5432/test)")
    return PG_URL


def schema_url(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def reset_postgres(url: str) -> str:
    """Give this process an empty schema of its own; returns the URL that uses it."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    return schema_url(url, SCHEMA)


_pg = {}


# Every sequence the last test used starts again at 1 (what TRUNCATE ... RESTART IDENTITY did).
_RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences"
    " WHERE schemaname = current_schema() AND last_value IS NOT NULL")


def clean_postgres(url: str) -> str:
    """This process's schema with every table present and empty, and ids starting at 1.

    Creating the tables costs ~0.4 s on PostgreSQL: they are made once, and made again only
    when a test dropped or added some. Emptying all of them with TRUNCATE costs ~150 ms (it
    makes new files for every table and index), and a test leaves rows in a few: one query
    finds those, and DELETE empties them (children first) in ~10 ms.
    """
    if "engine" not in _pg:
        _pg["url"] = reset_postgres(url)
        _pg["engine"] = create_engine(_pg["url"])
        db.metadata.create_all(_pg["engine"])
        return _pg["url"]
    engine = _pg["engine"]
    if set(inspect(engine).get_table_names()) != set(db.metadata.tables):
        engine.dispose()
        reset_postgres(url)
        db.metadata.create_all(engine)
        return _pg["url"]
    tables, quote = db.metadata.sorted_tables, engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        used = set(conn.execute(text(" UNION ALL ".join(
            f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {quote(t.name)})" for t in tables)
        )).scalars())
        for table in reversed(tables):
            if table.name in used:
                conn.execute(table.delete())
        conn.execute(_RESTART_SEQUENCES)
    return _pg["url"]


def drop_postgres_schema():
    """At the end of the run: this process's schema goes, with the engine that used it."""
    if "engine" in _pg:
        _pg.pop("engine").dispose()
    if PG_URL:
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        engine.dispose()


_sqlite_schema = {}


def empty_sqlite_file(target: Path) -> bool:
    """Write an SQLite file holding every table, empty, at ``target``; True when it did.

    ``create_all`` on a new file costs ~40 ms (one statement and a disk sync per table); a copy
    of a file it made once costs ~1 ms. The copy is made again when the set of tables changed
    (a test may add some to the metadata). A file that exists (a second app on the same
    folder) is left as it is, and so is a missing folder (the app then fails or not exactly as
    it would without the copy).
    """
    if target.exists() or not target.parent.is_dir():
        return False
    tables = frozenset(db.metadata.tables)
    if _sqlite_schema.get("tables") != tables:
        path = Path(tempfile.mkdtemp(prefix="sipflask-schema-")) / "empty.sqlite"
        engine = create_engine(f"sqlite:///{path}")
        db.metadata.create_all(engine)
        engine.dispose()
        _sqlite_schema.update(tables=tables, path=path)
    shutil.copyfile(_sqlite_schema["path"], target)
    return True


def make_app(tmp_path, backend="sqlite", **overrides):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "WTF_CSRF_ENABLED": False,
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "PUBLIC_URL": PUBLIC_URL,
        "PLUGINS_DIR": str(tmp_path / "plugins"),
        # Installed third-party plugins (the test command installs the examples) stay out of
        # tests unless a test lets them in: expected headers must not depend on the machine.
        "PLUGINS_ALLOW": [],
        # A deliberately cheap hash: scrypt's cost is for production, not for 700 test logins.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # Tests change buyers and call the webhook right away; the cache has tests of its own.
        "ROUTING_CACHE_SECONDS": 0,
        # Each test's own outage journal: one left in the instance folder would be replayed
        # into the next test's database.
        "OUTAGE_JOURNAL": str(tmp_path / "outage-journal.jsonl"),
        # Each test's own job queue: the instance folder's would be shared by parallel workers.
        "JOBS_SQLITE_PATH": str(tmp_path / "jobs.sqlite"),
    }
    if backend == "postgres":
        config["SQLALCHEMY_DATABASE_URI"] = clean_postgres(pg_or_skip())
        tables_made = True
    else:
        tables_made = empty_sqlite_file(tmp_path / "test.sqlite")
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'test.sqlite'}"
    tables_made = tables_made and "SQLALCHEMY_DATABASE_URI" not in overrides
    tables_known = frozenset(db.metadata.tables)
    config.update(overrides)
    app = create_app(config)
    app.jinja_env.bytecode_cache = _TEMPLATES
    # create_all only to find every table there costs ~35 ms a test; but the first app of a
    # process imports the models that were not imported yet, and their tables are still to make.
    if not tables_made or frozenset(db.metadata.tables) != tables_known:
        with app.app_context():
            db.create_all()
    return app


def make_user(app, email, role, password=PASSWORD):
    from sipflask.models import User
    with app.app_context():
        user = User(email=email, role=role)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()


class AuthActions:
    def __init__(self, app, client):
        self._app, self._client = app, client

    def login(self, email=ADMIN_EMAIL, password=PASSWORD):
        return self._client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/logout")
