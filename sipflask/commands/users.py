"""``flask --app sipflask users create|ensure-admin|set-password|list``: the people who can sign
in."""
from __future__ import annotations

import secrets
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import User

users_cli = AppGroup("users", help="Manage the people who can sign in.")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _check_password(password: str) -> None:
    """The one password rule, for new users and new passwords alike."""
    if len(password) < 10:
        raise click.ClickException("The password must be at least 10 characters.")


def _find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(email: str, password: str, role: str = "member") -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise click.ClickException(f"{email!r} is not an email address.")
    _check_password(password)
    if _find_user(email):
        raise click.ClickException(f"A user with email {email} already exists.")
    user = User(email=email, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


@users_cli.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the user the admin role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(email, admin, password_stdin):
    """Create a user; asks for the password (or reads it with --password-stdin)."""
    password = _read_password(password_stdin)
    user = create_user(email, password, "admin" if admin else "member")
    click.echo(f"Created {user.role} {user.email}.")


@users_cli.command("ensure-admin")
@click.argument("email")
def users_ensure_admin(email):
    """Create admin EMAIL with a generated password (printed once) unless any admin exists."""
    if db.session.scalar(select(func.count()).select_from(User).where(User.role == "admin")):
        click.echo("An admin already exists; sign in with it (or create another with "
                   "'flask --app sipflask users create EMAIL --admin').")
        return
    password = secrets.token_urlsafe(12)
    create_user(email, password, "admin")
    click.echo(f"Created admin {email} with password: {password}")
    click.echo("It is shown only this once.")


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_set_password(email, password_stdin):
    """Give user EMAIL a new password; asks for it (or reads it with --password-stdin)."""
    user = _find_user(email)
    if user is None:
        raise click.ClickException(f"No user with email {email.strip().lower()}; see "
                                   "'flask --app sipflask users list'.")
    password = _read_password(password_stdin)
    _check_password(password)
    user.set_password(password)
    db.session.commit()
    click.echo(f"Password changed for {user.email}.")


@users_cli.command("list")
def users_list():
    """List users and their roles."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        click.echo(f"{user.email}\t{user.role}")
