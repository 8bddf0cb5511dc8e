"""The Twilio account in tests: apps without an account in the configuration, saving one on the
settings page, a recording fake of Twilio's Accounts resource behind the real ``twilio``
client, and reading the settings page's Twilio fields."""
from __future__ import annotations

import html
import json
import logging
import re
from urllib.parse import urlsplit

from sqlalchemy import select
from twilio.http import HttpClient
from twilio.http.response import Response

from sipflask.extensions import db
from sipflask.models import AccountSettings

# The account saved on the settings page in these tests (not the configuration's).
SID = "AC" + "1234abcd" * 4
TOKEN = "f" * 8 + "0123456789abcdef" + "e" * 8  # 32 hex digits, as Twilio's are
OTHER_TOKEN = "a" * 32
KEY_SID = "SK" + "5678ef90" * 4
SECRET = "Zx9" + "q" * 26 + "W7k"  # 32 letters and digits, as Twilio's API secrets are
# No account in the configuration: the settings page's account is the one in use.
NO_ENV = {"TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""}


def save_account(client, **fields):
    """Post the Twilio form as a browser would (every field present)."""
    data = {"account_sid": "", "auth_token": "", "token_action": "keep", "api_key_sid": "",
            "api_secret": "", "secret_action": "keep", **fields}
    return client.post("/settings/twilio", data=data)


def stored_row(app) -> dict:
    with app.app_context():
        row = db.session.scalar(select(AccountSettings))
        if row is None:
            return {}
        return {"account_sid": row.twilio_account_sid, "auth_token": row.twilio_auth_token,
                "api_key_sid": row.twilio_api_key_sid, "api_secret": row.twilio_api_secret,
                "token_encrypted": row.twilio_auth_token_encrypted,
                "secret_encrypted": row.twilio_api_secret_encrypted}


def twilio_field(body: str, name: str) -> str:
    """One field's block in the Twilio form: label, input, hint, keep/clear, errors."""
    match = re.search(rf'<div class="field[^"]*" id="field-{name}">(.*?)'
                      r'(?=<div class="field[^"]*" id="field-|<button type="submit")', body, re.S)
    assert match, f"no field {name}"
    return match.group(1)


def in_use_text(body: str) -> str:
    match = re.search(r'<div id="twilio-in-use"[^>]*>(.*?)</div>', body, re.S)
    assert match, "no 'in use' block"
    return html.unescape(" ".join(re.sub(r"<[^>]+>", "", match.group(1)).split()))


def check_text(body: str) -> str:
    match = re.search(r'<div id="twilio-check-result"[^>]*>(.*?)</div>', body, re.S)
    assert match, "no check result"
    return html.unescape(" ".join(re.sub(r"<[^>]+>", "", match.group(1)).split()))


def account_body(sid: str = SID, *, status: str = "active", name: str = "Acme Calls",
                 kind: str = "Full") -> dict:
    """Twilio's account resource; it carries the account's auth token, which must go nowhere."""
    return {"sid": sid, "owner_account_sid": sid, "friendly_name": name, "status": status,
            "type": kind, "auth_token": TOKEN, "date_created": "Thu, 30 Jul 2015 20:00:00 +0000",
            "date_updated": "Thu, 30 Jul 2015 20:00:00 +0000",
            "uri": f"/2010-04-01/Accounts/{sid}.json", "subresource_uris": {}}


class AccountsFake(HttpClient):
    """Answers every request with one status and body (or raises ``exc``), recording
    (method, path, auth) of each."""

    def __init__(self, status: int = 200, body: dict | None = None,
                 exc: BaseException | None = None):
        super().__init__(logger=logging.getLogger("fake-twilio-accounts"), is_async=False)
        self.status, self.body, self.exc = status, body or account_body(), exc
        self.seen: list[tuple[str, str, tuple | None]] = []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        self.seen.append((method, urlsplit(uri).path, auth))
        if self.exc is not None:
            raise self.exc
        return Response(self.status, json.dumps(self.body))


def twilio_error(status: int, code: int, message: str) -> dict:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}
