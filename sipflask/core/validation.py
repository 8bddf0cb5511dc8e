"""Validation rules for setup records, shared by the web forms and JSON import.

Each ``check_*`` takes a record in the import/export JSON shape (plain dicts) and returns a
``Report``: errors and warnings keyed by field path (``number``, ``sip_headers[2].name``).
Nothing here touches the database; uniqueness against stored rows is the caller's job. The
buyer's rules (number or SIP URI, credentials, headers, Twilio's limits) are in
:mod:`sipflask.core.buyer_rules`.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sipflask.core import phone

REF_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
AFID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
TAG_KEY_RE = re.compile(r"[a-z0-9_]{1,64}\Z")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Characters no column can hold as they are: NUL (PostgreSQL refuses it in text and JSON) and
# lone surrogates (JSON's "\ud800" escape reads into one; UTF-8 cannot encode it).
UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"  # what the web server puts where a form post was not valid UTF-8
# Shown as nothing, or as a gap, yet part of the text: each lets a name read unlike what it is
# (U+202E turns "gpj.exe" around) or two names that look the same differ. Format characters
# (bidi overrides and isolates, zero-width spaces and joiners, U+FEFF, the soft hyphen),
# controls, line and paragraph separators, plus the blank "letters" used to fake empty names.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
INVISIBLE_FILLERS = frozenset("\u034f\u115f\u1160\u3164\uffa0")
_CONTROL_NAMES = {0: "null", 9: "tab", 10: "line feed", 13: "carriage return", 27: "escape",
                  127: "delete", 0x85: "next line"}

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


def char_label(ch: str) -> str:
    """``U+202E (right-to-left override)``: a character named so a user can find it."""
    code = ord(ch)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(ch, "").lower() or (
        "lone surrogate" if 0xD800 <= code <= 0xDFFF else "control character")
    return f"U+{code:04X} ({name})"


def unstorable_problem(value: str, *, posted: bool = False) -> str | None:
    """Why ``value`` cannot be stored exactly as given, or None.

    ``posted``: the text came in a form post, where the web server has already put U+FFFD in
    place of bytes that were not UTF-8; storing it would keep something other than what was sent.
    """
    found = UNSTORABLE_RE.search(value)
    if found:
        return f"contains a character that cannot be stored: {char_label(found.group())}"
    if posted and REPLACEMENT in value:
        return (f"contains {char_label(REPLACEMENT)}, which stands for text that was not valid "
                "UTF-8; type it again")
    return None


def invisible_problem(value: str, *, allow: str = "") -> str | None:
    """Why ``value`` can't be a name, ref, tag or header value: the first invisible control
    or format character it holds (``allow``: the ones a multi-line field may keep), or None."""
    for ch in value:
        if ch in allow:
            continue
        if unicodedata.category(ch) in INVISIBLE_CATEGORIES or ch in INVISIBLE_FILLERS:
            return f"contains an invisible control character {char_label(ch)}"
    return None


def text_problem(value: str, *, allow: str = "") -> str | None:
    """The one rule for text a user names things with: storable, and nothing invisible."""
    return unstorable_problem(value) or invisible_problem(value, allow=allow)


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


def check_keys(report: Report, rec: dict, allowed: tuple[str, ...], path: str = "", *,
               what: str = "key") -> None:
    """An error for each key of ``rec`` not in ``allowed``, at ``path.key``, naming the allowed
    key it is closest to: a typo such as ``dialy_cap`` must not be dropped without a word."""
    for key in rec:
        if key in allowed:
            continue
        name = str(key)
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else f"expected {', '.join(allowed)}."
        report.error(f"{path}.{name}" if path else name, f"Unknown {what} {name!r}; {hint}")


def check_text(report: Report, rec: dict, key: str, *, required=True, max_len=200,
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
    elif problem := text_problem(value):
        report.error(key, f"{label} {problem}.")
    return value


def check_int(report: Report, rec: dict, key: str, *, default, minimum=0, maximum=None,
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
    check_text(report, rec, "name")
    afid = rec.get("afid")
    if not isinstance(afid, str) or not AFID_RE.match(afid):
        report.error("afid", "AFID must be 1–64 letters, digits, '_' or '-'.")
    return report


def check_campaign(rec: dict) -> Report:
    report = Report()
    check_text(report, rec, "name")
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
        elif problem := text_problem(str(v)):
            report.error(path, f"Tag {k!r}: value {problem}.")
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
    check_text(report, rec, "sub_id", required=False, max_len=100, label="Sub ID")
    check_tags(report, rec.get("tags"))
    return report, normalised
