"""Does a sign-in tell which emails have accounts by how long it takes? (issue 10, finding 2)

Creates an app on a SQLite file of its own with one user, the production password hash
(``scrypt``, or ``--hash METHOD``), and the throttle raised out of the way, then posts the login
form through Flask's test client, alternating:

- an unknown email (a new one each time), any password;
- the user's email with a wrong password;

and prints the median time of each and their ratio (1.00 = the same work). Before the fix the
unknown email skipped the hash: 5 ms against 89 ms.

    .venv/bin/python bench/signin_timing.py
    .venv/bin/python bench/signin_timing.py --runs 40 --hash pbkdf2:sha256:600000
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sipflask import create_app  # noqa: E402
from sipflask.extensions import db  # noqa: E402
from sipflask.records import users  # noqa: E402

EMAIL = "admin@example.com"
PASSWORD = "bench-password-not-common"
NO_LIMIT = "100000/minute"


def make_app(folder: str, method: str):
    app = create_app({
        "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "PASSWORD_HASH_METHOD": method,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite",
        "PLUGINS_DIR": f"{folder}/plugins", "OUTAGE_JOURNAL": f"{folder}/journal.jsonl",
        "THROTTLE_LOGIN_ACCOUNT": NO_LIMIT, "THROTTLE_LOGIN_ADDRESS": NO_LIMIT,
    })
    with app.app_context():
        db.create_all()
        users.create(EMAIL, PASSWORD, "admin")
    return app


def time_login(client, email: str) -> float:
    start = time.perf_counter()
    response = client.post("/login", data={"email": email, "password": "wrong-password-123"})
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.status_code
    return elapsed


def measure(app, runs: int) -> tuple[list[float], list[float]]:
    client = app.test_client()
    time_login(client, EMAIL)  # warm-up: first request, dummy hash made once per process
    time_login(client, "warm-up@example.com")
    unknown, wrong = [], []
    for i in range(runs):
        unknown.append(time_login(client, f"nobody-{i}@example.com"))
        wrong.append(time_login(client, EMAIL))
    return unknown, wrong


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--hash", default="scrypt", help="PASSWORD_HASH_METHOD (default scrypt)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(folder, args.hash)
        unknown, wrong = measure(app, args.runs)
        with app.app_context():
            db.engine.dispose()
    u, w = statistics.median(unknown), statistics.median(wrong)
    print(f"hash {args.hash}, {args.runs} runs each (median)")
    print(f"unknown email:  {u * 1000:8.1f} ms")
    print(f"wrong password: {w * 1000:8.1f} ms")
    print(f"ratio unknown/wrong: {u / w:.2f}")


if __name__ == "__main__":
    main()
