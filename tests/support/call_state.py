"""The invariant every sequence of webhooks must keep, checked by the race and model tests."""
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call


def assert_consistent(app):
    """Every buyer's counter is the number of attempts holding its slot; no ended call holds
    one."""
    with app.app_context():
        held = dict(db.session.execute(
            select(Attempt.buyer_id, func.count()).where(Attempt.holds_slot.is_(True))
            .group_by(Attempt.buyer_id)).all())
        for buyer in db.session.scalars(select(Buyer)):
            assert buyer.active_calls == held.get(buyer.id, 0), buyer.ref
        ended_holding = db.session.scalar(
            select(func.count()).select_from(Attempt).join(Call)
            .where(Attempt.holds_slot.is_(True), Call.ended_at.is_not(None)))
        assert ended_holding == 0, f"{ended_holding} slots held by ended calls"
        db.session.rollback()
