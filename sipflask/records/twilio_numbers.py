"""Tracking numbers from the Twilio account: import the account's numbers, buy new ones,
release one. Twilio first, then sipflask's row, one number and one commit at a time, so that
whatever fails halfway the database matches the account: a number Twilio bought is saved at
once, a number Twilio refused is not written at all.

Rows are created and deleted through ``records/write.py`` (the change history records them,
with a note saying where they came from); the ``twilio_*`` columns, the number's state at
Twilio rather than its setup, are set here and in ``records/twilio_check.py``.

Every function returns a :class:`NumbersReport` (``done``, ``skipped``, ``errors``: one line
per number, in words) and never raises for what Twilio or the database refused. Bad input
(an unknown campaign, a malformed number) stops everything before Twilio is asked:
``problem`` says why and ``fields`` which field.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from sipflask.extensions import db
from sipflask.history import context
from sipflask.models import Number
from sipflask.records import write
from sipflask.records.twilio_report import (Line, NumbersReport, Target, check_target, existing,
                                            link, refused)
from sipflask.twilio_rest import numbers as twilio
from sipflask.twilio_rest.number_errors import NumbersError

__all__ = ["Line", "NumbersReport", "import_numbers", "buy_numbers", "release_number"]


def _save(target: Target, e164: str, remote: twilio.AccountNumber, config, note: str
          ) -> str | None:
    """Create the row for ``remote`` (one commit); the database's refusal in words, or None."""
    try:
        with context.acting(note=note):
            # Another row linked to this SID links it stale (its number changed since): the
            # SID is this number's, and unique.
            db.session.execute(update(Number).where(Number.twilio_sid == remote.sid)
                               .values(twilio_sid=None))
            row = Number()
            write.write_number(row, e164, target.campaign, target.publisher, target.sub_id, {})
            link(row, remote, config)
            db.session.add(row)
            if write.commit():
                return None
        return "the database refused it (saved by someone else meanwhile?)"
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("saving Twilio number %s failed", e164, exc_info=True)
        return f"the database failed ({type(exc).__name__})"


def _start(numbers, campaign, publisher, sub_id) -> tuple[NumbersReport, Target | None, object]:
    """The report, the checked target and the expected configuration, or a report that says
    why nothing can start (and None)."""
    report = NumbersReport()
    target, fields = check_target(numbers, campaign, publisher, sub_id)
    if fields:
        return refused(report, fields), None, None
    try:
        config = twilio.expected_config()
    except NumbersError as exc:
        report.problem = str(exc)
        return report, None, None
    for e164, row in existing(target.numbers).items():
        report.skipped.append(Line(e164, f"already a tracking number (campaign "
                                         f"{row.campaign.ref}): left as it is",
                                   row.twilio_sid or ""))
    return report, target, config


def import_numbers(numbers, campaign, publisher=None, sub_id="", client=None) -> NumbersReport:
    """Import the account's ``numbers`` (E.164) into ``campaign``: each is configured at
    Twilio, then saved. A number already in sipflask is reported, not imported twice."""
    report, target, config = _start(numbers, campaign, publisher, sub_id)
    if target is None:
        return report
    try:
        account = {n.phone_number: n for n in twilio.list_account_numbers(client)}
    except NumbersError as exc:
        report.problem = str(exc)
        return report
    todo = [n for n in target.numbers if n not in {line.number for line in report.skipped}]
    for i, e164 in enumerate(todo):
        remote = account.get(e164)
        if remote is None:
            report.errors.append(Line(e164, "not in the Twilio account: nothing imported"))
            continue
        try:
            remote = twilio.configure(remote.sid, remote, config, client, about=e164)
        except NumbersError as exc:
            report.errors.append(Line(e164, f"not imported: {exc}", remote.sid))
            if exc.fatal:
                report.not_tried(todo[i + 1:], exc)
                break
            continue
        failed = _save(target, e164, remote, config, "imported from Twilio")
        if failed:
            report.errors.append(Line(e164, f"configured at Twilio but not saved: {failed}",
                                      remote.sid))
        else:
            report.done.append(Line(e164, f"imported into campaign {target.campaign.ref} "
                                          "and configured", remote.sid))
    return report


