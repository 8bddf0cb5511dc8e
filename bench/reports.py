"""Benchmark the reports on 1,000,000 stored calls (docs/reports.md, "Speed").

    .venv/bin/python bench/reports.py [--db sqlite|postgres|both] [--rows N] [--reuse]

1. A fresh database (PostgreSQL ``sipflask_bench_reports``, its own so that a webhook benchmark
   running meanwhile keeps ``sipflask_bench``; SQLite in a temporary directory) at the revision
   before reports (``flask db upgrade b8d4f0a2c365``), ``flask demo``, the webhook benchmark's
   bulk loader (``bench/webhook.py`` ``Db.bulk_load``): 1,000,000 calls, one every 7 s back from
   now (81 days), ~1.2 attempts each (30 % with a busy first buyer), 1 in 7 converted; a caller
   state tag on 9 in 10; then ``flask db upgrade``: the reports migration (c6e1a9d3f472) fills
   its columns and builds its indexes, as on a deployment that upgrades (timed).
2. In this process, on the account clock of America/New_York: every 30-day report (each
   grouping), the overview's queries (:func:`overview`) and the 30-day series, each timed
   ``--repeat`` times after one warm-up (the query and building rows,
   what a request spends in sipflask). Baseline, measured in the same run:
   ``SELECT count(*)`` of the same 30 days' calls.
3. Prints the figures (median and best, and the ratio to the baseline), the goals (PostgreSQL:
   300 ms for a 30-day report by campaign, buyer or day, 150 ms for the overview) and the plans
   (EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite) of the reports by
   campaign, buyer and day; writes JSON to bench/results/.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import webhook as wb  # noqa: E402  (the bulk loader and database helpers)

PG_DB = "sipflask_bench_reports"
BEFORE = "b8d4f0a2c365"  # the revision before the reports migration (c6e1a9d3f472)
MIGRATION_SECONDS: dict = {}
ZONE = "America/New_York"
GOALS = {"report:campaign": 300, "report:buyer": 300, "report:day": 300, "overview": 150}
PLANNED = ("campaign", "buyer", "day")


def log(msg: str) -> None:
    wb.log(msg)


def prepare(kind: str, rows: int, tmp: Path, reuse: bool) -> str:
    """The database, migrated, with the demo setup and ``rows`` bulk-loaded calls."""
    uri = (f"postgresql+psycopg://{wb.PG_USER}@{wb.PG_HOST}:{wb.PG_PORT}/{PG_DB}"
           if kind == "postgres" else "sqlite:///" + str(tmp / "sipflask_bench.sqlite"))
    db = wb.Db(kind, uri, PG_DB)
    if reuse and kind == "postgres":
        try:
            if (db.scalar("SELECT count(*) FROM calls") or 0) >= rows:
                version = db.scalar("SELECT version_num FROM alembic_version")
                log(f"reusing {PG_DB} ({rows:,} calls or more, at {version}); migrating it")
                t0 = time.monotonic()
                wb.flask_cli(env_for(uri, tmp), "db", "upgrade")
                if version == BEFORE:
                    MIGRATION_SECONDS[kind] = round(time.monotonic() - t0, 1)
                    log(f"{kind}: migrated in {MIGRATION_SECONDS[kind]} s")
                db.settle()
                return uri
        except Exception:  # noqa: BLE001  no such database yet: build it
            pass
    uri = wb.make_database(kind, tmp, PG_DB)
    env = env_for(uri, tmp)
    log(f"{kind}: schema as it was before reports ({BEFORE}) and demo data")
    wb.flask_cli(env, "db", "upgrade", BEFORE)
    wb.flask_cli(env, "demo")
    log(f"{kind}: bulk-loading {rows:,} calls ...")
    secs = db.bulk_load(rows)
    vary(db)
    log(f"{kind}: {db.scalar('SELECT count(*) FROM calls'):,} calls, "
        f"{db.scalar('SELECT count(*) FROM attempts'):,} attempts in {secs:.0f} s; "
        "now the reports migration (backfill, then its indexes) ...")
    t0 = time.monotonic()
    wb.flask_cli(env, "db", "upgrade")
    migrated = time.monotonic() - t0
    db.settle()
    log(f"{kind}: migrated in {migrated:.0f} s")
    MIGRATION_SECONDS[kind] = round(migrated, 1)
    return uri


def vary(db) -> None:
    """What the bulk loader leaves uniform: a caller state on most calls (a JSON tag to group
    on). Done as plain SQL after the load, so the webhook benchmark's data stays as it was."""
    states = "ARRAY['CA','TX','NY','FL','OH','WA','IL']"
    if db.kind == "postgres":
        db.run(f"""UPDATE calls SET tags = (tags::jsonb || jsonb_build_object('caller_state',
                   ({states})[1 + id % 7]))::json WHERE id % 10 <> 0""")
    else:
        db.run("""UPDATE calls SET tags = json_set(tags, '$.caller_state',
                  substr('CATXNYFLOHWAIL', 1 + 2 * (id % 7), 2)) WHERE id % 10 <> 0""")
    db.settle()


