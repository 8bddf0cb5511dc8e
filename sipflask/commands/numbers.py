"""``flask --app sipflask numbers twilio-list|import-twilio|search|buy|check|release``: the
tracking numbers in the Twilio account, from the command line (docs/twilio-numbers.md).

A contract scripts rely on: exit 0 when everything asked was done, 1 when Twilio or the
database refused something (each number's line says what), 2 for bad input (an unknown
campaign, a malformed number or search), which is refused before Twilio is asked. Errors are
one line (``Error: ...``), never a traceback.
"""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Number
from sipflask.records import twilio_check, twilio_numbers
from sipflask.records.twilio_report import NumbersReport, check_target
from sipflask.twilio_rest import numbers as twilio
from sipflask.twilio_rest.number_errors import NumbersError

numbers_cli = AppGroup("numbers", help="Tracking numbers in the Twilio account: list, import, "
                                       "search, buy, check their configuration, release.")


class BadInput(click.ClickException):
    """Bad input: one line, exit 2 (as ``buyers check-endpoint``)."""

    exit_code = 2


def _fail(exc: NumbersError):
    raise (BadInput if exc.kind == "input" else click.ClickException)(str(exc))


def _finish(report: NumbersReport, verb: str) -> None:
    """Print each number's line and a count; exit 2 for bad input, 1 if any number failed."""
    if report.bad_input:
        raise BadInput(report.problem)
    if report.problem:
        raise click.ClickException(report.problem)
    for line in report.lines():
        click.echo(f"  {line}")
    click.echo(f"{verb} {len(report.done)}, already in sipflask {len(report.skipped)}, "
               f"failed {len(report.errors)}.")
    if report.errors:
        raise SystemExit(1)


def _listing(remote: twilio.AccountNumber, row: Number | None, config) -> dict:
    drift = twilio.drift(remote, config) if config is not None else None
    return remote.as_dict() | {"in_sipflask": row is not None,
                               "campaign": row.campaign.ref if row is not None else None,
                               "drift": drift}


def _list_lines(item: dict) -> list[str]:
    where = f"in sipflask (campaign {item['campaign']})" if item["in_sipflask"] \
        else "not in sipflask"
    state = ("drift not checked (PUBLIC_URL is not set)" if item["drift"] is None
             else "; ".join(item["drift"]) or "configured")
    return [f"{item['phone_number']}  {item['friendly_name']}  "
            f"[{twilio.capability_words(item['capabilities'])}]  {where}",
            f"    voice URL: {item['voice_url'] or '(not set)'}  status callback: "
            f"{item['status_callback'] or '(not set)'}  fallback URL: "
            f"{item['voice_fallback_url'] or '(not set)'}",
            f"    {state}"]


@numbers_cli.command("twilio-list")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
def twilio_list_command(as_json):
    """The account's numbers, their webhooks, and which are in sipflask."""
    try:
        account = twilio.list_account_numbers()
    except NumbersError as exc:
        _fail(exc)
    try:
        config = twilio.expected_config()
    except NumbersError:
        config = None
    tracked = {n.number: n for n in db.session.scalars(select(Number))}
    items = [_listing(n, tracked.get(n.phone_number), config) for n in account]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        click.echo("\n".join(_list_lines(item)))
    click.echo(f"{len(items)} numbers in the Twilio account, "
               f"{sum(i['in_sipflask'] for i in items)} of them in sipflask.")


def _target_options(command):
    for option in reversed((
            click.option("--campaign", required=True, help="The campaign's ref."),
            click.option("--publisher", default=None, help="A publisher's ref (optional)."),
            click.option("--sub-id", default="", help="The sub ID (optional)."))):
        command = option(command)
    return command


@numbers_cli.command("import-twilio")
@click.argument("numbers", nargs=-1, required=True)
@_target_options
def import_twilio_command(numbers, campaign, publisher, sub_id):
    """Import numbers of the Twilio account into a campaign, setting their webhooks."""
    _finish(twilio_numbers.import_numbers(numbers, campaign, publisher, sub_id), "Imported")


