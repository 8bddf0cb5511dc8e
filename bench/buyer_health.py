"""Benchmark ``calllog.buyer_health`` on 100 000 stored calls, on SQLite and PostgreSQL.

Loads 100 k calls with 1-3 attempts each, spread over the last 48 hours, for the 4 demo buyers
and 50 more, into a database of its own (never the test or production database). Then, in the
same run, times (median of N runs):

- ``buyer_health()``: every buyer, last 24 h (what a dashboard would ask);
- ``buyer_health(25 ids)``: one page of the buyer list;
- baselines: a plain ``SELECT count(*) FROM attempts``; the same health query with the
  ``(buyer_id, started_at)`` index dropped; and the naive way the issue rules out (load the
  last 24 h of attempts into Python and count there);

and prints the query plans (EXPLAIN) showing which index is used.

    .venv/bin/python bench/buyer_health.py                      # SQLite in a temp dir
    .venv/bin/python bench/buyer_health.py --postgres postgresql://postgres@127.0.0.1:5432/sipflask_bench_health
    .venv/bin/python bench/buyer_health.py --calls 20000 --runs 5

For PostgreSQL the database is created (``createdb``) when missing; its tables are dropped and
re-created on every run.
"""
from __future__ import annotations

import argparse
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402

from sipflask import create_app
from sipflask.calllog import health as calllog  # noqa: E402
from sipflask.extensions import db  # noqa: E402
from sipflask.models import Attempt, Buyer, Call  # noqa: E402

SHIPPED = "ix_attempts_buyer_health"   # models.Attempt: (buyer_id, started_at, dial_status, sip_code)
NARROW = "ix_attempts_buyer_started"   # the baseline: what the index was before
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/sipflask_bench_health"
EXTRA_BUYERS = 50
BATCH = 10_000
OUTCOMES = [("completed", None, 40), ("busy", 486, 15), ("no-answer", None, 15),
            ("failed", 403, 6), ("failed", 404, 4), ("failed", 480, 6), ("failed", 503, 5),
            ("canceled", 487, 8), ("failed", 408, 1)]


def make_bench_app(url: str, instance: Path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                      "SECRET_KEY": "bench-secret-key", "PLUGINS_DIR": str(instance / "plugins"),
                      # Built-in plugins only: the figures must not depend on what is installed.
                      "PLUGINS_ALLOW": [],
                      "PUBLIC_URL": "https://sipflask.bench"})
    return app


def load(app, calls: int, seed: int = 2026) -> dict:
    """Fresh tables, the demo, 50 more buyers, ``calls`` calls with attempts over 48 h."""
    rng = random.Random(seed)
    with app.app_context():
        db.drop_all()
        db.create_all()
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        db.session.add_all(Buyer(ref=f"bench-{n}", name=f"Bench buyer {n}",
                                 number=f"sip:b{n}@pbx{n}.example.com") for n in range(EXTRA_BUYERS))
        db.session.commit()
        buyer_ids = list(db.session.scalars(select(Buyer.id).order_by(Buyer.id)))
        # The 4 demo buyers take half the traffic, the other 50 share the rest.
        weights = [12.5 if i < 4 else 1.0 for i in range(len(buyer_ids))]
        outcomes = [(s, c) for s, c, _ in OUTCOMES]
        outcome_weights = [w for _, _, w in OUTCOMES]
        now = datetime.now(timezone.utc)
        start = now - timedelta(hours=48)
        t0 = time.perf_counter()
        call_rows, attempt_rows, attempt_id = [], [], 0
        # Rows are stored in the order calls arrive, as in production (ids grow with time).
        times = sorted(rng.uniform(0, 48 * 3600 - 300) for _ in range(calls))
        for call_id, offset in enumerate(times, 1):
            created = start + timedelta(seconds=offset)
            live = created > now - timedelta(minutes=2)
            call_rows.append({
                "id": call_id, "uuid": str(uuidlib.UUID(int=rng.getrandbits(128), version=4)),
                "key": secrets.token_hex(32), "call_sid": None, "caller": "+14155552671",
                "called": "+18882223333", "tags": {}, "tag_sources": {},
                "status": "routing" if live else "completed", "reason": "",
                "converted": False, "created_at": created})
            n_attempts = rng.choices((1, 2, 3), (60, 30, 10))[0]
            chosen = rng.choices(buyer_ids, weights, k=n_attempts)
            for pos, buyer_id in enumerate(chosen):
                attempt_id += 1
                status, code = rng.choices(outcomes, outcome_weights)[0]
                if live and pos == n_attempts - 1:
                    status, code = None, None
                started = created + timedelta(seconds=25 * pos)
                attempt_rows.append({
                    "id": attempt_id, "call_id": call_id, "position": pos, "buyer_id": buyer_id,
                    "buyer_name": str(buyer_id), "kind": "sip", "dialled": "",
                    "sip_username": "", "headers_sent": [], "headers_dropped": [],
                    "plugin_errors": [], "skipped": [], "dial_status": status,
                    "sip_code": code, "duration": 60 if status == "completed" else 0,
                    "holds_slot": False, "started_at": started,
                    "ended_at": None if status is None else started + timedelta(seconds=20)})
            if len(call_rows) >= BATCH:
                _flush(call_rows, attempt_rows)
        _flush(call_rows, attempt_rows)
        if db.engine.dialect.name == "postgresql":
            for table in ("calls", "attempts"):
                db.session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"))
        db.session.commit()
        loaded = time.perf_counter() - t0
        _analyze()
        return {"calls": calls, "attempts": attempt_id, "buyers": len(buyer_ids),
                "load_s": loaded, "now": now}