def env_for(uri: str, tmp: Path) -> dict:
    import os
    plugins = tmp / "plugins"
    plugins.mkdir(exist_ok=True)
    return {**os.environ, "SIPFLASK_SQLALCHEMY_DATABASE_URI": uri,
            "SIPFLASK_TWILIO_AUTH_TOKEN": wb.TOKEN, "SIPFLASK_PUBLIC_URL": wb.PUBLIC_URL,
            "SIPFLASK_SECRET_KEY": "bench-" + "k" * 40, "SIPFLASK_PLUGINS_DIR": str(plugins),
            "SIPFLASK_PLUGINS_ALLOW": "", "PYTHONPATH": str(ROOT)}


def make_app(uri: str, tmp: Path):
    from sipflask import create_app
    return create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench-" + "k" * 40,
                       "PUBLIC_URL": wb.PUBLIC_URL, "TWILIO_AUTH_TOKEN": wb.TOKEN,
                       "PLUGINS_DIR": str(tmp / "plugins"), "PLUGINS_ALLOW": [],
                       "JOBS_SQLITE_PATH": str(tmp / "jobs.sqlite"),
                       "OUTAGE_JOURNAL": str(tmp / "journal.jsonl"),
                       # Measure however long a report takes (a request has 3 s).
                       "DB_STATEMENT_TIMEOUT": 120})


def timed(fn, repeat: int) -> dict:
    fn()  # warm-up: caches, the planner's statistics, pages in memory
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": round(statistics.median(runs), 1), "best_ms": round(min(runs), 1),
            "runs_ms": [round(r, 1) for r in runs]}


def workloads(today: date) -> dict:
    """name -> a function running it, all on the account's clock."""
    from sipflask.reports import query, series

    first = today - timedelta(days=29)
    work = {}
    for group in query.GROUPS + ("tag:vertical",):
        work[f"report:{group}"] = lambda g=group: query.build_report(g, first, today)
    work["overview"] = lambda: overview(today)
    work["series:30 days by day"] = lambda: series.outcome_series(first, today, "day")
    work["series:revenue 30 days"] = lambda: series.revenue_series(first, today)
    return work


def overview(today: date):
    """What the overview (``/``) asks the database: the record counts it has always shown,
    today's report by campaign, today's calls per hour by outcome (its chart), and the live
    strip where this checkout has one (``calllog/live.py``)."""
    from sqlalchemy import func, select

    from sipflask.extensions import db
    from sipflask.models import Buyer, Call, Campaign, Number, Publisher
    from sipflask.reports import query, series
    for model in (Campaign, Number, Publisher, Buyer, Call):
        db.session.scalar(select(func.count()).select_from(model))
    query.build_report("campaign", today, today)
    series.outcome_series(today, today, "hour")
    try:
        from sipflask.calllog.live import live_strip
    except ImportError:
        return
    live_strip()


def baseline(today: date):
    from sqlalchemy import func, select

    from sipflask.account.clock import day_range
    from sipflask.account.settings import account_zone
    from sipflask.extensions import db
    from sipflask.models import Call

    start, end = day_range(today - timedelta(days=29), today, account_zone())
    return lambda: db.session.scalar(select(func.count()).select_from(Call).where(
        Call.created_at >= start, Call.created_at < end))


