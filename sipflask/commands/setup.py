"""``flask --app sipflask demo|export|import``: the whole setup as a JSON document.

The document's rules and its one writer are in ``sipflask.records.setup_json``; these commands
only read and write files and print what happened.
"""
from __future__ import annotations

import json
import sys
from importlib import resources

import click
from flask.cli import with_appcontext

from sipflask.core import jsondoc
from sipflask.records import setup_json


def _refused(lines: list[str]) -> None:
    click.echo(f"Nothing was imported: {len(lines)} problem(s) found.", err=True)
    for line in lines:
        click.echo(f"  {line}", err=True)
    sys.exit(1)


@click.command("demo")
@with_appcontext
def demo_command():
    """Load the demo setup (2 campaigns, 3 publishers, 4 numbers, 6 buyers).

    Only what is missing is created: a demo record that exists (edited or not) is kept as it is,
    so running it again never undoes an edit.
    """
    doc = json.loads(resources.files("sipflask").joinpath("data/demo.json").read_text())
    try:
        result = setup_json.import_setup(doc, keep_existing=True)
    except setup_json.SetupError as exc:  # only if the stored data clashes (e.g. an afid)
        raise click.ClickException("The demo data clashes with what is stored:\n" + str(exc))
    click.echo(result.summary())


@click.command("export")
@with_appcontext
@click.argument("file", type=click.File("w"), default="-")
@click.option("--with-secrets", is_flag=True,
              help="Include SIP passwords and webhook secrets (in plain text).")
@click.option("--history", "with_history", is_flag=True,
              help="Add the change history (never with secrets), for audits; import ignores it.")
def export_command(file, with_secrets, with_history):
    """Write the whole setup as JSON to FILE (default: standard output)."""
    doc = setup_json.export_setup(with_secrets=with_secrets)
    if with_history:
        from sipflask.history import queries
        doc["history"] = list(queries.export_rows())
    json.dump(doc, file, indent=2, ensure_ascii=False)
    file.write("\n")


@click.command("import")
@with_appcontext
@click.argument("file", type=click.File("rb"))
def import_command(file):
    """Validate FILE and import it; nothing is written if any record is wrong."""
    # One byte past the limit is enough to know it is too big, without reading all of it.
    data = file.read(jsondoc.MAX_BYTES + 1)
    try:
        doc = jsondoc.load(data)
    except jsondoc.DocumentError as exc:
        name = getattr(file, "name", "<stdin>")  # a pipe may have none
        _refused([f"{exc.path}: {name} is {exc.message}" if exc.path == "$" else str(exc)])
    try:
        result = setup_json.import_setup(doc)
    except setup_json.SetupError as exc:
        _refused(exc.report.lines())
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(result.summary())
