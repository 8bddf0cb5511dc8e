"""Users as stored: the one writer behind ``flask users ...``, My account and the admin's user
pages. Every change that should end sessions (new password, new role, logout, "sign out
everywhere") gives the user a new ``session_token``, which every cookie issued before no longer
carries (see ``sipflask/sessions.py``)."""
from __future__ import annotations

from sqlalchemy import func, select

from sipflask.core.passwords import password_problem
from sipflask.extensions import db
from sipflask.models import User, new_session_token

ROLES = ("admin", "member")


class UserError(ValueError):
    """A refusal with its message, for the form field or the CLI (exit 1)."""


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def get(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))


def check_password_rule(password: str, email: str) -> None:
    problem = password_problem(password, email)
    if problem:
        raise UserError(problem)


def create(email: str, password: str, role: str = "member") -> User:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise UserError(f"{email!r} is not an email address.")
    _check_role(role)
    check_password_rule(password, email)
    if find(email):
        raise UserError(f"A user with email {email} already exists.")
    user = User(email=email, role=role, session_token=new_session_token())
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def set_password(user: User, password: str) -> None:
    """A new password, and every session of the user ended (the caller signs the current
    browser in again when the user changed their own password)."""
    check_password_rule(password, user.email)
    user.set_password(password)
    user.session_token = new_session_token()
    db.session.commit()


def set_role(user: User, role: str) -> bool:
    """Give ``user`` ``role``; False when it already had it (nothing changes then). The last
    admin keeps its role: without one nobody could manage users from the web."""
    _check_role(role)
    if user.role == role:
        return False
    if user.role == "admin" and admin_count() <= 1:
        raise UserError(f"{user.email} is the only admin; make another user admin first.")
    user.role = role
    # The role is read on each request, but sessions opened under the old role end anyway:
    # whoever held them signs in again and sees what the new role allows.
    user.session_token = new_session_token()
    db.session.commit()
    return True


def sign_out_everywhere(user: User) -> None:
    """End every session and remember-me cookie of ``user`` (logout does this too)."""
    user.session_token = new_session_token()
    db.session.commit()


def admin_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.role == "admin"))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"The role must be one of {', '.join(ROLES)} (not {role!r}).")
