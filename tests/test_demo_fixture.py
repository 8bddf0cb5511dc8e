"""The ``demo`` fixture copies what one run of ``flask demo`` wrote instead of running the
command in every test (tests/support/demo.py): the copy must be the database the command makes,
row for row, with the same ids to come, on both backends."""
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Buyer, Campaign, Number, Publisher
from tests.support.app import make_app
from tests.support.demo import load_demo, run_demo_command

# Written at the moment of the import, so they can only differ by when each ran.
MOMENTS = {"created_at", "updated_at", "at"}


def dump(app) -> dict:
    """Every row of every table, secrets decrypted (their ciphertext differs on every write)."""
    with app.app_context():
        out = {}
        for table in db.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            rows = [dict(r) for r in db.session.execute(query).mappings()]
            out[table.name] = [{k: v for k, v in r.items()
                                if k not in MOMENTS and not k.endswith("_encrypted")}
                               for r in rows]
        out["sip passwords"] = [(b.ref, b.sip_password) for b in
                                db.session.scalars(select(Buyer).order_by(Buyer.id))]
        return out


def next_ids(app) -> list[int]:
    """The ids the next records get: the copy must leave the sequences where the command does."""
    with app.app_context():
        records = [Publisher(name="Next", ref="next", afid="next"),
                   Campaign(name="Next", ref="next"),
                   Buyer(name="Next", ref="next", number="+14155550000")]
        db.session.add_all(records)
        db.session.flush()
        number = Number(number="+18885550000", campaign_id=records[1].id)
        db.session.add(number)
        db.session.flush()
        ids = [r.id for r in records] + [number.id]
        db.session.rollback()
        return ids


def test_the_copied_demo_is_what_the_command_writes(demo, tmp_path, backend):
    (tmp_path / "command").mkdir()
    by_command = make_app(tmp_path / "command", backend) if backend == "sqlite" else None
    if by_command is None:
        # One PostgreSQL schema per process: compare with the command in the same schema.
        copied = dump(demo), next_ids(demo)
        with demo.app_context():
            db.session.remove()
        by_command = make_app(tmp_path / "command", backend)
    else:
        copied = dump(demo), next_ids(demo)
    run_demo_command(by_command)
    by_command_made = dump(by_command), next_ids(by_command)
    with by_command.app_context():
        db.session.remove()
        db.engine.dispose()
    assert copied == by_command_made
    assert copied[0]["buyers"] and copied[0]["campaign_buyers"] and copied[0]["numbers"]


def test_users_made_first_are_kept_beside_the_copy(app, auth, backend):
    assert load_demo(app, backend, {})
    with app.app_context():
        emails = db.session.scalars(select(db.metadata.tables["users"].c.email)).all()
        assert sorted(emails) == ["admin@example.com", "member@example.com"]
        assert len(db.session.scalars(select(Buyer)).all()) == 6


def test_a_database_that_already_has_records_gets_the_real_command(app, backend):
    with app.app_context():
        db.session.add(Publisher(name="Green Leaf", ref="green", afid="9001"))
        db.session.commit()
    assert not load_demo(app, backend, {})
    with app.app_context():
        assert len(db.session.scalars(select(Publisher)).all()) == 4


def test_another_configuration_gets_its_own_copy(app, backend):
    """DEFAULT_REGION changes how the demo's numbers read, so the copy is never shared."""
    app.config["DEFAULT_REGION"] = "GB"
    assert not load_demo(app, backend, {})
