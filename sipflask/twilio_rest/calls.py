"""A call's real state from Twilio's Calls API, for reconciling calls whose callbacks never came.

:func:`fetch_status` asks ``GET /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` through
the ``twilio`` client (``twilio_rest/client.py``: the account, ``TWILIO_API_BASE_URL``,
``TWILIO_HTTP_CLIENT``); any failure is a :class:`TwilioError` with a one-line message.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sipflask.twilio_rest.client import TwilioError, describe_error, make_client

log = logging.getLogger("sipflask.twilio")

# Twilio's final call statuses: the call is over, its duration is known.
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# Twilio's documented shape of a Call SID: anything else never reaches a URL path.
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class CallStatus:
    """What Twilio says about one call."""

    status: str                      # queued | ringing | in-progress | completed | busy | ...
    duration: int | None             # seconds, once the call ended
    start_time: datetime | None = None
    end_time: datetime | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def fetch_status(call_sid: str, client=None) -> CallStatus:
    """Twilio's status of ``call_sid``; ``client`` defaults to the app's ``make_client()``.

    Raises :class:`TwilioError` (unknown call, credentials refused, rate limit, Twilio or the
    network down), its message one line and free of secrets.
    """
    if not isinstance(call_sid, str) or not _CALL_SID.fullmatch(call_sid):
        raise TwilioError(f"Not a Twilio Call SID: {str(call_sid)[:40]!r}.")
    step = f"fetching the status of call {call_sid}"
    try:
        client = client or make_client()
        call = client.calls(call_sid).fetch()
    except TwilioError:
        raise
    except Exception as exc:  # noqa: BLE001  every failure becomes one safe line
        log.warning("Calls API: %s failed", step, exc_info=True)
        raise TwilioError(describe_error(exc, step)) from exc
    status = str(getattr(call.status, "value", call.status) or "")
    return CallStatus(status=status, duration=_int(call.duration),
                      start_time=call.start_time, end_time=call.end_time)
