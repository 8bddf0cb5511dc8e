"""The buyer editor's health checks: the four fields as the ``health`` object
``core.buyer_rules.check_buyer`` takes (the import/export shape), and the paths of its messages.

:class:`HealthEditing` is a part of :class:`sipflask.forms.buyer.BuyerEditor` (it reads the
editor's ``form`` and ``buyer``). The rules are in ``core/health_rules.py``. What is
form-specific and lives here:

* the accepted replies are one text field (``200, 404``), blank = the default set;
* a blank threshold is its default (3 failed probes down, 2 answered up);
* a post without ``health_check`` (a client that predates it) keeps the stored settings, so
  such a save never turns checks off.
"""
from __future__ import annotations

from flask import request

from sipflask.core.sipoptions import DEFAULT_ACCEPTED
from sipflask.forms.buyer_fields import health_data
from sipflask.forms.common import text

HEALTH_CHOICES = (("off", "Off"), ("options", "OPTIONS probes and failed calls"),
                  ("calls", "Failed calls only (the PBX ignores OPTIONS)"))
# The rules' paths and the form field each one's messages go to.
FIELD_OF_PATH = {"health": "health_check", "health.check": "health_check",
                 "health.accepted_codes": "health_codes",
                 "health.down_after": "health_down_after",
                 "health.up_after": "health_up_after"}


class HealthEditing:
    default_codes = ", ".join(str(c) for c in DEFAULT_ACCEPTED)

    @property
    def health_on(self) -> bool:
        return self.form.health_check.data in ("options", "calls")

    def health_record(self) -> dict:
        f = self.form
        return {"check": text(f.health_check.data).strip() or "off",
                "accepted_codes": text(f.health_codes.data),
                "down_after": text(f.health_down_after.data).strip(),
                "up_after": text(f.health_up_after.data).strip()}

    def health_field_id(self, path: str) -> str | None:
        """The field a health path's message goes to; None: not a health path. A key the form
        never sends (``health.chek``, from a restore) goes to the mode's field."""
        if path in FIELD_OF_PATH:
            return FIELD_OF_PATH[path]
        return "health_check" if path.startswith("health.") else None

    def keep_stored_health(self) -> None:
        if self.buyer is not None and "health_check" not in request.form:
            for key, value in health_data(self.buyer).items():
                getattr(self.form, key).data = value
