"""What the buyer and webhook editors show beside each field: their check's errors and warnings
by field id (all of them after a submit, only warnings on a first load), and the refusal of a
post whose CSRF token has expired."""
from __future__ import annotations

from functools import cached_property

from sipflask.forms.buyer_fields import Messages

FORM = "form"  # messages about the whole form
EXPIRED = "The form expired; reload the page and try again."


class EditorMessages:
    """Mixed into an editor with ``check`` (report, clean values, record, row ids),
    ``field_id(path, row_ids)``, ``submitted``, ``extra_errors`` (messages by field id),
    ``form`` and ``forget()`` (drops the cached check)."""

    @cached_property
    def messages(self) -> dict[str, Messages]:
        report, _clean, _rec, row_ids = self.check
        out: dict[str, Messages] = {}
        for kind, found in (("errors", report.errors), ("warnings", report.warnings)):
            for path, msgs in found.items():
                fid = self.field_id(path, row_ids)
                # At the top, a message about a part with no field of its own says which part.
                shown = msgs if fid != FORM or path in ("", "$") else \
                    [f"{path}: {m}" for m in msgs]
                getattr(out.setdefault(fid, Messages()), kind).extend(shown)
        return out

    def shown_messages(self) -> dict[str, Messages]:
        """What the page shows: everything after a submit; only warnings on a first load."""
        if self.submitted:
            return self.messages
        return {k: Messages(warnings=m.warnings) for k, m in self.messages.items() if m.warnings}

    def msgs(self, field_id: str) -> Messages:
        return self.shown_messages().get(field_id) or Messages()

    def form_expired(self) -> bool:
        """A post whose CSRF token no longer holds: said at the top, and nothing is saved."""
        if self.form.validate_on_submit() or not self.form.errors.get("csrf_token"):
            return False
        self.extra_errors.setdefault("", []).append(EXPIRED)
        self.forget()
        return True
