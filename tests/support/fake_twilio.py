"""An in-memory fake of Twilio's REST API for the SIP resources, behind the real ``twilio``
client (``app.config["TWILIO_HTTP_CLIENT"]``): what one request creates, the next one lists.
It records every request and can be told to fail some."""
from __future__ import annotations

import itertools
import json
import logging
import re
from urllib.parse import urlsplit

from twilio.http import HttpClient
from twilio.http.response import Response

from tests.support.app import TWILIO_ACCOUNT_SID as ACCOUNT
from tests.support.app import TWILIO_AUTH_TOKEN as TOKEN

# Collection name -> (SID prefix, key of the list in Twilio's JSON page).
COLLECTIONS = {
    "Domains": ("SD", "domains"),
    "CredentialLists": ("CL", "credential_lists"),
    "Credentials": ("CR", "credentials"),
    "IpAccessControlLists": ("AL", "ip_access_control_lists"),
    "IpAddresses": ("IP", "ip_addresses"),
    "CredentialListMappings": (None, "contents"),
    "IpAccessControlListMappings": (None, "contents"),
}
# Where a mapping's SID comes from: Twilio uses the mapped list's SID.
MAPPING_SID_FIELD = {"CredentialListMappings": "CredentialListSid",
                     "IpAccessControlListMappings": "IpAccessControlListSid"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def short(sid: str) -> str:
    """SD000...0001 -> SD1 in recorded paths, for readable expected sequences."""
    return re.sub(r"\b(SD|CL|CR|AL|IP)0*([0-9a-f]+)\b", r"\1\2", sid)


class FakeTwilio(HttpClient):
    """Enough of Twilio's REST API for the SIP resources, keeping state between requests."""

    def __init__(self):
        super().__init__(logger=logging.getLogger("fake-twilio"), is_async=False)
        self.store: dict[str, dict[str, dict]] = {}  # collection path -> sid -> record
        self.passwords: dict[str, str] = {}  # credential sid -> password (Twilio never returns it)
        self.log: list[tuple[str, str]] = []
        self.data: list[dict] = []
        self.failures: list[dict] = []
        self.counters = {p: itertools.count(1) for p, _ in COLLECTIONS.values() if p}

    # -- test controls -------------------------------------------------------------------------
    def fail(self, method, path_re, status=400, code=21232, message="Bad request",
             times=1, exc=None):
        self.failures.append(dict(method=method, path_re=re.compile(path_re), status=status,
                                  code=code, message=message, times=times, exc=exc))

    def reset_log(self):
        self.log.clear()
        self.data.clear()

    def records(self, collection_suffix: str) -> list[dict]:
        return [r for path, recs in self.store.items() if path.endswith(collection_suffix)
                for r in recs.values()]

    # -- HttpClient ----------------------------------------------------------------------------
    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        assert auth == (ACCOUNT, TOKEN), "the client must authenticate with the account"
        path = urlsplit(uri).path
        prefix = f"/2010-04-01/Accounts/{ACCOUNT}/"
        assert path.startswith(prefix), path
        rel = path[len(prefix):]
        self.log.append((method, short(rel)))
        self.data.append(dict(data or {}))
        for f in self.failures:
            if f["times"] and f["method"] == method and f["path_re"].search(short(rel)):
                f["times"] -= 1
                if f["exc"] is not None:
                    raise f["exc"]
                body = {"code": f["code"], "message": f["message"], "status": f["status"],
                        "more_info": f"https://www.twilio.com/docs/errors/{f['code']}"}
                return Response(f["status"], json.dumps(body))
        return self.route(method, rel.removesuffix(".json"), dict(data or {}))

    def route(self, method, rel, data):
        parts = rel.split("/")
        if parts[-1] in COLLECTIONS:  # a collection: list or create
            collection = self.store.setdefault(rel, {})
            sid_prefix, key = COLLECTIONS[parts[-1]]
            if method == "GET":
                return self.ok({key: list(collection.values()), "next_page_uri": None,
                                "page": 0, "page_size": 1000, "start": 0,
                                "end": len(collection), "uri": "/" + rel + ".json",
                                "first_page_uri": "/" + rel + ".json",
                                "previous_page_uri": None})
            assert method == "POST"
            if sid_prefix is None:
                sid = data[MAPPING_SID_FIELD[parts[-1]]]
                if sid in collection:
                    return self.error(409, 21234, "Mapping already exists")
            else:
                sid = f"{sid_prefix}{next(self.counters[sid_prefix]):032x}"
            record = self.fields(data)
            if "password" in record:
                self.passwords[sid] = record.pop("password")
            if parts[-1] == "Domains" and any(
                    r.get("domain_name") == record.get("domain_name")
                    for r in collection.values()):
                return self.error(400, 21232, "Domain name already in use")
            record.update(sid=sid, account_sid=ACCOUNT)
            collection[sid] = record
            return self.ok(record, 201)
        collection_path, sid = "/".join(parts[:-1]), parts[-1]
        collection = self.store.get(collection_path, {})
        if sid not in collection:
            return self.error(404, 20404, f"The requested resource /{rel}.json was not found")
        if method == "DELETE":
            del collection[sid]
            for path in [p for p in self.store if p.startswith(rel + "/")]:
                del self.store[path]  # a domain's mappings, a list's entries go with it
            return Response(204, "")
        if method == "POST":
            record = self.fields(data)
            if "password" in record:
                self.passwords[sid] = record.pop("password")
            collection[sid].update(record)
        return self.ok(collection[sid])

    @staticmethod
    def fields(data):
        record = {snake(k): v for k, v in data.items()}
        if "cidr_prefix_length" in record:
            record["cidr_prefix_length"] = int(record["cidr_prefix_length"])
        return record

    @staticmethod
    def ok(payload, status=200):
        return Response(status, json.dumps(payload))

    @staticmethod
    def error(status, code, message):
        return Response(status, json.dumps({"code": code, "message": message, "status": status}))
