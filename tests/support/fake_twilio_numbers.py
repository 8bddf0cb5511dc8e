"""An in-memory fake of Twilio's phone-number resources (IncomingPhoneNumbers and
AvailablePhoneNumbers) behind the real ``twilio`` client (``app.config["TWILIO_HTTP_CLIENT"]``).

It keeps the account's numbers between requests (a purchase takes the number off the numbers
for sale; a release puts it back), pages the account's list ``max_page`` at a time through
``next_page_uri`` as Twilio does, records every request as ``(METHOD, path?query)`` with the
account prefix cut, and can be told to fail some requests (an HTTP error with Twilio's JSON
body, or an exception such as a connection error). It answers the account itself too
(``GET /2010-04-01/Accounts/<sid>.json``, the settings page's Check), as ``account_name``.
"""
from __future__ import annotations

import itertools
import json
import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from twilio.http import HttpClient
from twilio.http.response import Response

from tests.support.app import TWILIO_ACCOUNT_SID as ACCOUNT
from tests.support.app import TWILIO_AUTH_TOKEN as TOKEN

PREFIX = f"/2010-04-01/Accounts/{ACCOUNT}/"
CONFIG_FIELDS = {"VoiceUrl": "voice_url", "VoiceMethod": "voice_method",
                 "StatusCallback": "status_callback",
                 "StatusCallbackMethod": "status_callback_method",
                 "VoiceFallbackUrl": "voice_fallback_url",
                 "VoiceFallbackMethod": "voice_fallback_method",
                 "VoiceApplicationSid": "voice_application_sid", "TrunkSid": "trunk_sid",
                 "VoiceReceiveMode": "voice_receive_mode", "FriendlyName": "friendly_name"}
TYPES = {"Local": "local", "TollFree": "toll-free", "Mobile": "mobile"}


def short(path: str) -> str:
    """PN000...0001 -> PN1 in recorded paths, for readable expected sequences."""
    return re.sub(r"\bPN0*([0-9a-f]+)\b", r"PN\1", path)


def number_record(sid: str, e164: str, **fields) -> dict:
    record = {"sid": sid, "account_sid": ACCOUNT, "phone_number": e164,
              "friendly_name": e164, "capabilities": {"voice": True, "sms": True,
                                                      "mms": False, "fax": False},
              "voice_url": None, "voice_method": "POST", "status_callback": "",
              "status_callback_method": "POST", "voice_fallback_url": None,
              "voice_fallback_method": "POST", "voice_application_sid": "",
              "trunk_sid": None, "voice_receive_mode": "voice", "status": "in-use"}
    record.update(fields)
    return record


