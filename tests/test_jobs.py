"""Background jobs: registering, the real Huey consumer on SQLite and Redis, ``worker --once``."""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from huey.consumer import Consumer
from sqlalchemy import func, select

from sipflask import jobs
from sipflask.extensions import db
from sipflask.jobs.heartbeat import last_heartbeat
from sipflask.jobs.queue import FAILED_KEY, RUN_KEY, get_queue
from sipflask.models import User
from tests.support.app import make_app
from tests.support.jobs import queue_config


@pytest.fixture(params=["sqlite", "redis"])
def queue_backend(request):
    return request.param


@pytest.fixture
def test_jobs():
    """Jobs of the test's own, registered the two-line way and removed afterwards."""
    recorded = []

    @jobs.task(name="test.record")
    def record(value):
        # Runs in an app context: the session works without the caller pushing one.
        recorded.append((value, db.session.scalar(select(func.count()).select_from(User))))

    @jobs.task(name="test.fail")
    def fail():
        raise ValueError("boom\nsecond line")

    @jobs.periodic(jobs.crontab(), name="test.tick")
    def tick():
        recorded.append("tick")

    not_now = (time.gmtime().tm_min + 30) % 60

    @jobs.periodic(jobs.crontab(minute=str(not_now)), name="test.later")
    def later():
        recorded.append("later")

    yield SimpleNamespace(record=record, fail=fail, recorded=recorded)
    for name in ("test.record", "test.fail", "test.tick", "test.later"):
        jobs.JOBS.pop(name)


@pytest.fixture
def jobs_app(tmp_path, backend, queue_backend, test_jobs):
    app = make_app(tmp_path, backend, **queue_config(tmp_path, queue_backend))
    yield app
    with app.app_context():
        get_queue(app).huey.storage.flush_all()
        db.session.remove()
        db.engine.dispose()


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_job_is_registered_by_name_and_callable_in_place(test_jobs):
    assert jobs.JOBS["test.record"] is test_jobs.record
    assert jobs.JOBS["heartbeat"].schedule is not None
    with pytest.raises(ValueError, match="two jobs"):
        jobs.task(name="test.record")(lambda: None)


def test_consumer_runs_queued_and_periodic_jobs(jobs_app, test_jobs, monkeypatch):
    # Huey's consumer installs signal handlers, which only the main thread may; the test runs
    # the real consumer (scheduler, worker threads, health checks) in a thread without them.
    monkeypatch.setattr(Consumer, "_set_signal_handlers", lambda self: None)
    queue = get_queue(jobs_app)
    with jobs_app.app_context():
        test_jobs.record.enqueue(7)
        test_jobs.fail.enqueue()
    consumer = queue.huey.create_consumer(workers=2, worker_type="thread", periodic=True)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        assert _wait(lambda: (7, 0) in test_jobs.recorded and "tick" in test_jobs.recorded
                     and last_heartbeat(jobs_app) is not None
                     and queue.counter(FAILED_KEY, "test.fail") == 1)
    finally:
        consumer.stop(graceful=True)
        thread.join(10)
    assert not thread.is_alive()
    assert "later" not in test_jobs.recorded
    assert time.time() - last_heartbeat(jobs_app) < 30
    assert queue.counter(RUN_KEY, "test.record") == 1
    assert queue.counter(RUN_KEY, "test.fail") == 0
    assert queue.huey.pending_count() == 0


def test_once_runs_what_is_due_and_exits_0(jobs_app, test_jobs):
    with jobs_app.app_context():
        test_jobs.record.enqueue(1)
        test_jobs.record.enqueue(2)
    result = jobs_app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert sorted(r for r in test_jobs.recorded if isinstance(r, tuple)) == [(1, 0), (2, 0)]
    assert "tick" in test_jobs.recorded and "later" not in test_jobs.recorded
    assert last_heartbeat(jobs_app) is not None
    assert get_queue(jobs_app).huey.pending_count() == 0
    # Nothing left: a second pass runs only the periodic jobs due this minute.
    again = jobs_app.test_cli_runner().invoke(args=["worker", "--once"])
    assert again.exit_code == 0 and len([r for r in test_jobs.recorded if r == "tick"]) == 2


def test_once_reports_a_failed_job_in_one_line(jobs_app, test_jobs):
    with jobs_app.app_context():
        test_jobs.fail.enqueue()
        test_jobs.record.enqueue(3)
    result = jobs_app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == ["Error: 1 job run(s) failed: test.fail: ValueError: boom"], result.output
    assert "Traceback" not in result.output
    # The failure did not stop the other job, and it is counted where /metrics reads it.
    assert (3, 0) in test_jobs.recorded
    assert get_queue(jobs_app).counter(FAILED_KEY, "test.fail") == 1


def test_once_says_so_when_the_queue_is_unreachable(tmp_path, test_jobs):
    app = make_app(tmp_path, "sqlite", REDIS_URL="redis://127.0.0.1:1/0")
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: the job queue could not be read: ")
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_sqlite_queue_lives_in_the_instance_folder_by_default(tmp_path, test_jobs):
    app = make_app(tmp_path, "sqlite")
    app.config["JOBS_SQLITE_PATH"] = None
    app.instance_path = str(tmp_path / "instance")
    (tmp_path / "instance").mkdir()
    queue = get_queue(app)
    assert type(queue.huey).__name__ == "SqliteHuey"
    assert queue.huey.storage.filename == str(tmp_path / "instance" / "jobs.sqlite")


def _cli(tmp_path, *args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("SIPFLASK_")}
    base.update(SIPFLASK_INSTANCE_PATH=str(tmp_path / "instance"), **env)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "sipflask", *args],
                          cwd=Path(__file__).resolve().parents[1], env=base,
                          capture_output=True, text=True, timeout=60)


def test_once_as_a_real_command(tmp_path):
    # As an operator would: the schema first (the lease sweeper reads the calls table).
    assert _cli(tmp_path, "db", "upgrade").returncode == 0
    ok = _cli(tmp_path, "worker", "--once")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "instance" / "jobs.sqlite").exists()
    down = _cli(tmp_path, "worker", "--once", SIPFLASK_REDIS_URL="redis://127.0.0.1:1/0")
    assert down.returncode == 1
    assert down.stderr.startswith("Error: the job queue could not be read: ")
    assert len(down.stderr.strip().splitlines()) == 1 and "Traceback" not in down.stderr