def plans(kind: str, fn) -> list[str]:
    """The plan of every statement ``fn`` runs (run once more, with EXPLAIN)."""
    from sqlalchemy import event

    from sipflask.extensions import db
    seen: list = []
    engine = db.engine

    def grab(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    out = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in seen:
            if not statement.lstrip().upper().startswith("SELECT"):
                cur.execute(statement, parameters)  # SET LOCAL work_mem, jit: as the report ran
                continue
            prefix = ("EXPLAIN (ANALYZE, BUFFERS) " if kind == "postgres"
                      else "EXPLAIN QUERY PLAN ")
            cur.execute(prefix + statement, parameters)
            lines = [" | ".join(str(c) for c in row) for row in cur.fetchall()]
            out.append(statement.strip() + "\n" + "\n".join("    " + x for x in lines))
    finally:
        raw.close()
    return out


def run_kind(kind: str, args, tmp: Path) -> dict:
    uri = prepare(kind, args.rows, tmp, args.reuse)
    app = make_app(uri, tmp)
    from sipflask.account.settings import save_time_zone
    from sipflask.reports.query import local_today
    out: dict = {"db": kind, "rows": args.rows, "zone": ZONE, "timings": {},
                 "migration_s": MIGRATION_SECONDS.get(kind)}
    with app.app_context():
        save_time_zone(ZONE)
        today = local_today()
        out["range"] = [(today - timedelta(days=29)).isoformat(), today.isoformat()]
        base = timed(baseline(today), args.repeat)
        out["baseline"] = base
        out["baseline_calls"] = baseline(today)()
        log(f"{kind}: baseline count(*) of the 30 days ({out['baseline_calls']:,} calls): "
            f"{base['median_ms']} ms")
        for name, fn in workloads(today).items():
            t = timed(fn, args.repeat)
            t["x_baseline"] = round(t["median_ms"] / base["median_ms"], 1)
            out["timings"][name] = t
            log(f"{kind}: {name:28s} median {t['median_ms']:8.1f} ms  best {t['best_ms']:8.1f} ms"
                f"  ({t['x_baseline']}x baseline)")
        if not args.no_plans:
            work = workloads(today)
            out["plans"] = {g: plans(kind, work[f"report:{g}"]) for g in PLANNED}
            out["plans"]["overview"] = plans(kind, work["overview"])
    if kind == "postgres" and not args.keep_db and not args.reuse:
        with wb.pg_connect("postgres") as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    return out


def report(results: list[dict]) -> None:
    for r in results:
        print()
        print(f"reports on {r['rows']:,} stored calls | db={r['db']} | zone {r['zone']} | "
              f"30 days {r['range'][0]}..{r['range'][1]} ({r['baseline_calls']:,} calls)")
        if r.get("migration_s") is not None:
            print(f"the reports migration (backfill + indexes) took {r['migration_s']} s")
        print(f"{'workload':30s} | {'median ms':>9} | {'best ms':>8} | {'x count(*)':>10} | goal")
        print("-" * 72)
        b = r["baseline"]
        print(f"{'baseline: count(*) 30 days':30s} | {b['median_ms']:9.1f} | {b['best_ms']:8.1f} "
              f"| {1.0:10.1f} |")
        for name, t in r["timings"].items():
            goal = GOALS.get(name) if r["db"] == "postgres" else None
            verdict = "" if goal is None else (
                f"<= {goal} ms: {'PASS' if t['median_ms'] <= goal else 'FAIL'}")
            print(f"{name:30s} | {t['median_ms']:9.1f} | {t['best_ms']:8.1f} | "
                  f"{t['x_baseline']:10.1f} | {verdict}")
        for name, lines in (r.get("plans") or {}).items():
            print(f"\n--- plans: {name} ({r['db']}) ---")
            for text in lines:
                print(text)
                print()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default=None,
                    help="default: both when 127.0.0.1:5432 answers, else sqlite")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--reuse", action="store_true",
                    help="PostgreSQL: keep and reuse a loaded sipflask_bench_reports")
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--no-plans", action="store_true")
    args = ap.parse_args(argv)
    kinds = {"both": ["postgres", "sqlite"], None: (["postgres", "sqlite"] if wb.pg_reachable()
                                                   else ["sqlite"])}.get(args.db, [args.db])
    results = []
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="sipflask-bench-reports-") as tmp:
            results.append(run_kind(kind, args, Path(tmp)))
    report(results)
    wb.RESULTS.mkdir(parents=True, exist_ok=True)
    path = wb.RESULTS / f"reports-{'-'.join(kinds)}-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    log(f"results written to {path.relative_to(ROOT)}")
    ok = all(t["median_ms"] <= GOALS[n] for r in results if r["db"] == "postgres"
             for n, t in r["timings"].items() if n in GOALS)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