class FakeNumbers(HttpClient):
    def __init__(self, max_page: int = 1000):
        super().__init__(logger=logging.getLogger("fake-twilio-numbers"), is_async=False)
        self.numbers: dict[str, dict] = {}  # sid -> IncomingPhoneNumber, in creation order
        self.for_sale: dict[tuple[str, str], list[dict]] = {}  # (country, type) -> numbers
        self.max_page = max_page
        self.log: list[tuple[str, str]] = []
        self.data: list[dict] = []
        self.failures: list[dict] = []
        self.sids = itertools.count(1)
        self.account_name = "Acme Calls"

    # -- test controls -------------------------------------------------------------------------
    def own(self, e164: str, **fields) -> str:
        """Put ``e164`` in the account; returns its SID."""
        sid = f"PN{next(self.sids):032x}"
        self.numbers[sid] = number_record(sid, e164, **fields)
        return sid

    def sell(self, country: str, kind: str, *numbers: str, **fields) -> None:
        for e164 in numbers:
            self.for_sale.setdefault((country, kind), []).append(
                {"phone_number": e164, "friendly_name": e164, "locality": "San Francisco",
                 "region": "CA", "iso_country": country, "address_requirements": "none",
                 "capabilities": {"voice": True, "SMS": True, "MMS": True}, **fields})

    def fail(self, method, path_re, status=400, code=21422, message="Bad request",
             times=1, exc=None):
        self.failures.append(dict(method=method, path_re=re.compile(path_re), status=status,
                                  code=code, message=message, times=times, exc=exc))

    def by_number(self, e164: str) -> dict | None:
        return next((r for r in self.numbers.values() if r["phone_number"] == e164), None)

    def reset_log(self):
        self.log.clear()
        self.data.clear()

    # -- HttpClient ----------------------------------------------------------------------------
    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        assert auth == (ACCOUNT, TOKEN), "the client must authenticate with the account"
        parts = urlsplit(uri)
        if parts.path == PREFIX.rstrip("/") + ".json" and method == "GET":
            self.log.append((method, "Account"))
            return self.ok({"sid": ACCOUNT, "owner_account_sid": ACCOUNT,
                            "friendly_name": self.account_name, "status": "active",
                            "type": "Full", "uri": PREFIX.rstrip("/") + ".json"})
        assert parts.path.startswith(PREFIX), parts.path
        query = dict(parse_qsl(parts.query)) | {k: str(v) for k, v in (params or {}).items()}
        rel = short(parts.path[len(PREFIX):])
        self.log.append((method, rel + (("?" + urlencode(sorted(query.items())))
                                        if query else "")))
        self.data.append(dict(data or {}))
        for f in self.failures:
            if f["times"] and f["method"] == method and f["path_re"].search(rel):
                f["times"] -= 1
                if f["exc"] is not None:
                    raise f["exc"]
                return self.error(f["status"], f["code"], f["message"])
        return self.route(method, parts.path[len(PREFIX):].removesuffix(".json"), query,
                          dict(data or {}))

    def route(self, method, rel, query, data):
        if rel == "IncomingPhoneNumbers":
            return self.page(query) if method == "GET" else self.create(data)
        if rel.startswith("IncomingPhoneNumbers/"):
            return self.instance(method, rel.split("/", 1)[1], data)
        found = re.fullmatch(r"AvailablePhoneNumbers/([A-Z]{2})/(Local|TollFree|Mobile)", rel)
        if found and method == "GET":
            country, kind = found.group(1), TYPES[found.group(2)]
            items = [n for n in self.for_sale.get((country, kind), [])
                     if query.get("Contains", "") in n["phone_number"]]
            return self.ok({"available_phone_numbers": items[:int(query.get("PageSize", 50))],
                            "uri": "/" + rel + ".json"})
        return self.error(404, 20404, f"The requested resource /{rel}.json was not found")

    def page(self, query):
        items = list(self.numbers.values())
        if "PhoneNumber" in query:
            items = [r for r in items if r["phone_number"] == query["PhoneNumber"]]
        size = min(int(query.get("PageSize", 50)), self.max_page)
        page = int(query.get("Page", 0))
        chunk = items[page * size:(page + 1) * size]
        more = (page + 1) * size < len(items)
        nxt = (f"{PREFIX}IncomingPhoneNumbers.json?PageSize={size}&Page={page + 1}"
               f"&PageToken=PA{page + 1}") if more else None
        return self.ok({"incoming_phone_numbers": chunk, "next_page_uri": nxt, "page": page,
                        "page_size": size, "start": page * size, "end": page * size + len(chunk),
                        "uri": f"{PREFIX}IncomingPhoneNumbers.json",
                        "first_page_uri": f"{PREFIX}IncomingPhoneNumbers.json",
                        "previous_page_uri": None})

    def create(self, data):
        e164 = data.get("PhoneNumber", "")
        for kind_numbers in self.for_sale.values():
            match = next((n for n in kind_numbers if n["phone_number"] == e164), None)
            if match is not None:
                kind_numbers.remove(match)
                break
        else:
            return self.error(400, 21422, f"Phone number {e164} is not available.")
        sid = self.own(e164, **{CONFIG_FIELDS[k]: v for k, v in data.items()
                                if k in CONFIG_FIELDS})
        return self.ok(self.numbers[sid], 201)

    def instance(self, method, sid, data):
        record = self.numbers.get(sid)
        if record is None:
            return self.error(404, 20404, f"The requested resource {sid} was not found")
        if method == "DELETE":
            del self.numbers[sid]
            return Response(204, "")
        if method == "POST":
            for key, value in data.items():
                if key in CONFIG_FIELDS:
                    record[CONFIG_FIELDS[key]] = value or None
        return self.ok(record)

    @staticmethod
    def ok(payload, status=200):
        return Response(status, json.dumps(payload))

    @staticmethod
    def error(status, code, message):
        return Response(status, json.dumps({"code": code, "message": message, "status": status,
                                            "more_info": f"https://www.twilio.com/docs/errors/"
                                                         f"{code}"}))
