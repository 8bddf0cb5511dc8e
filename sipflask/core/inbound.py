"""Inbound SIP (SPEC "Inbound SIP"): domain names, credentials, the webhook's first step.

Partners call sipflask's tracking numbers over SIP through two Twilio SIP domains built from
one base name:

* ``<name>.sip.twilio.com``: callers authenticate with a username and password
  (a Twilio credential list);
* ``<name>-ip.sip.twilio.com``: callers are let in by source IP (a Twilio IP access control list).

The user part of the ``To`` URI is the tracking number in E.164
(``sip:+18882223333@acme.sip.twilio.com``).

This module is pure (no Flask, no database): name and credential rules (Twilio's own where
Twilio has them), the SIP addresses of a number, :func:`classify`, which the voice webhook calls
first to decide which number a call is for or why it is refused, and :func:`check_settings` for
the ``inbound`` section of an import document. The IP whitelist's rules are in
:mod:`sipflask.core.ip_whitelist`; the stored settings are read and written by
:mod:`sipflask.records.inbound`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import unquote

from sipflask.core import phone, sip
from sipflask.core.ip_whitelist import check_ip_list
from sipflask.core.validation import CONTROL_RE, Report

__all__ = [
    "TWILIO_SIP_SUFFIX", "IP_DOMAIN_SUFFIX", "USERNAME_MAX", "PASSWORD_MIN",
    "domain_names", "credential_domain", "ip_domain", "name_problem", "normalise_name",
    "username_problem", "password_problem", "sip_addresses", "Decision", "classify",
    "EXPORT_KEYS", "check_settings",
]

TWILIO_SIP_SUFFIX = ".sip.twilio.com"
#: Appended to the base name for the IP-authenticated domain: ``acme`` -> ``acme-ip``.
IP_DOMAIN_SUFFIX = "-ip"
#: Twilio: a SIP credential's username is at most 32 characters.
USERNAME_MAX = 32
#: Twilio: a SIP credential's password is at least 12 characters, with a digit and mixed case.
PASSWORD_MIN = 12
PASSWORD_MAX = 128

# A DNS label that stays one after "-ip" is appended (63 characters at most), lower-case:
# Twilio's domain names hold letters, digits and '-' and end with sip.twilio.com.
_NAME_MAX = 63 - len(IP_DOMAIN_SUFFIX)
_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
_USERNAME_RE = re.compile(r"[A-Za-z0-9._+-]+\Z")
_EXAMPLE_NUMBER = "+14155552671"


# --- names --------------------------------------------------------------------------------------

def normalise_name(raw: str | None) -> str:
    return (raw or "").strip().lower()


def credential_domain(name: str) -> str:
    return f"{name}{TWILIO_SIP_SUFFIX}"


def ip_domain(name: str) -> str:
    return f"{name}{IP_DOMAIN_SUFFIX}{TWILIO_SIP_SUFFIX}"


def domain_names(name: str) -> tuple[str, str]:
    """``acme`` -> (``acme.sip.twilio.com``, ``acme-ip.sip.twilio.com``)."""
    return credential_domain(name), ip_domain(name)


def name_problem(name: str) -> str | None:
    """Why ``name`` (already normalised) can't be a domain base name, or None."""
    if not name:
        return "Enter a base name, e.g. acme (for acme.sip.twilio.com)."
    if name.endswith(TWILIO_SIP_SUFFIX):
        return f"Enter only the first part: {name[:-len(TWILIO_SIP_SUFFIX)]!r}, not the whole domain."
    if len(name) > _NAME_MAX:
        return (f"The base name must be at most {_NAME_MAX} characters (it has {len(name)}): "
                f"with '{IP_DOMAIN_SUFFIX}' added it must still be a DNS label of 63 at most.")
    if not _NAME_RE.match(name):
        return ("The base name may hold only letters a-z, digits and '-', and must start and end "
                "with a letter or digit (it becomes part of a DNS name).")
    if name[2:4] == "--":
        return "Names with '--' in the 3rd and 4th place are reserved in DNS (IDNA); pick another."
    return None


# --- credentials ----------------------------------------------------------------------------------

def username_problem(username: str) -> str | None:
    if not username:
        return "Enter a username."
    if len(username) > USERNAME_MAX:
        return f"The username must be at most {USERNAME_MAX} characters (Twilio's limit); it has {len(username)}."
    if not _USERNAME_RE.match(username):
        return "The username may hold letters, digits and . _ + - only (no spaces)."
    return None


def password_problem(password: str) -> str | None:
    """Twilio's rule: at least 12 characters, with a digit, an upper- and a lower-case letter."""
    if not password:
        return "Enter a password."
    missing = []
    if len(password) < PASSWORD_MIN:
        missing.append(f"at least {PASSWORD_MIN} characters (it has {len(password)})")
    if not any("0" <= c <= "9" for c in password):
        missing.append("a digit")
    if not any("A" <= c <= "Z" for c in password):
        missing.append("an upper-case letter")
    if not any("a" <= c <= "z" for c in password):
        missing.append("a lower-case letter")
    if missing:
        return "Twilio needs a password with " + ", ".join(missing) + "."
    if len(password) > PASSWORD_MAX:
        return f"The password must be at most {PASSWORD_MAX} characters."
    if CONTROL_RE.search(password) or " " in password:
        return "The password must not contain spaces or control characters."
    return None


# --- SIP addresses of a number --------------------------------------------------------------------

