"""Add and Remove of an editor's header rows (a buyer's SIP headers, a webhook's request
headers). Both are submit buttons of the editor form, ``action=add-header`` and
``action=remove-header-N``: without JavaScript they post the whole form back and the page comes
back with one row more or less; htmx swaps only the rows (``section_button`` in
templates/editor.html)."""
from __future__ import annotations

from sipflask.core.validation import ascii_int


class HeaderRows:
    """Mixed into an editor whose ``form.headers`` is a FieldList of row forms and whose
    ``extra_errors`` holds messages by field id."""

    max_header_rows: int
    header_rows_full: str  # the message when Add would go past max_header_rows
    header_rows_field = "headers"  # where that message shows
    blank_header_row: dict = {"name": "", "value": ""}
    autofocus_row: int | None = None  # the row just added, focused for typing

    def header_row_action(self, action: str) -> bool:
        """Apply ``action`` when it adds or removes a row; False for any other action.
        ValueError for a Remove without a row number (a hand-made post)."""
        if action == "add-header":
            self.add_header()
            return True
        if not action.startswith("remove-header-"):
            return False
        index = ascii_int(action.removeprefix("remove-header-"), 9999)
        if index is None:
            raise ValueError(f"no row number in {action!r}")
        self.remove_header(index)
        return True

    def add_header(self) -> None:
        rows = self.form.headers
        if len(rows.entries) >= self.max_header_rows:
            self.extra_errors.setdefault(self.header_rows_field, []).append(self.header_rows_full)
            return
        rows.append_entry(dict(self.blank_header_row))
        self.autofocus_row = len(rows.entries) - 1

    def remove_header(self, index: int) -> None:
        """Drop row ``index``; an index past the rows (a double click) changes nothing."""
        if 0 <= index < len(self.form.headers.entries):
            self.form.headers.pop_entry(index)
