"""Login and postback throttling (issue 10, finding 1): per account and per client address,
429 with Retry-After and a message on the form, the client address behind a trusted proxy, and
counts shared through Redis."""
import logging
import uuid

import pytest
import redis
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Call
from tests.support.app import ADMIN_EMAIL, PASSWORD, make_app, make_user
from tests.support.jobs import redis_or_skip
from tests.support.signin import HttpClient, serving
from tests.support.webhook import AUTO, pause_all_but, voice


def test_brute_force_of_the_admin_stops_over_http(app, auth):
    """The attack as found: 200 wrong passwords for the admin in a row, then the right one,
    through a real server. Before: all answered at full speed and the right one accepted."""
    with serving(app) as base:
        attacker = HttpClient(base)
        answers = [attacker.login(ADMIN_EMAIL, f"guess-{i:04d}-wrong") for i in range(200)]
        statuses = [a.status for a in answers]
        assert statuses[:10] == [200] * 10  # "Email or password is not right."
        assert set(statuses[10:]) == {429}
        refused = answers[10]
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        assert "Too many sign-in attempts" in refused.text and "Try again in" in refused.text
        assert 'value="admin@example.com"' in refused.text  # the form is there to try again
        right = attacker.login(ADMIN_EMAIL, PASSWORD)
        assert right.status == 429 and attacker.get("/buyers/").status == 302
        # The same account from another address is refused too: the limit is on the account.
        assert HttpClient(base).login(ADMIN_EMAIL, PASSWORD).status == 429


def test_one_address_trying_many_accounts_is_stopped(client, auth):
    statuses = [client.post("/login", data={"email": f"user{i}@example.com",
                                            "password": "not-the-password"}).status_code
                for i in range(25)]
    assert statuses == [200] * 20 + [429] * 5
    assert client.get("/login").status_code == 200  # looking at the form is never limited


@pytest.mark.app_config(PROXY_HOPS=1)
def test_the_address_behind_the_proxy_is_counted(app, auth):
    """One trusted proxy hop: X-Forwarded-For's last address is the client (ProxyFix)."""
    with serving(app) as base:
        def attempt(client_ip, n):
            return HttpClient(base).request(
                "POST", "/login", data={"email": f"u{n}@example.com", "password": "x" * 12},
                headers={"X-Forwarded-For": client_ip}).status
        assert [attempt("203.0.113.7", n) for n in range(21)][-1] == 429
        assert attempt("198.51.100.9", 99) == 200  # another client behind the same proxy


def test_forwarded_for_is_not_trusted_without_proxy_hops(app, auth):
    """Without PROXY_HOPS an attacker can't dodge the address limit with made-up headers."""
    with serving(app) as base:
        statuses = [HttpClient(base).request(
            "POST", "/login", data={"email": f"u{n}@example.com", "password": "x" * 12},
            headers={"X-Forwarded-For": f"10.0.0.{n}"}).status for n in range(21)]
        assert statuses[-1] == 429


def _redis_app(tmp_path, prefix, **config):
    tmp_path.mkdir()
    return make_app(tmp_path, REDIS_URL=redis_or_skip(), JOBS_QUEUE_NAME=prefix, **config)


def test_counts_are_shared_through_redis(tmp_path):
    """Two apps (two gunicorn processes, or two machines) share one Redis: attempts on one
    count on the other. The account is only a hash in Redis."""
    prefix = f"sipflask-test-throttle-{uuid.uuid4().hex[:10]}"
    first, second = (_redis_app(tmp_path / name, prefix) for name in ("a", "b"))
    make_user(first, ADMIN_EMAIL, "admin")
    one, two = first.test_client(), second.test_client()
    for i in range(5):
        assert one.post("/login", data={"email": ADMIN_EMAIL, "password": "wrong"}).status_code == 200
        assert two.post("/login", data={"email": ADMIN_EMAIL, "password": "wrong"}).status_code == 200
    assert one.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD}).status_code == 429
    r = redis.Redis.from_url(redis_or_skip())
    keys = [k.decode() for k in r.scan_iter(f"*{prefix}*")]
    assert keys and not any("admin" in k for k in keys), keys
    r.delete(*keys)


