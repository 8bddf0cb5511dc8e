"""Sample sipflask's gunicorn workers with py-spy while bench/webhook.py's load runs.

    .venv/bin/pip install py-spy   # once
    .venv/bin/python bench/pyspy_webhook.py [--db sqlite|postgres] [--clients 16] [--requests 1500]

On-CPU samples only (py-spy without --idle), so the buckets below say where the workers'
CPU goes; bench/profile_webhook.py (cProfile, in-process) says where the wall time goes.
Collapsed stacks are kept in bench/results/pyspy-<worker pid>.txt (flamegraph-ready).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import webhook as wb  # noqa: E402

# label -> substrings; a sample counts for a label when any frame contains one of them.
BUCKETS = [
    ("whole request (flask wsgi_app)", ["wsgi_app (flask/app.py"]),
    ("  signature check (before_request)", ["check_signature (sipflask/blueprints/webhook.py"]),
    ("    twilio RequestValidator.validate", ["validate (twilio/request_validator.py"]),
    ("    form parsing (werkzeug)", ["_load_form_data (", "parse (werkzeug/formparser.py"]),
    ("  callflow.start_call", ["start_call (sipflask/callflow/voice.py"]),
    ("    number lookup + selectinload", ["_selectin_", "selectinload"]),
    ("    callflow.route_next", ["route_next (sipflask/callflow/voice.py"]),
    ("      routing list (directory)", ["campaign_buyers (sipflask/callflow/directory.py"]),
    ("      caps.reserve", ["reserve (sipflask/callflow/caps.py"]),
    ("      plan_for (headers, TwiML)", ["plan_for (sipflask/callflow/planning.py"]),
    ("      plugins (collect_*)", ["collect_token_values (", "collect_sip_headers ("]),
    ("        plugins._safe_buyer (deepcopy)", ["_safe_buyer ("]),
    ("        dial URI (core.sip.build_dial_uri)", ["build_dial_uri ("]),
    ("        TwiML (core.twiml)", ["(sipflask/core/twiml.py"]),
    ("      store.write_call (INSERT call)", ["write_call (sipflask/callflow/store.py"]),
    ("      store.insert_attempts", ["insert_attempts (sipflask/callflow/store.py"]),
    ("      dial_action_url (url_for)", ["dial_action_url ("]),
    ("      crypto (HKDF/Fernet)", ["(sipflask/crypto.py"]),
    ("  pool checkout (+ pre-ping)", ["_checkout (sqlalchemy/pool/base.py"]),
    ("    pre-ping", ["do_ping ("]),
    ("  Session.commit", ["commit (sqlalchemy/orm/session.py"]),
    ("  Session.flush", ["_flush (sqlalchemy/orm/session.py"]),
    ("  reloads after commit (expired attrs)", ["_load_expired (sqlalchemy/orm/state.py"]),
    ("  lazy loads", ["_emit_lazyload (sqlalchemy/orm/strategies.py"]),
    ("  psycopg / sqlite3 driver", ["(psycopg/", "execute (sqlite3"]),
    ("  SQL compile + cache key", ["(sqlalchemy/sql/compiler.py", "_generate_cache_key"]),
    ("  logging", ["(logging/__init__.py"]),
    ("  teardown (session remove)", ["do_teardown_appcontext (flask/app.py"]),
    ("gunicorn HTTP parse/write", ["(gunicorn/http/"]),
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=1500)
    ap.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    ap.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    args = ap.parse_args()
    spy = wb.VENV_BIN / "py-spy"
    if not spy.exists():
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    kind = args.db or ("postgres" if wb.pg_reachable() else "sqlite")
    tmp = Path(tempfile.mkdtemp(prefix="sipflask-spy-"))
    (tmp / "plugins").mkdir()
    server, spies = None, []
    try:
        uri = wb.make_database(kind, tmp)
        env = {**os.environ, "SIPFLASK_SQLALCHEMY_DATABASE_URI": uri,
               "SIPFLASK_TWILIO_AUTH_TOKEN": wb.TOKEN, "SIPFLASK_PUBLIC_URL": wb.PUBLIC_URL,
               "SIPFLASK_SECRET_KEY": "bench-" + "k" * 40,
               "SIPFLASK_PLUGINS_DIR": str(tmp / "plugins"), "SIPFLASK_PLUGINS_ALLOW": "", "PYTHONPATH": str(wb.ROOT)}
        wb.flask_cli(env, "db", "upgrade")
        wb.flask_cli(env, "demo")
        wb.Db(kind, uri).lift_caps()
        server = wb.Server("sipflask", "sipflask:create_app()", env, args.worker_class, 4, 2, tmp)
        server.wait_ready()
        wb.load(server, wb.Requests(200, "sw", 1), 8, 10, b"")  # warm-up
        pids = server.workers()
        wb.RESULTS.mkdir(parents=True, exist_ok=True)
        outs = []
        for pid in pids:
            out = wb.RESULTS / f"pyspy-{kind}-{pid}.txt"
            outs.append(out)
            spies.append(subprocess.Popen(
                [str(spy), "record", "--pid", str(pid), "--rate", str(args.rate), "--format", "raw",
                 "--output", str(out), "--duration", "60", "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1.0)
        res = wb.load(server, wb.Requests(args.requests, "sp", 2), args.clients, 30, b"<Dial")
        print(f"{kind} {args.worker_class} c={args.clients}: {res['rps']} req/s, "
              f"p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, "
              f"{res['server_cpu_ms_per_req']} ms worker CPU/request")
        for p in spies:
            p.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        for p in spies:
            p.wait(timeout=30)
        stacks: Counter = Counter()
        for out in outs:
            if out.exists():
                for line in out.read_text().splitlines():
                    stack, _, count = line.rpartition(" ")
                    if stack and count.isdigit():
                        stacks[stack] += int(count)
        total = sum(stacks.values())
        print(f"{total} on-CPU samples from {len(outs)} workers "
              f"(sampling stopped with the load; idle samples excluded)")
        for label, needles in BUCKETS:
            hit = sum(c for s, c in stacks.items() if any(n in s for n in needles))
            print(f"  {label:42s} {100 * hit / total if total else 0:5.1f} %")
        leaf: Counter = Counter()
        for s, c in stacks.items():
            leaf[s.split(";")[-1]] += c
        print("top self (leaf) frames:")
        for frame, c in leaf.most_common(15):
            print(f"  {100 * c / total:5.1f} %  {frame[:110]}")
        return 0
    finally:
        for p in spies:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        if server is not None:
            server.stop()
        if kind == "postgres":
            try:
                with wb.pg_connect("postgres") as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {wb.PG_DB} WITH (FORCE)")
            except Exception:  # noqa: BLE001
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
