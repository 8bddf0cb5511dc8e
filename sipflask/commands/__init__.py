"""Command-line interface: ``flask --app sipflask users|demo|export|import|...``."""
from __future__ import annotations

import json
import secrets
import sys
from importlib import resources

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import User
from sipflask.records import setup_json

users_cli = AppGroup("users", help="Manage the people who can sign in.")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def create_user(email: str, password: str, role: str = "member") -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise click.ClickException(f"{email!r} is not an email address.")
    if len(password) < 10:
        raise click.ClickException("The password must be at least 10 characters.")
    if db.session.scalar(select(User).where(func.lower(User.email) == email)):
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


@users_cli.command("list")
def users_list():
    """List users and their roles."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        click.echo(f"{user.email}\t{user.role}")


@click.command("demo")
@with_appcontext
def demo_command():
    """Load the demo setup (2 campaigns, 3 publishers, 4 numbers, 4 buyers); idempotent."""
    doc = json.loads(resources.files("sipflask").joinpath("data/demo.json").read_text())
    try:
        result = setup_json.import_setup(doc)
    except setup_json.SetupError as exc:  # only if the stored data clashes (e.g. an afid)
        raise click.ClickException("The demo data clashes with what is stored:\n" + str(exc))
    click.echo(result.summary())


@click.command("export")
@with_appcontext
@click.argument("file", type=click.File("w"), default="-")
@click.option("--with-secrets", is_flag=True, help="Include SIP passwords (in plain text).")
def export_command(file, with_secrets):
    """Write the whole setup as JSON to FILE (default: standard output)."""
    json.dump(setup_json.export_setup(with_secrets=with_secrets), file, indent=2,
              ensure_ascii=False)
    file.write("\n")


@click.command("import")
@with_appcontext
@click.argument("file", type=click.File("r"))
def import_command(file):
    """Validate FILE and import it; nothing is written if any record is wrong."""
    try:
        doc = json.load(file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file.name} is not valid JSON: {exc}")
    try:
        result = setup_json.import_setup(doc)
    except setup_json.SetupError as exc:
        lines = exc.report.lines()
        click.echo(f"Nothing was imported: {len(lines)} problem(s) found.", err=True)
        for line in lines:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(result.summary())


def init_app(app):
    app.cli.add_command(users_cli)
    for command in (demo_command, export_command, import_command, simulate_call_command):
        app.cli.add_command(command)
    from sipflask.commands.worker import worker_command
    app.cli.add_command(worker_command)


@click.command("simulate-call")
@with_appcontext
@click.option("--to", "to", required=True, help="The tracking number called (E.164), or a SIP URI.")
@click.option("--from", "from_", required=True, help="The caller's number.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Extra Twilio webhook parameter, e.g. FromState=CA or SipHeader_X-Lead-Score=87.")
@click.option("--outcome", "outcomes", multiple=True, metavar="STATUS[:SIPCODE[:SECONDS]]",
              help="Result of the next dial (busy, no-answer, failed, canceled, completed), "
                   "e.g. busy:486. Repeat for each buyer dialled.")
def simulate_call_command(to, from_, params, outcomes):
    """Play Twilio's part for one call through the real, signed webhook endpoints."""
    from sipflask.callflow import simulate
    try:
        sim = simulate.run(current_app._get_current_object(), to=to, from_=from_,
                           params=simulate.parse_params(params),
                           outcomes=[simulate.Outcome.parse(o) for o in outcomes])
    except simulate.SimulationError as exc:
        raise click.ClickException(str(exc))
    for n, step in enumerate(sim.steps, 1):
        shown = {k: v for k, v in step.params.items()
                 if k not in ("AccountSid", "ApiVersion", "Direction", "CallSid")}
        click.echo(f"--- step {n}: {step.method} {step.url}")
        click.echo("    " + " ".join(f"{k}={v}" for k, v in shown.items()))
        click.echo(f"<-- {step.status}")
        if step.body:
            click.echo(step.masked_body)
    for outcome in sim.unused_outcomes:
        click.echo(f"(outcome {outcome.status} not used: the call had ended)")
    click.echo(f"CallSid {sim.call_sid}")
