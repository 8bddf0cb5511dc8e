"""Validation rules for setup records, shared by the web forms and JSON import.

Each ``check_*`` takes a record in the import/export JSON shape (plain dicts) and returns a
``Report``: errors and warnings keyed by field path (``number``, ``sip_headers[2].name``).
Nothing here touches the database; uniqueness against stored rows is the caller's job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from sipflask.core import phone, sip, sipheaders, tokens

REF_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
AFID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
TAG_KEY_RE = re.compile(r"[a-z0-9_]{1,64}\Z")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
SIP_USERNAME_RE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=%-]{1,128}\Z")

# Sample values standing in for tokens when checking the fixed parts of a buyer: the longest
# values the defaults can take (uuid 36, key 64), so a buyer saved today can't break Twilio's
# limits just because a call carries a longer key.
SAMPLE_UUID = "00000000-0000-4000-8000-000000000000"
SAMPLE_KEY = "0" * 64
MAX_TIMEOUT = 600
MIN_TIMEOUT = 5


MAX_ID = 2**31 - 1


def ascii_int(raw, maximum: int = MAX_ID) -> int | None:
    """``raw`` as a whole number 0..maximum when it is plain ASCII digits, else None.

    ``str.isdigit`` accepts "²" and Arabic-Indic digits, which ``int`` then refuses (or reads),
    and ``int`` refuses over 4300 digits: both used to end in a 500.
    """
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return None
    value = int(raw)
    return value if value <= maximum else None


@dataclass
class Report:
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def warn(self, path: str, message: str) -> None:
        self.warnings.setdefault(path, []).append(message)

    @property
    def ok(self) -> bool:
        return not self.errors

    def merged(self, prefix: str, other: "Report") -> None:
        """Add ``other``'s messages under ``prefix`` (e.g. ``buyers[2]``)."""
        for path, msgs in other.errors.items():
            for m in msgs:
                self.error(f"{prefix}.{path}" if path else prefix, m)
        for path, msgs in other.warnings.items():
            for m in msgs:
                self.warn(f"{prefix}.{path}" if path else prefix, m)

    def lines(self) -> list[str]:
        return [f"{path}: {m}" for path, msgs in self.errors.items() for m in msgs]


def _text(report: Report, rec: dict, key: str, *, required=True, max_len=200,
          label: str | None = None) -> str:
    value = rec.get(key, "")
    label = label or key.replace("_", " ").capitalize()
    if value is None:
        value = ""
    if not isinstance(value, str):
        report.error(key, f"{label} must be text.")
        return ""
    value = value.strip()
    if required and not value:
        report.error(key, f"{label} is required.")
    elif len(value) > max_len:
        report.error(key, f"{label} must be at most {max_len} characters (it has {len(value)}).")
    elif CONTROL_RE.search(value):
        report.error(key, f"{label} must not contain control characters or line breaks.")
    return value


def _int(report: Report, rec: dict, key: str, *, default, minimum=0, maximum=None,
         nullable=False, label: str | None = None):
    label = label or key.replace("_", " ").capitalize()
    value = rec.get(key, default)
    if value is None or value == "":
        if nullable:
            return None
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        report.error(key, f"{label} must be a whole number.")
        return default
    if isinstance(value, str):
        # ascii_int, not int(): int() reads "1_0" as 10 and Arabic-Indic digits as numbers.
        text = value.strip()
        negative = text.startswith("-")
        parsed = ascii_int(text[1:] if negative else text, maximum=10**9)
        if parsed is None:
            report.error(key, f"{label} must be a whole number.")
            return default
        value = -parsed if negative else parsed
    if value < minimum or (maximum is not None and value > maximum):
        rng = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        report.error(key, f"{label} must be {rng}.")
    return value


def check_ref(report: Report, rec: dict) -> str:
    ref = rec.get("ref")
    if not isinstance(ref, str) or not REF_RE.match(ref):
        report.error("ref", "Ref must be 1–64 characters: lower-case letters, digits, '_' or '-', "
                            "starting with a letter or digit.")
        return ""
    return ref


