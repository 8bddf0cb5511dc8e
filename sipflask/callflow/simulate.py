"""Play Twilio's part for one call, in-process, through the real webhook endpoints.

Used by ``flask --app sipflask simulate-call``: every request is signed exactly as Twilio
signs it, so the simulation goes through the same checks, routing and TwiML as a real call.
"""
from __future__ import annotations

import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

from sipflask.callflow import clock
from sipflask.callflow.callbacks import RETRY_STATUSES
from sipflask.core.redact import MASK
from sipflask.twilio_rest import account

# What a <Dial> can end with, as Twilio's DialCallStatus says it.
OUTCOMES = tuple(sorted(RETRY_STATUSES)) + ("completed",)
RING_SECONDS = 5  # how long a simulated dial rings before its outcome
_PASSWORD_ATTR = re.compile(r'(password=")[^"]*(")')
_KEY_HEADER = re.compile(r"(X-PH-RetreaverKey=)[^&<]*")


class SimulationError(ValueError):
    pass


@dataclass
class Outcome:
    status: str
    sip_code: int | None = None
    duration: int | None = None

    @classmethod
    def parse(cls, text: str) -> "Outcome":
        """``busy``, ``failed:503``, ``completed:200:95`` (status[:sip code[:seconds]])."""
        parts = text.strip().lower().split(":")
        if parts[0] not in OUTCOMES:
            raise SimulationError(f"outcome {text!r}: status must be one of {', '.join(OUTCOMES)}")
        try:
            code = int(parts[1]) if len(parts) > 1 and parts[1] else None
            seconds = int(parts[2]) if len(parts) > 2 and parts[2] else None
        except ValueError:
            raise SimulationError(f"outcome {text!r}: SIP code and seconds must be numbers") from None
        if code is not None and not 100 <= code <= 699:
            raise SimulationError(f"outcome {text!r}: SIP code must be 100-699")
        if len(parts) > 3:
            raise SimulationError(f"outcome {text!r}: use STATUS[:SIPCODE[:SECONDS]]")
        if seconds is None:
            seconds = 95 if parts[0] == "completed" else 0
        return cls(parts[0], code, seconds)


@dataclass
class Step:
    method: str
    url: str
    params: dict[str, str]
    status: int
    body: str

    @property
    def masked_body(self) -> str:
        """The body with the SIP password and the call's postback key masked (a terminal's
        scrollback is no place for either; the call page shows the key to admins)."""
        masked = _PASSWORD_ATTR.sub(rf"\g<1>{MASK}\2", self.body)
        return _KEY_HEADER.sub(rf"\g<1>{MASK}", masked)


@dataclass
class Simulation:
    call_sid: str
    steps: list[Step] = field(default_factory=list)
    unused_outcomes: list[Outcome] = field(default_factory=list)


def summary_lines(call_sid: str) -> list[str]:
    """What became of the simulated call, from what sipflask stored: its status and uuid, the
    buyers passed over and why (closed, capped, paused), each attempt's result, and every plugin that failed or ran out of time (which the TwiML alone
    does not show)."""
    from sqlalchemy import select
    from sipflask.extensions import db
    from sipflask.models import Call
    call = db.session.scalar(select(Call).where(Call.call_sid == call_sid))
    lines = [f"CallSid: {call_sid}"]
    if call is None:
        return lines + ["call: not recorded"]
    lines.append(f"call {call.uuid}: {call.status}" + (f" ({call.reason})" if call.reason else ""))
    for n, a in enumerate(call.attempts, 1):
        for skip in a.skipped or ():
            lines.append(f"passed over {skip.get('buyer')}: {skip.get('reason')}")
        result = a.dial_status or "no result"
        lines.append(f"attempt {n}: {a.buyer_name or 'deleted buyer'}: {result}"
                     + (f" {a.sip_code}" if a.sip_code else ""))
    problems = list(dict.fromkeys(
        f"plugin {e.get('plugin')} ({e.get('hook')}): {e.get('error')}"
        for a in call.attempts for e in a.plugin_errors or ()))
    lines += problems or ["plugins: no failures or timeouts"]
    return lines


