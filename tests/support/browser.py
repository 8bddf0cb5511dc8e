"""Shared by the browser tests and their conftest: Chromium's path and flags, the one login, the
skip-or-fail rule for a missing browser, and screenshots (a module of its own: importing a
conftest by name would pick whichever conftest pytest loaded last)."""
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
IN_CI = os.environ.get("CI") == "true"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"

EMAIL = "editor@example.com"
PASSWORD = "browser-test-password"


def save_artifact(page, name: str, **kw) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), **kw)
    # docs/img/ is committed: refresh it only when asked (SIPFLASK_UPDATE_DOCS_IMG=1).
    if os.environ.get("SIPFLASK_UPDATE_DOCS_IMG") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / name)
    return path


def need(condition: bool, reason: str) -> None:
    """Skip with the reason when something the browser tests need is missing; fail under CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}: the browser tests must run in CI.")
    pytest.skip(reason)


def demo_app(tmp_path, **config):
    """The browser tests' app: a SQLite file with the demo data and one admin who signs in
    (``EMAIL``/``PASSWORD``), CSRF on, as in production; ``config`` adds or overrides
    settings. A generator for a fixture: it yields the app and disposes of its engine."""
    from sipflask import create_app
    from sipflask.extensions import db
    from sipflask.models import User
    app = create_app({
        "TESTING": False,
        "SECRET_KEY": "browser-test-secret-key",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'browser.sqlite'}",
        "TWILIO_AUTH_TOKEN": "test-auth-token-0123456789abcdef",
        "PUBLIC_URL": "https://sipflask.test",
        "PLUGINS_DIR": str(tmp_path / "plugins"),
        "PLUGINS_ALLOW": [],
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **config,
    })
    with app.app_context():
        db.create_all()
        user = User(email=EMAIL, role="admin")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
