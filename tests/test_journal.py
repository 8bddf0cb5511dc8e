"""The outage journal: entries on disk, and their replay into the database (idempotent, kept
while the database is still down, run by the worker and after a webhook found it back)."""
from __future__ import annotations

import json
import os
import threading
import time
import uuid as uuidlib
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sipflask import jobs
from sipflask.callflow import journal
from sipflask.core.webhook_rules import EVENTS
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call, Number
from tests.support.outbound import deliveries, make_hook
from tests.support.webhook import AUTO, CALLER, parse, post, voice

SID = "CA" + "5" * 32


def _call_entry(app, sid=SID, **extra):
    with app.app_context():
        number = db.session.scalar(select(Number).where(Number.number == AUTO))
        buyer = db.session.scalar(select(Buyer).order_by(Buyer.priority))
        ids = dict(number_id=number.id, campaign_id=number.campaign_id)
        attempt = dict(position=0, buyer_id=buyer.id, buyer_name=buyer.name, kind="number",
                       dialled="+15550001111", sip_username="", headers_sent=[],
                       headers_dropped=[])
    return {**dict(kind="call", source="voice", uuid=str(uuidlib.uuid4()), key="k" * 32,
                   call_sid=sid, caller=CALLER, called=AUTO, publisher_id=None, sub_id="",
                   tags={}, tag_sources={}, status="routing", reason=journal.OUTAGE_NOTE,
                   attempt=attempt, params={"CallSid": sid, "To": AUTO}, **ids), **extra}


def _lines(filename):
    with open(filename) as fh:
        return fh.read().splitlines()


def _append(app, *entries):
    with app.test_request_context():
        for entry in entries:
            journal.append(entry)


def _replay(app, **kw):
    with app.app_context():
        return journal.replay(**kw)


def _written_at(app, minutes_ago, *entries):
    """Entries as fallback.py would have written them ``minutes_ago``."""
    at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    with open(journal.path(app), "a") as fh:
        for entry in entries:
            fh.write(json.dumps({**entry, "at": at.isoformat()}) + "\n")
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _events(app):
    return [(d["event"], d["payload"]["event_time"], d["payload"].get("buyer_name", ""))
            for d in deliveries(app)]


def test_replay_fires_the_webhooks_the_outage_held_back_stamped_when_they_happened(demo):
    for event in EVENTS:
        make_hook(demo, event, "https://crm.example.com/[event]")
    entry = _call_entry(demo)
    buyer = entry["attempt"]["buyer_name"]
    started = _written_at(demo, 30, entry)
    answered = _written_at(demo, 29, dict(kind="dial", uuid=entry["uuid"], position=0,
                                          attempt=None, params={"DialCallStatus": "completed"}))
    _written_at(demo, 25, dict(kind="status", params={
        "CallSid": SID, "CallStatus": "completed", "CallDuration": "300"}))
    assert _replay(demo) == 3
    # The dial-action ends the call (its status callback may have been lost meanwhile).
    assert _events(demo) == [("call.started", started, ""), ("call.routed", started, buyer),
                             ("call.answered", answered, buyer),
                             ("call.completed", answered, buyer)]
    _written_at(demo, 20, entry)  # journalled twice: no second set of events
    assert _replay(demo) == 1 and len(deliveries(demo)) == 4


def test_a_status_callback_journalled_ends_the_call_when_it_happened(client, demo):
    make_hook(demo, "call.completed", "https://crm.example.com/[event]")
    parse(voice(client, sid=SID))  # routed normally, then the database went away
    ended = _written_at(demo, 5, dict(kind="status", params={
        "CallSid": SID, "CallStatus": "completed", "CallDuration": "40"}))
    assert _replay(demo) == 1
    assert [(e, at) for e, at, _ in _events(demo)] == [("call.completed", ended)]
    with demo.app_context():
        call = db.session.scalar(select(Call))
        assert call.ended_at.strftime("%Y-%m-%dT%H:%M:%SZ") == ended


def test_a_journalled_call_whose_buyers_all_failed_fires_no_buyer(demo):
    for event in EVENTS:
        make_hook(demo, event, "https://crm.example.com/[event]")
    entry = _call_entry(demo)
    started = _written_at(demo, 10, entry)
    ended = _written_at(demo, 9, dict(kind="dial", uuid=entry["uuid"], position=0, attempt=None,
                                      params={"DialCallStatus": "busy"}))
    _written_at(demo, 8, _call_entry(demo, sid="CA" + "6" * 32, status="no-buyer", attempt=None,
                                     uuid=str(uuidlib.uuid4())))
    assert _replay(demo) == 3
    found = [(event, at) for event, at, _ in _events(demo)]
    assert found[:3] == [("call.started", started), ("call.routed", started),
                         ("call.no_buyer", ended)]
    assert [event for event, _ in found[3:]] == ["call.started", "call.no_buyer"]


def test_entries_are_json_lines_with_a_time(app):
    _append(app, {"kind": "status", "params": {"CallSid": SID}})
    [line] = _lines(journal.path(app))
    entry = json.loads(line)
    assert entry["params"] == {"CallSid": SID} and entry["at"].endswith("+00:00")
    assert os.stat(journal.path(app)).st_mode & 0o777 == 0o600


def test_concurrent_appends_never_mix_lines(app):
    def write(n):
        with app.app_context():
            for i in range(25):
                journal.append({"kind": "status", "params": {"CallSid": f"CA{n:02d}{i:030d}",
                                                              "pad": "x" * 2000}})
    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    lines = _lines(journal.path(app))
    assert len(lines) == 200 and all(json.loads(x)["kind"] == "status" for x in lines)