def _flush(call_rows, attempt_rows):
    if call_rows:
        db.session.execute(insert(Call), call_rows)
    if attempt_rows:
        db.session.execute(insert(Attempt), attempt_rows)
    db.session.commit()
    call_rows.clear()
    attempt_rows.clear()


def _analyze():
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM ANALYZE attempts"))
            conn.execute(text("VACUUM ANALYZE calls"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()


def median_ms(fn, runs: int) -> float:
    fn()  # warm the cache and the connection pool once
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
        db.session.remove()
    return statistics.median(times)


def naive_python(since):
    """What the issue rules out: load the attempts into Python and count there."""
    out: dict[int, list[int]] = {}
    for a in db.session.scalars(select(Attempt).where(Attempt.started_at >= since)):
        h = out.setdefault(a.buyer_id, [0, 0])
        h[0] += 1
        h[1] += a.dial_status in calllog.ANSWERED_DIAL_STATUSES
    return out


def measure(app, runs: int, info: dict) -> dict:
    with app.app_context():
        since = info["now"] - calllog.HEALTH_WINDOW
        page = list(db.session.scalars(select(Buyer.id).order_by(Buyer.name).limit(25)))
        health = calllog.buyer_health(since=since)
        in_window = sum(h.offered for h in health.values())
        r = dict(info)
        r["attempts_24h"] = in_window
        r["health_ms"] = median_ms(lambda: calllog.buyer_health(since=since), runs)
        r["health_page_ms"] = median_ms(lambda: calllog.buyer_health(page, since=since), runs)
        r["count_all_ms"] = median_ms(
            lambda: db.session.scalar(select(func.count()).select_from(Attempt)), runs)
        r["naive_python_ms"] = median_ms(lambda: naive_python(since), max(3, runs // 5))
        r["plan"] = calllog.explain(calllog.health_statements(since))
        r["plan_page"] = calllog.explain(calllog.health_statements(since, page))
        if db.engine.dialect.name == "postgresql":
            r["plan_analyze"] = calllog.explain(calllog.health_statements(since), analyze=True)
        db.session.remove()
        # Baselines in the same run: the narrower (buyer_id, started_at) index sipflask had
        # before, then no index at all; the shipped index is put back afterwards.
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP INDEX {SHIPPED}"))
            conn.execute(text(f"CREATE INDEX {NARROW} ON attempts (buyer_id, started_at)"))
        _analyze()
        try:
            r["narrow_ms"] = median_ms(lambda: calllog.buyer_health(since=since), runs)
            r["narrow_page_ms"] = median_ms(lambda: calllog.buyer_health(page, since=since),
                                            runs)
            r["plan_narrow"] = calllog.explain(calllog.health_statements(since))
            db.session.remove()
            with db.engine.begin() as conn:
                conn.execute(text(f"DROP INDEX {NARROW}"))
            _analyze()
            r["no_index_ms"] = median_ms(lambda: calllog.buyer_health(since=since), runs)
            r["no_index_page_ms"] = median_ms(lambda: calllog.buyer_health(page, since=since),
                                              runs)
            r["plan_no_index"] = calllog.explain(calllog.health_statements(since))
            db.session.remove()
        finally:
            with db.engine.begin() as conn:
                conn.execute(text(f"DROP INDEX IF EXISTS {NARROW}"))
                conn.execute(text(f"CREATE INDEX {SHIPPED} ON attempts "
                                  "(buyer_id, started_at, dial_status, sip_code)"))
            _analyze()
        db.session.remove()
        db.engine.dispose()
    return r


def run_sqlite(path: Path, calls: int = 100_000, runs: int = 15) -> dict:
    app = make_bench_app(f"sqlite:///{path}", Path(path).parent)
    info = load(app, calls)
    return measure(app, runs, info)


def ensure_pg_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name in ("", "test", "postgres"):
        raise SystemExit(f"refusing to use database {name!r}: give the benchmark its own")
    cmd = ["createdb", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
           "-U", parts.username or "postgres", name]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 and "already exists" not in done.stderr:
        raise SystemExit(f"createdb failed: {done.stderr.strip()}")


def run_postgres(url: str, calls: int = 100_000, runs: int = 15) -> dict:
    ensure_pg_database(url)
    with tempfile.TemporaryDirectory() as tmp:
        app = make_bench_app(url, Path(tmp))
        info = load(app, calls)
        return measure(app, runs, info)


def report(name: str, r: dict) -> None:
    print(f"\n=== {name}: {r['calls']:,} calls, {r['attempts']:,} attempts "
          f"({r['attempts_24h']:,} in the last 24 h), {r['buyers']} buyers; "
          f"loaded in {r['load_s']:.1f} s")
    print(f"  buyer_health() all buyers, 24 h        median {r['health_ms']:8.2f} ms")
    print(f"  buyer_health(25 ids) one list page     median {r['health_page_ms']:8.2f} ms")
    print(f"  baseline: SELECT count(*) FROM attempts median {r['count_all_ms']:8.2f} ms")
    print(f"  baseline: narrow (buyer_id, started_at) median {r['narrow_ms']:7.2f} ms "
          f"(25 ids: {r['narrow_page_ms']:.2f} ms)")
    print(f"  baseline: same query, no index         median {r['no_index_ms']:8.2f} ms "
          f"(25 ids: {r['no_index_page_ms']:.2f} ms)")
    print(f"  baseline: naive, attempts into Python  median {r['naive_python_ms']:8.2f} ms")
    print("  plan (all buyers):\n    " + r["plan"].replace("\n", "\n    "))
    print("  plan (25 ids):\n    " + r["plan_page"].replace("\n", "\n    "))
    if "plan_analyze" in r:
        print("  EXPLAIN ANALYZE (all buyers):\n    " + r["plan_analyze"].replace("\n", "\n    "))
    print("  plan with the narrow index:\n    " + r["plan_narrow"].replace("\n", "\n    "))
    print("  plan without the index:\n    " + r["plan_no_index"].replace("\n", "\n    "))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sqlite", metavar="PATH", help="SQLite file (default: a temp file)")
    parser.add_argument("--postgres", metavar="URL", nargs="?", const=DEFAULT_PG,
                        help=f"also run on PostgreSQL (default URL {DEFAULT_PG})")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    results = {}
    if not args.no_sqlite:
        if args.sqlite:
            results["SQLite"] = run_sqlite(Path(args.sqlite), args.calls, args.runs)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                results["SQLite"] = run_sqlite(Path(tmp) / "bench.sqlite", args.calls, args.runs)
        report("SQLite", results["SQLite"])
    if args.postgres:
        results["PostgreSQL"] = run_postgres(args.postgres, args.calls, args.runs)
        report("PostgreSQL", results["PostgreSQL"])
    slow = [n for n, r in results.items() if r["health_ms"] >= 100 or r["health_page_ms"] >= 100]
    if slow:
        print(f"\nSLOWER THAN 100 ms on {', '.join(slow)}")
        return 1
    print("\nbuyer_health answers in under 100 ms on " + " and ".join(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
