"""Signed Twilio webhook requests against the demo data, and reading the TwiML they answer."""
import xml.etree.ElementTree as ET
from urllib.parse import unquote

from sqlalchemy import select
from twilio.request_validator import RequestValidator

from sipflask.extensions import db
from sipflask.models import Buyer, Call
from tests.support.app import PUBLIC_URL, TWILIO_AUTH_TOKEN

TOKEN = TWILIO_AUTH_TOKEN
BASE = PUBLIC_URL
AUTO = "+18882223333"       # demo: campaign auto, publisher acme (afid 5678), sub_id fb-12
MEDICARE = "+18448210555"   # demo: campaign medicare, no publisher
CALLER = "+14155552671"


def sign(url, data, token=TOKEN):
    return RequestValidator(token).compute_signature(url, data)


def post(client, path, data, *, signature=None, base=BASE):
    url = base + path
    headers = {"X-Twilio-Signature": sign(url, data) if signature is None else signature}
    return client.post(path, data=data, headers=headers, base_url=base)


def voice(client, to=AUTO, caller=CALLER, sid="CA" + "1" * 32, **extra):
    return post(client, "/twilio/voice", {"CallSid": sid, "From": caller, "To": to,
                                          "CallStatus": "ringing", **extra})


def parse(response):
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    return ET.fromstring(response.data)


def sip_headers(uri):
    base, _, query = uri.partition("?")
    pairs = [p.split("=", 1) for p in query.split("&")] if query else []
    return base, {k: unquote(v) for k, v in pairs}


def dial_action(client, root, status, code=None, duration="0"):
    action = root.find("Dial").get("action")
    assert action.startswith(BASE)
    data = {"CallSid": "CA" + "1" * 32, "DialCallStatus": status, "DialCallDuration": duration}
    if code:
        data["DialSipResponseCode"] = str(code)
    return post(client, action[len(BASE):], data)


def the_call(app):
    with app.app_context():
        return db.session.scalar(select(Call).order_by(Call.id.desc()))


def pause_all_but(app, *refs):
    with app.app_context():
        for buyer in db.session.scalars(select(Buyer)):
            buyer.paused = buyer.ref not in refs
        db.session.commit()