@numbers_cli.command("buy")
@click.argument("numbers", nargs=-1, required=True)
@_target_options
def buy_command(numbers, campaign, publisher, sub_id):
    """Buy numbers (as found by `numbers search`) into a campaign, webhooks set."""
    _finish(twilio_numbers.buy_numbers(numbers, campaign, publisher, sub_id), "Bought")


@numbers_cli.command("search")
@click.option("--country", required=True, help="Two-letter country code, e.g. US.")
@click.option("--type", "kind", default="local", show_default=True,
              help="local, toll-free or mobile.")
@click.option("--area-code", default="", help="Three digits (US and Canada).")
@click.option("--contains", default="", help="Digits or letters, * for any digit.")
@click.option("--region", default="", help="Region or state, e.g. CA.")
@click.option("--locality", default="", help="City, e.g. San Francisco.")
@click.option("--near", "near", default="", help="Near this phone number.")
@click.option("--limit", default="20", show_default=True, help="At most this many (1-100).")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
def search_command(country, kind, area_code, contains, region, locality, near, limit, as_json):
    """Numbers for sale at Twilio."""
    try:
        found = twilio.search_available(country, kind, area_code, contains, region, locality,
                                        near, limit)
    except NumbersError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps([n.as_dict() for n in found], indent=2))
        return
    if not found:
        click.echo("No numbers for sale match that search: try a wider one (fewer criteria).")
        return
    for n in found:
        place = ", ".join(p for p in (n.locality, n.region) if p) or n.iso_country
        address = "" if n.address_requirements in ("", "none") \
            else f"  (needs an address: {n.address_requirements})"
        click.echo(f"{n.phone_number}  {n.friendly_name}  {place}  "
                   f"[{twilio.capability_words(n.capabilities)}]{address}")
    click.echo(f"{len(found)} numbers found.")


def _check_json(report: twilio_check.CheckReport) -> str:
    return json.dumps({"ok": report.ok, "checked": len(report.checked),
                       "drifted": len(report.drifted), "missing": len(report.missing),
                       "numbers": [{"number": s.number, "sid": s.sid, "drift": s.drift,
                                    "missing": s.missing, "fixed": s.fixed}
                                   for s in report.checked],
                       "errors": [str(line) for line in report.errors]}, indent=2)


@numbers_cli.command("check")
@click.option("--fix", is_flag=True, help="Set the expected configuration back on the "
                                          "numbers that drifted.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def check_command(fix, as_json):
    """Compare each number's configuration at Twilio with what sipflask sets. Exit 1 when a
    number left the account, drifted (without --fix) or could not be fixed; 0 otherwise."""
    report = twilio_check.check_numbers(fix=fix)
    if report.problem:
        raise click.ClickException(report.problem)
    if as_json:
        click.echo(_check_json(report))
    else:
        for state in report.checked:
            if state.drift or state.missing or state.fixed:
                click.echo(f"  {state.number}: {state.words}")
        for line in report.errors:
            click.echo(f"  {line}")
        click.echo(report.summary())
    # A missing number is never fixed by --fix: somebody must act, so cron hears of it.
    failed = report.missing or ((report.errors or report.drifted) if fix else report.drifted)
    raise SystemExit(1 if failed else 0)


@numbers_cli.command("release")
@click.argument("number")
@click.option("--yes", is_flag=True, help="Release without asking (for scripts).")
def release_command(number, yes):
    """Release a number from the Twilio account and delete it from sipflask (asks first)."""
    target, fields = check_target([number], None, need_campaign=False)
    if fields:
        raise BadInput(" ".join(fields.values()))
    e164 = target.numbers[0]
    if not yes:
        try:
            sure = click.confirm(f"Release {e164} from the Twilio account and delete it from "
                                 "sipflask? Twilio may give it to someone else.")
        except click.Abort:
            raise click.ClickException("Not released: nobody answered the question (no "
                                       "input); pass --yes to release without asking.") from None
        if not sure:
            raise click.ClickException("Not released.")
    report = twilio_numbers.release_number(e164)
    if report.bad_input:
        raise BadInput(report.problem)
    for line in report.lines():
        click.echo(str(line))
    if report.errors:
        raise SystemExit(1)
