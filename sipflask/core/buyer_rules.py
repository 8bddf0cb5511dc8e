"""The rules for a buyer record, shared by the buyer editor and JSON import.

``check_buyer`` takes a buyer in the import/export shape and returns a ``Report`` and the
cleaned record: Number (E.164, or a SIP URI under Twilio's length limit, tokens allowed), SIP
credentials, SIP headers (unique names, not the ones sipflask sets, the whole header part under
Twilio's limit before any token is filled in), routing numbers, caps and what they count
(``check_caps``), and opening hours: time zone, weekly hours and closures
(``check_schedule_at``; the rules are in :mod:`sipflask.core.schedule_rules`), with
past-closure warnings on the buyer's own date, and health checks (``check_health``: the mode,
which OPTIONS replies mean up, the thresholds; SIP buyers only; the rules are in
:mod:`sipflask.core.health_rules`).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterable

from sipflask.core import capwindows, health_rules, phone, schedule_rules, sip, sipheaders, tokens
from sipflask.core.validation import CONTROL_RE, Report, check_int, check_text, text_problem

SIP_USERNAME_RE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=%-]{1,128}\Z")

# Sample values standing in for tokens when checking the fixed parts of a buyer: the longest
# values the defaults can take (uuid 36, key 64), so a buyer saved today can't break Twilio's
# limits just because a call carries a longer key.
SAMPLE_UUID = "00000000-0000-4000-8000-000000000000"
SAMPLE_KEY = "0" * 64
MAX_TIMEOUT = 600
MIN_TIMEOUT = 5
MAX_CAP = 10**9  # well inside the database's integer columns
# The caps of a buyer record and their labels in messages; None (or absent) means no cap.
CAPS = (("concurrency_cap", "Concurrency cap"), ("hourly_cap", "Hourly cap"),
        ("daily_cap", "Daily cap"), ("monthly_cap", "Monthly cap"),
        ("total_cap", "Lifetime cap"))


def _sample_values(extra_names: Iterable[str] = ()) -> dict[str, str]:
    values = {name: "x" for name in tokens.BUILTIN_TOKENS}
    values.update({name: "x" for name in extra_names})
    values.update(call_uuid=SAMPLE_UUID, call_key=SAMPLE_KEY)
    return values


def check_buyer_number(report: Report, value: str, *, path="number",
                       default_region: str | None = None, known_tokens: Iterable[str] = ()) -> str:
    """Check a buyer's Number (E.164 or SIP URI, tokens allowed); returns the value to store."""
    if not isinstance(value, str) or not value.strip():
        report.error(path, "Number is required: an E.164 phone number or a SIP URI.")
        return ""
    value = value.strip()
    if len(value) > 1024:
        report.error(path, "Number is too long.")
        return value
    if CONTROL_RE.search(value) or " " in value and sip.is_sip(value):
        report.error(path, "Number must not contain spaces, control characters or line breaks.")
        return value
    if problem := text_problem(value):
        report.error(path, f"Number {problem}.")
        return value
    for problem in tokens.problems(value):
        report.error(path, problem)
    if report.errors.get(path):
        return value
    unknown = tokens.unknown_tokens(value, known_tokens)
    if unknown:
        report.warn(path, unknown_tokens_message(unknown, known_tokens))
    if sip.is_sip(value):
        # Tokens in the URI are checked by expanding them to a harmless sample; the fixed
        # parts must already form a valid URI under Twilio's length limit.
        expanded = tokens.expand(value, {}, escape=sipheaders.pct_encode_user)
        sample = tokens.expand(value, _sample_values(tokens.tokens_used(value)),
                               escape=sipheaders.pct_encode_user)
        try:
            sip.parse_sip_uri(sample)
        except sip.SipUriError as exc:
            report.error(path, str(exc))
            return value
        if len(expanded) >= sip.URI_LIMIT:
            report.error(path, f"The SIP URI must be under {sip.URI_LIMIT} characters "
                               f"(Twilio's limit); it has {len(expanded)}.")
        return value
    if tokens.tokens_used(value):
        fixed = tokens.expand(value, {})
        if not re.fullmatch(r"\+?[0-9 ()./-]*", fixed):
            report.error(path, "A phone number with tokens may only hold digits, '+' and tokens "
                               "outside the tokens; for SIP start with 'sip:'.")
        return value
    try:
        return phone.normalise_e164(value, default_region)
    except phone.PhoneError as exc:
        report.error(path, f"{exc} For a SIP address start with 'sip:'.")
        return value


