"""cProfile sipflask's voice webhook in-process (Flask test client, no gunicorn).

    .venv/bin/python bench/profile_webhook.py [--db sqlite|postgres] [--requests 500] [--top 40]
                                              [--webhooks N]

Sets up the same database as bench/webhook.py (fresh, demo data, caps lifted), sends the same
pre-signed requests through ``app.test_client()`` and prints where the time goes: cumulative
and own time of the top functions, plus a few hand-picked buckets (signature check, plugin
pool, ORM flush/commit, selectinload, TwiML, crypto). Writes the raw profile to
bench/results/webhook.prof (open it with ``python -m pstats`` or snakeviz).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import webhook as wb  # noqa: E402

BUCKETS = {
    "signature check (RequestValidator.validate)": ("request_validator.py", "validate"),
    "plugins.collect_token_values": ("plugins/__init__.py", "collect_token_values"),
    "plugins.collect_sip_headers": ("plugins/__init__.py", "collect_sip_headers"),
    "plugin pool submit/wait": ("plugins/__init__.py", "_call_third_party"),
    "Session.commit": ("session.py", "commit"),
    "Session.flush": ("session.py", "flush"),
    "caps.reserve": ("caps.py", "reserve"),
    "directory.campaign_buyers": ("directory.py", "campaign_buyers"),
    "dialplan.plan_attempt (TwiML)": ("dialplan.py", "plan_attempt"),
    "crypto._fernet (HKDF)": ("crypto.py", "_fernet"),
    "crypto.decrypt": ("crypto.py", "decrypt"),
    "pool pre-ping": ("default.py", "_do_ping_w_event"),
    "DB round trips (cursor.execute)": ("default.py", "do_execute"),
    "callflow.start_call": ("voice.py", "start_call"),
    "callflow.route_next": ("voice.py", "route_next"),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"])
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--webhooks", type=int, default=0, metavar="N",
                    help="N enabled webhooks on the voice webhook's events, as bench/webhook.py")
    args = ap.parse_args()
    kind = args.db or ("postgres" if wb.pg_reachable() else "sqlite")
    tmp = Path(tempfile.mkdtemp(prefix="sipflask-prof-"))
    (tmp / "plugins").mkdir()
    try:
        uri = wb.make_database(kind, tmp)
        env = {"SIPFLASK_SQLALCHEMY_DATABASE_URI": uri, "SIPFLASK_TWILIO_AUTH_TOKEN": wb.TOKEN,
               "SIPFLASK_PUBLIC_URL": wb.PUBLIC_URL, "SIPFLASK_SECRET_KEY": "bench-" + "k" * 40,
               "SIPFLASK_PLUGINS_DIR": str(tmp / "plugins"), "SIPFLASK_PLUGINS_ALLOW": ""}
        os.environ.update(env)
        wb.flask_cli({**os.environ}, "db", "upgrade")
        wb.flask_cli({**os.environ}, "demo")
        db = wb.Db(kind, uri)
        db.lift_caps()
        if args.webhooks:
            db.add_webhooks(args.webhooks)

        from sipflask import create_app
        app = create_app()
        client = app.test_client()
        reqs = wb.Requests(args.requests + 50, "pf", 7)

        def send(items):
            for body, headers in items:
                r = client.post(wb.PATH, data=body, headers=headers,
                                base_url="http://bench.sipflask.test")
                assert r.status_code == 200 and b"<Dial" in r.data, r.data[:200]

        send(reqs.items[:50])  # warm-up
        prof = cProfile.Profile()
        t0, c0 = time.perf_counter(), time.process_time()
        prof.enable()
        send(reqs.items[50:])
        prof.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        n = args.requests
        print(f"{kind}: {n} requests in-process (profiled): {1000 * wall / n:.2f} ms wall, "
              f"{1000 * cpu / n:.2f} ms CPU per request (cProfile inflates both)")
        wb.RESULTS.mkdir(parents=True, exist_ok=True)
        prof.dump_stats(str(wb.RESULTS / f"webhook-{kind}.prof"))
        st = pstats.Stats(prof)
        total = st.total_tt
        print(f"\nbuckets (cumulative ms per request; total profiled {1000 * total / n:.2f} ms):")
        for label, (file, func) in BUCKETS.items():
            cum, calls = 0.0, 0
            for (f, _line, name), (_cc, nc, _tt, ct, _callers) in st.stats.items():
                if f.endswith(file) and name == func:
                    cum += ct
                    calls += nc
            print(f"  {label:45s} {1000 * cum / n:7.3f} ms  ({calls / n:.1f} calls/req)")
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
        return 0
    finally:
        if kind == "postgres":
            try:
                with wb.pg_connect("postgres") as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {wb.PG_DB} WITH (FORCE)")
            except Exception:  # noqa: BLE001
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
