"""sipflask: call routing for pay-per-call teams, answering Twilio voice webhooks with TwiML."""
import logging
import os
import secrets
from pathlib import Path

from flask import Flask

__version__ = "0.1.0"

log = logging.getLogger(__name__)

DEFAULTS = dict(
    # hide_parameters: a failed statement's message must not carry a call's postback key or
    # an encrypted password into the log.
    SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "hide_parameters": True},
    # Seconds the app waits on the database (extensions.engine_options; docs/reliability.md):
    # opening a connection, one statement (PostgreSQL's statement_timeout; SQLite's busy
    # timeout), a free connection from the pool. DB_WEBHOOK_BUDGET bounds all of one Twilio
    # webhook's database time, even when the server stops answering (callflow/deadline.py).
    DB_CONNECT_TIMEOUT=2,
    DB_STATEMENT_TIMEOUT=3,
    DB_POOL_TIMEOUT=1,
    DB_WEBHOOK_BUDGET=3.5,
    # When the database can't be reached, dial the first open buyer of the last routing list
    # this process read (caps not enforced) and journal the call in OUTAGE_JOURNAL (default
    # <instance>/outage-journal.jsonl) for replay; False: the caller hears the sorry message.
    OUTAGE_ROUTING=True,
    OUTAGE_JOURNAL=None,
    # Public base URL Twilio uses to reach us (e.g. https://calls.example.com). Set it behind a
    # TLS-terminating proxy: Twilio signs the URL it called, not the one Flask sees.
    PUBLIC_URL=None,
    # The Twilio account; when any TWILIO_* account setting is given it wins over the one saved
    # on the settings page (twilio_rest/account.py). An API key pair, when set, makes the REST
    # calls; the auth token always checks the webhooks' signatures.
    TWILIO_ACCOUNT_SID="",
    TWILIO_AUTH_TOKEN="",
    TWILIO_API_KEY_SID="",
    TWILIO_API_SECRET="",
    # Seconds each process reuses the Twilio account saved on the settings page.
    TWILIO_ACCOUNT_CACHE_SECONDS=5,
    # Where drop-in plugin modules live (default: <instance>/plugins) and which plugins may load
    # (None: all found; a list of names: only those, plus the built-in ones).
    PLUGINS_DIR=None,
    PLUGINS_ALLOW=None,
    PLUGIN_TIMEOUT_MS=300,
    # Seconds each process may reuse numbers and routing lists it read (directory.py);
    # pauses and caps are always checked in the database. 0 turns the cache off.
    ROUTING_CACHE_SECONDS=2,
    PLUGIN_TOTAL_TIMEOUT_MS=1000,
    DEFAULT_REGION="US",
    PER_PAGE=25,
    # A concurrency slot is a lease of ring timeout + this (Twilio ends any call after 4 h), so a
    # lost status callback can never hold a buyer's slot for longer.
    MAX_CALL_SECONDS=4 * 3600,
    PASSWORD_HASH_METHOD="scrypt",
    MAX_CONTENT_LENGTH=4 * 1024 * 1024,
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    # Sign-in and sessions (sessions.py, throttle.py; docs/security.md). COOKIE_SECURE: auto
    # (Secure when PUBLIC_URL or the request is https), true or false. PROXY_HOPS: how many
    # proxies in front set X-Forwarded-For/-Proto (0: trust none). THROTTLE_*: "N/period;..."
    # (limits' syntax); counts live in RATELIMIT_STORAGE_URI, else REDIS_URL, else memory.
    COOKIE_SECURE="auto",
    SESSION_LIFETIME_HOURS=12,
    SESSION_IDLE_MINUTES=60,
    REMEMBER_DAYS=14,
    PROXY_HOPS=0,
    RATELIMIT_STORAGE_URI=None,
    THROTTLE_LOGIN_ACCOUNT="10/minute;30/hour;100/day",
    THROTTLE_LOGIN_ADDRESS="20/minute;100/hour;500/day",
    THROTTLE_POSTBACK_KEY="30/minute;300/hour;2000/day",
    THROTTLE_POSTBACK_ADDRESS="20/minute;100/hour;500/day",
    THROTTLE_SIP_TEST="10/minute;60/hour",  # Test endpoint, per signed-in user
    THROTTLE_WEBHOOK_TEST="10/minute;60/hour",  # Send test and Retry now, per signed-in user
    # Background jobs (sipflask/jobs): Redis shared by all machines, else a SQLite file in the
    # instance folder (JOBS_SQLITE_PATH overrides where).
    REDIS_URL=None,
    JOBS_QUEUE_NAME="sipflask",
    JOBS_SQLITE_PATH=None,
    # /readyz fails when no worker ran the heartbeat job (every minute) for this long; 0: no check.
    WORKER_HEARTBEAT_MAX_AGE=180,
    # /metrics: loopback, these comma-separated networks, or "Authorization: Bearer <token>".
    METRICS_ALLOW="",
    METRICS_TOKEN="",
    # Outbound webhooks (docs/webhooks.md): private and loopback targets refused unless this is
    # true; connect and read timeouts (seconds: "5,10", [5, 10] or one number); tries per
    # delivery; requests one delivery run makes at once; CAs for https (None: certifi's).
    WEBHOOKS_ALLOW_PRIVATE=False,
    WEBHOOK_TIMEOUT=(5, 10),
    WEBHOOK_MAX_TRIES=6,
    WEBHOOK_CONCURRENCY=8,
    WEBHOOK_CA_BUNDLE=None,
    # The account's clock for every time the UI shows (IANA name; the admin settings page can
    # save another, which wins). What is stored stays UTC.
    TIME_ZONE="UTC",
)