def unknown_tokens_message(unknown: list[str], known: Iterable[str]) -> str:
    names = ", ".join(f"[{n}]" for n in unknown)
    listed = ", ".join(list(tokens.BUILTIN_TOKENS) + sorted(set(known)))
    return (f"Unknown token{'s' if len(unknown) > 1 else ''} {names}: it will be empty unless "
            f"the call has a tag of that name. Known tokens: {listed}.")


def check_headers(report: Report, headers: Any, *, known_tokens: Iterable[str] = (),
                  path="sip_headers") -> list[tuple[str, str]]:
    if headers in (None, ""):
        return []
    if not isinstance(headers, list):
        report.error(path, "SIP headers must be a list of {name, value} rows.")
        return []
    rows: list[tuple[str, str]] = []
    for i, row in enumerate(headers):
        here = f"{path}[{i}]"
        if not isinstance(row, dict):
            report.error(here, "Each header must be an object with a name and a value.")
            continue
        name, value = row.get("name", ""), row.get("value", "")
        if not isinstance(name, str):
            report.error(f"{here}.name", "Header name must be text.")
            continue
        if not isinstance(value, str):
            report.error(f"{here}.value", "Header value must be text.")
            continue
        name = name.strip()
        # Invisible characters first: the name rule's message quotes the name as typed.
        problem = text_problem(name)
        problem = f"Header name {problem}." if problem else sipheaders.header_name_problem(name)
        if problem:
            report.error(f"{here}.name", problem)
        if CONTROL_RE.search(value):
            report.error(f"{here}.value", "Header value must be one line (no control characters).")
        elif problem := text_problem(value):
            report.error(f"{here}.value", f"Header value {problem}.")
        elif len(value) > 1000:
            report.error(f"{here}.value", "Header value must be under 1000 characters.")
        else:
            for p in tokens.problems(value):
                report.error(f"{here}.value", p)
            unknown = tokens.unknown_tokens(value, known_tokens)
            if unknown:
                report.warn(f"{here}.value", unknown_tokens_message(unknown, known_tokens))
        rows.append((name, value))
    seen: dict[str, int] = {}
    for i, (name, _) in enumerate(rows):
        low = name.lower()
        if low in seen:
            report.error(f"{path}[{i}].name", f"{name} is already set in row {seen[low] + 1}; "
                                              "header names must be unique.")
        else:
            seen[low] = i
    for i, (name, _) in enumerate(rows):
        if name.lower() in (p.lower() for p in sipheaders.PROTECTED):
            report.error(f"{path}[{i}].name", f"{name} is set by sipflask on every call and "
                                              "can't be replaced.")
    return rows


def check_fixed_header_part(report: Report, number: str, rows: list[tuple[str, str]],
                            path="sip_headers") -> None:
    """Refuse a buyer whose headers break Twilio's 1024-character limit before any token."""
    if not sip.is_sip(number) or report.errors:
        return
    fixed = [sipheaders.Header("X-PH-RetreaverUUID", SAMPLE_UUID, "default"),
             sipheaders.Header("X-PH-RetreaverKey", SAMPLE_KEY, "default")]
    fixed += [sipheaders.Header(n, tokens.expand(v, {}), "buyer") for n, v in rows]
    part = "&".join(f"{h.name}={sipheaders.pct_encode_hvalue(h.value)}" for h in fixed if h.value)
    if len(part) >= sipheaders.HEADER_PART_LIMIT:
        report.error(path, f"The headers take {len(part)} characters in the SIP URI before any "
                           f"token is filled in; Twilio's limit is under {sipheaders.HEADER_PART_LIMIT}.")


