"""The committed migrations build the schema from empty, and match the models exactly."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from sipflask.extensions import db
from tests.support.app import make_app, pg_or_skip, reset_postgres


def _migrated_app(tmp_path, backend):
    config = {}
    if backend == "postgres":
        config["SQLALCHEMY_DATABASE_URI"] = reset_postgres(pg_or_skip())
    app = make_app(tmp_path, "sqlite", **config)
    with app.app_context():
        db.drop_all()  # make_app created the tables; start from nothing
    return app


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_upgrade_from_empty_matches_models(tmp_path, backend):
    app = _migrated_app(tmp_path, backend)
    with app.app_context():
        assert inspect(db.engine).get_table_names() == []
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"users", "publishers", "campaigns", "numbers", "buyers", "buyer_headers",
                "campaign_buyers", "calls", "attempts", "alembic_version"} <= tables
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_flask_db_upgrade_command(tmp_path):
    app = _migrated_app(tmp_path, "sqlite")
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert "buyers" in inspect(db.engine).get_table_names()
        db.engine.dispose()