def _secret_key(app: Flask) -> str:
    """Read the instance's secret key, creating it on first run (never a fixed dev key)."""
    path = Path(app.instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    # O_EXCL: when two workers start at once only one key wins; the other reads it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    log.info("generated a new secret key in %s", path)
    return key


def create_app(test_config=None) -> Flask:
    # SIPFLASK_INSTANCE_PATH: where config.py, the secret key and the SQLite files live when the
    # package is installed (Flask's default is then <prefix>/var/sipflask-instance).
    instance = os.environ.get("SIPFLASK_INSTANCE_PATH")
    app = Flask(__name__, instance_relative_config=True,
                instance_path=os.path.abspath(instance) if instance else None)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        DEFAULTS,
        SQLALCHEMY_DATABASE_URI="sqlite:///" + str(Path(app.instance_path) / "sipflask.sqlite"),
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("SIPFLASK")
    else:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app)
    from sipflask.extensions import engine_options
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    if not app.config.get("OUTAGE_JOURNAL"):
        app.config["OUTAGE_JOURNAL"] = str(Path(app.instance_path) / "outage-journal.jsonl")
    if not app.config.get("PLUGINS_DIR"):
        app.config["PLUGINS_DIR"] = str(Path(app.instance_path) / "plugins")
    # A bad TIME_ZONE stops the app here, with a message naming the setting.
    from sipflask import account
    account.init_app(app)

    # models registers the tables on db.metadata; commands registers the CLI.
    from sipflask import commands, models  # noqa: F401
    from sipflask.siphealth import model as _health_model  # noqa: F401
    from sipflask.webhooks import model as _webhooks_model  # noqa: F401
    from sipflask.extensions import csrf, db, migrate

    db.init_app(app)
    from sipflask.callflow import deadline
    deadline.init_app(app)
    migrate.init_app(app, db)
    csrf.init_app(app)
    from sipflask import sessions, throttle
    sessions.init_app(app)  # before any other after_request hook (see its docstring)
    # Security headers (CSP, framing, HSTS) on every response, errors and static files too.
    from sipflask import headers
    headers.init_app(app)

    from sipflask.blueprints import register_blueprints
    register_blueprints(app)
    throttle.init_app(app)  # after the blueprints: it limits their views

    from sipflask import errors, htmx, jobs, monitoring, plugins
    errors.init_app(app)
    htmx.init_app(app)
    plugins.init_app(app)
    jobs.init_app(app)
    monitoring.init_app(app)

    commands.init_app(app)
    return app
