"""Health-aware routing against real SIP peers on 127.0.0.1: sipp answering OPTIONS 503, 200
or nothing takes a buyer out of rotation and back (routing skips it with its reason in
between), failed real calls do the same, and probes run by two worker processes at once reach
the PBX once per buyer (OPTIONS counted by sipp)."""
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sipflask.callflow import caps
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer
from sipflask.siphealth import watch
from sipflask.siphealth.model import EndpointHealth, EndpointHealthEvent
from tests.support.siphealth import SippOptions, free_port
from tests.support.webhook import dial_action, parse, pause_all_but, the_call, voice

INTERVAL = 30


def use_endpoint(app, port, check="options", ref="queue"):
    with app.app_context():
        buyer = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        buyer.number = f"sip:agentqueue@127.0.0.1:{port}"
        buyer.health_check = check
        db.session.commit()
        return buyer.id


def rounds(app, start, n):
    """``n`` probe rounds, an interval apart, from ``start``; the last round's counts."""
    counts = None
    with app.app_context():
        for i in range(n):
            counts = watch.run_round(start + timedelta(seconds=i * INTERVAL))
    return counts


def health(app, buyer_id):
    with app.app_context():
        row = db.session.get(EndpointHealth, buyer_id)
        events = db.session.execute(select(EndpointHealthEvent.state, EndpointHealthEvent.source,
                                           EndpointHealthEvent.cause)
                                    .where(EndpointHealthEvent.buyer_id == buyer_id)
                                    .order_by(EndpointHealthEvent.id)).all()
        return row, [tuple(e) for e in events]


def dialled(client, sid):
    root = parse(voice(client, sid=sid))
    dial = root.find("Dial")
    return root, (dial[0].text or "").strip() if dial is not None else None


@pytest.mark.app_config(SIP_HEALTH_TIMEOUT=1)
def test_a_down_buyer_is_skipped_with_its_reason_and_rejoins(demo, client, tmp_path):
    app = demo
    pause_all_but(app, "queue", "phone")
    port = free_port()
    buyer_id = use_endpoint(app, port)
    start = caps.now()
    with SippOptions(tmp_path, 503, "Service Unavailable", calls=3, port=port) as pbx:
        assert rounds(app, start, 3) == {"probed": 1, "alive": 0, "down": 1}
        assert pbx.options_received() == 3
    row, events = health(app, buyer_id)
    assert row.state == "down" and row.down_by == "probes"
    assert row.cause.startswith("unreachable (3 OPTIONS answered 503 since ")
    assert events == [("down", "probes", row.cause)]
    assert row.last_probe_alive is False and "503" in row.last_probe

    root, target = dialled(client, "CA" + "a" * 32)
    assert target == "+14155552671"  # the phone buyer, next in line
    with app.app_context():
        attempt = db.session.scalar(select(Attempt).where(Attempt.call_id == the_call(app).id))
        skipped = {s["buyer_id"]: s["reason"] for s in attempt.skipped}
    assert skipped[buyer_id] == row.cause

    later = start + timedelta(seconds=3 * INTERVAL)
    with SippOptions(tmp_path, 200, "OK", calls=2, port=port) as pbx:
        assert rounds(app, later, 1)["alive"] == 1
        assert health(app, buyer_id)[0].state == "down"  # one answer is not enough
        rounds(app, later + timedelta(seconds=INTERVAL), 1)
        assert pbx.options_received() == 2
    row, events = health(app, buyer_id)
    assert row.state == "up" and row.cause == ""
    assert [e[:2] for e in events] == [("down", "probes"), ("up", "probes")]
    assert events[1][2] == "2 OPTIONS answered in a row"
    _, target = dialled(client, "CA" + "b" * 32)
    assert target.startswith(f"sip:agentqueue@127.0.0.1:{port}")


@pytest.mark.app_config(SIP_HEALTH_TIMEOUT=1)
def test_a_silent_pbx_reads_as_timeouts(demo, client, tmp_path):
    app = demo
    pause_all_but(app, "queue", "phone")
    port = free_port()
    buyer_id = use_endpoint(app, port)
    with SippOptions(tmp_path, None, calls=3, port=port):
        rounds(app, caps.now(), 3)
    row, _ = health(app, buyer_id)
    assert row.state == "down"
    assert row.cause.startswith("unreachable (3 OPTIONS timeouts since ")


