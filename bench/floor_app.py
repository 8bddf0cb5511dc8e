"""The floor for bench/webhook.py: the least work a signed Twilio voice webhook can do.

A bare Flask view (no blueprints, extensions, ORM session or plugins) that

1. validates ``X-Twilio-Signature`` exactly as sipflask does (twilio's RequestValidator over
   PUBLIC_URL + path),
2. does ONE indexed read: the tracking number by E.164 (``numbers.number`` is unique),
3. does ONE insert: a ``calls`` row (same table, same indexes as sipflask writes to), committed,
4. returns fixed TwiML.

It reads the same settings as sipflask (SIPFLASK_SQLALCHEMY_DATABASE_URI,
SIPFLASK_TWILIO_AUTH_TOKEN, SIPFLASK_PUBLIC_URL) and uses a plain SQLAlchemy Core engine with
the default pool (no pre-ping). Run it under gunicorn as ``bench.floor_app:app``.
"""
from __future__ import annotations

import os
import secrets
import uuid
from datetime import datetime, timezone

from flask import Flask, Response, abort, request
from sqlalchemy import (JSON, Boolean, Column, DateTime, Integer, MetaData, String, Table,
                        create_engine, event, insert, select)
from twilio.request_validator import RequestValidator

DB_URI = os.environ["SIPFLASK_SQLALCHEMY_DATABASE_URI"]
TOKEN = os.environ["SIPFLASK_TWILIO_AUTH_TOKEN"]
PUBLIC_URL = os.environ["SIPFLASK_PUBLIC_URL"].rstrip("/")

TWIML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="30">'
         '<Sip>sip:agentqueue@pbx.example.com</Sip></Dial></Response>')
UNKNOWN = ('<?xml version="1.0" encoding="UTF-8"?><Response><Say>We\'re sorry, this number '
           'is not in service. Goodbye.</Say><Hangup/></Response>')

meta = MetaData()
numbers = Table("numbers", meta, Column("id", Integer, primary_key=True),
                Column("number", String(20)), Column("campaign_id", Integer),
                Column("publisher_id", Integer), Column("sub_id", String(100)))
calls = Table("calls", meta, Column("id", Integer, primary_key=True),
              Column("uuid", String(36)), Column("key", String(64)),
              Column("call_sid", String(64)), Column("caller", String(255)),
              Column("called", String(255)), Column("number_id", Integer),
              Column("campaign_id", Integer), Column("publisher_id", Integer),
              Column("sub_id", String(100)), Column("tags", JSON),
              Column("tag_sources", JSON), Column("status", String(32)),
              Column("reason", String(500)), Column("converted", Boolean),
              Column("created_at", DateTime(timezone=True)))

engine = create_engine(DB_URI)


@event.listens_for(engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):  # the same pragmas sipflask sets
    import sqlite3
    if isinstance(dbapi_connection, sqlite3.Connection):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()


app = Flask(__name__)
validator = RequestValidator(TOKEN)
find_number = select(numbers.c.id, numbers.c.campaign_id, numbers.c.publisher_id,
                     numbers.c.sub_id)


@app.post("/twilio/voice")
def voice():
    url = PUBLIC_URL + request.path
    if not validator.validate(url, request.form.to_dict(),
                              request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    to = request.form.get("To", "")
    with engine.begin() as conn:
        row = conn.execute(find_number.where(numbers.c.number == to)).first()
        conn.execute(insert(calls).values(
            uuid=str(uuid.uuid4()), key=secrets.token_hex(32),
            call_sid=request.form.get("CallSid"), caller=request.form.get("From", ""),
            called=to, number_id=row.id if row else None,
            campaign_id=row.campaign_id if row else None,
            publisher_id=row.publisher_id if row else None, sub_id=row.sub_id if row else None,
            tags={}, tag_sources={}, status="routing" if row else "rejected", reason="",
            converted=False, created_at=datetime.now(timezone.utc)))
    return Response(TWIML if row else UNKNOWN, mimetype="text/xml")
