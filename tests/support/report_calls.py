"""Calls with known outcomes for the report pages' tests: each through the real, signed webhook
at a chosen instant, a conversion through the real postback."""
from datetime import datetime

from sqlalchemy import select

from sipflask.callflow import clock
from sipflask.extensions import db
from sipflask.models import Call
from tests.support.webhook import AUTO, BASE, MEDICARE, parse, pause_all_but, post, voice


def call(client, n: int, when: datetime, to: str = AUTO, outcomes=(),
         caller: str = "+14155550100", state: str = "CA") -> str:
    """One call at ``when``; outcomes: (DialCallStatus, SIP code or None, seconds). Its sid."""
    sid = f"CA{n:032d}"
    with clock.starting_at(when):
        root = parse(voice(client, to=to, sid=sid, caller=caller, FromState=state))
        for status, code, seconds in outcomes:
            dial = root.find("Dial")
            if dial is None:
                break
            data = {"CallSid": sid, "DialCallStatus": status, "DialCallDuration": str(seconds)}
            if code:
                data["DialSipResponseCode"] = str(code)
            root = parse(post(client, dial.get("action")[len(BASE):], data))
    return sid


def convert(client, app, sid: str, revenue: str) -> None:
    with app.app_context():
        c = db.session.scalar(select(Call).where(Call.call_sid == sid))
        uuid, key = c.uuid, c.key
    response = client.post("/postback", data={"key": key, "uuid": uuid, "revenue": revenue})
    assert response.status_code == 200, response.json


def day_of_calls(client, app, at) -> None:
    """Six calls on one day (``at(hour)`` gives its instants): on campaign auto one converted
    (12.50, 95 s), one answered by the second buyer after a 486 (30 s), one nobody answered
    (480, 503), one with every buyer paused (no buyer); one to an unknown number (rejected) and
    one on medicare with nobody available."""
    pause_all_but(app, "queue", "secure")
    first = call(client, 1, at(9), outcomes=[("completed", 200, 95)])
    convert(client, app, first, "12.50")
    call(client, 2, at(10), outcomes=[("busy", 486, 0), ("completed", 200, 30)],
         caller="+14155550101", state="NY")
    call(client, 3, at(11), outcomes=[("no-answer", 480, 0), ("failed", 503, 0)])
    pause_all_but(app)
    call(client, 4, at(12), state="")
    call(client, 5, at(13), to="+15550001111")
    call(client, 6, at(14), to=MEDICARE)
