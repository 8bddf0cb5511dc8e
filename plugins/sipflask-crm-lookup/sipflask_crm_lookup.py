"""sipflask plugin: look the caller up in a CSV of leads.

The CSV (columns ``phone,name,score,segment``; phone in E.164) is read once at
start-up from the path in the app's ``CRM_CSV`` setting (``SIPFLASK_CRM_CSV`` in the
environment). For a known caller the call gets the tokens (and
tags) ``crm_name``, ``crm_score`` and ``crm_segment``, and SIP attempts carry
``X-CRM-Name``, ``X-CRM-Score`` and ``X-CRM-Segment``.

Hooks run in worker threads without an app context, so the leads live in a
module-level dict that ``startup`` replaces in one assignment.
"""
import csv
import logging
import os

from sipflask.hookspecs import hookimpl

__version__ = "0.1.0"

log = logging.getLogger(__name__)

FIELDS = ("name", "score", "segment")
HEADERS = {"crm_name": "X-CRM-Name", "crm_score": "X-CRM-Score", "crm_segment": "X-CRM-Segment"}

#: caller E.164 -> {"name": ..., "score": ..., "segment": ...}
LEADS: dict[str, dict[str, str]] = {}


def load_leads(path):
    """Read the CSV at ``path`` into a dict keyed by phone number."""
    with open(path, newline="", encoding="utf-8") as fh:
        return {
            row["phone"].strip(): {f: " ".join((row.get(f) or "").split()) for f in FIELDS}
            for row in csv.DictReader(fh)
            if (row.get("phone") or "").strip()
        }


@hookimpl
def startup(app):
    global LEADS
    path = app.config.get("CRM_CSV") or os.environ.get("SIPFLASK_CRM_CSV")
    LEADS = load_leads(path) if path else {}
    log.info("crm_lookup: %d leads from %s", len(LEADS), path or "(no CRM_CSV set)")


@hookimpl
def token_values(call):
    lead = LEADS.get(call.caller)
    if lead is None:
        return None
    return {f"crm_{f}": lead[f] for f in FIELDS if lead[f]}


@hookimpl
def sip_headers(values):
    return [(header, values[token]) for token, header in HEADERS.items() if values.get(token)]
