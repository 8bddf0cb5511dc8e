"""What the Reports page was asked for: a range preset or two custom dates, a grouping (a tag
value's key chosen apart), and the column the table is sorted by; every bad argument reported
against its own field, never raised.

``/reports.json`` and ``/reports.csv`` take ``group``, ``from`` and ``to`` only
(:func:`sipflask.reports.query.parse_args`); the page adds ``range`` (a preset: its dates are
computed on the account's today and shown in the date fields), ``tag`` (the key when ``group``
is ``tag``, as a plain form sends it; ``group=tag:<key>`` works too) and ``sort``/``dir``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Mapping

from sqlalchemy import select

from sipflask.callflow.params import TWILIO_CALLER_TAGS
from sipflask.extensions import db
from sipflask.models import Number
from sipflask.reports import query, ranges
from sipflask.reports.query import ReportError, Row

# The table's columns, in order: (argument, heading).
COLUMNS = (("label", None), ("calls", "Calls"), ("unique_callers", "Unique callers"),
           ("routed", "Routed"), ("connected", "Connected"), ("connect_rate", "Connect rate"),
           ("no_buyer", "No buyer"), ("converted", "Converted"),
           ("conversion_rate", "Conversion rate"), ("revenue", "Revenue"),
           ("talk_seconds", "Talk time"), ("avg_talk_seconds", "Average talk"))
SORTS = tuple(name for name, _ in COLUMNS)
TIME_GROUPS = ("day", "hour")
# Twilio's caller state has a grouping of its own; its other caller data are tag values.
TAG_SUGGESTIONS = tuple(t for t in TWILIO_CALLER_TAGS.values() if t != "caller_state")


@dataclass
class PageArgs:
    range: str = "last7"
    date_from: date | None = None
    date_to: date | None = None
    group: str = query.DEFAULT_GROUP   # as build_report takes it: "campaign", "tag:zip"...
    tag: str = ""
    sort: str = ""
    dir: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def group_choice(self) -> str:
        """The grouping select's value: "tag" for any tag value."""
        return "tag" if self.group.startswith("tag:") else self.group

    def args(self, **changes) -> dict[str, str]:
        """The query arguments of this view (links, the pushed URL), with ``changes``."""
        out = {"range": self.range, "group": self.group_choice}
        if self.date_from and self.date_to:
            out.update({"from": self.date_from.isoformat(), "to": self.date_to.isoformat()})
        if self.tag:
            out["tag"] = self.tag
        if (self.sort, self.dir) != default_sort(self.group):
            # Only a sort someone chose: another grouping then gets its own default.
            out.update({"sort": self.sort, "dir": self.dir})
        out.update(changes)
        return {k: v for k, v in out.items() if v}

    def data_args(self) -> dict[str, str]:
        """``group``, ``from``, ``to`` as /reports.json and /reports.csv take them."""
        return {"group": self.group, "from": self.date_from.isoformat(),
                "to": self.date_to.isoformat()}

    def sort_link(self, column: str) -> dict[str, str]:
        """The arguments of a column heading's link: sorts by it, or flips the order if the
        table is already sorted by it."""
        if column == self.sort:
            return self.args(sort=column, dir="desc" if self.dir == "asc" else "asc")
        return self.args(sort=column, dir=default_dir(column))


def default_dir(column: str) -> str:
    return "asc" if column == "label" else "desc"


def default_sort(group: str) -> tuple[str, str]:
    """Time groups read in time order; the others biggest first."""
    column = "label" if group in TIME_GROUPS else "calls"
    return column, default_dir(column)


def read(args: Mapping[str, str], today: date) -> PageArgs:
    """The page's arguments, each problem in ``errors`` under the field that shows it."""
    view = PageArgs()
    _read_group(args, view)
    _read_dates(args, today, view)
    _read_sort(args, view)
    return view


def _read_group(args: Mapping[str, str], view: PageArgs) -> None:
    raw = (args.get("group") or "").strip() or query.DEFAULT_GROUP
    tag = (args.get("tag") or "").strip()
    if raw == "tag" or raw.startswith("tag:"):
        view.tag = tag if raw == "tag" else raw[4:]
        if not view.tag:
            view.errors["tag"] = "Choose the tag whose values to group by."
            return
        raw, where = f"tag:{view.tag}", "tag"
    else:
        where = "group"
    try:
        view.group = query.check_group(raw)
    except ReportError:
        view.errors[where] = ("A tag key is 1-64 lowercase letters, digits or _ (caller_zip)."
                              if where == "tag" else "Choose one of the groupings.")


def _read_dates(args: Mapping[str, str], today: date, view: PageArgs) -> None:
    preset = (args.get("range") or "").strip()
    if preset and preset not in ranges.PRESETS:
        view.errors["range"] = "Choose one of the ranges."
        preset = ""
    if preset and preset != "custom":
        view.range = preset
        view.date_from, view.date_to = ranges.preset_range(preset, today)
        return
    dates = {name: args.get(name) or "" for name in ("from", "to")}
    try:
        _group, view.date_from, view.date_to = query.parse_args(dates)
    except ReportError as e:
        view.errors[e.field] = str(e)
        view.date_from = view.date_to = None
        view.range = "custom"
        return
    typed = any(v.strip() for v in dates.values())
    view.range = "custom" if preset == "custom" and typed else \
        ranges.preset_of(view.date_from, view.date_to, today)


def _read_sort(args: Mapping[str, str], view: PageArgs) -> None:
    sort = (args.get("sort") or "").strip()
    direction = (args.get("dir") or "").strip()
    if sort and sort not in SORTS:
        view.errors["sort"] = "Sort by one of the table's columns."
        sort = ""
    if direction and direction not in ("asc", "desc"):
        view.errors["sort"] = "Sort up (asc) or down (desc)."
        direction = ""
    view.sort = sort or default_sort(view.group)[0]
    view.dir = direction or default_dir(view.sort)


def sorted_rows(rows: list[Row], view: PageArgs) -> list[Row]:
    """The rows in the view's order; ties in label order. Time groups sort their labels by key
    (dates and hours as stored, so 09:00 before 10:00)."""
    def label_key(row: Row):
        return row.key if view.group in TIME_GROUPS else row.label.casefold()

    ordered = sorted(rows, key=label_key)
    if view.sort != "label":
        ordered.sort(key=lambda r: getattr(r, view.sort), reverse=view.dir == "desc")
    elif view.dir == "desc":
        ordered.reverse()
    return ordered


def tag_keys() -> list[str]:
    """Tag keys to suggest: those set on tracking numbers (a small table) and Twilio's caller
    data. Any other key can still be typed."""
    keys = set(TAG_SUGGESTIONS)
    for tags in db.session.scalars(select(Number.tags)):
        keys.update(k for k in (tags or {}) if isinstance(k, str))
    return sorted(keys)
