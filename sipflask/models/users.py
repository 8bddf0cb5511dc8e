"""The people who sign in."""
from __future__ import annotations

import secrets
from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from sipflask.extensions import db
from sipflask.models.columns import TZDateTime, utcnow


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="member")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    # Part of every session and remember-me cookie (``get_id``): a new token, set by
    # records.users on logout, password or role change and "sign out everywhere", makes every
    # cookie issued before it worthless, on every machine, without a server-side session store.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)

    __table_args__ = (CheckConstraint("role IN ('admin', 'member')", name="role"),)

    def get_id(self) -> str:
        # Flask-Login's "alternative id": what the cookies carry, and what load_user checks.
        return f"{self.id}:{self.session_token}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(
            password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