def test_users_unlock_lets_a_locked_out_user_in_at_once(tmp_path):
    """A guesser used up the account's attempts; the operator runs ``users unlock`` (its own
    process, as on a server) and the real user signs in, while another locked account stays
    locked."""
    prefix = f"sipflask-test-throttle-{uuid.uuid4().hex[:10]}"
    limits = dict(THROTTLE_LOGIN_ACCOUNT="3/minute;30/hour")
    server, command = (_redis_app(tmp_path / name, prefix, **limits) for name in ("a", "b"))
    other = "other@example.com"
    for app in (server, command):
        make_user(app, ADMIN_EMAIL, "admin")
        make_user(app, other, "member")
    client = server.test_client()
    for email in (ADMIN_EMAIL, other):
        for _ in range(3):
            client.post("/login", data={"email": email, "password": "a-wrong-guess"})
        assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 429
    result = command.test_cli_runner().invoke(args=["users", "unlock", ADMIN_EMAIL.upper()])
    assert result.exit_code == 0 and f"Unlocked {ADMIN_EMAIL}" in result.output
    assert client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD}).status_code == 302
    assert server.test_client().post(
        "/login", data={"email": other, "password": PASSWORD}).status_code == 429
    r = redis.Redis.from_url(redis_or_skip())
    r.delete(*r.scan_iter(f"*{prefix}*"))


@pytest.mark.parametrize("storage, message", [
    ({}, "restart the app to clear them"),
    ({"RATELIMIT_STORAGE_URI": "redis://:hunter2secret@127.0.0.1:9/0"}, "did not answer"),
])
def test_users_unlock_says_when_it_cannot(tmp_path, storage, message):
    app = make_app(tmp_path, **storage)
    make_user(app, ADMIN_EMAIL, "admin")
    result = app.test_cli_runner().invoke(args=["users", "unlock", ADMIN_EMAIL])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output and "hunter2secret" not in result.output
    unknown = app.test_cli_runner().invoke(args=["users", "unlock", "nobody@example.com"])
    assert unknown.exit_code == 1 and "No user with email nobody@example.com" in unknown.output


def test_redis_down_falls_back_to_counting_in_memory(tmp_path, caplog):
    """Redis unreachable: each process counts on its own, logs it, and never answers 500."""
    app = make_app(tmp_path, RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0")
    make_user(app, ADMIN_EMAIL, "admin")
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        statuses = [client.post("/login", data={"email": ADMIN_EMAIL, "password": "wrong"}
                                ).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    assert "falling back to in-memory storage" in caplog.text


# --- postbacks ------------------------------------------------------------------------------

@pytest.fixture
def call_key(app, client, demo):
    pause_all_but(demo, "queue")
    voice(client, to=AUTO)
    with app.app_context():
        call = db.session.scalar(select(Call))
        return call.uuid, call.key


@pytest.mark.app_config(THROTTLE_POSTBACK_KEY="3/minute")
def test_postbacks_are_limited_per_key(client, call_key):
    uuid_, key = call_key
    answers = [client.post("/postback", data={"key": key, "uuid": uuid_}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json["ok"] is False and "Too many postbacks" in answers[-1].json["error"]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 61
    # another call's key is counted on its own
    assert client.post("/postback", data={"key": "k" * 32, "uuid": uuid_}).status_code == 403


@pytest.mark.app_config(THROTTLE_POSTBACK_ADDRESS="5/minute")
def test_refused_postbacks_are_limited_per_address(client, call_key, caplog):
    uuid_, key = call_key
    guesses = [client.post("/postback", data={"key": f"guess-{i}", "uuid": uuid_}).status_code
               for i in range(6)]
    assert guesses == [403] * 5 + [429]
    assert client.post("/postback", data={"key": key, "uuid": uuid_}).status_code == 429
    assert "guess-" not in caplog.text and key not in caplog.text


@pytest.mark.app_config(THROTTLE_POSTBACK_ADDRESS="5/minute")
def test_good_postbacks_never_use_up_the_address_limit(client, call_key):
    uuid_, key = call_key
    assert {client.get("/postback", query_string={"key": key, "uuid": uuid_}).status_code
            for _ in range(8)} == {200}


def test_other_requests_never_touch_the_limiter_storage(tmp_path, monkeypatch):
    """Twilio's webhooks and the pages skip the limiter: a Redis that stopped answering can
    never slow them down, not even through the limiter's recovery checks."""
    app = make_app(tmp_path, RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0")
    limiter = app.extensions["sipflask_throttle"]
    touched = []
    monkeypatch.setattr(type(limiter.storage), "check", lambda self: touched.append("check"))
    limiter._storage_dead = True  # as after a failed request, long enough ago to check again
    limiter._Limiter__last_check_backend = 0
    client = app.test_client()
    for path in ("/healthz", "/login", "/twilio/voice"):
        client.get(path)
    client.post("/twilio/voice", data={"CallSid": "CA1"})
    assert touched == []
    client.post("/login", data={"email": "a@example.com", "password": "x" * 12})
    assert touched == ["check"]
