"""What the setup forms share: errors from a ``validation.Report`` put on the fields they are
about, uniqueness against stored rows, refs made from names, ``key=value`` tag text, the
message when the database refuses a save the checks allowed, and the one rule every posted
value meets before anything is saved: it can be stored as it was sent (:func:`unstorable`).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import Field, FieldList, FormField

from sipflask.core import validation
from sipflask.extensions import db
from sipflask.records import write

CHOOSE = ""  # value of the "choose one" / "none" option of a select


def apply_report(form: FlaskForm, report: validation.Report,
                 aliases: dict[str, str] | None = None) -> None:
    """Put each error of ``report`` on the form field its path starts with.

    ``sip_headers[2].name`` goes to field ``sip_headers``; ``aliases`` maps a path head to a
    differently named field. Paths naming no field are kept, with their path, in
    ``form.form_errors`` and shown at the top of the form.
    """
    aliases = aliases or {}
    for path, messages in report.errors.items():
        head = re.split(r"[.\[]", path, maxsplit=1)[0]
        name = aliases.get(head, head)
        fld = form._fields.get(name) if name and name != "csrf_token" else None
        if fld is not None:
            fld.errors = list(fld.errors) + list(messages)
        else:
            form.form_errors.extend(f"{path}: {m}" if path else m for m in messages)


def unstorable(fields, skip: tuple[str, ...] = ("csrf_token",)) -> dict[str, str]:
    """``{field id: message}`` for each posted value, in ``fields`` (a form, or a field list
    or subform in it), that can't be stored as it was sent: NUL, a lone surrogate, or U+FFFD
    where the browser's text was not UTF-8. ``skip``: fields whose values are never stored.

    The record rules (``validation.check_*``) say what a value may be; this says only that what
    was posted is what would be kept, for every field, including those no rule looks at.
    """
    found: dict[str, str] = {}
    for fld in fields:
        if fld.short_name in skip:
            continue
        if isinstance(fld, (FormField, FieldList)):
            found.update(unstorable(fld, skip))
            continue
        for raw in fld.raw_data or ():
            problem = validation.unstorable_problem(raw, posted=True) \
                if isinstance(raw, str) else None
            if problem:
                found[fld.id] = f"{_label(fld)} {problem}."
                break
    return found


def _label(fld: Field) -> str:
    return (fld.label.text if fld.label else "") or "This field"


def refuse_unstorable(form: FlaskForm, report: validation.Report) -> None:
    """Add :func:`unstorable`'s messages to ``report`` on the fields it has no error for (a rule
    that already refused the value says more than this one)."""
    for field_id, message in unstorable(form).items():
        if not report.errors.get(field_id):
            report.error(field_id, message)


def check_unique(report: validation.Report, model, attr: str, value, current, message: str) -> None:
    """Report ``message`` on ``attr`` if another row of ``model`` already holds ``value``."""
    if not value or report.errors.get(attr):
        return
    stmt = select(model).where(getattr(model, attr) == value)
    if current is not None and current.id is not None:
        stmt = stmt.where(model.id != current.id)
    other = db.session.scalar(stmt.limit(1))
    if other is not None:
        report.error(attr, message.format(value=value, other=other))


def saved(form: FlaskForm, recheck: Callable[[], validation.Report]) -> bool:
    """Commit; if the database refuses (someone saved the same ref a moment ago), explain on
    the form instead of failing."""
    if write.commit():
        return True
    report = recheck()
    if report.errors:
        apply_report(form, report)
    else:
        form.form_errors.append(write.REFUSED)
    return False


def save_checked(form: FlaskForm, check: Callable[[], validation.Report], record, create,
                 write_into):
    """The one save path of the setup forms: check, put errors on the fields or create the row
    when new, write the checked values into it and commit. The saved row, or None."""
    report = check()
    refuse_unstorable(form, report)
    if not report.ok:
        apply_report(form, report)
        return None
    if record is None:
        record = create()
        db.session.add(record)
    write_into(record)
    return record if saved(form, check) else None


def text(value) -> str:
    return value if isinstance(value, str) else ""


def slugify(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:48].strip("-")


def suggest_ref(model, name: str) -> str:
    """A free ref made from ``name`` (``Acme Media`` -> ``acme-media``, then ``acme-media-2``)."""
    base = slugify(name)
    if not base:
        return ""
    taken = set(db.session.scalars(select(model.ref).where(model.ref.like(base + "%"))))
    ref, n = base, 2
    while ref in taken:
        ref, n = f"{base}-{n}", n + 1
    return ref


def check_ref_field(report: validation.Report, rec: dict, creating: bool) -> None:
    # Left empty on create with no name to make it from: "Name is required" says what to do.
    if creating and not rec["ref"] and report.errors.get("name"):
        return
    validation.check_ref(report, rec)


REF_HINT = "Your own short key, used by import/export. Left empty, it is made from the name."


def tags_text(tags: dict | None) -> str:
    return "\n".join(f"{k}={v}" for k, v in (tags or {}).items())


def parse_tags(raw: str) -> tuple[dict, list[str]]:
    """``key=value`` lines into a dict; returns it and a message per line that isn't one."""
    tags: dict[str, str] = {}
    problems: list[str] = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            problems.append(f"Line {n} ({line.strip()[:40]!r}) is not key=value.")
        elif key in tags:
            problems.append(f"Line {n}: tag {key!r} is set twice.")
        else:
            tags[key] = value
    return tags, problems
