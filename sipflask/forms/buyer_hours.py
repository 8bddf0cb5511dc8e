"""The buyer editor's opening hours and caps: the weekly grid, closures, presets, and the paths
of their messages.

:class:`HoursEditing` is a part of :class:`sipflask.forms.buyer.BuyerEditor` (it reads the
editor's ``form``, ``buyer`` and ``extra_errors``). It turns the grid into the record
``core.buyer_rules.check_buyer`` takes (``time_zone``, ``hours``, ``closures``: the
import/export shape) and maps the report's paths back to the form's fields (``hours.mon[1]`` ->
``hours-mon-1``, ``closures[0].hours[1]`` -> ``closures-0-hours``). The rules themselves are in
``core/schedule_rules.py``. What is form-specific and lives here:

* ``hours_mode`` ``always`` is open 24/7 (``hours: null``): the grid is not shown and not sent;
* blank range fields and blank closure rows are ignored, so "Add range" never blocks a save, and
  a day whose fields are all blank is closed;
* a closure's ranges are one text field, separated by commas (empty: closed all day);
* the buttons (presets, add/remove a range, copy a day to the weekdays, add/remove a closure)
  change the form and save nothing;
* a post that carries no hours section (``hours_mode`` absent: a client that predates it) keeps
  the stored zone, hours and closures, and one without ``cap_counts`` the stored hourly,
  monthly and lifetime caps, so such a save never resets them.
"""
from __future__ import annotations

import re
from functools import cached_property

from flask import request

from sipflask.core import schedule_rules
from sipflask.core.schedule import DAY_NAMES, DAYS
from sipflask.core.schedule_rules import MAX_CLOSURES, MAX_RANGES_A_DAY
from sipflask.forms.buyer_fields import ALWAYS, WEEKLY, caps_data, schedule_data
from sipflask.forms.common import text

HOURS, CLOSURES = "hours", "closures"  # message blocks of the week and of the closures list
WEEKDAYS = DAYS[:5]
PRESETS = {
    "always": None,
    "weekdays": {d: ["09:00-17:00"] if d in WEEKDAYS else [] for d in DAYS},
    "lunch": {d: ["09:00-12:00", "13:00-17:00"] if d in WEEKDAYS else [] for d in DAYS},
}
PRESET_LABELS = (("always", "24/7"), ("weekdays", "Mon–Fri 09:00–17:00"),
                 ("lunch", "Mon–Fri 09:00–17:00, lunch 12:00–13:00"))
_ACTION = re.compile(r"hours-(add|copy)-(\w{3})\Z|hours-remove-(\w{3})-(\d{1,2})\Z"
                     r"|hours-preset-(\w+)\Z|closure-remove-(\d{1,3})\Z")
_CLOSURE_RANGE = re.compile(r"(closures\[\d+\]\.hours)\[\d+\]\Z")


def split_ranges(value: str) -> list[str]:
    """``"09:00-13:00, 14:00-16:00"`` -> two ranges; commas, semicolons or new lines."""
    return [part.strip() for part in re.split(r"[,;\n]", value) if part.strip()]