def test_buyers_without_checks_are_not_probed(demo, tmp_path):
    with demo.app_context():
        assert watch.run_round() == {"probed": 0, "alive": 0, "down": 0}
        assert db.session.scalar(select(EndpointHealth)) is None


def _fail_calls(client, n, code, first_sid):
    for i in range(n):
        root, target = dialled(client, f"CA{first_sid + i:032x}")
        assert target.startswith("sip:agentqueue@127.0.0.1")
        # Routing moves on to the phone buyer, which hangs up: its slot is free again.
        nxt = parse(dial_action(client, root, "failed", code))
        dial_action(client, nxt, "completed", duration="5")


@pytest.mark.app_config(SIP_HEALTH_RETRY_SECONDS=1)
def test_failed_calls_take_a_calls_only_buyer_down_then_one_call_tries_again(demo, client):
    app = demo
    pause_all_but(app, "queue", "phone")
    buyer_id = use_endpoint(app, free_port(), check="calls")
    _fail_calls(client, 5, 503, 0x100)
    row, events = health(app, buyer_id)
    assert row.state == "down" and row.down_by == "calls"
    assert row.cause.startswith("unreachable (5 failed calls in a row since ")
    assert row.cause.endswith(", last SIP 503)")
    _, target = dialled(client, "CA" + "c" * 32)
    assert target == "+14155552671"
    time.sleep(1.1)
    # After the retry time one call tries the buyer again; it is answered: up.
    root, target = dialled(client, "CA" + "d" * 32)
    assert target.startswith("sip:agentqueue@127.0.0.1")
    dial_action(client, root, "completed", 200, duration="42")
    row, events = health(app, buyer_id)
    assert row.state == "up"
    assert events[-1] == ("up", "calls", "a call got through (SIP 200)")


def test_failed_calls_count_only_for_buyers_with_checks(demo, client):
    app = demo
    pause_all_but(app, "queue", "phone")
    use_endpoint(app, free_port(), check="off")
    _fail_calls(client, 6, 503, 0x200)
    with app.app_context():
        assert db.session.scalar(select(EndpointHealth)) is None
    _, target = dialled(client, "CA" + "e" * 32)
    assert target.startswith("sip:agentqueue@127.0.0.1")


def _worker_env(app, instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPFLASK_")}
    env.update(SIPFLASK_INSTANCE_PATH=str(instance), SIPFLASK_SECRET_KEY=app.config["SECRET_KEY"],
               SIPFLASK_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
               SIPFLASK_SIP_HEALTH_TIMEOUT="2")
    return env


def test_two_workers_probe_each_buyer_once(demo, tmp_path):
    """Two `flask worker --once` processes started together: sipp sees one OPTIONS per buyer."""
    app = demo
    port = free_port()
    refs = ("queue", "secure", "ny-floor")
    for ref in refs:
        use_endpoint(app, port, ref=ref)
    instance = tmp_path / "instance"
    instance.mkdir()
    env = _worker_env(app, instance)
    # sipp would answer twice as many: a second probe of any buyer would be counted.
    with SippOptions(tmp_path, 200, "OK", calls=2 * len(refs), port=port) as pbx:
        workers = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "sipflask", "worker",
                                     "--once"], cwd=Path(__file__).resolve().parents[1], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for _ in range(2)]
        outputs = [w.communicate(timeout=60) for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        time.sleep(0.3)
        assert pbx.options_received() == len(refs)
    with app.app_context():
        rows = db.session.scalars(select(EndpointHealth)).all()
        assert len(rows) == len(refs)
        assert all(r.last_probe_alive and r.state == "up" for r in rows)


@pytest.mark.app_config(SIP_HEALTH_INTERVAL=20, SIP_HEALTH_TIMEOUT=1)
def test_the_minute_job_queues_the_rest_of_the_minute(demo):
    """Huey runs periodic jobs once a minute: with a 20 s interval the minute's job probes now
    and queues two more rounds; with no buyer to probe it queues nothing."""
    from sipflask.jobs.queue import get_queue
    app = demo
    with app.app_context():
        watch.probe_round()
        assert get_queue(app).huey.pending_count() == 0
    use_endpoint(app, free_port())
    with app.app_context():
        assert watch.probe_round()["probed"] == 1
        huey = get_queue(app).huey
        names = [t.name for t in huey.pending()]
        assert names == ["siphealth.probe_again", "siphealth.probe_again"]
        assert sorted(round(t.eta.timestamp() - time.time()) for t in huey.pending()) == [20, 40]
