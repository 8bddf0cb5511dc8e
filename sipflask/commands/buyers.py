"""``flask --app sipflask buyers reset-caps|status``: the buyers' caps and opening hours from the
command line."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from sipflask.callflow import availability, caps
from sipflask.core import validation
from sipflask.extensions import db
from sipflask.models import Buyer

buyers_cli = AppGroup("buyers", help="Buyers' caps and opening hours.")


def _find(ref: str) -> Buyer:
    # A ref is ASCII: anything else (a surrogate from bytes the shell passed that are not
    # UTF-8, a NUL PostgreSQL refuses) can only be "no such buyer", never a query.
    match = validation.REF_RE.match(ref.strip())
    buyer = db.session.scalar(select(Buyer).where(Buyer.ref == ref.strip())) if match else None
    if buyer is None:
        known = ", ".join(db.session.scalars(select(Buyer.ref).order_by(Buyer.ref).limit(20)))
        raise click.ClickException(f"No buyer with ref {ref!r}." +
                                   (f" Buyers: {known}." if known else " There are no buyers."))
    return buyer


@buyers_cli.command("reset-caps")
@click.argument("ref")
def reset_caps_command(ref):
    """Start the buyer's hourly, daily, monthly and lifetime counts again from 0 (calls in
    progress keep their concurrency slots). Logged."""
    buyer = _find(ref)
    before = availability.status(buyer)
    caps.reset(buyer.id, "the command line")
    db.session.commit()
    used = ", ".join(u.text for u in before.caps if u.kind != "concurrency") or "no window caps"
    click.echo(f"Caps of {buyer.ref} reset (was {used}).")


@buyers_cli.command("status")
@click.argument("refs", nargs=-1)
def status_command(refs):
    """Open or closed now, and cap use, of the given buyers (all when none is given)."""
    buyers = [_find(r) for r in refs] or list(db.session.scalars(select(Buyer).order_by(Buyer.ref)))
    for buyer in buyers:
        state = availability.status(buyer)
        uses = ", ".join(u.text for u in state.caps) or "no caps"
        verdict = "takes calls" if state.reason is None else f"skipped: {state.reason}"
        click.echo(f"{buyer.ref}: {state.hours_text}; {uses}; {verdict}")
