"""``flask --app sipflask simulate-call``: play Twilio's part for one call (see
``sipflask.callflow.simulate``) and print each request and answer."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("simulate-call")
@with_appcontext
@click.option("--to", "to", required=True, help="The tracking number called (E.164), or a SIP URI.")
@click.option("--from", "from_", required=True, help="The caller's number.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Extra Twilio webhook parameter, e.g. FromState=CA or SipHeader_X-Lead-Score=87.")
@click.option("--outcome", "outcomes", multiple=True, metavar="STATUS[:SIPCODE[:SECONDS]]",
              help="Result of the next dial (busy, no-answer, failed, canceled, completed), "
                   "e.g. busy:486. Repeat for each buyer dialled.")
@click.option("--at", "at", metavar="TIMESTAMP",
              help="When the call arrives, ISO 8601 with offset, e.g. 2026-12-07T08:59:00-05:00: "
                   "routing, opening hours, cap windows and every later step use that clock. "
                   "Default: now.")
def simulate_call_command(to, from_, params, outcomes, at):
    """Play Twilio's part for one call through the real, signed webhook endpoints."""
    from sipflask.callflow import simulate
    from sipflask.core.validation import unstorable_problem
    # Twilio only ever sends UTF-8; a surrogate here is a byte the terminal passed that is not.
    for option, value in (("--to", to), ("--from", from_), *(("--param", p) for p in params)):
        if problem := unstorable_problem(value):
            raise click.ClickException(f"{option} {problem} (was the terminal's text UTF-8?).")
    try:
        sim = simulate.run(current_app._get_current_object(), to=to, from_=from_,
                           params=simulate.parse_params(params),
                           outcomes=[simulate.Outcome.parse(o) for o in outcomes],
                           at=simulate.parse_at(at) if at else None)
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
    click.echo("=== summary")
    for line in simulate.summary_lines(sim.call_sid):
        click.echo(f"    {line}")
