"""``flask --app sipflask buyers reset-caps|status|check-endpoint``: the buyers' caps and opening
hours, and a SIP endpoint's health (docs/sip-health.md), from the command line."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from sipflask.callflow import availability, caps
from sipflask.core import validation
from sipflask.extensions import db
from sipflask.models import Buyer
from sipflask.siphealth import check, endpoint, report
from sipflask.siphealth import dns as sipdns

buyers_cli = AppGroup("buyers", help="Buyers' caps, opening hours and SIP endpoints.")


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



def _invalid(message: str, as_json: bool):
    """Exit 2: the buyer or URI cannot be checked (the scripted contract of check-endpoint)."""
    if as_json:
        click.echo(json.dumps({"alive": False, "targets": [], "verdict": message,
                               "error": message}))
    else:
        click.echo(f"Error: {message}", err=True)
    raise SystemExit(2)


@buyers_cli.command("check-endpoint")
@click.argument("ref", required=False)
@click.option("--uri", help="Check this SIP URI (not saved yet) instead of a buyer's.")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=4.0, show_default=True,
              help="Seconds to wait for each target's reply.")
def check_endpoint_command(ref, uri, as_json, timeout):
    """Resolve a SIP buyer's URI like a SIP client (RFC 3263) and probe it with SIP OPTIONS.
    Exit 0 alive, 1 not alive, 2 when the buyer or URI is invalid."""
    if (ref is None) == (uri is None):
        _invalid("give a buyer REF or --uri SIP_URI (one of them)", as_json)
    try:
        target = endpoint.for_uri(uri) if uri is not None else endpoint.for_buyer(_find(ref))
        lookup = check.lookup_from_config(current_app.config)
    except (click.ClickException, endpoint.EndpointError, sipdns.NameserverError) as exc:
        _invalid(exc.format_message() if isinstance(exc, click.ClickException) else str(exc),
                 as_json)
    diagnosis = check.check_endpoint(target.uri, lookup, target.headers, timeout=timeout)
    ranges = endpoint.twilio_ranges(target.uri)
    if as_json:
        click.echo(json.dumps(diagnosis.as_dict() | {"dropped_headers": list(target.dropped),
                                                     "twilio": ranges}))
    else:
        click.echo("\n".join(report.lines(diagnosis, target.dropped, ranges)))
    raise SystemExit(0 if diagnosis.alive else 1)