def parse_params(pairs) -> dict[str, str]:
    params = {}
    for pair in pairs:
        if "=" not in pair:
            raise SimulationError(f"--param {pair!r}: use Name=Value")
        name, value = pair.split("=", 1)
        if not name:
            raise SimulationError(f"--param {pair!r}: the name is empty")
        params[name] = value
    return params


def _dial_action(body: str) -> str | None:
    try:
        root = ET.fromstring(body.encode())
    except ET.ParseError:
        return None
    dial = root.find("Dial")
    return dial.get("action") if dial is not None else None


def parse_at(text: str) -> datetime:
    """``--at``: an ISO 8601 instant with its UTC offset (``2026-12-07T08:59:00-05:00``, or
    ``...Z``)."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SimulationError(f"--at {text!r}: use an ISO 8601 time with its offset, e.g. "
                              "2026-12-07T08:59:00-05:00") from None
    if at.tzinfo is None:
        raise SimulationError(f"--at {text!r}: add the UTC offset (e.g. -05:00, or Z for UTC) "
                              "so the instant is unambiguous")
    return at


def run(app, *, to: str, from_: str, params: dict[str, str] | None = None,
        outcomes: list[Outcome] | None = None, at: datetime | None = None) -> Simulation:
    """Simulate one call; with ``at``, it arrives at that instant and every step of it runs on
    that clock (``callflow/clock.py``)."""
    # Without ``at`` the call starts now; the block still owns its clock, so the time the
    # simulated dials take never moves the process's clock.
    with clock.starting_at(at or datetime.now(timezone.utc)):
        return _run(app, to, from_, params, outcomes)


def _run(app, to: str, from_: str, params: dict[str, str] | None,
         outcomes: list[Outcome] | None) -> Simulation:
    with app.app_context():
        token = account.signing_token()  # the configuration's, else the settings page's
    if not token:
        # No Twilio account configured yet (e.g. the demo): sign with a throwaway token that
        # only this process knows; the running server is not affected.
        token = app.config["TWILIO_AUTH_TOKEN"] = secrets.token_hex(16)
    base = (app.config.get("PUBLIC_URL") or "http://localhost").rstrip("/")
    validator = RequestValidator(token)
    client = app.test_client()
    sim = Simulation(call_sid="CA" + secrets.token_hex(16))
    common = {"AccountSid": app.config.get("TWILIO_ACCOUNT_SID") or "AC" + "0" * 32,
              "CallSid": sim.call_sid, "ApiVersion": "2010-04-01", "Direction": "inbound"}

    def post(url: str, data: dict[str, str]) -> Step:
        headers = {"X-Twilio-Signature": validator.compute_signature(url, data)}
        parts = urlsplit(url)
        response = client.post(parts.path + (f"?{parts.query}" if parts.query else ""),
                               data=data, headers=headers,
                               base_url=f"{parts.scheme}://{parts.netloc}")
        step = Step("POST", url, data, response.status_code, response.get_data(as_text=True))
        sim.steps.append(step)
        return step

    data = {**common, "From": from_, "To": to, "Caller": from_, "Called": to,
            "CallStatus": "ringing", **(params or {})}
    step = post(f"{base}/twilio/voice", data)
    pending = list(outcomes or [])
    total = 0
    while step.status == 200 and (action := _dial_action(step.body)) and pending:
        outcome = pending.pop(0)
        dial = {**common, "CallStatus": "in-progress", "DialCallStatus": outcome.status,
                "DialCallSid": "CA" + secrets.token_hex(16),
                "DialCallDuration": str(outcome.duration or 0)}
        if outcome.sip_code is not None:
            dial["DialSipResponseCode"] = str(outcome.sip_code)
        total += outcome.duration or 0
        # The attempt rang and (if answered) talked before Twilio calls the dial-action back.
        clock.advance(RING_SECONDS + (outcome.duration or 0))
        step = post(action, dial)
    sim.unused_outcomes = pending
    if step.status == 200 and not _dial_action(step.body):
        # The call is over from Twilio's side: send the status callback that closes it.
        answered = bool(outcomes) and any(o.status == "completed" for o in outcomes)
        post(f"{base}/twilio/status", {**common, "CallStatus": "completed" if answered else "no-answer",
                                       "CallDuration": str(total)})
    return sim
