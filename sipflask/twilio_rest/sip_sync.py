"""Make Twilio match the inbound SIP settings, through the ``twilio`` REST client.

What sipflask keeps at Twilio while inbound SIP is enabled (SPEC "Inbound SIP"):

* SIP domain ``<name>.sip.twilio.com``, its calls authenticated by a credential list;
* SIP domain ``<name>-ip.sip.twilio.com``, its calls authenticated by an IP access control list;
* both with ``voice_url`` (and ``voice_fallback_url``) = the voice webhook and
  ``voice_status_callback_url`` = the status webhook;
* the credential list with one credential per stored username, the IP access control list with
  one address (``IpAddress`` + ``CidrPrefixLength``) per whitelist entry, and each domain's
  call-authentication mapping to its list (and no other).

:func:`sync` reads what Twilio has (found by the SIDs stored on the settings, or by domain name /
friendly name when no SID is stored yet, so a sync interrupted half-way picks up what it made),
changes only what differs, stores the SIDs and commits. A second sync changes nothing.
Passwords can't be read back from Twilio: a credential whose password was changed locally has
its ``twilio_sid`` cleared (see ``blueprints/inbound.py``), and the sync then sets the password of
the Twilio credential with that username. When inbound SIP is disabled the sync deletes the
domains and lists it made.

Any failure (Twilio's 4xx/5xx, a connection error) rolls the database back and raises
:class:`SyncError` with a message fit to show: no traceback, no account SID, no token.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import current_app, has_request_context, url_for
from sqlalchemy import select

from sipflask.core import inbound, ip_whitelist
from sipflask.extensions import db
from sipflask.models import InboundCredential, InboundIp, utcnow
from sipflask.records import inbound as inbound_settings
from sipflask.urls import public_url

log = logging.getLogger("sipflask.provisioning")

PAGE_SIZE = 1000  # Twilio's maximum: one request per list in practice
HTTP_TIMEOUT = 20  # seconds per request to Twilio


class SyncError(Exception):
    """Sync failed; ``str(exc)`` is safe to show (no secrets, no traceback)."""


@dataclass
class Change:
    action: str  # created | updated | deleted
    what: str

    def __str__(self) -> str:
        return f"{self.action.capitalize()} {self.what}"


@dataclass
class SyncResult:
    changes: list[Change] = field(default_factory=list)
    enabled: bool = True

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def summary(self) -> str:
        if not self.changes:
            return ("Twilio already matches the inbound SIP settings: nothing changed."
                    if self.enabled else
                    "Inbound SIP is disabled and nothing of it is left at Twilio: nothing changed.")
        return (f"Twilio now matches the inbound SIP settings: {self.count('created')} created, "
                f"{self.count('updated')} updated, {self.count('deleted')} deleted.")

    def lines(self) -> list[str]:
        return [str(c) for c in self.changes]


# --- client -------------------------------------------------------------------------------------

def make_client():
    """A ``twilio.rest.Client`` for the configured account.

    ``TWILIO_API_BASE_URL`` points the API domain elsewhere (tests use Prism) and
    ``TWILIO_HTTP_CLIENT`` replaces the HTTP client (tests record requests).
    """
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    config = current_app.config
    sid, token = config.get("TWILIO_ACCOUNT_SID") or "", config.get("TWILIO_AUTH_TOKEN") or ""
    if not sid or not token:
        raise SyncError("Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (e.g. SIPFLASK_TWILIO_"
                        "ACCOUNT_SID in the environment) before syncing with Twilio.")
    http_client = config.get("TWILIO_HTTP_CLIENT") or TwilioHttpClient(timeout=HTTP_TIMEOUT)
    client = Client(sid, token, http_client=http_client)
    base = config.get("TWILIO_API_BASE_URL")
    if base:
        client.api.base_url = base.rstrip("/")
    return client


def webhook_url(endpoint: str) -> str:
    """The absolute URL Twilio calls for ``endpoint``: PUBLIC_URL + path (the request's host
    when PUBLIC_URL is unset and there is a request; the CLI needs PUBLIC_URL)."""
    if has_request_context():
        return public_url(url_for(endpoint))
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        raise SyncError("Set PUBLIC_URL (the https address Twilio reaches sipflask at, e.g. "
                        "https://calls.example.com) before syncing from the command line.")
    path = current_app.url_map.bind("localhost").build(endpoint)
    return base.rstrip("/") + path


# --- errors -------------------------------------------------------------------------------------

_ACCOUNT_SID_RE = re.compile(r"AC[0-9a-fA-F]{32}")


def _clean(text: str) -> str:
    text = _ACCOUNT_SID_RE.sub("AC…", str(text or ""))
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if token:
        text = text.replace(token, "…")
    text = " ".join(text.split())
    return text[:300]


def describe_error(exc: BaseException, step: str) -> str:
    """A one-line message about ``exc`` raised while ``step``; never a traceback or a secret."""
    import requests
    from twilio.base.exceptions import TwilioException

    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    text = getattr(exc, "msg", None) or ": ".join(
        t for t in (getattr(exc, "title", None), getattr(exc, "detail", None)) if t)
    if isinstance(exc, TwilioException) and status is None and len(exc.args) == 2 \
            and isinstance(getattr(exc.args[1], "status_code", None), int):
        # A failed list: the client raises TwilioException("Unable to fetch page", response).
        status, text, code = _from_response(str(exc.args[0]), exc.args[1])
    if isinstance(exc, TwilioException) and isinstance(status, int):
        # TwilioRestException (msg) or, for RFC 9457 answers, TwilioServiceException (title,
        # detail). The exception's own str() is a coloured multi-line dump with the URL: not used.
        code = f", Twilio error {code}" if code and code != status else ""
        hint = ""
        if status in (401, 403):
            hint = " Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."
        elif status >= 500:
            hint = " Twilio had a problem; try again in a moment."
        return f"Twilio refused {step} (HTTP {status}{code}): {_clean(text).rstrip('.')}.{hint}"
    if isinstance(exc, requests.Timeout):
        return f"Twilio did not answer in time while {step}. Try again in a moment."
    if isinstance(exc, (requests.ConnectionError, ConnectionError, OSError)):
        return (f"Could not reach Twilio's API while {step} ({type(exc).__name__}). Check the "
                "network connection of this server.")
    if isinstance(exc, TwilioException):
        return f"The Twilio client failed while {step}: {_clean(str(exc))}"
    return (f"Unexpected {type(exc).__name__} while {step}; the details are in the server log.")


def _from_response(what: str, response) -> tuple[int, str, Any]:
    """Status, message and Twilio error code of an error answer (Twilio's JSON or RFC 9457)."""
    import json
    status, message, code = response.status_code, what, None
    try:
        body = json.loads(response.text)
    except (TypeError, ValueError):
        return status, message, code
    if isinstance(body, dict):
        detail = body.get("message") or ": ".join(
            str(body[k]) for k in ("title", "detail") if body.get(k))
        if detail:
            message = f"{what}: {detail}"
        code = body.get("code")
    return status, message, code


def _is_not_found(exc: BaseException) -> bool:
    from twilio.base.exceptions import TwilioException
    if not isinstance(exc, TwilioException):
        return False
    status = getattr(exc, "status", None)
    if status is None and len(exc.args) == 2:
        status = getattr(exc.args[1], "status_code", None)
    return status == 404


# --- the sync -----------------------------------------------------------------------------------

@dataclass
class _DomainSpec:
    attr: str  # InboundSettings column holding its SID
    label: str
    domain_name: str
    friendly_name: str


def _norm(value: Any) -> str:
    return "" if value is None else str(value)


def _same(key: str, have: Any, want: str) -> bool:
    """Twilio's value equals ours (domain names and HTTP methods ignore case)."""
    if key == "domain_name" or key.endswith("_method"):
        return _norm(have).lower() == want.lower()
    return _norm(have) == want


class _Sync:
    def __init__(self, client):
        self.client = client
        self.sip = client.api.v2010.account.sip
        self.settings = inbound_settings.get_settings()
        self.changes: list[Change] = []

    # every request goes through here, so a failure names the step it was taken for
    def call(self, step: str, fn: Callable[[], Any], *, missing_ok: bool = False):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001  turned into a message the page and CLI show
            if missing_ok and _is_not_found(exc):
                return None
            log.warning("inbound SIP sync failed while %s", step, exc_info=True)
            raise SyncError(describe_error(exc, step)) from exc

    def note(self, action: str, what: str) -> None:
        self.changes.append(Change(action, what))
        log.info("inbound SIP sync: %s %s", action, what)

    # -- enabled -----------------------------------------------------------------------------

    def run(self) -> SyncResult:
        s = self.settings
        if not s.enabled:
            self.tear_down()
            return SyncResult(self.changes, enabled=False)
        name = inbound.normalise_name(s.name)
        problem = inbound.name_problem(name)
        if problem:
            raise SyncError(f"Fix the domain base name first: {problem}")
        voice = webhook_url("webhook.voice")
        self.voice = {
            "voice_url": voice,
            "voice_method": "POST",
            "voice_fallback_url": current_app.config.get("INBOUND_SIP_FALLBACK_URL") or voice,
            "voice_fallback_method": "POST",
            "voice_status_callback_url": webhook_url("webhook.status"),
            "voice_status_callback_method": "POST",
        }
        short = name[:40]
        cred_domain = _DomainSpec("domain_sid", "credentials", inbound.credential_domain(name),
                                  f"sipflask {short} (credentials)")
        ip_domain = _DomainSpec("ip_domain_sid", "IP whitelist", inbound.ip_domain(name),
                                f"sipflask {short} (IP whitelist)")

        remote_domains = self.call("listing the SIP domains",
                                   lambda: self.sip.domains.list(page_size=PAGE_SIZE))
        cred_domain_new = self.ensure_domain(cred_domain, remote_domains)
        ip_domain_new = self.ensure_domain(ip_domain, remote_domains)

        cl_new = self.ensure_list(
            "credential_list_sid", "credential list", f"sipflask {short} credentials",
            self.sip.credential_lists)
        self.sync_credentials(cl_new)
        al_new = self.ensure_list(
            "ip_acl_sid", "IP access control list", f"sipflask {short} IP whitelist",
            self.sip.ip_access_control_lists)
        self.sync_ips(al_new)

        cred_auth = self.sip.domains(s.domain_sid).auth.calls
        ip_auth = self.sip.domains(s.ip_domain_sid).auth.calls
        self.sync_mappings(cred_domain.domain_name, cred_auth.credential_list_mappings,
                           "credential list", s.credential_list_sid, cred_domain_new,
                           lambda m: m.create(credential_list_sid=s.credential_list_sid))
        self.sync_mappings(cred_domain.domain_name, cred_auth.ip_access_control_list_mappings,
                           "IP access control list", None, cred_domain_new, None)
        self.sync_mappings(ip_domain.domain_name, ip_auth.ip_access_control_list_mappings,
                           "IP access control list", s.ip_acl_sid, ip_domain_new,
                           lambda m: m.create(ip_access_control_list_sid=s.ip_acl_sid))
        self.sync_mappings(ip_domain.domain_name, ip_auth.credential_list_mappings,
                           "credential list", None, ip_domain_new, None)
        return SyncResult(self.changes, enabled=True)

    def ensure_domain(self, spec: _DomainSpec, remote: list) -> bool:
        """Create or update one SIP domain; returns True when it was just created."""
        s = self.settings
        stored = getattr(s, spec.attr)
        found = next((d for d in remote if stored and d.sid == stored), None)
        if found is None:
            found = next((d for d in remote
                          if _norm(d.domain_name).lower() == spec.domain_name), None)
        wanted = {"domain_name": spec.domain_name, "friendly_name": spec.friendly_name,
                  **self.voice}
        if found is None:
            created = self.call(
                f"creating the SIP domain {spec.domain_name}",
                lambda: self.sip.domains.create(**wanted))
            setattr(s, spec.attr, created.sid)
            self.note("created", f"SIP domain {spec.domain_name} ({spec.label})")
            return True
        setattr(s, spec.attr, found.sid)
        differs = [k for k, v in wanted.items() if not _same(k, getattr(found, k, None), v)]
        if differs:
            self.call(f"updating the SIP domain {spec.domain_name}",
                      lambda: self.sip.domains(found.sid).update(**wanted))
            self.note("updated", f"SIP domain {spec.domain_name} ({', '.join(differs)})")
        return False

    def ensure_list(self, attr: str, label: str, friendly: str, lists) -> bool:
        """Create or rename the credential list / IP ACL; returns True when just created."""
        s = self.settings
        stored = getattr(s, attr)
        remote = self.call(f"listing the {label}s", lambda: lists.list(page_size=PAGE_SIZE))
        found = next((r for r in remote if stored and r.sid == stored), None)
        if found is None:
            found = next((r for r in remote if _norm(r.friendly_name) == friendly), None)
        if found is None:
            created = self.call(f"creating the {label} {friendly!r}",
                                lambda: lists.create(friendly_name=friendly))
            setattr(s, attr, created.sid)
            self.note("created", f"{label} {friendly!r}")
            return True
        setattr(s, attr, found.sid)
        if _norm(found.friendly_name) != friendly:
            self.call(f"renaming the {label} to {friendly!r}",
                      lambda: lists(found.sid).update(friendly_name=friendly))
            self.note("updated", f"{label} {friendly!r} (friendly_name)")
        return False

    def sync_credentials(self, list_is_new: bool) -> None:
        creds_api = self.sip.credential_lists(self.settings.credential_list_sid).credentials
        local = sorted(db.session.scalars(select(InboundCredential)), key=lambda c: c.username)
        remote = [] if list_is_new else self.call(
            "listing the credentials", lambda: creds_api.list(page_size=PAGE_SIZE))
        claimed: set[str] = set()
        keep, set_password, create = [], [], []
        for cred in local:
            match = next((r for r in remote if cred.twilio_sid and r.sid == cred.twilio_sid
                          and r.username == cred.username and r.sid not in claimed), None)
            if match is not None:
                claimed.add(match.sid)
                keep.append(cred)
                continue
            # No SID (new, or its password changed) or a stale one: adopt by username.
            match = next((r for r in remote if r.username == cred.username
                          and r.sid not in claimed), None)
            if match is not None:
                claimed.add(match.sid)
                set_password.append((cred, match))
            else:
                create.append(cred)
        for r in remote:
            if r.sid not in claimed:
                self.call(f"deleting the credential {r.username!r}",
                          lambda: creds_api(r.sid).delete(), missing_ok=True)
                self.note("deleted", f"credential {r.username!r}")
        for cred, r in set_password:
            password = self._password(cred)
            self.call(f"setting the password of the credential {cred.username!r}",
                      lambda: creds_api(r.sid).update(password=password))
            cred.twilio_sid = r.sid
            self.note("updated", f"credential {cred.username!r} (password)")
        for cred in create:
            password = self._password(cred)
            made = self.call(f"creating the credential {cred.username!r}",
                             lambda: creds_api.create(username=cred.username, password=password))
            cred.twilio_sid = made.sid
            self.note("created", f"credential {cred.username!r}")

    @staticmethod
    def _password(cred: InboundCredential) -> str:
        from sipflask.crypto import SecretError
        try:
            return cred.password
        except SecretError:
            raise SyncError(f"The stored password of {cred.username!r} can't be decrypted "
                            "(was SECRET_KEY changed?); set a new password for it.") from None

    def sync_ips(self, list_is_new: bool) -> None:
        ips_api = self.sip.ip_access_control_lists(self.settings.ip_acl_sid).ip_addresses
        local = []
        for row in inbound_settings.stored_ips():
            try:
                local.append((row, ip_whitelist.parse_ip(row.cidr)))
            except ValueError as exc:
                raise SyncError(f"The stored whitelist entry {row.cidr!r} is not valid: {exc}")
        remote = [] if list_is_new else self.call(
            "listing the whitelisted IP addresses", lambda: ips_api.list(page_size=PAGE_SIZE))

        def entry_of(r):
            prefix = r.cidr_prefix_length
            # Twilio reports 0 (or nothing) for "the whole address".
            return (_norm(r.ip_address), 32 if not prefix else int(prefix))

        claimed: set[str] = set()
        plan_update, create = [], []
        for row, entry in local:
            by_sid = next((r for r in remote if row.twilio_sid and r.sid == row.twilio_sid
                           and r.sid not in claimed), None)
            if by_sid is not None and entry_of(by_sid) == (entry.address, entry.prefix):
                claimed.add(by_sid.sid)
                continue
            by_value = next((r for r in remote if r.sid not in claimed
                             and entry_of(r) == (entry.address, entry.prefix)), None)
            if by_value is not None:
                claimed.add(by_value.sid)
                row.twilio_sid = by_value.sid
                continue
            if by_sid is not None:  # changed at Twilio (console?): put it back
                claimed.add(by_sid.sid)
                plan_update.append((row, entry, by_sid))
            else:
                create.append((row, entry))
        for r in remote:
            if r.sid not in claimed:
                shown = "{}/{}".format(*entry_of(r)).removesuffix("/32")
                self.call(f"deleting the whitelisted address {shown}",
                          lambda: ips_api(r.sid).delete(), missing_ok=True)
                self.note("deleted", f"whitelisted IP {shown}")
        for row, entry, r in plan_update:
            self.call(f"updating the whitelisted address {entry.text}",
                      lambda: ips_api(r.sid).update(ip_address=entry.address,
                                                    cidr_prefix_length=entry.prefix,
                                                    friendly_name=f"sipflask {entry.text}"))
            row.twilio_sid = r.sid
            self.note("updated", f"whitelisted IP {entry.text}")
        for row, entry in create:
            made = self.call(f"adding the whitelisted address {entry.text}",
                             lambda: ips_api.create(friendly_name=f"sipflask {entry.text}",
                                                    ip_address=entry.address,
                                                    cidr_prefix_length=entry.prefix))
            row.twilio_sid = made.sid
            self.note("created", f"whitelisted IP {entry.text}")

    def sync_mappings(self, domain: str, mappings, label: str, wanted_sid: str | None,
                      domain_is_new: bool, create: Callable | None) -> None:
        """Make the domain's call-auth mappings of one kind be exactly ``wanted_sid`` (or none)."""
        remote = [] if domain_is_new else self.call(
            f"listing the {label} mappings of {domain}",
            lambda: mappings.list(page_size=PAGE_SIZE))
        present = False
        for m in remote:
            if wanted_sid and m.sid == wanted_sid:
                present = True
                continue
            self.call(f"removing a {label} from {domain}",
                      lambda: mappings(m.sid).delete(), missing_ok=True)
            self.note("deleted", f"{label} mapping {m.sid} of {domain}")
        if wanted_sid and not present:
            self.call(f"mapping the {label} to {domain}", lambda: create(mappings))
            self.note("created", f"{label} mapping of {domain} (call authentication)")

    # -- disabled ----------------------------------------------------------------------------

    def tear_down(self) -> None:
        """Inbound SIP is off: delete the domains and lists sipflask made (by stored SID)."""
        s = self.settings
        for attr, label in (("domain_sid", "credentials"), ("ip_domain_sid", "IP whitelist")):
            sid = getattr(s, attr)
            if sid:
                gone = self.call(f"deleting the SIP domain {sid}",
                                 lambda: self.sip.domains(sid).delete(), missing_ok=True)
                if gone is not None:
                    self.note("deleted", f"SIP domain {sid} ({label})")
                setattr(s, attr, None)
        for attr, label, lists in (
                ("credential_list_sid", "credential list", self.sip.credential_lists),
                ("ip_acl_sid", "IP access control list", self.sip.ip_access_control_lists)):
            sid = getattr(s, attr)
            if sid:
                gone = self.call(f"deleting the {label} {sid}",
                                 lambda: lists(sid).delete(), missing_ok=True)
                if gone is not None:
                    self.note("deleted", f"{label} {sid}")
                setattr(s, attr, None)
        for row in db.session.scalars(select(InboundCredential)):
            row.twilio_sid = None
        for row in db.session.scalars(select(InboundIp)):
            row.twilio_sid = None


def sync(client=None) -> SyncResult:
    """Make Twilio match the stored settings and commit the SIDs; on any failure roll back and
    raise :class:`SyncError` (local settings stay as they were)."""
    try:
        client = client or make_client()
        result = _Sync(client).run()
        inbound_settings.get_settings().synced_at = utcnow()
        db.session.commit()
    except SyncError:
        db.session.rollback()
        raise
    except Exception as exc:  # a database error while storing the SIDs, say
        db.session.rollback()
        log.exception("inbound SIP sync failed")
        raise SyncError(describe_error(exc, "storing the result of the sync")) from exc
    return result
