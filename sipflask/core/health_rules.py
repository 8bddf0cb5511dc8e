"""The rules for a buyer's health checks (health-aware routing, docs/sip-health.md): the
setup file's ``health`` object, which the buyer editor builds from its fields too.

``check_health`` is called by ``buyer_rules.check_buyer`` with the buyer's Number, so the
editor, ``flask import`` and a history restore all refuse the same things with the same words:
a mode other than ``off`` on a phone buyer, a reply code that could never mean up (503, 6xx,
text), thresholds outside 1..100. The state these settings drive is in ``siphealth/``.
"""
from __future__ import annotations

from typing import Any

from sipflask.core import sip, sipoptions
from sipflask.core.endpointhealth import MODES
from sipflask.core.validation import Report, check_int, check_keys

__all__ = ["HEALTH_KEYS", "HEALTH_DEFAULTS", "MODES", "check_health", "health_export"]

# The setup file's "health" object, and the defaults of each key (absent: checks off).
HEALTH_KEYS = ("check", "accepted_codes", "down_after", "up_after")
HEALTH_DEFAULTS = {"check": "off", "accepted_codes": [], "down_after": 3, "up_after": 2}
MAX_HEALTH_RUN = 100  # probes in a row, either way (the database holds the same bounds)
MAX_ACCEPTED_CODES = 40  # stored as "200,401,...": 40 of them fit the column


def check_health(report: Report, health: Any, number: str, path="health") -> dict:
    """A buyer's ``health`` object: ``check`` (``off``, ``options``: OPTIONS probes and failed
    calls, ``calls``: failed calls only), ``accepted_codes`` (the OPTIONS replies that mean up:
    a list, or the editor's text; empty = :data:`sipoptions.DEFAULT_ACCEPTED`), ``down_after``
    and ``up_after`` (1..100). Absent or null: the defaults, checks off. Returns the columns."""
    if health is None:
        health = {}
    if not isinstance(health, dict):
        report.error(path, "Health must be an object with check, accepted_codes, down_after "
                           "and up_after.")
        health = {}
    check_keys(report, health, HEALTH_KEYS, path)
    mode = health.get("check", "off")
    if mode in (None, ""):
        mode = "off"
    if mode not in MODES:
        report.error(f"{path}.check", "Health checks must be off, options (OPTIONS probes and "
                                      "failed calls) or calls (failed calls only).")
        mode = "off"
    elif mode != "off" and not sip.is_sip(number or ""):
        report.error(f"{path}.check", "Health checks need a SIP buyer: the Number must be a SIP "
                                      "URI (sip: or sips:). A phone number cannot be probed; "
                                      "choose Off.")
    return {"health_check": mode,
            "health_codes": _accepted_codes(report, health.get("accepted_codes"),
                                            f"{path}.accepted_codes"),
            "health_down_after": _health_run(report, health, "down_after", path,
                                             "Down after (failed probes)"),
            "health_up_after": _health_run(report, health, "up_after", path,
                                           "Up after (answered probes)")}


def _accepted_codes(report: Report, value: Any, path: str) -> str:
    """The codes as stored, ``"200,404"`` ("" = the default set)."""
    if value is None:
        return ""
    if not isinstance(value, (str, list)):
        report.error(path, "Accepted codes must be a list of SIP reply codes, such as "
                           "[200, 404].")
        return ""
    if len(value) > 1000:  # before reading it: its message would quote it all
        report.error(path, f"At most {MAX_ACCEPTED_CODES} accepted codes.")
        return ""
    try:
        codes = sipoptions.check_accepted_codes(value)
    except sipoptions.SipMessageError as exc:
        report.error(path, str(exc))
        return ""
    if len(codes) > MAX_ACCEPTED_CODES:
        report.error(path, f"At most {MAX_ACCEPTED_CODES} accepted codes.")
        return ""
    return ",".join(str(c) for c in codes)


def _health_run(report: Report, health: dict, key: str, path: str, label: str) -> int:
    sub = Report()
    value = check_int(sub, health, key, default=HEALTH_DEFAULTS[key], minimum=1,
                      maximum=MAX_HEALTH_RUN, label=label)
    for message in sub.errors.get(key, []):
        report.error(f"{path}.{key}", message)
    return value if sub.ok else HEALTH_DEFAULTS[key]


def health_export(buyer) -> dict:
    """The setup file's ``health`` object of a stored buyer (any object with the columns)."""
    codes = [int(c) for c in (buyer.health_codes or "").split(",") if c.strip().isdigit()]
    return {"check": buyer.health_check or "off", "accepted_codes": codes,
            "down_after": buyer.health_down_after or HEALTH_DEFAULTS["down_after"],
            "up_after": buyer.health_up_after or HEALTH_DEFAULTS["up_after"]}
