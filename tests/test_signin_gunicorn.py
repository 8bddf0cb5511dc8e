"""Sign-in as deployed (docs/deployment.md, docs/security.md): gunicorn with two processes behind
one proxy hop (``PROXY_HOPS=1``), counts in the local Redis, CSRF on. An attacker rotating
client addresses still stops at the account limit, whichever process answers; cookies are
Secure behind the https proxy; logout refuses the old cookies."""
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.support.html import csrf_token_from
from tests.support.jobs import redis_or_skip
from tests.support.signin import HttpClient, cookie_header

ROOT = Path(__file__).resolve().parents[1]
ADMIN, MEMBER, PASSWORD = "boss@example.com", "agent@example.com", "deployment-passphrase"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flask(env, *args, stdin=""):
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "sipflask", *args], cwd=ROOT,
                            env=env, input=stdin, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def deployed(tmp_path):
    prefix = f"sipflask-signin-{uuid.uuid4().hex[:10]}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SIPFLASK_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(SIPFLASK_INSTANCE_PATH=str(tmp_path / "instance"), WEB_CONCURRENCY="2",
               SIPFLASK_THREADS="1", SIPFLASK_BIND=f"127.0.0.1:{port}",
               SIPFLASK_REDIS_URL=redis_or_skip(), SIPFLASK_JOBS_QUEUE_NAME=prefix,
               SIPFLASK_PROXY_HOPS="1", SIPFLASK_PUBLIC_URL="http://calls.example.test")
    _flask(env, "db", "upgrade")
    _flask(env, "users", "create", ADMIN, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    _flask(env, "users", "create", MEMBER, "--password-stdin", stdin=PASSWORD + "\n")
    log = open(tmp_path / "web.log", "w")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT,
                           env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a busy machine boots gunicorn's workers slowly
        while not _healthy(base):
            assert time.monotonic() < deadline and web.poll() is None, "gunicorn did not start"
            time.sleep(0.2)
        yield base, tmp_path / "web.log"
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
        log.close()
        r = redis.Redis.from_url(env["SIPFLASK_REDIS_URL"])
        keys = list(r.scan_iter(f"*{prefix}*"))
        if keys:
            r.delete(*keys)


def _healthy(base) -> bool:
    try:
        return HttpClient(base).get("/healthz").status == 200
    except OSError:  # not listening yet, or the workers not booted within the client's timeout
        return False


def _login(base, email, password, client_ip, remember=False, browser=None):
    """The form as a browser behind the https proxy posts it: CSRF token, Referer, and the
    proxy's X-Forwarded-* headers."""
    browser = browser or HttpClient(base)
    proxy = {"X-Forwarded-For": client_ip, "X-Forwarded-Proto": "https",
             "Referer": base.replace("http://", "https://") + "/login"}
    token = csrf_token_from(browser.get("/login", headers=proxy).text)
    data = {"email": email, "password": password, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    return browser, browser.post("/login", data, headers=proxy)


def test_account_limit_holds_across_processes_and_addresses(deployed):
    base, log = deployed
    statuses = [_login(base, ADMIN, f"wrong-guess-{i:03d}", f"198.51.100.{i}")[1].status
                for i in range(30)]
    assert statuses == [200] * 10 + [429] * 20, statuses
    _, right = _login(base, ADMIN, PASSWORD, "203.0.113.200")
    assert right.status == 429 and int(right.headers["Retry-After"]) >= 1
    # someone else, from the attacker's last address, is not locked out of their account
    member, answer = _login(base, MEMBER, PASSWORD, "198.51.100.29")
    assert answer.status == 302 and "; Secure" in cookie_header(answer, "session")
    assert ADMIN not in log.read_text() and "Traceback" not in log.read_text()


def test_logout_refuses_the_old_cookies_under_gunicorn(deployed):
    base, _ = deployed
    browser, answer = _login(base, MEMBER, PASSWORD, "203.0.113.5", remember=True)
    assert answer.status == 302
    assert "; Secure" in cookie_header(answer, "remember_token")
    assert "SameSite=Lax" in cookie_header(answer, "remember_token")
    assert browser.get("/buyers/").status == 200
    stolen = dict(browser.cookies)
    page = browser.get("/buyers/").text
    assert browser.post("/logout", {"csrf_token": csrf_token_from(page)}).status == 302
    for cookies in ({"session": stolen["session"]}, {"remember_token": stolen["remember_token"]},
                    stolen):
        replay = HttpClient(base, dict(cookies)).get("/buyers/")
        assert replay.status == 302 and "/login" in replay.headers["Location"]
