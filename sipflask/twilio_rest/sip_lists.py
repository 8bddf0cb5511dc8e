"""What goes in the inbound SIP lists at Twilio: one credential per stored username in the
credential list, one address per whitelist entry in the IP access control list.

Each list is matched the same way: local rows first claim the Twilio entry whose SID they
stored, then one with the same value (adopted: a sync interrupted half-way, or a password
changed locally, which clears the stored SID); what is left at Twilio is deleted, what is left
locally is created. The SIDs found are stored on the rows; the caller commits.
"""
from __future__ import annotations

from sqlalchemy import select

from sipflask.core import ip_whitelist
from sipflask.extensions import db
from sipflask.models import InboundCredential
from sipflask.records import inbound as inbound_settings
from sipflask.twilio_rest.client import PAGE_SIZE, Steps, as_text

# --- credentials ----------------------------------------------------------------------------------

def _match_credentials(local: list, remote: list):
    """(rows whose password must be set on the Twilio entry they adopt, rows to create, Twilio
    entries no row claimed)."""
    claimed: set[str] = set()
    set_password, create = [], []
    for cred in local:
        match = next((r for r in remote if cred.twilio_sid and r.sid == cred.twilio_sid
                      and r.username == cred.username and r.sid not in claimed), None)
        if match is not None:
            claimed.add(match.sid)
            continue
        # No SID (new, or its password changed) or a stale one: adopt by username.
        match = next((r for r in remote if r.username == cred.username
                      and r.sid not in claimed), None)
        if match is not None:
            claimed.add(match.sid)
            set_password.append((cred, match))
        else:
            create.append(cred)
    return set_password, create, [r for r in remote if r.sid not in claimed]


def _password(cred: InboundCredential, error: type[Exception]) -> str:
    from sipflask.crypto import SecretError
    try:
        return cred.password
    except SecretError:
        raise error(f"The stored password of {cred.username!r} can't be decrypted "
                    "(was SECRET_KEY changed?); set a new password for it.") from None


def sync_credentials(steps: Steps, creds_api, list_is_new: bool) -> None:
    """Make the credential list behind ``creds_api`` hold exactly the stored credentials."""
    local = sorted(db.session.scalars(select(InboundCredential)), key=lambda c: c.username)
    remote = [] if list_is_new else steps.call(
        "listing the credentials", lambda: creds_api.list(page_size=PAGE_SIZE))
    set_password, create, unclaimed = _match_credentials(local, remote)
    for r in unclaimed:
        steps.call(f"deleting the credential {r.username!r}",
                   lambda: creds_api(r.sid).delete(), missing_ok=True)
        steps.note("deleted", f"credential {r.username!r}")
    for cred, r in set_password:
        password = _password(cred, steps.error)
        steps.call(f"setting the password of the credential {cred.username!r}",
                   lambda: creds_api(r.sid).update(password=password))
        cred.twilio_sid = r.sid
        steps.note("updated", f"credential {cred.username!r} (password)")
    for cred in create:
        password = _password(cred, steps.error)
        made = steps.call(f"creating the credential {cred.username!r}",
                          lambda: creds_api.create(username=cred.username, password=password))
        cred.twilio_sid = made.sid
        steps.note("created", f"credential {cred.username!r}")


# --- IP addresses ---------------------------------------------------------------------------------

def _entry_of(r) -> tuple[str, int]:
    prefix = r.cidr_prefix_length
    # Twilio reports 0 (or nothing) for "the whole address".
    return (as_text(r.ip_address), 32 if not prefix else int(prefix))


def _match_ips(local: list, remote: list):
    """(rows whose Twilio entry was changed there and is put back, rows to create, Twilio
    entries no row claimed); rows adopting an equal entry get its SID here."""
    claimed: set[str] = set()
    put_back, create = [], []
    for row, entry in local:
        wanted = (entry.address, entry.prefix)
        by_sid = next((r for r in remote if row.twilio_sid and r.sid == row.twilio_sid
                       and r.sid not in claimed), None)
        if by_sid is not None and _entry_of(by_sid) == wanted:
            claimed.add(by_sid.sid)
            continue
        by_value = next((r for r in remote if r.sid not in claimed
                         and _entry_of(r) == wanted), None)
        if by_value is not None:
            claimed.add(by_value.sid)
            row.twilio_sid = by_value.sid
            continue
        if by_sid is not None:  # changed at Twilio (console?): put it back
            claimed.add(by_sid.sid)
            put_back.append((row, entry, by_sid))
        else:
            create.append((row, entry))
    return put_back, create, [r for r in remote if r.sid not in claimed]


def _stored_entries(error: type[Exception]) -> list:
    local = []
    for row in inbound_settings.stored_ips():
        try:
            local.append((row, ip_whitelist.parse_ip(row.cidr)))
        except ValueError as exc:
            raise error(f"The stored whitelist entry {row.cidr!r} is not valid: {exc}")
    return local


def sync_ips(steps: Steps, ips_api, list_is_new: bool) -> None:
    """Make the IP access control list behind ``ips_api`` hold exactly the stored whitelist."""
    local = _stored_entries(steps.error)
    remote = [] if list_is_new else steps.call(
        "listing the whitelisted IP addresses", lambda: ips_api.list(page_size=PAGE_SIZE))
    put_back, create, unclaimed = _match_ips(local, remote)
    for r in unclaimed:
        shown = "{}/{}".format(*_entry_of(r)).removesuffix("/32")
        steps.call(f"deleting the whitelisted address {shown}",
                   lambda: ips_api(r.sid).delete(), missing_ok=True)
        steps.note("deleted", f"whitelisted IP {shown}")
    for row, entry, r in put_back:
        steps.call(f"updating the whitelisted address {entry.text}",
                   lambda: ips_api(r.sid).update(ip_address=entry.address,
                                                 cidr_prefix_length=entry.prefix,
                                                 friendly_name=f"sipflask {entry.text}"))
        row.twilio_sid = r.sid
        steps.note("updated", f"whitelisted IP {entry.text}")
    for row, entry in create:
        made = steps.call(f"adding the whitelisted address {entry.text}",
                          lambda: ips_api.create(friendly_name=f"sipflask {entry.text}",
                                                 ip_address=entry.address,
                                                 cidr_prefix_length=entry.prefix))
        row.twilio_sid = made.sid
        steps.note("created", f"whitelisted IP {entry.text}")
