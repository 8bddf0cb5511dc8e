"""``flask --app sipflask inbound sync``: make Twilio match the inbound SIP settings.

Registered by ``sipflask.commands.init_app`` (called from ``create_app``). Exit code 0 when Twilio matches
(whether or not anything had to change), 1 when the sync failed; the local settings are then
left exactly as they were.
"""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

inbound_cli = AppGroup("inbound", help="Inbound SIP: partners call your tracking numbers over "
                                       "Twilio SIP domains.")


@inbound_cli.command("sync")
def sync_command():
    """Create or update the SIP domains, credential list and IP whitelist at Twilio."""
    from sipflask.twilio_rest import sip_sync as provisioning
    try:
        result = provisioning.sync()
    except provisioning.SyncError as exc:
        click.echo(f"Sync failed: {exc}", err=True)
        click.echo("Nothing was changed in sipflask's settings.", err=True)
        sys.exit(1)
    for line in result.lines():
        click.echo(f"  {line}")
    click.echo(result.summary())


@inbound_cli.command("show")
def show_command():
    """Print the inbound SIP settings and the SIP address format (never passwords)."""
    from sqlalchemy import select

    from sipflask.core import inbound
    from sipflask.extensions import db
    from sipflask.models import InboundCredential
    from sipflask.records import inbound as inbound_settings

    doc = inbound_settings.export_settings()
    settings = inbound_settings.load_settings()
    click.echo(f"enabled: {'yes' if doc['enabled'] else 'no'}")
    click.echo(f"name: {doc['name'] or '(not set)'}")
    if doc["name"]:
        cred, ip = inbound.domain_names(doc["name"])
        click.echo(f"credentials domain: {cred}  (sip:+E164@{cred})")
        click.echo(f"IP domain: {ip}  (sip:+E164@{ip})")
    users = list(db.session.scalars(select(InboundCredential.username)
                                    .order_by(InboundCredential.username)))
    click.echo(f"credentials: {', '.join(users) if users else '(none)'}")
    click.echo(f"IP whitelist: {', '.join(doc['ip_whitelist']) or '(none)'}")
    synced = (settings.synced_at.isoformat(sep=" ", timespec="seconds")
              if settings and settings.synced_at else "never")
    click.echo(f"last synced: {synced}")

