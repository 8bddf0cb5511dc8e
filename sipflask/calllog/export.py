"""The call log as CSV: one row per call, cells a spreadsheet shows as text; ``started_at`` in
ISO 8601 on the account's clock, with its offset (``2026-12-01T17:42:05-05:00``).

No dialled URIs, header values or call keys at all: nothing secret leaves in a row.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import timezone, tzinfo
from decimal import Decimal
from typing import Iterable, Iterator

from sipflask.account.clock import iso_local
from sipflask.core.sipcodes import ANSWERED_DIAL_STATUSES
from sipflask.models import Call

CSV_HEADER = ("started_at", "uuid", "status", "reason", "caller", "tracking_number", "campaign",
              "publisher", "afid", "sub_id", "buyers_dialled", "answered_by", "dial_statuses",
              "last_sip_code", "duration", "converted", "revenue", "tags")
_NUMBER_LIKE = re.compile(r"[+-]?[0-9][0-9.]*\Z")


def csv_safe(value) -> str:
    """A cell a spreadsheet shows as text: formula-looking values get a leading apostrophe.

    ``+14155552671`` stays as is (a number); ``=HYPERLINK(..)``, ``@SUM``, ``-2+3`` don't.
    """
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r" and not _NUMBER_LIKE.match(text):
        return "'" + text
    return text


def csv_row(call: Call, tz: tzinfo = timezone.utc) -> list[str]:
    attempts = list(call.attempts)
    answered = [a.buyer_name for a in attempts if a.dial_status in ANSWERED_DIAL_STATUSES]
    codes = [a.sip_code for a in attempts if a.sip_code is not None]
    revenue = "" if call.revenue is None else f"{Decimal(call.revenue):.2f}"
    row = [
        iso_local(call.created_at, tz), call.uuid, call.status,
        call.reason, call.caller, call.called, call.campaign.name if call.campaign else "",
        call.publisher.name if call.publisher else "", call.publisher.afid if call.publisher else "",
        call.sub_id or "", "; ".join(a.buyer_name for a in attempts), "; ".join(answered),
        "; ".join(a.dial_status or "ringing" for a in attempts),
        str(codes[-1]) if codes else "", "" if call.duration is None else str(call.duration),
        "yes" if call.converted else "no", revenue,
        "; ".join(f"{k}={v}" for k, v in sorted((call.tags or {}).items())),
    ]
    return [csv_safe(v) for v in row]


def csv_rows(calls: Iterable[Call], tz: tzinfo = timezone.utc) -> Iterator[list[str]]:
    """The header row, then one row per call, times on ``tz``'s clock. No keys, URIs or header
    values: nothing secret."""
    yield list(CSV_HEADER)
    for call in calls:
        yield csv_row(call, tz)


def csv_chunks(calls: Iterable[Call], rows_per_chunk: int = 200,
               tz: tzinfo = timezone.utc) -> Iterator[str]:
    """:func:`csv_rows` as CSV text, a chunk every ``rows_per_chunk`` rows (for streaming)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # quotes fields holding commas, quotes or newlines
    for n, row in enumerate(csv_rows(calls, tz)):
        writer.writerow(row)
        if n % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
