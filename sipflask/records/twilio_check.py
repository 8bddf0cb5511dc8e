"""The drift check: does each tracking number still have, at Twilio, the configuration sipflask
set (``core/number_config.py``), and is it still in the account?

:func:`check_numbers` lists the account once and compares every tracking number that is linked
to a Twilio number (``twilio_sid``) or whose E.164 the account has (it is linked then), and
stores the outcome on the row: ``twilio_drift`` (what differs, in words; "" = matches),
``twilio_missing`` (linked, but the account no longer has it), ``twilio_checked_at``. With
``fix`` it sets the expected configuration back on the drifted numbers first, and stores what
Twilio answered. A number neither linked nor in the account is not a Twilio number of this
account (another carrier, another account): it is left alone.

These columns are the number's state at Twilio, not its setup: the change history does not
record them. The periodic job :func:`check_twilio_numbers` runs the check every 15 minutes
so the numbers page's drift column stays current.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import inspect, select
from sqlalchemy.exc import SQLAlchemyError

from sipflask import jobs
from sipflask.core import number_config
from sipflask.extensions import db
from sipflask.models import Number, utcnow
from sipflask.records.twilio_report import Line, NumbersReport, check_target, refused
from sipflask.twilio_rest import numbers as twilio
from sipflask.twilio_rest.client import TwilioError, make_client
from sipflask.twilio_rest.number_errors import NumbersError

__all__ = ["NumberState", "CheckReport", "check_numbers", "fix_number", "check_twilio_numbers"]

log = logging.getLogger("sipflask.twilio.numbers")


@dataclass
class NumberState:
    """One tracking number as the check found it."""

    id: int
    number: str
    sid: str | None = None
    drift: list[str] = field(default_factory=list)
    missing: bool = False
    fixed: bool = False
    remote: twilio.AccountNumber | None = None

    @property
    def words(self) -> str:
        if self.missing:
            return "no longer in the Twilio account"
        if self.drift:
            return "; ".join(self.drift)
        return "configured" + (" (fixed)" if self.fixed else "")


@dataclass
class CheckReport:
    checked: list[NumberState] = field(default_factory=list)
    done: list[Line] = field(default_factory=list)  # the numbers the fix set back
    errors: list[Line] = field(default_factory=list)  # the numbers the fix could not
    problem: str = ""  # what stopped the check before any number

    @property
    def drifted(self) -> list[NumberState]:
        return [s for s in self.checked if s.drift]

    @property
    def missing(self) -> list[NumberState]:
        return [s for s in self.checked if s.missing]

    @property
    def ok(self) -> bool:
        return not (self.problem or self.errors or self.drifted or self.missing)

    def summary(self) -> str:
        if self.problem:
            return f"Check failed: {self.problem}"
        counts = (f"{len(self.checked)} checked, {len(self.drifted)} drifted, "
                  f"{len(self.missing)} missing from the account")
        return counts + (f", {len(self.done)} fixed" if self.done else "") + "."


def _compare(rows, account: list[twilio.AccountNumber], config) -> list[NumberState]:
    by_number = {n.phone_number: n for n in account}
    states = []
    for row_id, number, sid in rows:
        remote = by_number.get(number)
        if remote is None and not sid:
            continue  # not this account's number: nothing to say about it
        state = NumberState(row_id, number, sid)
        if remote is None:
            state.missing = True
        else:
            state.sid, state.remote = remote.sid, remote
            state.drift = number_config.drift(remote, config)
        states.append(state)
    matched = {s.sid for s in states if s.remote is not None}
    for state in states:
        if state.missing and state.sid in matched:
            state.sid = None  # that SID is another number's now: the link was stale
    return states


def _fix(report: CheckReport, config, client) -> None:
    todo = [s for s in report.checked if s.drift and s.remote is not None]
    for i, state in enumerate(todo):
        try:
            remote = twilio.configure(state.sid, state.remote, config, client, about=state.number)
        except NumbersError as exc:
            report.errors.append(Line(state.number, f"not fixed: {exc}", state.sid or ""))
            if exc.fatal:
                for rest in todo[i + 1:]:
                    report.errors.append(Line(rest.number, f"not fixed: not tried: {exc}",
                                              rest.sid or ""))
                return
            continue
        state.remote, state.drift = remote, number_config.drift(remote, config)
        state.fixed = not state.drift
        if state.fixed:
            report.done.append(Line(state.number, "configuration set back", state.sid or ""))
        else:
            report.errors.append(Line(state.number, "still differs after the fix: "
                                                    + "; ".join(state.drift), state.sid or ""))


def _store(states: list[NumberState]) -> None:
    """Write the states in one commit. A SID that moves to another row is cleared from its old
    row first (one flush), so the unique SID is never held twice, on either database."""
    rows = {r.id: r for r in db.session.scalars(
        select(Number).where(Number.id.in_([s.id for s in states])))}
    states = [s for s in states if s.id in rows and rows[s.id].number == s.number]
    moving = [s for s in states if rows[s.id].twilio_sid != s.sid]
    taken = {s.sid for s in moving if s.sid}
    for row in db.session.scalars(select(Number).where(Number.twilio_sid.in_(taken))):
        row.twilio_sid = None
    for state in moving:
        rows[state.id].twilio_sid = None
    db.session.flush()
    now = utcnow()
    for state in states:
        row = rows[state.id]
        row.twilio_sid = state.sid
        row.twilio_drift = number_config.drift_text(state.drift)
        row.twilio_missing = state.missing
        row.twilio_checked_at = now
    db.session.commit()


def check_numbers(fix: bool = False, client=None) -> CheckReport:
    """Compare every linked or matching tracking number with the account, store the outcome;
    with ``fix``, set the expected configuration back on the drifted ones first."""
    report = CheckReport()
    try:
        config = twilio.expected_config()
        account = twilio.list_account_numbers(client)
    except NumbersError as exc:
        report.problem = str(exc)
        return report
    rows = db.session.execute(select(Number.id, Number.number, Number.twilio_sid)
                              .order_by(Number.number)).all()
    db.session.rollback()  # no transaction held while Twilio answers the fixes
    report.checked = _compare(rows, account, config)
    if fix:
        _fix(report, config, client)
    try:
        _store(report.checked)
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("storing the drift check failed", exc_info=True)
        report.problem = f"the check's outcome could not be stored ({type(exc).__name__})"
    return report


def fix_number(number, client=None) -> NumbersReport:
    """The one-click Fix: set the expected configuration back on one tracking number (a
    ``Number`` or its E.164), and store what Twilio answered (or that the number is gone)."""
    report = NumbersReport()
    if not isinstance(number, Number):
        target, fields = check_target([number], None, need_campaign=False)
        number = db.session.scalar(select(Number).where(
            Number.number == target.numbers[0])) if not fields else None
        if number is None:
            return refused(report, fields or {"numbers": "That is not a tracking number."})
    state = NumberState(number.id, number.number, number.twilio_sid)
    db.session.rollback()  # no transaction held while Twilio answers
    try:
        config = twilio.expected_config()
        remote = twilio.find_account_number(state.number, client)
        if remote is not None:
            remote = twilio.configure(remote.sid, remote, config, client, about=state.number)
    except NumbersError as exc:
        report.errors.append(Line(state.number, f"not fixed: {exc}", state.sid or ""))
        return report
    if remote is None:
        state.missing = True
        report.errors.append(Line(state.number, "no longer in the Twilio account: nothing "
                                                "to fix", state.sid or ""))
    else:
        state.sid, state.remote = remote.sid, remote
        state.drift = number_config.drift(remote, config)
        state.fixed = not state.drift
        (report.done if state.fixed else report.errors).append(Line(
            state.number, "configuration set back" if state.fixed
            else "still differs after the fix: " + "; ".join(state.drift), remote.sid))
    try:
        _store([state])
    except SQLAlchemyError as exc:
        db.session.rollback()
        report.errors.append(Line(state.number, "fixed at Twilio, but the outcome could not be "
                                                f"stored ({type(exc).__name__})"))
    return report


# --- the periodic job -------------------------------------------------------------------------

_said: set[str] = set()  # why the job skipped, said once per process rather than every run


def _credentials_configured() -> bool:
    # make_client() builds the client without a request, and refuses when no credentials
    # are configured (neither in the environment nor on the settings page).
    try:
        make_client()
    except TwilioError:
        return False
    return True


def _skip_reason() -> str:
    if not inspect(db.engine).has_table(Number.__tablename__):
        return "the database has no numbers table yet (run flask db upgrade)"
    if not _credentials_configured():
        return "no Twilio credentials are configured"
    if not current_app.config.get("PUBLIC_URL"):
        return "PUBLIC_URL is not set"
    return ""


@jobs.periodic(jobs.crontab(minute="*/15"), name="numbers.check_twilio")
def check_twilio_numbers(client=None) -> dict:
    """Every 15 minutes: the drift check, when Twilio can be asked; counts for the log."""
    reason = _skip_reason()
    if reason:
        if reason not in _said:
            _said.add(reason)
            log.info("Twilio numbers check skipped: %s", reason)
        return {"skipped": reason}
    _said.clear()
    if db.session.scalar(select(Number.id).limit(1)) is None:
        return {"checked": 0}
    report = check_numbers(client=client)
    if report.problem:
        log.warning("Twilio numbers check failed: %s", report.problem)
        return {"error": report.problem}
    if report.drifted or report.missing:
        # Info, not warning: a number left drifted on purpose would repeat it every run.
        log.info("Twilio numbers check: %s", report.summary())
    return {"checked": len(report.checked), "drifted": len(report.drifted),
            "missing": len(report.missing)}
