"""``flask --app sipflask webhooks list|test``: the webhooks set up, and one fired now.

``webhooks test REF [--call UUID]`` sends the webhook once, with the call's values (a made-up
call's without ``--call``), exactly as a delivery would but marked ``X-Sipflask-Test: true``
and stored nowhere, and prints the request (secrets masked) and the response. It exits 1 when
the receiver did not answer 2xx. Everything due is sent by the worker (``flask --app sipflask
worker --once`` sends it all and exits).
"""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Call
from sipflask.webhooks import deliver
from sipflask.webhooks.model import Delivery, Webhook

webhooks_cli = AppGroup("webhooks", help="Outbound webhooks on call events.")


def _counts() -> dict[tuple[int, str], int]:
    rows = db.session.execute(select(Delivery.webhook_id, Delivery.state, func.count())
                              .group_by(Delivery.webhook_id, Delivery.state))
    return {(hook, state): n for hook, state, n in rows}


@webhooks_cli.command("list")
def list_command():
    """Each webhook: ref, event, enabled, URL, and its deliveries by state."""
    hooks = db.session.scalars(select(Webhook).order_by(Webhook.ref)).all()
    if not hooks:
        click.echo("No webhooks.")
        return
    counts = _counts()
    for hook in hooks:
        states = ", ".join(f"{counts[(hook.id, s)]} {s}" for s in
                           ("pending", "delivered", "failed", "refused") if (hook.id, s) in counts)
        click.echo(f"{hook.ref}  {hook.event}  {'enabled' if hook.enabled else 'disabled'}  "
                   f"{hook.method} {hook.url}  [{states or 'no deliveries'}]")


def _show(result: deliver.TryResult) -> None:
    req = result.request or {}
    click.echo(f"> {req.get('method', '')} {req.get('url', '')}")
    for name, value in req.get("headers", []):
        click.echo(f"> {name}: {value}")
    if req.get("body"):
        click.echo(">")
        click.echo(req["body"])
    click.echo("")
    if result.status is None:
        click.echo(f"< no response: {result.error}")
        return
    click.echo(f"< HTTP {result.status}  ({result.duration_ms} ms)")
    for name, value in result.headers:
        click.echo(f"< {name}: {value}")
    if result.body:
        click.echo("<")
        click.echo(result.body)
    if result.error:
        click.echo(f"< ({result.error})")


@webhooks_cli.command("test")
@click.argument("ref")
@click.option("--call", "call_uuid", metavar="UUID",
              help="Use this call's values (default: a made-up call).")
def test_command(ref, call_uuid):
    """Fire webhook REF once now and print the request and the response."""
    hook = db.session.scalar(select(Webhook).where(Webhook.ref == ref))
    if hook is None:
        raise click.ClickException(f"No webhook with ref {ref!r} ('webhooks list' shows them).")
    call = None
    if call_uuid:
        call = db.session.scalar(select(Call).where(Call.uuid == call_uuid.strip().lower()))
        if call is None:
            raise click.ClickException(f"No call with uuid {call_uuid!r}.")
    result = deliver.send_test(hook, call)
    _show(result)
    if result.status is None or not 200 <= result.status < 300:
        sys.exit(1)