class HoursEditing:
    # --- what the template shows ------------------------------------------------------------

    day_names = dict(zip(DAYS, DAY_NAMES))
    preset_labels = PRESET_LABELS
    max_ranges = MAX_RANGES_A_DAY

    @property
    def weekly(self) -> bool:
        return self.form.hours_mode.data == WEEKLY

    def day_field(self, day: str):
        return self.form.hours[day]

    @cached_property
    def zone_choices(self) -> list[str]:
        return schedule_rules.zone_choices()

    # --- the record and the paths of its messages -------------------------------------------

    @cached_property
    def schedule_part(self) -> tuple[dict, dict[str, str]]:
        """``time_zone``, ``hours`` and ``closures`` as typed, and the form field of each path."""
        f = self.form
        rec = {"time_zone": text(f.time_zone.data).strip(), "hours": None, "closures": []}
        paths: dict[str, str] = {}
        if self.weekly:
            rec["hours"] = {}
            for day in DAYS:
                ranges = rec["hours"][day] = []
                paths[f"hours.{day}"] = f.hours[day].id
                for entry in f.hours[day].entries:
                    if text(entry.data).strip():
                        paths[f"hours.{day}[{len(ranges)}]"] = entry.id
                        ranges.append(text(entry.data).strip())
        for entry in f.closures.entries:
            day, hours = text(entry.form.date.data).strip(), text(entry.form.hours.data)
            if not day and not hours.strip():
                continue
            here = f"closures[{len(rec['closures'])}]"
            paths[here] = paths[f"{here}.date"] = entry.form.date.id
            paths[f"{here}.hours"] = entry.form.hours.id
            rec["closures"].append({"date": day, "hours": split_ranges(hours)})
        return rec, paths

    def caps_record(self) -> dict:
        f = self.form
        return {key: text(getattr(f, key).data).strip() for key in
                ("concurrency_cap", "hourly_cap", "daily_cap", "monthly_cap", "total_cap",
                 "cap_counts")}

    def schedule_field_id(self, path: str) -> str | None:
        """The form field a schedule path's message goes to; None: not a schedule path."""
        paths = self.schedule_part[1]
        if path in paths:
            return paths[path]
        found = _CLOSURE_RANGE.match(path)
        if found and found.group(1) in paths:
            return paths[found.group(1)]
        head = re.split(r"[.\[]", path, maxsplit=1)[0]
        if head == HOURS:
            return HOURS
        if head == CLOSURES:
            return CLOSURES
        return None

    def schedule_oob(self, field: str) -> list[str] | None:
        """The other message blocks a change of ``field`` may change (overlaps, duplicate
        dates, past dates on the buyer's clock); None when ``field`` is not in this section."""
        f = self.form
        closure_ids = [sub.id for e in f.closures.entries for sub in (e.form.date, e.form.hours)]
        if field.startswith("hours-"):
            if not self.weekly:
                return []
            ids = [e.id for day in DAYS for e in f.hours[day].entries]
            ids += [f.hours[day].id for day in DAYS] + [HOURS]
        elif field.startswith("closures-"):
            ids = closure_ids + [CLOSURES]
        elif field == "time_zone":
            ids = closure_ids
        else:
            return None
        return [i for i in ids if i != field]

    def keep_stored_values(self) -> None:
        """A post without the hours section or the new caps keeps what is stored."""
        if self.buyer is None:
            return
        if "hours_mode" not in request.form:
            data = schedule_data(self.buyer)
            self.form.time_zone.data = data["time_zone"]
            self._set_hours(data["hours_mode"], data["hours"])
            self._set_closures(data["closures"])
        if "cap_counts" not in request.form:
            for key, value in caps_data(self.buyer).items():
                getattr(self.form, key).data = value

    # --- the buttons --------------------------------------------------------------------------

    def _grid(self) -> dict[str, list[str]]:
        return {day: [text(e.data) for e in self.form.hours[day].entries] for day in DAYS}

    def _set_hours(self, mode: str, grid: dict[str, list[str]]) -> None:
        self.form.hours_mode.data = mode
        self.form.hours.process(None, data={d: list(grid.get(d) or []) for d in DAYS})
        self.__dict__.pop("schedule_part", None)

    def _closure_rows(self) -> list[dict]:
        return [{"date": text(e.form.date.data), "hours": text(e.form.hours.data)}
                for e in self.form.closures.entries]

    def _set_closures(self, rows: list[dict]) -> None:
        self.form.closures.process(None, data=rows)
        self.__dict__.pop("schedule_part", None)

    def schedule_action(self, action: str) -> bool:
        """Do an hours button (``hours-add-mon``, ``hours-remove-mon-1``, ``hours-copy-mon``,
        ``hours-preset-lunch``, ``hours-weekly``, ``closure-add``, ``closure-remove-0``);
        False if ``action`` is none of them, ``ValueError`` if it names no day, row or preset."""
        if action == "hours-weekly":
            self._set_hours(WEEKLY, {d: ["00:00-24:00"] for d in DAYS})
            return True
        if action == "closure-add":
            self._add_closure()
            return True
        found = _ACTION.match(action)
        if found is None:
            if action.startswith(("hours-", "closure-")):
                raise ValueError(action)
            return False
        verb, day, rm_day, rm_row, preset, rm_closure = found.groups()
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(action)
            grid = PRESETS[preset]
            self._set_hours(ALWAYS if grid is None else WEEKLY, grid or {})
        elif rm_closure is not None:
            rows = self._closure_rows()
            self._set_closures(rows[:int(rm_closure)] + rows[int(rm_closure) + 1:])
        else:
            self._day_action(verb or "remove", day or rm_day, rm_row)
        return True

    def _day_action(self, verb: str, day: str, row: str | None) -> None:
        if day not in DAYS or not self.weekly:
            raise ValueError(day)
        grid = self._grid()
        if verb == "add":
            if len(grid[day]) >= MAX_RANGES_A_DAY:
                self.extra_errors.setdefault(f"hours.{day}", []).append(
                    f"At most {MAX_RANGES_A_DAY} ranges a day.")
                return
            grid[day].append("")
            self.autofocus = f"hours-{day}-{len(grid[day]) - 1}"
        elif verb == "copy":
            ranges = [r.strip() for r in grid[day] if r.strip()]
            for other in WEEKDAYS:
                if other != day:
                    grid[other] = list(ranges)
        else:
            del grid[day][int(row):int(row) + 1]
        self._set_hours(WEEKLY, grid)

    def _add_closure(self) -> None:
        rows = self._closure_rows()
        if len(rows) >= MAX_CLOSURES:
            self.extra_errors.setdefault(CLOSURES, []).append(
                f"At most {MAX_CLOSURES} closures.")
            return
        self._set_closures(rows + [{"date": "", "hours": ""}])
        self.autofocus = f"closures-{len(rows)}-date"
