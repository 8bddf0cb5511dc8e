"""Upgrading a SQLite database keeps its rows: the migrations that rebuild a table (batch mode:
copy, drop, rename) must not let the drop cascade through foreign keys. Found by the reports
migration's author: through b8d4f0a2c365 every call lost its number; a rebuild of ``buyers``
would have deleted routing lists and headers."""
from flask_migrate import upgrade
from sqlalchemy import text

from sipflask.extensions import db
from tests.support.app import make_app

START = "6722840e3b61"  # postbacks and inbound settings: before every table rebuild since
ROWS = [
    ("campaigns", {"id": 1, "ref": "auto", "name": "Auto"}),
    ("numbers", {"id": 1, "number": "+18882223333", "campaign_id": 1}),
    ("buyers", {"id": 1, "ref": "queue", "name": "Queue", "number": "sip:q@pbx.example.com",
                "priority": 1, "weight": 1, "timeout": 30}),
    ("buyer_headers", {"id": 1, "buyer_id": 1, "name": "X-Campaign", "value": "[campaign_id]"}),
    ("campaign_buyers", {"campaign_id": 1, "buyer_id": 1, "position": 0}),
    ("calls", {"id": 1, "uuid": "u-1", "number_id": 1, "campaign_id": 1, "status": "completed"}),
    ("attempts", {"id": 1, "call_id": 1, "position": 0, "buyer_id": 1}),
]


def insert_row(conn, table, row):
    """``row``, with a plain value for every other NOT NULL column of the table as it is at
    this revision (the schema of an old release, not today's models)."""
    values = dict(row)
    for col in conn.execute(text(f"PRAGMA table_info({table})")).mappings():
        if col["name"] in values or not col["notnull"] or col["dflt_value"] is not None \
                or col["pk"]:
            continue
        kind = (col["type"] or "").upper()
        values[col["name"]] = (0 if any(k in kind for k in ("INT", "BOOL", "NUMERIC"))
                               else "2026-01-01 00:00:00" if "DATE" in kind or "TIME" in kind
                               else "{}" if "JSON" in kind else "")
    names = ", ".join(values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES "
                      f"({', '.join(':' + n for n in values)})"), values)


def test_sqlite_upgrade_keeps_routing_lists_headers_and_references(tmp_path):
    app = make_app(tmp_path, "sqlite")
    with app.app_context():
        db.drop_all()
        upgrade(revision=START)
        with db.engine.begin() as conn:
            for table, row in ROWS:
                insert_row(conn, table, row)
        upgrade()
        with db.engine.connect() as conn:
            def one(sql):
                return conn.execute(text(sql)).scalar()
            assert one("SELECT number_id FROM calls WHERE id = 1") == 1
            assert one("SELECT buyer_id FROM attempts WHERE id = 1") == 1
            assert one("SELECT count(*) FROM campaign_buyers") == 1
            assert one("SELECT count(*) FROM buyer_headers") == 1
            assert one("PRAGMA foreign_keys") == 1  # on again for whoever uses the connection
        db.engine.dispose()