def sip_addresses(number: Any, settings: Any) -> list[str]:
    """The SIP URIs a partner dials to reach tracking ``number`` (a Number or an E.164 string),
    credential domain first; empty unless inbound SIP is enabled with a base name."""
    if settings is None or not getattr(settings, "enabled", False) or not getattr(settings, "name", ""):
        return []
    e164 = getattr(number, "number", number)
    if not isinstance(e164, str) or not e164.startswith("+"):
        return []
    return [f"sip:{e164}@{domain}" for domain in domain_names(settings.name)]


# --- the voice webhook's first step ---------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    """What to do with a call: route ``number`` (E.164, or ``To`` for a phone call), or refuse it
    for ``reject_reason`` (logged and stored as ``Call.reason``)."""

    number: str | None
    reject_reason: str | None = None
    sip_domain: str | None = None

    @property
    def rejected(self) -> bool:
        return self.reject_reason is not None


def short(text: str, limit: int = 160) -> str:
    text = CONTROL_RE.sub("?", text)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _sip_host(uri: str) -> str:
    try:
        return sip.parse_sip_uri(uri.split("?", 1)[0]).host.lower().rstrip(".")
    except sip.SipUriError:
        return ""


def classify(params: Mapping[str, str], settings_name: str | None, enabled: bool) -> Decision:
    """Decide which tracking number a voice webhook is for, or why it is refused.

    * A call on one of our SIP domains (``SipDomain`` is ``<name>.sip.twilio.com`` or
      ``<name>-ip.sip.twilio.com``) routes by the user part of the ``To`` SIP URI, which must be
      the number in E.164 (``+`` and the country code).
    * A SIP call on any other domain, or on ours while inbound SIP is disabled, is refused.
    * A phone call routes by ``To`` as it is.

    Without ``SipDomain`` a ``sip:`` ``To`` is judged by its host, so a SIP call can never route
    without having come through one of our domains.
    """
    to = (params.get("To") or "").strip()
    domain = (params.get("SipDomain") or "").strip().lower().rstrip(".")
    if not domain and sip.is_sip(to):
        domain = _sip_host(to) or "(none)"
    if not domain:
        return Decision(number=to)
    name = normalise_name(settings_name)
    ours = domain_names(name) if name else ()
    if domain not in ours:
        listed = " or ".join(ours) if ours else "none: no base name is set"
        return Decision(None, f"SIP call on domain {short(domain, 100)}, which is not one of "
                              f"sipflask's inbound SIP domains ({listed}).", domain)
    if not enabled:
        return Decision(None, f"SIP call on {domain}, but inbound SIP is disabled.", domain)
    if not sip.is_sip(to):
        return Decision(None, f"SIP call on {domain} whose To {short(to)} is not a SIP URI.",
                        domain)
    try:
        user = sip.parse_sip_uri(to.split("?", 1)[0]).user or ""
    except sip.SipUriError as exc:
        return Decision(None, f"SIP call on {domain} to {short(to)}: {exc}", domain)
    # Some PBXs send '+' as %2B. unquote, never unquote_plus: '+' is literal in SIP.
    user = unquote(user)
    if not user.startswith("+"):
        return Decision(None, f"SIP call to {short(to)}: the user part must be the tracking "
                              f"number in E.164, with + and the country code "
                              f"(e.g. sip:{_EXAMPLE_NUMBER}@{domain}).", domain)
    try:
        e164 = phone.normalise_e164(user)
    except phone.PhoneError as exc:
        return Decision(None, f"SIP call to {short(to)}: {exc}", domain)
    if e164 != user:
        return Decision(None, f"SIP call to {short(to)}: the user part must be exactly the "
                              f"E.164 number ({e164}), without spaces or punctuation.", domain)
    return Decision(number=e164, sip_domain=domain)


# --- the inbound section of an import document -------------------------------------------------

EXPORT_KEYS = ("enabled", "name", "ip_whitelist")


def check_settings(doc: Any) -> Report:
    """Check the ``inbound`` section of an import document (paths: ``name``,
    ``ip_whitelist[2]``...); nothing is read from or written to the database."""
    report = Report()
    if not isinstance(doc, dict):
        report.error("", "The inbound section must be an object with enabled, name and "
                         "ip_whitelist.")
        return report
    for key in doc:
        if key == "credentials":
            report.error("credentials", "Credentials are never imported (passwords are not "
                                        "exported); add them on the Inbound SIP page.")
        elif key not in EXPORT_KEYS:
            report.error(str(key), f"Unknown key {key!r}; expected {', '.join(EXPORT_KEYS)}.")
    enabled = doc.get("enabled", False)
    if not isinstance(enabled, bool):
        report.error("enabled", "Enabled must be true or false.")
        enabled = False
    name = doc.get("name", "")
    if name is None:
        name = ""
    if not isinstance(name, str):
        report.error("name", "Name must be text.")
    else:
        name = normalise_name(name)
        if name or enabled:
            problem = name_problem(name)
            if problem:
                report.error("name", problem if name else
                             "Inbound SIP can't be enabled without a base name.")
    ips = doc.get("ip_whitelist", [])
    if ips is None:
        ips = []
    if not isinstance(ips, list):
        report.error("ip_whitelist", "ip_whitelist must be a list of IPv4 addresses or CIDR "
                                     "ranges.")
    else:
        _, errors, whole = check_ip_list(ips)
        for i, message in errors.items():
            report.error(f"ip_whitelist[{i}]", message)
        if whole:
            report.error("ip_whitelist", whole)
    return report