def _bought_after_all(e164: str, client) -> twilio.AccountNumber | None:
    """After a purchase whose answer was lost: the number, if the account has it now."""
    try:
        return twilio.find_account_number(e164, client)
    except NumbersError:
        return None


def buy_numbers(numbers, campaign, publisher=None, sub_id="", client=None) -> NumbersReport:
    """Buy ``numbers`` (E.164) into ``campaign``, one request each, with the configuration set
    in the purchase. Each bought number is saved at once; after a refusal that concerns the
    whole account (credentials, funds... any ``fatal`` error) the rest are not tried."""
    report, target, config = _start(numbers, campaign, publisher, sub_id)
    if target is None:
        return report
    todo = [n for n in target.numbers if n not in {line.number for line in report.skipped}]
    for i, e164 in enumerate(todo):
        try:
            remote = twilio.buy(e164, config, client)
        except NumbersError as exc:
            remote = _bought_after_all(e164, client) if exc.uncertain else None
            if remote is None:
                unknown = (" Whether Twilio bought it is not known: see `flask numbers "
                           "twilio-list`, and import it if it is there.") if exc.uncertain else ""
                report.errors.append(Line(e164, f"not bought: {exc}{unknown}"))
                if exc.fatal:
                    report.not_tried(todo[i + 1:], exc)
                    break
                continue
        stored = remote.phone_number or e164
        failed = _save(target, stored, remote, config, "bought at Twilio")
        if failed:
            report.errors.append(Line(stored, f"bought at Twilio ({remote.sid}) but not saved: "
                                              f"{failed}; import it with `flask numbers "
                                              f"import-twilio {stored}`", remote.sid))
        else:
            report.done.append(Line(stored, f"bought into campaign {target.campaign.ref} "
                                            "and configured", remote.sid))
    return report


def _delete(row: Number) -> str | None:
    try:
        with context.acting(note="released at Twilio"):
            write.delete_number(row)
            db.session.commit()
        return None
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("deleting released number %s failed", row.number,
                                   exc_info=True)
        return f"the database failed ({type(exc).__name__})"


def release_number(number, client=None) -> NumbersReport:
    """Release ``number`` (a ``Number`` or its E.164) from the Twilio account, then delete it
    from sipflask. Twilio saying it is gone already (404) is no failure: the row goes."""
    report = NumbersReport()
    if isinstance(number, Number):
        row, e164 = number, number.number
    else:
        target, fields = check_target([number], None, need_campaign=False)
        if fields:
            return refused(report, fields)
        e164 = target.numbers[0]
        row = db.session.scalar(select(Number).where(Number.number == e164))
    sid = row.twilio_sid if row is not None else None
    try:
        if not sid:
            remote = twilio.find_account_number(e164, client)
            sid = remote.sid if remote is not None else None
        if sid is None and row is None:
            return refused(report, {"numbers": f"{e164} is neither a tracking number nor in "
                                               "the Twilio account."})
        released = twilio.release(sid, client, about=e164) if sid else False
    except NumbersError as exc:
        report.errors.append(Line(e164, f"not released: {exc}", sid or ""))
        return report
    where = ("released from the Twilio account" if released
             else "was no longer in the Twilio account")
    if row is None:
        report.done.append(Line(e164, f"{where} (it was not a tracking number)", sid or ""))
        return report
    failed = _delete(row)
    if failed:
        report.errors.append(Line(e164, f"{where}, but not deleted from sipflask: {failed}; "
                                        "delete it on the numbers page", sid or ""))
    else:
        report.done.append(Line(e164, f"{where} and deleted from sipflask", sid or ""))
    return report
