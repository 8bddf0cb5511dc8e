"""docs/deployment.md followed from an empty instance folder: ``db upgrade``, gunicorn with
``gunicorn.conf.py`` and ``flask worker`` as real processes, then /healthz, /readyz and /metrics
(summed over gunicorn's processes), and a clean stop of both."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.app import pg_or_skip, schema_url
from tests.support.jobs import redis_or_skip

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "deployment.md"
HEARTBEAT_WINDOW = 8  # seconds: short, so the stopped worker shows within the test


def _doc_commands() -> list[str]:
    """The commands of the doc's "Try it from a clone" block, comments and `&` removed."""
    section = DOC.read_text().split("## Try it from a clone", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#", 1)[0].strip().rstrip("&").strip() for line in block.splitlines()
            if line.split("#", 1)[0].strip()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url, method="GET"):
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None, ""


def _wait_for(url, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    status, body = None, ""
    while time.monotonic() < deadline:
        status, body = _get(url)
        if predicate(status, body):
            return status, body
        time.sleep(0.2)
    raise AssertionError(f"{url} never got there: last {status} {body[:200]}")


def _start(args, env, log):
    # A session of its own: signals sent to it reach only what this test started.
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc, sig, timeout=30):
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"{proc.args} did not stop on {sig!r}")


@pytest.fixture
def deploy_env(tmp_path, request):
    database, queue = request.param
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SIPFLASK_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(SIPFLASK_INSTANCE_PATH=str(tmp_path / "instance"), WEB_CONCURRENCY="2",
               SIPFLASK_TWILIO_AUTH_TOKEN="deployment-test-token",
               SIPFLASK_JOBS_QUEUE_NAME=f"sipflask-deploy-{uuid.uuid4().hex[:10]}")
    cleanups = []
    if database == "postgres":
        url, schema = pg_or_skip(), f"sipflask_deploy_{os.getpid()}"
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        env["SIPFLASK_SQLALCHEMY_DATABASE_URI"] = schema_url(url, schema)

        def drop_schema():
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            engine.dispose()
        cleanups.append(drop_schema)
    if queue == "redis":
        from huey import RedisHuey
        env["SIPFLASK_REDIS_URL"] = redis_or_skip()
        # Huey's own view of the queue's keys (it cleans the name), to remove them all.
        queue = RedisHuey(env["SIPFLASK_JOBS_QUEUE_NAME"], url=env["SIPFLASK_REDIS_URL"])
        cleanups.append(queue.storage.flush_all)
    yield env
    for cleanup in cleanups:
        cleanup()


@pytest.mark.parametrize("deploy_env", [("sqlite", "sqlite"), ("sqlite", "redis"),
                                        ("postgres", "sqlite")], indirect=True,
                         ids=["sqlite", "redis-queue", "postgres"])
def test_deployment_doc_from_an_empty_instance(deploy_env, tmp_path):
    commands = _doc_commands()
    assert commands[1:4] == ["flask --app sipflask db upgrade", "flask --app sipflask worker",
                             "SIPFLASK_BIND=127.0.0.1:8000 gunicorn -c gunicorn.conf.py"], commands
    env, port = deploy_env, _free_port()
    base = f"http://127.0.0.1:{port}"
    flask = [sys.executable, "-m", "flask", "--app", "sipflask"]
    upgrade = subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr

    web_env = dict(env, SIPFLASK_BIND=f"127.0.0.1:{port}",
                   SIPFLASK_WORKER_HEARTBEAT_MAX_AGE=str(HEARTBEAT_WINDOW))
    web_log, worker_log = open(tmp_path / "web.log", "w"), open(tmp_path / "worker.log", "w")
    web = _start([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], web_env, web_log)
    worker = None
    try:
        _wait_for(f"{base}/healthz", lambda s, b: s == 200 and b == "ok\n")
        # Schema current, but no worker has beaten yet.
        status, body = _get(f"{base}/readyz")
        assert status == 503 and json.loads(body)["checks"] == {
            "database": "ok", "migrations": "ok", "worker": "failing"}

        worker = _start(flask + ["worker"], env, worker_log)
        _wait_for(f"{base}/readyz", lambda s, b: s == 200)

        for _ in range(3):  # unsigned: refused with 403, and timed like any webhook
            assert _get(f"{base}/twilio/voice", "POST")[0] == 403
        status, body = _get(f"{base}/metrics")
        assert status == 200
        count = re.search(r'^sipflask_webhook_duration_seconds_count\{endpoint="voice"\} (\S+)$',
                          body, re.M)
        assert count and float(count.group(1)) == 3.0, body[-2000:]
        assert 'sipflask_jobs_run_total{job="heartbeat"}' in body

        assert _stop(worker, signal.SIGINT) == 0
        status, body = _wait_for(f"{base}/readyz", lambda s, b: s == 503,
                                 timeout=HEARTBEAT_WINDOW + 15)
        assert json.loads(body)["checks"]["worker"] == "failing"
        assert _stop(web, signal.SIGTERM) == 0
    finally:
        for proc in (worker, web):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
        web_log.close()
        worker_log.close()
    instance = Path(env["SIPFLASK_INSTANCE_PATH"])
    assert (instance / "secret_key").exists()
    assert (instance / "jobs.sqlite").exists() == ("SIPFLASK_REDIS_URL" not in env)
    assert "Traceback" not in (tmp_path / "web.log").read_text()
    assert "Traceback" not in (tmp_path / "worker.log").read_text()