def check_buyer(rec: dict, *, default_region: str | None = None,
                known_tokens: Iterable[str] = (),
                now: datetime | None = None) -> tuple[Report, dict]:
    """Check a buyer record; returns the report and the cleaned record. ``now`` is the moment
    the closures are compared with (warnings for past dates); None: no such warnings."""
    report = Report()
    clean: dict[str, Any] = {}
    clean["name"] = check_text(report, rec, "name")
    clean["number"] = check_buyer_number(report, rec.get("number"),
                                         default_region=default_region, known_tokens=known_tokens)
    username = rec.get("sip_username") or ""
    if not isinstance(username, str):
        report.error("sip_username", "SIP username must be text.")
        username = ""
    username = username.strip()
    if username and not SIP_USERNAME_RE.match(username):
        report.error("sip_username", "SIP username may hold letters, digits and . _ ~ ! $ & ' ( ) "
                                     "* + , ; = % - (no spaces, ':' or '@'), at most 128.")
    password = rec.get("sip_password")
    if password is not None and not isinstance(password, str):
        report.error("sip_password", "SIP password must be text.")
        password = ""
    if password and (len(password) > 128 or CONTROL_RE.search(password)):
        report.error("sip_password", "SIP password must be one line of at most 128 characters.")
    clean["sip_username"] = username
    clean["sip_password"] = password  # None means "keep what is stored"
    clean["sip_headers"] = check_headers(report, rec.get("sip_headers"), known_tokens=known_tokens)
    check_fixed_header_part(report, clean["number"], clean["sip_headers"])
    clean["priority"] = check_int(report, rec, "priority", default=1, maximum=1000)
    clean["weight"] = check_int(report, rec, "weight", default=1, maximum=1000)
    clean["timeout"] = check_int(report, rec, "timeout", default=30, minimum=MIN_TIMEOUT,
                                 maximum=MAX_TIMEOUT, label="Ring timeout")
    clean.update(check_caps(report, rec))
    clean.update(check_schedule_at(report, rec, now))
    paused = rec.get("paused", False)
    if not isinstance(paused, bool):
        report.error("paused", "Paused must be true or false.")
        paused = False
    clean["paused"] = paused
    clean.update(health_rules.check_health(report, rec.get("health"), clean["number"]))
    return report, clean


def check_caps(report: Report, rec: dict) -> dict:
    """The caps of a buyer record: ``concurrency_cap``, ``hourly_cap``, ``daily_cap``,
    ``monthly_cap``, ``total_cap`` (lifetime), each a whole number 0..10**9 or None (absent,
    null or "" = no cap), and ``cap_counts`` (``dialled``, the default, or ``connected``).
    Errors go to ``report`` at the key's own path; returns the clean values of all six keys."""
    clean: dict[str, Any] = {}
    for key, label in CAPS:
        value = check_int(report, rec, key, default=None, nullable=True, label=label)
        if value is not None and value > MAX_CAP:
            report.error(key, f"{label} must be at most {MAX_CAP}.")
        clean[key] = value
    mode, error = capwindows.check_cap_counts(rec.get("cap_counts"))
    if error:
        report.error("cap_counts", error)
    clean["cap_counts"] = mode
    return clean


def check_schedule_at(report: Report, rec: dict, now: datetime | None) -> dict:
    """``schedule_rules.check_schedule`` of ``rec`` (``time_zone``, ``hours``, ``closures``),
    its messages added to ``report``; ``now`` (aware) gives the buyer's local date for the
    past-closure warnings (None: no such warnings). Returns the clean three keys."""
    today = None
    if now is not None:
        zone = schedule_rules.check_time_zone(Report(), rec.get("time_zone"))
        today = capwindows.local_date(zone, now)
    sub, clean = schedule_rules.check_schedule(rec, today)
    for path, messages in sub.errors.items():
        for message in messages:
            report.error(path, message)
    for path, messages in sub.warnings.items():
        for message in messages:
            report.warn(path, message)
    return clean
