"""Constant-time sign-in (issue 10, finding 2): an unknown email costs the same hash work as a
wrong password, so timing can't tell which emails have accounts (before: 5 ms against 89 ms)."""
import statistics
import time

import pytest

from tests.support.app import ADMIN_EMAIL

NO_LIMIT = "100000/minute"
# Costly enough that the hash is most of a request, as scrypt is in production.
HASH = "pbkdf2:sha256:60000"


def _time(client, email):
    start = time.perf_counter()
    response = client.post("/login", data={"email": email, "password": "wrong-password-1"})
    assert response.status_code == 200
    return time.perf_counter() - start


@pytest.mark.app_config(PASSWORD_HASH_METHOD=HASH, THROTTLE_LOGIN_ACCOUNT=NO_LIMIT,
                        THROTTLE_LOGIN_ADDRESS=NO_LIMIT)
def test_unknown_email_costs_what_a_wrong_password_costs(client, auth):
    _time(client, ADMIN_EMAIL), _time(client, "warm@example.com")
    unknown, wrong = [], []
    for i in range(9):
        unknown.append(_time(client, f"nobody{i}@example.com"))
        wrong.append(_time(client, ADMIN_EMAIL))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 < ratio < 2.0, (ratio, unknown, wrong)  # before the fix: 0.03


def test_an_overlong_password_is_refused_before_any_hashing(client, auth):
    response = client.post("/login", data={"email": ADMIN_EMAIL, "password": "x" * 100_000})
    assert response.status_code == 200 and "longer than 1024 characters" in response.text
    assert client.get("/buyers/").status_code == 302