def test_an_entry_written_while_replay_moves_the_file_goes_to_the_new_one(app):
    _append(app, {"kind": "status", "params": {"CallSid": "CA1"}})
    journal._take_current(journal.path(app))
    assert not os.path.exists(journal.path(app))
    _append(app, {"kind": "status", "params": {"CallSid": "CA2"}})
    [line] = _lines(journal.path(app))
    assert json.loads(line)["params"]["CallSid"] == "CA2"


def test_replay_stores_a_call_once_however_often_it_runs(demo):
    entry = _call_entry(demo)
    _append(demo, entry, dict(kind="dial", uuid=entry["uuid"], position=0, attempt=None,
                              params={"DialCallStatus": "completed", "DialCallDuration": "30"}),
            dict(kind="status", params={"CallSid": SID, "CallStatus": "completed",
                                        "CallDuration": "31"}))
    assert _replay(demo) == 3
    _append(demo, entry)  # journalled twice (e.g. two processes): still one call
    assert _replay(demo) == 1
    assert _replay(demo) == 0 and not journal.pending(demo)
    with demo.app_context():
        [call] = db.session.scalars(select(Call)).all()
        assert (call.uuid, call.call_sid, call.status, call.duration) == (
            entry["uuid"], SID, "completed", 31)
        [attempt] = call.attempts
        assert (attempt.dial_status, attempt.duration, attempt.holds_slot) == ("completed", 30,
                                                                                False)
        assert journal.OUTAGE_NOTE in attempt.skipped[0]["reason"]


def test_replay_frees_the_slot_of_a_call_that_ended_during_the_outage(client, demo):
    root = parse(voice(client, sid=SID))  # routed normally: one slot held
    action = root.find("Dial").get("action")
    call_uuid, position = action.rsplit("/", 2)[-2], int(action.rsplit("/", 1)[-1])
    _append(demo, dict(kind="dial", uuid=call_uuid, position=position, attempt=None,
                       params={"DialCallStatus": "busy", "DialSipResponseCode": "486"}),
            dict(kind="status", params={"CallSid": SID, "CallStatus": "completed"}))
    assert _replay(demo) == 2
    with demo.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == SID))
        assert call.status in ("no-buyer", "completed") and call.ended_at is not None
        assert [(a.dial_status, a.sip_code, a.holds_slot) for a in call.attempts] == [
            ("busy", 486, False)]
        assert sum(b.active_calls for b in db.session.scalars(select(Buyer))) == 0


def test_replay_keeps_everything_while_the_database_is_down(demo, monkeypatch):
    _append(demo, _call_entry(demo))

    def fail(*args, **kwargs):
        raise OperationalError("SELECT", {}, ConnectionError("connection refused"))
    with monkeypatch.context() as mp:
        mp.setattr(Session, "_execute_internal", fail)
        assert _replay(demo) == 0
    assert journal.pending(demo)
    assert _replay(demo) == 1
    with demo.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == 1


def test_an_entry_the_database_refuses_is_set_aside_and_the_rest_replayed(demo):
    bad = _call_entry(demo, sid="CA" + "6" * 32, campaign_id=999_999)  # no such campaign
    _append(demo, bad, _call_entry(demo))
    assert _replay(demo) == 1
    rejected = _lines(journal.path(demo) + ".rejected")
    assert [json.loads(x)["call_sid"] for x in rejected] == ["CA" + "6" * 32]


def test_a_second_replay_does_not_wait_for_one_running(demo):
    import fcntl
    _append(demo, _call_entry(demo))
    with open(journal.path(demo) + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert _replay(demo, wait=False) == 0
    assert _replay(demo, wait=False) == 1


def test_the_worker_replays_the_journal(demo, tmp_path):
    assert "outage_journal.replay" in jobs.JOBS
    _append(demo, _call_entry(demo))
    demo.config["JOBS_SQLITE_PATH"] = str(tmp_path / "jobs.sqlite")
    result = demo.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    with demo.app_context():
        assert db.session.scalar(select(Call.call_sid)) == SID


def test_a_webhook_that_finds_the_database_back_replays_in_the_background(client, demo):
    _append(demo, _call_entry(demo))
    parse(voice(client, sid="CA" + "8" * 32))
    deadline = time.monotonic() + 10
    while journal.pending(demo) and time.monotonic() < deadline:
        time.sleep(0.05)
    with demo.app_context():
        sids = set(db.session.scalars(select(Call.call_sid)))
    assert sids == {SID, "CA" + "8" * 32}


def test_a_dial_action_for_a_journalled_call_replays_it_first(client, demo):
    entry = _call_entry(demo)
    _append(demo, entry)
    response = post(client, f"/twilio/dial-action/{entry['uuid']}/0",
                    {"CallSid": SID, "DialCallStatus": "completed"})
    assert parse(response).find("Hangup") is not None
    with demo.app_context():
        call = db.session.scalar(select(Call).where(Call.uuid == entry["uuid"]))
        assert call.status == "completed" and call.attempts[0].dial_status == "completed"
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1


@pytest.mark.app_config(OUTAGE_JOURNAL=None)
def test_the_journal_lives_in_the_instance_folder_by_default(app):
    assert journal.path(app) == os.path.join(app.instance_path, "outage-journal.jsonl")
