"""What the Twilio number operations (``records/twilio_numbers.py``, ``records/twilio_check.py``)
share: their report, one line per number in words, and the checked input (numbers as E.164, the
campaign, publisher and sub_id they go to), refused field by field before Twilio is asked.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from sipflask.core import number_config, phone, validation
from sipflask.extensions import db
from sipflask.models import Campaign, Number, Publisher, utcnow
from sipflask.twilio_rest.number_errors import NumbersError
from sipflask.twilio_rest.numbers import AccountNumber

__all__ = ["Line", "NumbersReport", "Target", "check_target", "existing", "link"]


@dataclass
class Line:
    number: str
    text: str
    sid: str = ""

    def __str__(self) -> str:
        return f"{self.number}: {self.text}"


@dataclass
class NumbersReport:
    done: list[Line] = field(default_factory=list)
    skipped: list[Line] = field(default_factory=list)
    errors: list[Line] = field(default_factory=list)
    problem: str = ""  # what stopped everything before any number
    fields: dict[str, str] = field(default_factory=dict)  # bad input, by field

    @property
    def ok(self) -> bool:
        return not self.problem and not self.errors

    @property
    def bad_input(self) -> bool:
        return bool(self.fields)

    def lines(self) -> list[str]:
        return [str(line) for line in (*self.done, *self.skipped, *self.errors)]

    def not_tried(self, numbers: list[str], why: NumbersError) -> None:
        for e164 in numbers:
            self.errors.append(Line(e164, f"not tried: {why}"))


@dataclass
class Target:
    """Where the numbers go: checked input."""

    numbers: list[str]
    campaign: Campaign | None = None
    publisher: Publisher | None = None
    sub_id: str = ""


def refused(report: NumbersReport, fields: dict[str, str]) -> NumbersReport:
    report.fields.update(fields)
    report.problem = " ".join(fields.values())
    return report


def _numbers(raw: list[str], fields: dict[str, str]) -> list[str]:
    """The numbers as E.164, each once, in the order given."""
    found, problems = [], []
    for text in raw:
        try:
            e164 = phone.normalise_e164(str(text), current_app.config.get("DEFAULT_REGION"))
        except phone.PhoneError as exc:
            problems.append(str(exc))
            continue
        if e164 not in found:
            found.append(e164)
    if problems:
        fields["numbers"] = " ".join(problems)
    elif not found:
        fields["numbers"] = "Choose at least one number."
    return found


def _lookup(model, ref, what: str, fields: dict[str, str]):
    if isinstance(ref, model):
        return ref
    text = (ref or "").strip() if isinstance(ref, str) else ""
    row = db.session.scalar(select(model).where(model.ref == text)) \
        if validation.REF_RE.match(text) else None
    if row is None:
        fields[what] = f"No {what} with ref {text[:64]!r}."
    return row


def check_target(numbers, campaign, publisher=None, sub_id="", *, need_campaign=True
                 ) -> tuple[Target, dict[str, str]]:
    """The checked numbers, campaign (a ``Campaign`` or its ref), publisher and sub_id."""
    fields: dict[str, str] = {}
    target = Target(_numbers([numbers] if isinstance(numbers, str) else list(numbers or []),
                             fields))
    if need_campaign:
        target.campaign = _lookup(Campaign, campaign, "campaign", fields)
    if publisher not in (None, ""):
        target.publisher = _lookup(Publisher, publisher, "publisher", fields)
    report = validation.Report()
    target.sub_id = validation.check_text(report, {"sub_id": sub_id or ""}, "sub_id",
                                          required=False, max_len=100, label="Sub ID")
    for path, messages in report.errors.items():
        fields[path] = " ".join(messages)
    return target, fields


def existing(numbers: list[str]) -> dict[str, Number]:
    return {n.number: n for n in db.session.scalars(
        select(Number).where(Number.number.in_(numbers)))} if numbers else {}


def link(row: Number, remote: AccountNumber, config) -> None:
    """Record what Twilio has for ``row``: its SID and how its configuration compares."""
    row.twilio_sid = remote.sid
    row.twilio_drift = number_config.drift_text(number_config.drift(remote, config))
    row.twilio_missing = False
    row.twilio_checked_at = utcnow()
