"""``flask --app sipflask history prune --older-than DAYS``: the change history's retention.

The history is kept until an operator prunes it (export it first with ``export --history`` if
audits need it). Pruning is itself recorded, as a change of record type ``history``, so a gap in
the trail is never silent.
"""
from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import delete, func, select

from sipflask.extensions import db
from sipflask.history import context
from sipflask.history.model import ChangeRecord
from sipflask.history.record import new_record
from sipflask.models import utcnow

history_cli = AppGroup("history", help="The change history (audit trail) of setup records.")


@history_cli.command("prune")
@click.option("--older-than", "days", type=click.IntRange(min=1), required=True,
              help="Delete changes recorded more than this many days ago.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def prune_command(days, yes):
    """Delete changes older than DAYS days, keeping a record that they were pruned."""
    cutoff = utcnow() - timedelta(days=days)
    old = ChangeRecord.at < cutoff
    count = db.session.scalar(select(func.count()).select_from(ChangeRecord).where(old))
    if not count:
        click.echo(f"No change is older than {days} days.")
        return
    if not yes:
        click.confirm(f"Delete {count} changes recorded before {cutoff:%Y-%m-%d %H:%M} UTC?",
                      abort=True)
    db.session.execute(delete(ChangeRecord).where(old))
    note = f"pruned {count} changes recorded before {cutoff:%Y-%m-%d %H:%M} UTC"
    record = new_record(context.current(), "history", None, "", "Change history", "delete", [],
                        None)
    record.note = note
    db.session.add(record)
    db.session.commit()
    click.echo(f"Deleted {count} changes older than {days} days.")
