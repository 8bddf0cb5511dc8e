"""The webhook signature check with the Twilio account in use: the saved auth token when the
configuration has none (read once per cache period, forgotten at once when saved here), the
configuration's when it has one (then nothing is read), and the last copy read when the
database can't be reached, so a webhook still answers during an outage."""
from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sipflask.extensions import db
from sipflask.models import AccountSettings
from tests.support.app import TWILIO_AUTH_TOKEN, clean_postgres, make_app, pg_or_skip
from tests.support.db_proxy import Proxy
from tests.support.twilio_account import NO_ENV, OTHER_TOKEN, SID, TOKEN, save_account
from tests.support.webhook import AUTO, BASE, CALLER, parse, post, sign

no_env = pytest.mark.app_config(**NO_ENV)
_calls = iter(range(1, 10**6))


def store(app, token=TOKEN):
    """Write the saved account straight into the database (as another process would)."""
    with app.app_context():
        row = db.session.scalar(select(AccountSettings)) or AccountSettings()
        row.twilio_account_sid = SID
        row.twilio_auth_token = token
        db.session.add(row)
        db.session.commit()


def signed_voice(client, token):
    data = {"CallSid": f"CA{next(_calls):032x}", "From": CALLER, "To": AUTO,
            "CallStatus": "ringing"}
    return post(client, "/twilio/voice", data,
                signature=sign(BASE + "/twilio/voice", data, token))


@pytest.fixture
def reads(app):
    """The statements that read the saved account, as they happen."""
    seen = []

    def note(conn, cursor, statement, *args):
        if "account_settings" in statement:
            seen.append(statement)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


@no_env
def test_a_webhook_signed_with_the_saved_token_passes(client, demo):
    store(demo)
    assert parse(signed_voice(client, TOKEN)).find("Dial") is not None
    assert signed_voice(client, OTHER_TOKEN).status_code == 403


def test_the_environments_token_wins(client, demo, reads):
    store(demo, OTHER_TOKEN)
    reads.clear()
    assert parse(signed_voice(client, TWILIO_AUTH_TOKEN)).find("Dial") is not None
    assert signed_voice(client, OTHER_TOKEN).status_code == 403
    assert reads == []  # with the token in the configuration, nothing is read


@no_env
def test_no_token_anywhere_refuses_and_says_why(client, demo, caplog):
    assert signed_voice(client, TOKEN).status_code == 403
    assert "TWILIO_AUTH_TOKEN is not configured and no auth token is saved on the settings " \
        "page" in caplog.text


@no_env
def test_the_saved_token_is_read_once_per_cache_period(client, demo, reads):
    store(demo)
    reads.clear()
    for _ in range(3):
        assert signed_voice(client, TOKEN).status_code == 200
    assert len(reads) == 1
    store(demo, OTHER_TOKEN)  # saved by another process: this one sees it after the period
    reads.clear()
    assert signed_voice(client, OTHER_TOKEN).status_code == 403
    assert reads == []
    demo.config["TWILIO_ACCOUNT_CACHE_SECONDS"] = 0  # the period is over
    assert signed_voice(client, OTHER_TOKEN).status_code == 200
    assert len(reads) == 1


@no_env
def test_saving_on_the_settings_page_forgets_the_copy_at_once(admin_client, client, demo):
    save_account(admin_client, account_sid=SID, auth_token=TOKEN)
    assert signed_voice(client, TOKEN).status_code == 200
    save_account(admin_client, account_sid=SID, auth_token=OTHER_TOKEN)
    assert signed_voice(client, OTHER_TOKEN).status_code == 200
    assert signed_voice(client, TOKEN).status_code == 403


@pytest.fixture
def database_down(monkeypatch):
    """``database_down()``: from now on every statement fails as on a database that can't be
    reached (the saved account is read on a connection of its own, the rest on the session)."""
    def fail(self, *args, **kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    def start():
        monkeypatch.setattr(Connection, "execute", fail)
        for name in ("execute", "_execute_internal"):
            monkeypatch.setattr(Session, name, fail)
    return start


@no_env
def test_a_webhook_answers_from_the_copy_while_the_database_is_down(client, demo,
                                                                     database_down, caplog):
    store(demo)
    assert parse(signed_voice(client, TOKEN)).find("Dial") is not None  # token and routes read
    demo.config["TWILIO_ACCOUNT_CACHE_SECONDS"] = 0  # the copy is stale: it is read again
    database_down()
    root = parse(signed_voice(client, TOKEN))
    assert root.find("Dial") is not None  # outage routing, after the signature passed
    assert "using the copy this process read" in caplog.text
    assert signed_voice(client, OTHER_TOKEN).status_code == 403
    assert TOKEN not in caplog.text


@no_env
def test_without_a_copy_a_database_outage_refuses(client, demo, database_down, caplog):
    store(demo)
    database_down()
    assert signed_voice(client, TOKEN).status_code == 403
    assert "could not read the saved Twilio auth token (OperationalError) and this process has " \
        "no copy of it yet" in caplog.text


@no_env
def test_simulate_call_signs_with_the_saved_token(runner, demo):
    store(demo)
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", CALLER])
    assert result.exit_code == 0, result.output
    assert "<Dial" in result.output
    assert demo.config["TWILIO_AUTH_TOKEN"] == ""  # no throwaway token was needed


# --- a real PostgreSQL that stops answering -------------------------------------------------------

def test_a_silent_database_costs_the_signature_check_little(tmp_path, caplog):
    url = pg_or_skip()
    parts = urlsplit(url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        via = clean_postgres(url)
        netloc = urlsplit(via).netloc
        via = via.replace(netloc, f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}", 1)
        app = make_app(tmp_path, "sqlite", SQLALCHEMY_DATABASE_URI=via, **NO_ENV)
        assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
        store(app)
        client = app.test_client()
        assert parse(signed_voice(client, TOKEN)).find("Dial") is not None
        app.config["TWILIO_ACCOUNT_CACHE_SECONDS"] = 0
        proxy.hang()
        started = time.monotonic()
        response = signed_voice(client, TOKEN)
        elapsed = time.monotonic() - started
        assert parse(response).find("Dial") is not None
        assert elapsed < 5.0, f"answered after {elapsed:.1f} s"
        assert "using the copy this process read" in caplog.text
    finally:
        proxy.close()
        if "app" in locals():
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def test_logging_never_shows_the_saved_token(client, demo, caplog):
    caplog.set_level(logging.DEBUG)
    demo.config.update(NO_ENV)
    store(demo)
    signed_voice(client, TOKEN)
    signed_voice(client, OTHER_TOKEN)
    assert TOKEN not in caplog.text and OTHER_TOKEN not in caplog.text
