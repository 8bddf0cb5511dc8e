"""The app factory, configuration, secret key and login guard."""
import os

from sipflask import create_app
from sipflask.extensions import db


def test_config_from_test_config(app):
    assert app.testing
    assert app.config["SECRET_KEY"] == "test-secret-key-not-for-production"


def test_secret_key_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(tmp_path / "inst"))
    monkeypatch.setenv("SIPFLASK_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'db.sqlite'}")
    first = create_app()
    key_file = tmp_path / "inst" / "secret_key"
    assert key_file.exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert len(first.config["SECRET_KEY"]) == 64
    second = create_app()
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]


def test_prefixed_env_selects_database(tmp_path, monkeypatch):
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(tmp_path / "inst"))
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    monkeypatch.setenv("SIPFLASK_SQLALCHEMY_DATABASE_URI", url)
    monkeypatch.setenv("SIPFLASK_PLUGIN_TIMEOUT_MS", "150")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    assert app.config["PLUGIN_TIMEOUT_MS"] == 150  # JSON-parsed, not a string
    with app.app_context():
        assert str(db.engine.url) == url


def test_instance_config_file(tmp_path, monkeypatch):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "config.py").write_text("PER_PAGE = 7\nSECRET_KEY = 'from-file'\n")
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(inst))
    monkeypatch.delenv("SIPFLASK_SQLALCHEMY_DATABASE_URI", raising=False)
    app = create_app()
    assert app.config["PER_PAGE"] == 7
    assert app.config["SECRET_KEY"] == "from-file"
    assert not (inst / "secret_key").exists()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith(os.path.join("inst", "sipflask.sqlite"))
