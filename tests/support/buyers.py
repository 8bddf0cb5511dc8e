"""The buyer editor's form as a browser posts it, for tests that save or preview a buyer."""
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Buyer


def edit_data(app, ref, **overrides):
    """The edit form of a stored buyer as the browser would post it unchanged."""
    with app.app_context():
        b = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        data = {"name": b.name, "ref": b.ref, "number": b.number,
                "sip_username": b.sip_username, "sip_password": "", "password_action": "keep",
                "priority": str(b.priority), "weight": str(b.weight), "timeout": str(b.timeout),
                "concurrency_cap": "" if b.concurrency_cap is None else str(b.concurrency_cap),
                "daily_cap": "" if b.daily_cap is None else str(b.daily_cap),
                "campaigns": [str(e.campaign_id) for e in b.routing], "action": "save"}
        if b.paused:
            data["paused"] = "y"
        for i, h in enumerate(b.headers):
            data[f"headers-{i}-name"] = h.name
            data[f"headers-{i}-value"] = h.value
        bid = b.id
    data.update(overrides)
    return bid, data
