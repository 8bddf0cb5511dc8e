"""``flask --app sipflask users create|ensure-admin|set-password|set-role|sign-out|unlock|list``:
the people who can sign in. Every write goes through :mod:`sipflask.records.users`; a refusal is one
line and exit status 1, never a traceback."""
from __future__ import annotations

import secrets
import sys

import click
from flask.cli import AppGroup

from sipflask import throttle
from sipflask.records import users

users_cli = AppGroup("users", help="Manage the people who can sign in.")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _existing(email: str):
    user = users.find(email)
    if user is None:
        raise click.ClickException(f"No user with email {users.normalise_email(email)}; see "
                                   "'flask --app sipflask users list'.")
    return user


def create_user(email: str, password: str, role: str = "member"):
    try:
        return users.create(email, password, role)
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None


@users_cli.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the user the admin role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(email, admin, password_stdin):
    """Create a user; asks for the password (or reads it with --password-stdin).

    Passwords: at least 12 characters, not common, not the email."""
    password = _read_password(password_stdin)
    user = create_user(email, password, "admin" if admin else "member")
    click.echo(f"Created {user.role} {user.email}.")


@users_cli.command("ensure-admin")
@click.argument("email")
def users_ensure_admin(email):
    """Create admin EMAIL with a generated password (printed once) unless any admin exists."""
    if users.admin_count():
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
    """Give user EMAIL a new password and end all their sessions; asks for it (or reads it
    with --password-stdin)."""
    user = _existing(email)
    password = _read_password(password_stdin)
    try:
        users.set_password(user, password)
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Password changed for {user.email}. Their sessions have ended.")


@users_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(users.ROLES))
def users_set_role(email, role):
    """Give user EMAIL the role ROLE (admin or member) and end all their sessions."""
    user = _existing(email)
    try:
        changed = users.set_role(user, role)
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    if changed:
        click.echo(f"{user.email} is now {role}; their sessions have ended.")
    else:
        click.echo(f"{user.email} is already {role}; nothing changed.")


@users_cli.command("sign-out")
@click.argument("email")
def users_sign_out(email):
    """End every session and remember-me cookie of user EMAIL, on every browser."""
    user = _existing(email)
    users.sign_out_everywhere(user)
    click.echo(f"Signed out {user.email} everywhere.")


@users_cli.command("unlock")
@click.argument("email")
def users_unlock(email):
    """Let user EMAIL sign in again at once after too many failed attempts (someone guessing
    their password): clears the attempts counted against the account, shared through Redis."""
    user = _existing(email)
    try:
        throttle.unlock_account(user.email)
    except throttle.UnlockError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Unlocked {user.email}: their failed sign-in attempts are forgotten. If someone "
               "is guessing, they count again from now; 'users set-password' if in doubt.")


@users_cli.command("list")
def users_list():
    """List users and their roles."""
    for user in users.all_users():
        click.echo(f"{user.email}\t{user.role}")