def check_publisher(rec: dict) -> Report:
    report = Report()
    _text(report, rec, "name")
    afid = rec.get("afid")
    if not isinstance(afid, str) or not AFID_RE.match(afid):
        report.error("afid", "AFID must be 1–64 letters, digits, '_' or '-'.")
    return report


def check_campaign(rec: dict) -> Report:
    report = Report()
    _text(report, rec, "name")
    buyers = rec.get("buyers", [])
    if not isinstance(buyers, list) or not all(isinstance(b, str) for b in buyers):
        report.error("buyers", "Buyers must be a list of buyer refs.")
    elif len(set(buyers)) != len(buyers):
        report.error("buyers", "A buyer appears more than once in the routing list.")
    settings = rec.get("settings", {})
    if not isinstance(settings, dict):
        report.error("settings", "Settings must be an object.")
    return report


def check_tags(report: Report, tags: Any, path="tags") -> dict:
    if tags in (None, ""):
        return {}
    if not isinstance(tags, dict):
        report.error(path, "Tags must be key/value pairs.")
        return {}
    for k, v in tags.items():
        if not isinstance(k, str) or not TAG_KEY_RE.match(k):
            report.error(path, f"Tag key {k!r} must be lower-case letters, digits and '_' "
                               "(it becomes a token name).")
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            report.error(path, f"Tag {k!r} must have a text value.")
        elif CONTROL_RE.search(str(v)) or len(str(v)) > 500:
            report.error(path, f"Tag {k!r}: value must be one line of at most 500 characters.")
    return {str(k): str(v) for k, v in tags.items()}


def check_number(rec: dict, default_region: str | None = None) -> tuple[Report, str]:
    """Check a tracking number record; returns the report and the E.164 form of the number."""
    report = Report()
    normalised = ""
    raw = rec.get("number")
    if not isinstance(raw, str) or not raw.strip():
        report.error("number", "Number is required.")
    else:
        try:
            normalised = phone.normalise_e164(raw, default_region)
        except phone.PhoneError as exc:
            report.error("number", str(exc))
    if not isinstance(rec.get("campaign"), str) or not rec.get("campaign"):
        report.error("campaign", "Campaign is required.")
    pub = rec.get("publisher")
    if pub not in (None, "") and not isinstance(pub, str):
        report.error("publisher", "Publisher must be a publisher ref.")
    _text(report, rec, "sub_id", required=False, max_len=100, label="Sub ID")
    check_tags(report, rec.get("tags"))
    return report, normalised


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
        problem = sipheaders.header_name_problem(name)
        if problem:
            report.error(f"{here}.name", problem)
        if CONTROL_RE.search(value):
            report.error(f"{here}.value", "Header value must be one line (no control characters).")
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
            report.error(f"{path}[{i}].name",
                         f"{name} is already set in row {seen[low] + 1}; header names must be unique.")
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
                known_tokens: Iterable[str] = ()) -> tuple[Report, dict]:
    """Check a buyer record; returns the report and the cleaned record."""
    report = Report()
    clean: dict[str, Any] = {}
    clean["name"] = _text(report, rec, "name")
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
    clean["priority"] = _int(report, rec, "priority", default=1, maximum=1000)
    clean["weight"] = _int(report, rec, "weight", default=1, maximum=1000)
    clean["timeout"] = _int(report, rec, "timeout", default=30, minimum=MIN_TIMEOUT,
                            maximum=MAX_TIMEOUT, label="Ring timeout")
    clean["concurrency_cap"] = _int(report, rec, "concurrency_cap", default=None, nullable=True,
                                    label="Concurrency cap")
    clean["daily_cap"] = _int(report, rec, "daily_cap", default=None, nullable=True,
                              label="Daily cap")
    paused = rec.get("paused", False)
    if not isinstance(paused, bool):
        report.error("paused", "Paused must be true or false.")
        paused = False
    clean["paused"] = paused
    return report, clean
