"""Twilio's refusals about numbers, in the user's words: what happened and what to do, with
Twilio's own code after it for whoever looks it up (twilio.com/docs/errors/<code>).

:func:`explain` turns an exception from the ``twilio`` client into a :class:`NumbersError`:
its message is one line, safe to show (``client.describe_error`` for everything not known
here), and its ``kind`` tells a caller working through several numbers whether the next
request would fail the same way (``fatal``) or whether Twilio may have done what it was asked
before the answer was lost (``uncertain``).
"""
from __future__ import annotations

import json
import re

from sipflask.twilio_rest.client import TwilioError, describe_error

__all__ = ["NumbersError", "explain", "status_and_code"]

# Kinds of failure. Every request after one of these would fail alike: stop, don't go on.
FATAL = frozenset({"config", "auth", "rate", "server", "network"})
# A purchase that failed like this may still have happened at Twilio.
UNCERTAIN = frozenset({"server", "network"})

ADDRESS_CODES = frozenset({21613, 21615, 21631})
INACTIVE_CODES = frozenset({10001, 20005})
_FUNDS = re.compile(r"insufficient|funds|balance", re.IGNORECASE)


class NumbersError(TwilioError):
    """A request about numbers failed; ``str(exc)`` is safe to show.

    ``kind``: ``config`` (no credentials, no PUBLIC_URL), ``input`` (checked before asking
    Twilio; ``fields`` maps each field to its problem), ``auth``, ``rate``, ``server``,
    ``network``, ``gone`` (404), ``refused`` (any other 4xx).
    """

    def __init__(self, message: str, *, kind: str = "refused", status: int | None = None,
                 code: int | None = None, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.kind, self.status, self.code = kind, status, code
        self.fields = dict(fields or {})

    @property
    def fatal(self) -> bool:
        return self.kind in FATAL

    @property
    def uncertain(self) -> bool:
        return self.kind in UNCERTAIN


def status_and_code(exc: BaseException) -> tuple[int | None, int | None, str]:
    """HTTP status, Twilio error code and Twilio's message of a failed request, when known.

    A failed create/update/delete raises ``TwilioRestException`` (``status``, ``code``,
    ``msg``); a failed list raises ``TwilioException("Unable to fetch page", response)``.
    """
    status, code = getattr(exc, "status", None), getattr(exc, "code", None)
    message = getattr(exc, "msg", None) or getattr(exc, "detail", None) or ""
    args = getattr(exc, "args", ())
    if status is None and len(args) == 2 and isinstance(
            getattr(args[1], "status_code", None), int):
        status = args[1].status_code
        try:
            body = json.loads(args[1].text)
        except (TypeError, ValueError):
            body = None
        if isinstance(body, dict):
            code, message = body.get("code"), str(body.get("message") or "")
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    return (status if isinstance(status, int) else None), code, str(message)


def _kind(exc: BaseException, status: int | None) -> str:
    import requests

    if status is None:
        network = (requests.RequestException, ConnectionError, TimeoutError, OSError)
        return "network" if isinstance(exc, network) else "refused"
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate"
    if status >= 500:
        return "server"
    return "gone" if status == 404 else "refused"


def _words(kind: str, code: int | None, message: str, about: str) -> str | None:
    """The plain sentence for what is known, or None (describe_error's words then)."""
    if code == 21422:
        return (f"{about} is no longer available: it was bought by someone else since the "
                "search, or Twilio reserved it. Search again and pick another.")
    if code in ADDRESS_CODES:
        return (f"{about} needs an address on file at Twilio (a local regulation): add one "
                "in the Twilio console (Phone Numbers > Regulatory Compliance > Addresses), "
                "or choose a number that needs none.")
    if code == 21452:
        return "Twilio has no numbers left in that area code: try another one."
    if code == 21451:
        return "Twilio says that is not a North American area code."
    if code == 10002:
        return ("A trial Twilio account can hold one number only: upgrade the account to "
                "buy more.")
    if code in INACTIVE_CODES or (kind == "refused" and _FUNDS.search(message)):
        return ("The Twilio account has insufficient funds or is not active: add funds in "
                "the Twilio console, then try again.")
    if kind == "auth":
        return ("Twilio refused the account's credentials: check the Account SID and Auth "
                "Token (or API key) sipflask uses.")
    if kind == "rate":
        return "Twilio is limiting requests (too many at once): wait a minute and try again."
    return None


def explain(exc: BaseException, step: str, about: str = "The number") -> NumbersError:
    """``exc``, raised while ``step`` (``"buying +14155550100"``), as a :class:`NumbersError`
    about ``about`` (the number, for sentences that start with it)."""
    if isinstance(exc, NumbersError):
        return exc
    status, code, message = status_and_code(exc)
    kind = _kind(exc, status)
    technical = describe_error(exc, step)
    plain = _words(kind, code, message, about)
    if plain is None:
        return NumbersError(technical, kind=kind, status=status, code=code)
    detail = f"HTTP {status}" + (f", Twilio error {code}" if code and code != status else "")
    return NumbersError(f"{plain} ({detail})", kind=kind, status=status, code=code)
