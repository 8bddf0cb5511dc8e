"""Reading the change history in tests: the rows of one record, everything stored as text
(to prove a secret is not in it), and the SQLAlchemy session counts."""
import json

from sqlalchemy import select

from sipflask.extensions import db
from sipflask.history.model import ChangeRecord


def changes(app, record_type=None, record_id=None) -> list[dict]:
    """Every change (or one record's), oldest first, as plain dicts."""
    with app.app_context():
        stmt = select(ChangeRecord).order_by(ChangeRecord.id)
        if record_type:
            stmt = stmt.where(ChangeRecord.record_type == record_type)
        if record_id is not None:
            stmt = stmt.where(ChangeRecord.record_id == record_id)
        return [{c.name: getattr(row, c.key) for c in ChangeRecord.__table__.columns}
                for row in db.session.scalars(stmt)]


def stored_text(app) -> str:
    """The whole change_records table, every column, as one string."""
    return json.dumps(changes(app), default=str, ensure_ascii=False)


def fields(change: dict) -> dict:
    """``{field: (before, after)}``; a secret maps to "changed"."""
    return {c["field"]: "changed" if c.get("secret") else (c["before"], c["after"])
            for c in change["changes"]}
