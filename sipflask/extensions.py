"""Flask extensions, created unbound and attached in ``create_app`` with ``init_app``, and the
engine options that bound the database's time (``DB_*_TIMEOUT``)."""
import math
from pathlib import Path

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase

# Named constraints make Alembic migrations portable between SQLite (batch mode) and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
# Migrations ship inside the package so `flask db upgrade` works from an installed wheel too.
migrate = Migrate(directory=str(Path(__file__).parent / "migrations"), render_as_batch=True)
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"


def engine_options(config) -> dict:
    """``SQLALCHEMY_ENGINE_OPTIONS`` with the time bounds of ``DB_CONNECT_TIMEOUT``,
    ``DB_STATEMENT_TIMEOUT`` and ``DB_POOL_TIMEOUT`` (seconds; 0 leaves one unset) added.

    Twilio waits 15 s for the voice webhook: no step may wait on the database for longer than
    a few seconds. Options the deployment set itself win over these.
    """
    opts = {**(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}),
            # a failed statement's message must not carry a call's postback key or an
            # encrypted password into the log, whatever the deployment set
            "hide_parameters": True}
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    connect_args = dict(opts.get("connect_args") or {})
    connect, statement, pool = (float(config.get(k) or 0) for k in (
        "DB_CONNECT_TIMEOUT", "DB_STATEMENT_TIMEOUT", "DB_POOL_TIMEOUT"))
    if url.get_backend_name() == "postgresql":
        if connect:
            # libpq takes whole seconds
            connect_args.setdefault("connect_timeout", max(1, math.ceil(connect)))
        if statement and "statement_timeout" not in str(connect_args.get("options", "")):
            # connect_args replaces the URL's own ``options`` (e.g. a search_path): keep both.
            own = url.query.get("options", ())
            own = [own] if isinstance(own, str) else list(own)
            extra = connect_args.get("options")
            timeout = f"-c statement_timeout={int(statement * 1000)}"
            connect_args["options"] = " ".join([*own, *([extra] if extra else []), timeout])
        if pool:
            opts.setdefault("pool_timeout", pool)
    elif url.get_backend_name() == "sqlite" and statement:
        # how long a writer waits for SQLite's lock (its busy timeout)
        connect_args.setdefault("timeout", statement)
    if connect_args:
        opts["connect_args"] = connect_args
    return opts


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys (ON DELETE rules), and let readers and a writer overlap.

    The busy timeout is sqlite3's ``timeout`` (``DB_STATEMENT_TIMEOUT``, see engine_options)."""
    import sqlite3
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
