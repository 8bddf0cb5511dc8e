"""Model constraints, enforced by the database itself (SQLite and PostgreSQL)."""
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sipflask import crypto
from sipflask.extensions import db
from sipflask.models import Buyer, Call, Campaign, Number, Publisher


def _add(*objs):
    db.session.add_all(objs)
    db.session.commit()


def _refused(*objs):
    db.session.add_all(objs)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_publisher_afid_and_ref_unique(app):
    with app.app_context():
        _add(Publisher(ref="a", name="A", afid="1"))
        _refused(Publisher(ref="b", name="B", afid="1"))
        _refused(Publisher(ref="a", name="C", afid="2"))


def test_number_unique_and_needs_campaign(app):
    with app.app_context():
        camp = Campaign(ref="c", name="C", settings={})
        _add(camp, Number(number="+18882223333", campaign=camp, tags={}))
        _refused(Number(number="+18882223333", campaign_id=camp.id, tags={}))
        _refused(Number(number="+18664420199", tags={}))


def test_campaign_with_numbers_cannot_be_deleted(app):
    with app.app_context():
        camp = Campaign(ref="c", name="C", settings={})
        _add(camp, Number(number="+18882223333", campaign=camp, tags={}))
        with pytest.raises(IntegrityError):
            db.session.execute(db.delete(Campaign).where(Campaign.id == camp.id))
            db.session.commit()
        db.session.rollback()


def test_deleting_a_publisher_keeps_its_numbers(app):
    with app.app_context():
        camp, pub = Campaign(ref="c", name="C", settings={}), Publisher(ref="p", name="P", afid="9")
        _add(camp, pub, Number(number="+18882223333", campaign=camp, publisher=pub, tags={}))
        db.session.execute(db.delete(Publisher))
        db.session.commit()
        db.session.expire_all()
        assert db.session.scalar(select(Number)).publisher_id is None


@pytest.mark.parametrize("field,value", [("timeout", 0), ("timeout", 601), ("priority", -1),
                                         ("weight", -1), ("concurrency_cap", -1),
                                         ("daily_cap", -2)])
def test_buyer_check_constraints(app, field, value):
    with app.app_context():
        _refused(Buyer(ref="b", name="B", number="+14155552671", **{field: value}))


def test_buyer_defaults(app):
    with app.app_context():
        buyer = Buyer(ref="b", name="B", number="+14155552671")
        _add(buyer)
        assert (buyer.timeout, buyer.priority, buyer.weight, buyer.paused) == (30, 1, 1, False)
        assert buyer.concurrency_cap is None and buyer.daily_cap is None
        assert buyer.auth_mode == "phone"


def test_sip_password_encrypted_with_instance_key(app):
    with app.app_context():
        buyer = Buyer(ref="b", name="B", number="sip:q@example.com", sip_username="u")
        buyer.sip_password = "s3cret-Pass"
        _add(buyer)
        stored = db.session.scalar(select(Buyer.sip_password_encrypted))
        assert "s3cret" not in stored
        assert crypto.decrypt(app.config["SECRET_KEY"], stored) == "s3cret-Pass"
        with pytest.raises(crypto.SecretError) as err:
            crypto.decrypt("another-key", stored)
        assert "s3cret" not in str(err.value) and stored not in str(err.value)
        assert buyer.auth_mode == "credentials"


def test_call_uuid_and_key(app):
    with app.app_context():
        a, b = Call(caller="+1", called="+2"), Call(caller="+1", called="+2")
        _add(a, b)
        assert len(a.uuid) == 36 and a.uuid != b.uuid
        assert len(a.key) == 64 and a.key != b.key  # 256 random bits
        _refused(Call(uuid=a.uuid))
        _add(Call(call_sid="CA1"))
        _refused(Call(call_sid="CA1"))
