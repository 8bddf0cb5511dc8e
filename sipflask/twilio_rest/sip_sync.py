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

This module makes the domains and lists and maps them; :mod:`.sip_lists` fills the lists and
:mod:`.client` takes the requests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from sipflask.core import inbound
from sipflask.extensions import db
from sipflask.models import InboundCredential, InboundIp, utcnow
from sipflask.records import inbound as inbound_settings
from sipflask.twilio_rest.client import (PAGE_SIZE, Change, Steps, TwilioError, as_text,
                                         describe_error, make_client, webhook_url)
from sipflask.twilio_rest.sip_lists import sync_credentials, sync_ips

log = logging.getLogger("sipflask.provisioning")


class SyncError(TwilioError):
    """Sync failed; ``str(exc)`` is safe to show (no secrets, no traceback)."""


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


@dataclass
class _DomainSpec:
    attr: str  # InboundSettings column holding its SID
    label: str
    domain_name: str
    friendly_name: str


def _same(key: str, have: Any, want: str) -> bool:
    """Twilio's value equals ours (domain names and HTTP methods ignore case)."""
    if key == "domain_name" or key.endswith("_method"):
        return as_text(have).lower() == want.lower()
    return as_text(have) == want


def _voice_settings() -> dict[str, str]:
    """Where both domains send their calls: the voice and status webhooks."""
    voice = webhook_url("webhook.voice")
    return {
        "voice_url": voice,
        "voice_method": "POST",
        "voice_fallback_url": current_app.config.get("INBOUND_SIP_FALLBACK_URL") or voice,
        "voice_fallback_method": "POST",
        "voice_status_callback_url": webhook_url("webhook.status"),
        "voice_status_callback_method": "POST",
    }


class _Sync(Steps):
    def __init__(self, client):
        super().__init__("inbound SIP sync", log, SyncError)
        self.sip = client.api.v2010.account.sip
        self.settings = inbound_settings.get_settings()

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
        self.voice = _voice_settings()
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
        sync_credentials(self, self.sip.credential_lists(s.credential_list_sid).credentials,
                         cl_new)
        al_new = self.ensure_list(
            "ip_acl_sid", "IP access control list", f"sipflask {short} IP whitelist",
            self.sip.ip_access_control_lists)
        sync_ips(self, self.sip.ip_access_control_lists(s.ip_acl_sid).ip_addresses, al_new)

        self.map_lists(cred_domain, cred_domain_new, ip_domain, ip_domain_new)
        return SyncResult(self.changes, enabled=True)

    def map_lists(self, cred_domain: _DomainSpec, cred_domain_new: bool,
                  ip_domain: _DomainSpec, ip_domain_new: bool) -> None:
        """Each domain authenticates calls with its own list, and with no other."""
        s = self.settings
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

    def ensure_domain(self, spec: _DomainSpec, remote: list) -> bool:
        """Create or update one SIP domain; returns True when it was just created."""
        s = self.settings
        stored = getattr(s, spec.attr)
        found = next((d for d in remote if stored and d.sid == stored), None)
        if found is None:
            found = next((d for d in remote
                          if as_text(d.domain_name).lower() == spec.domain_name), None)
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
            found = next((r for r in remote if as_text(r.friendly_name) == friendly), None)
        if found is None:
            created = self.call(f"creating the {label} {friendly!r}",
                                lambda: lists.create(friendly_name=friendly))
            setattr(s, attr, created.sid)
            self.note("created", f"{label} {friendly!r}")
            return True
        setattr(s, attr, found.sid)
        if as_text(found.friendly_name) != friendly:
            self.call(f"renaming the {label} to {friendly!r}",
                      lambda: lists(found.sid).update(friendly_name=friendly))
            self.note("updated", f"{label} {friendly!r} (friendly_name)")
        return False

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


def _mark_synced(saved_at) -> None:
    """Stamp ``synced_at`` and keep ``updated_at`` (when the user last saved): the model's
    ``onupdate`` would otherwise move it past ``synced_at`` with the SIDs written here, and the
    page would keep saying the saved changes are not at Twilio yet."""
    settings = inbound_settings.get_settings()
    settings.synced_at = utcnow()
    settings.updated_at = saved_at or settings.synced_at  # a row made by this sync: now
    flag_modified(settings, "updated_at")  # in the UPDATE even when equal: onupdate stays out


def sync(client=None) -> SyncResult:
    """Make Twilio match the stored settings and commit the SIDs; on any failure roll back and
    raise :class:`SyncError` (local settings stay as they were)."""
    try:
        client = client or make_client()
        saved_at = inbound_settings.get_settings().updated_at
        result = _Sync(client).run()
        _mark_synced(saved_at)
        db.session.commit()
    except SyncError:
        db.session.rollback()
        raise
    except TwilioError as exc:  # no client or no public URL: nothing was asked of Twilio yet
        db.session.rollback()
        raise SyncError(str(exc)) from exc
    except Exception as exc:  # a database error while storing the SIDs, say
        db.session.rollback()
        log.exception("inbound SIP sync failed")
        raise SyncError(describe_error(exc, "storing the result of the sync")) from exc
    return result
