"""Benchmark sipflask's Twilio voice webhook against a floor app, under gunicorn.

    .venv/bin/python bench/webhook.py [--db sqlite|postgres] [--quick] [--webhooks N]

What it does (see docs/performance.md):

1. Creates a fresh database (PostgreSQL ``sipflask_bench`` when 127.0.0.1:5432 answers, else
   SQLite in a temporary directory), runs ``flask --app sipflask db upgrade`` and
   ``flask --app sipflask demo``, then lifts every buyer's caps and unpauses them so that caps
   never end a run early.
2. Starts sipflask (``sipflask:create_app()``) and the floor app (``bench/floor_app.py``) under
   gunicorn with the same settings (2 workers, sync by default) on free 127.0.0.1 ports.
3. Fires signed voice webhooks (twilio's RequestValidator.compute_signature over PUBLIC_URL +
   path; every request a unique CallSid and a random caller, all signed BEFORE the clock starts)
   from Python threads with http.client connections, at 1, 16 and 64 concurrent clients:
   a bounded number of requests per level, with a time cap. Reports req/s, p50, p99, errors,
   the load generator's own CPU and the gunicorn workers' CPU per request.
4. Bulk-loads 1,000,000 calls (+ ~1.3 attempts per call) and re-measures at 16 concurrent.
5. Prints a table and a verdict against the goals, and writes JSON to bench/results/.

Every loop is bounded in count and time; only 127.0.0.1 is used; gunicorn is killed in
``finally``.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
PG_HOST, PG_PORT, PG_USER, PG_DB = "127.0.0.1", 5432, "postgres", "sipflask_bench"
PUBLIC_URL = "https://bench.sipflask.test"
PATH = "/twilio/voice"
TOKEN = "bench-auth-token-" + "0123456789abcdef"
# --schedules: opening hours that are open all week but go through every range check (two
# ranges a day, an overnight one, a closure ahead), in zones with odd offsets and DST.
SCHEDULED = (("America/New_York", "dialled"), ("Asia/Kolkata", "connected"),
             ("Australia/Lord_Howe", "dialled"), ("America/Los_Angeles", "connected"))
OPEN_WEEK = json.dumps({d: ["00:00-11:30", "11:30-22:00", "22:00-24:00"]
                        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
CLOSURES = json.dumps([{"date": "2099-12-25", "hours": []}])

# The demo's tracking numbers, weighted like a realistic mix of campaigns.
NUMBERS = [("+18882223333", 4), ("+18664420199", 3), ("+18773331212", 2), ("+18448210555", 1)]
GOAL_THROUGHPUT = 0.60   # sipflask >= 60 % of the floor's req/s at 16 concurrent
GOAL_P99 = 2.0           # sipflask p99 <= 2x the floor's at 1 concurrent


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------------------------
# Databases

def pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def pg_connect(dbname: str):
    import psycopg
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname,
                           autocommit=True, connect_timeout=5)


def make_database(kind: str, tmp: Path, pg_db: str = PG_DB) -> str:
    """A fresh, empty database (``pg_db`` dropped and created again); its SQLAlchemy URI."""
    if kind == "postgres":
        with pg_connect("postgres") as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {pg_db}")
        return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{pg_db}"
    return "sqlite:///" + str(tmp / "sipflask_bench.sqlite")


class Db:
    """Just enough raw SQL for setup, truncation and the bulk load (no app import); also used
    by bench/reports.py, on a database of its own."""

    def __init__(self, kind: str, uri: str, pg_db: str = PG_DB):
        self.kind, self.uri, self.pg_db = kind, uri, pg_db

    def connect(self):
        if self.kind == "postgres":
            return pg_connect(self.pg_db)
        conn = sqlite3.connect(self.uri[len("sqlite:///"):], timeout=30, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def run(self, *statements: str):
        with_conn = self.connect()
        try:
            out = None
            for sql in statements:
                cur = with_conn.execute(sql)
                try:
                    out = cur.fetchall()
                except Exception:  # noqa: BLE001  statements without a result set
                    out = None
            return out
        finally:
            with_conn.close()

    def scalar(self, sql: str):
        rows = self.run(sql)
        return rows[0][0] if rows else None

    schedules = False  # --schedules: every buyer on opening hours, with every cap set
    webhooks = 0       # --webhooks N: N enabled webhooks on the voice webhook's events

    def add_webhooks(self, count: int) -> None:
        """``count`` enabled webhooks with no filters, half on call.started and half on
        call.routed (the voice webhook's own events), so that every call writes ``count``
        deliveries. They point at a closed port and no worker runs: only the cost of writing
        them (and queueing the delivery job) is measured, as in production."""
        self.webhooks = count
        true = "true" if self.kind == "postgres" else "1"
        false = "false" if self.kind == "postgres" else "0"
        now = "now()" if self.kind == "postgres" else "CURRENT_TIMESTAMP"
        body = ('{"call": "[call_uuid]", "campaign": [campaign_id], "caller": "[caller_number]", '
                '"state": "[caller_state]", "buyer": "[buyer_name]"}')
        for i in range(count):
            event = "call.started" if i % 2 == 0 else "call.routed"
            self.run("INSERT INTO webhooks (ref, name, event, url, method, body_format, body, "
                     "include_key, enabled, filter_tag_key, filter_tag_value, "
                     "signing_secret_encrypted, created_at, updated_at) VALUES "
                     f"('bench-{i}', 'Bench {i}', '{event}', "
                     f"'http://127.0.0.1:9/hook/[call_uuid]?sub=[sub_id]', 'POST', 'json', "
                     f"'{body}', {false}, {true}, '', '', '', {now}, {now})")

    def lift_caps(self) -> None:
        false = "false" if self.kind == "postgres" else "0"
        caps = "NULL"
        if self.schedules:
            # Caps far above what a run can reach, so every window is checked but none ends it.
            caps = "1000000000"
            for i, (zone, mode) in enumerate(SCHEDULED):
                self.run(f"UPDATE buyers SET time_zone = '{zone}', hours = '{OPEN_WEEK}', "
                         f"closures = '{CLOSURES}', cap_counts = '{mode}' "
                         f"WHERE id % {len(SCHEDULED)} = {i}")
        self.run(f"UPDATE buyers SET concurrency_cap = {caps}, daily_cap = {caps}, "
                 f"hourly_cap = {caps}, monthly_cap = {caps}, total_cap = {caps}, "
                 f"paused = {false}, active_calls = 0, calls_today = 0, calls_hour = 0, "
                 "calls_month = 0, calls_total = 0")

    def has_table(self, name: str) -> bool:
        if self.kind == "postgres":
            return bool(self.scalar(f"SELECT to_regclass('{name}') IS NOT NULL"))
        return bool(self.scalar(f"SELECT count(*) FROM sqlite_master WHERE name = '{name}'"))

    def empty_calls(self) -> None:
        # Webhook deliveries point at calls: they go first (the tables exist once migrated).
        deliveries = ("webhook_delivery_tries", "webhook_deliveries") \
            if self.has_table("webhook_deliveries") else ()
        if self.kind == "postgres":
            self.run(f"TRUNCATE {', '.join(deliveries + ('attempts', 'postbacks', 'calls'))} "
                     "RESTART IDENTITY")
        else:
            self.run(*(f"DELETE FROM {t}" for t in deliveries), "DELETE FROM attempts",
                     "DELETE FROM postbacks", "DELETE FROM calls")
        self.lift_caps()
        self.settle()

    def settle(self) -> None:
        """Leave nothing for autovacuum/checkpoints to do during the next measurement."""
        if self.kind == "postgres":
            self.run("VACUUM ANALYZE calls", "VACUUM ANALYZE attempts", "VACUUM ANALYZE buyers",
                     "CHECKPOINT")
        else:
            self.run("PRAGMA wal_checkpoint(TRUNCATE)", "ANALYZE")

    def bulk_load(self, rows: int) -> float:
        """Insert ``rows`` old calls (and ~1.3 attempts per routed call) in a few statements."""
        t0 = time.monotonic()
        if self.kind == "postgres":
            self.run(f"""
WITH nums AS (SELECT row_number() OVER (ORDER BY id) - 1 AS k, * FROM numbers),
     cnt AS (SELECT count(*) AS n FROM numbers)
INSERT INTO calls (uuid, key, call_sid, caller, called, number_id, campaign_id, publisher_id,
                   sub_id, tags, tag_sources, status, reason, duration, converted, revenue,
                   created_at, ended_at)
SELECT md5(i::text || 'u')::uuid::text, md5(i::text) || md5(i::text || 'k'),
       'CB' || lpad(i::text, 32, '0'), '+1' || (2000000000 + (i::bigint * 7919) % 7999999999)::text,
       n.number, n.id, n.campaign_id, n.publisher_id, n.sub_id,
       n.tags, '{{"vertical": "number"}}'::json,
       CASE WHEN i % 20 = 0 THEN 'no-buyer' WHEN i % 10 < 6 THEN 'completed'
            WHEN i % 10 < 8 THEN 'no-answer' ELSE 'busy' END,
       '', (i % 600), i % 7 = 0, CASE WHEN i % 7 = 0 THEN 25.00 END,
       now() - make_interval(secs => i * 7), now() - make_interval(secs => i * 7 - 60)
FROM generate_series(1, {rows}) AS i, cnt JOIN nums n ON true
WHERE n.k = i % cnt.n""")
            self.run("""
INSERT INTO attempts (call_id, position, buyer_id, buyer_name, kind, dialled, sip_username,
                      headers_sent, headers_dropped, plugin_errors, skipped, dial_status,
                      sip_code, duration, holds_slot, started_at, ended_at)
SELECT c.id, p.pos, b.id, b.name, 'sip', b.number, '',
       '[{"name": "X-Campaign-ID", "value": "1", "source": "buyer"}]'::json, '[]'::json,
       '[]'::json, '[]'::json,
       CASE WHEN p.pos = 0 AND c.id % 10 < 3 THEN 'busy' ELSE c.status END,
       CASE WHEN p.pos = 0 AND c.id % 10 < 3 THEN 486 ELSE 200 END, c.duration, false,
       c.created_at, c.ended_at
FROM calls c
JOIN generate_series(0, 1) AS p(pos) ON p.pos = 0 OR c.id % 10 < 3
JOIN buyers b ON b.id = (SELECT buyer_id FROM campaign_buyers cb
                         WHERE cb.campaign_id = c.campaign_id ORDER BY position
                         OFFSET p.pos LIMIT 1)
WHERE c.status <> 'no-buyer' AND c.call_sid LIKE 'CB%'""")
        else:
            self.run(f"""
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {rows})
INSERT INTO calls (uuid, key, call_sid, caller, called, number_id, campaign_id, publisher_id,
                   sub_id, tags, tag_sources, status, reason, duration, converted, revenue,
                   created_at, ended_at)
SELECT lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' ||
             substr(h, 17, 4) || '-' || substr(h, 21, 12)),
       lower(hex(randomblob(32))), printf('CB%032d', i), '+1' || (2000000000 + (i * 7919) % 7999999999),
       n.number, n.id, n.campaign_id, n.publisher_id, n.sub_id, n.tags, '{{"vertical": "number"}}',
       CASE WHEN i % 20 = 0 THEN 'no-buyer' WHEN i % 10 < 6 THEN 'completed'
            WHEN i % 10 < 8 THEN 'no-answer' ELSE 'busy' END,
       '', i % 600, i % 7 = 0, CASE WHEN i % 7 = 0 THEN 25.00 END,
       strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (i * 7) || ' seconds'),
       strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (i * 7 - 60) || ' seconds')
FROM (SELECT i, hex(randomblob(16)) AS h FROM seq) s
JOIN (SELECT nn.*, (SELECT count(*) FROM numbers m WHERE m.id < nn.id) AS k FROM numbers nn) n
  ON n.k = s.i % (SELECT count(*) FROM numbers)""")
            self.run("""
INSERT INTO attempts (call_id, position, buyer_id, buyer_name, kind, dialled, sip_username,
                      headers_sent, headers_dropped, plugin_errors, skipped, dial_status,
                      sip_code, duration, holds_slot, started_at, ended_at)
SELECT c.id, p.pos, b.id, b.name, 'sip', b.number, '',
       '[{"name": "X-Campaign-ID", "value": "1", "source": "buyer"}]', '[]', '[]', '[]',
       CASE WHEN p.pos = 0 AND c.id % 10 < 3 THEN 'busy' ELSE c.status END,
       CASE WHEN p.pos = 0 AND c.id % 10 < 3 THEN 486 ELSE 200 END, c.duration, 0,
       c.created_at, c.ended_at
FROM calls c
JOIN (SELECT 0 AS pos UNION ALL SELECT 1) p ON p.pos = 0 OR c.id % 10 < 3
JOIN (SELECT cb.campaign_id, cb.buyer_id,
             (SELECT count(*) FROM campaign_buyers x WHERE x.campaign_id = cb.campaign_id
              AND x.position < cb.position) AS k FROM campaign_buyers cb) r
  ON r.campaign_id = c.campaign_id AND r.k = p.pos
JOIN buyers b ON b.id = r.buyer_id
WHERE c.status <> 'no-buyer' AND c.call_sid LIKE 'CB%'""")
        self.settle()
        return time.monotonic() - t0


# ----------------------------------------------------------------------------------------------
# gunicorn

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, target: str, env: dict, worker_class: str, threads: int,
                 workers: int, logdir: Path):
        self.name, self.port = name, free_port()
        cmd = [str(VENV_BIN / "gunicorn"), "--workers", str(workers),
               "--worker-class", worker_class, "--bind", f"127.0.0.1:{self.port}",
               "--chdir", str(ROOT), "--timeout", "60", "--graceful-timeout", "5",
               "--backlog", "2048"]
        if worker_class == "gthread":
            cmd += ["--threads", str(threads)]
        cmd.append(target)
        self.log = open(logdir / f"gunicorn-{name}.log", "w")
        # Own process group: the finally below can end the master and its workers together.
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn for {self.name} exited; see {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("POST", PATH, body="", headers={"Content-Type":
                                                              "application/x-www-form-urlencoded"})
                status = conn.getresponse().status
                conn.close()
                if status == 403:  # unsigned: refused, so the app is up and checking
                    if len(self.workers()) >= 1:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn for {self.name} not ready after {timeout} s")

    def workers(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            return [int(p) for p in text.split()]
        except OSError:
            return []

    def cpu_seconds(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the workers so far."""
        tick = os.sysconf("SC_CLK_TCK")
        user = system = 0.0
        for pid in self.workers():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                user += int(fields[11]) / tick
                system += int(fields[12]) / tick
            except (OSError, IndexError, ValueError):
                pass
        return user, system

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self.log.close()


# ----------------------------------------------------------------------------------------------
# Load generator

class Requests:
    """Pre-built, pre-signed voice webhooks: the clock never includes signing or encoding."""

    _counter = itertools.count()

    def __init__(self, count: int, tag: str, seed: int):
        rng = random.Random(seed)
        validator = RequestValidator(TOKEN)
        url = PUBLIC_URL + PATH
        choices, weights = zip(*NUMBERS)
        self.items: list[tuple[bytes, dict]] = []
        for _ in range(count):
            n = next(self._counter)
            caller = f"+1{rng.randint(2, 9)}{rng.randint(0, 99):02d}{rng.randint(2, 9)}" \
                     f"{rng.randint(0, 999999):06d}"
            to = rng.choices(choices, weights)[0]
            state = rng.choice(["CA", "TX", "NY", "FL", "OH", "WA"])
            params = {
                "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01",
                "CallSid": f"CA{tag}{n:0{32 - len(tag)}d}", "CallStatus": "ringing",
                "Called": to, "CalledCountry": "US", "CalledState": "", "CalledCity": "",
                "CalledZip": "", "Caller": caller, "CallerCountry": "US", "CallerState": state,
                "CallerCity": "", "CallerZip": f"{rng.randint(10000, 99999)}",
                "Direction": "inbound", "From": caller, "FromCountry": "US",
                "FromState": state, "FromCity": "", "FromZip": f"{rng.randint(10000, 99999)}",
                "To": to, "ToCountry": "US", "ToState": "", "ToCity": "", "ToZip": "",
            }
            body = urlencode(params).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": validator.compute_signature(url, params),
                       "User-Agent": "TwilioProxy/1.1", "Host": "bench.sipflask.test"}
            self.items.append((body, headers))


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def load(server: Server, reqs: Requests, clients: int, time_cap: float, expect: bytes) -> dict:
    """``clients`` threads, each with its own connection, until the requests or time run out."""
    total = len(reqs.items)
    index = itertools.count()  # next() on itertools.count is atomic under the GIL
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    bad = [0] * clients
    start_evt = threading.Event()
    deadline_box = [0.0]

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        start_evt.wait(10)
        deadline = deadline_box[0]
        mine = lat[k]
        while True:
            i = next(index)
            if i >= total or time.perf_counter() > deadline:
                break
            body, headers = reqs.items[i]
            for attempt in (1, 2):  # a keep-alive connection the server closed: retry once
                t0 = time.perf_counter()
                try:
                    conn.request("POST", PATH, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    mine.append(time.perf_counter() - t0)
                    if resp.status != 200 or expect not in data:
                        bad[k] += 1
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    if attempt == 2:
                        errors[k] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    cpu0, srv0, wall0 = time.process_time(), server.cpu_seconds(), time.perf_counter()
    busy0 = machine_busy()
    deadline_box[0] = wall0 + time_cap
    start_evt.set()
    for t in threads:
        t.join(time_cap + 35)
    wall = time.perf_counter() - wall0
    srv1 = server.cpu_seconds()
    cpu = time.process_time() - cpu0
    srv_user, srv_sys = srv1[0] - srv0[0], srv1[1] - srv0[1]
    srv = srv_user + srv_sys
    busy = machine_busy(busy0)
    all_lat = sorted(x for per in lat for x in per)
    done = len(all_lat)
    return {
        "clients": clients, "requests": done, "errors": sum(errors), "bad_responses": sum(bad),
        "seconds": round(wall, 3), "rps": round(done / wall, 1) if wall else 0.0,
        "p50_ms": round(percentile(all_lat, 50) * 1000, 2),
        "p99_ms": round(percentile(all_lat, 99) * 1000, 2),
        "max_ms": round(all_lat[-1] * 1000, 2) if all_lat else None,
        "loadgen_cpu_pct": round(100 * cpu / wall, 1) if wall else None,
        "loadgen_cpu_us_per_req": round(1e6 * cpu / done, 1) if done else None,
        "server_cpu_ms_per_req": round(1000 * srv / done, 3) if done else None,
        "server_sys_pct": round(100 * srv_sys / srv, 1) if srv else None,
        "machine_busy_pct": busy,
    }


def machine_busy(before: tuple | None = None):
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, total = fields[3] + fields[4], sum(fields[:8])
    if before is None:
        return (idle, total)
    d_idle, d_total = idle - before[0], total - before[1]
    return round(100 * (1 - d_idle / d_total), 1) if d_total else None


# ----------------------------------------------------------------------------------------------
# Main

def flask_cli(env: dict, *args: str) -> None:
    out = subprocess.run([str(VENV_BIN / "flask"), "--app", "sipflask", *args], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")


def measure(servers: dict, make_reqs, clients: int, n: int, time_cap: float,
            expect: dict) -> dict:
    out = {}
    for name, server in servers.items():  # sipflask first, then the floor, per level
        reqs = make_reqs(n)
        out[name] = load(server, reqs, clients, time_cap, expect[name])
        r = out[name]
        log(f"  {name:8s} c={clients:3d}: {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
            f"p99 {r['p99_ms']:7.2f} ms  n={r['requests']} err={r['errors']} "
            f"bad={r['bad_responses']}  loadgen CPU {r['loadgen_cpu_pct']}%  "
            f"server {r['server_cpu_ms_per_req']} ms CPU/req ({r['server_sys_pct']}% sys)  machine {r['machine_busy_pct']}%")
    return out


def pct(a: float, b: float) -> float:
    return round(100 * a / b, 1) if b else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres"],
                    help="default: postgres when 127.0.0.1:5432 answers, else sqlite")
    ap.add_argument("--quick", action="store_true",
                    help="100k stored calls, fewer requests, shorter caps (~1 minute)")
    ap.add_argument("--worker-class", choices=["sync", "gthread"], default="gthread",
                    help="default gthread (4 threads): see docs/performance.md")
    ap.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--levels", default="1,16,64")
    ap.add_argument("--requests", type=int, help="requests per level (default 2000; quick 400)")
    ap.add_argument("--time-cap", type=float, help="seconds per level (default 20; quick 6)")
    ap.add_argument("--rows", type=int, help="stored calls for the big-table run "
                    "(default 1,000,000; quick 100,000; 0 skips it)")
    ap.add_argument("--sipflask-target", default="sipflask:create_app()",
                    help="gunicorn app for sipflask (default sipflask:create_app())")
    ap.add_argument("--sipflask-env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment for the sipflask server only (repeatable)")
    ap.add_argument("--schedules", action="store_true",
                    help="put every buyer on opening hours in its own zone, with every cap set "
                         "(high enough never to refuse) and half of them counting connected calls")
    ap.add_argument("--webhooks", type=int, default=0, metavar="N",
                    help="configure N enabled webhooks on the voice webhook's events (half "
                         "call.started, half call.routed): every call writes N deliveries")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the PG database at the end")
    ap.add_argument("--pg-db", default=PG_DB,
                    help=f"PostgreSQL database to (re)create and drop (default {PG_DB}); another "
                         "name lets two benchmarks run side by side")
    args = ap.parse_args(argv)

    kind = args.db or ("postgres" if pg_reachable() else "sqlite")
    n = args.requests or (400 if args.quick else 2000)
    cap = args.time_cap or (6.0 if args.quick else 20.0)
    rows = args.rows if args.rows is not None else (100_000 if args.quick else 1_000_000)
    levels = [int(x) for x in args.levels.split(",")]

    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="sipflask-bench-"))
    plugins_dir = tmp / "plugins"  # empty, and PLUGINS_ALLOW="": built-in plugins only
    plugins_dir.mkdir()
    servers: dict[str, Server] = {}
    results: dict = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "db": kind, "quick": args.quick, "worker_class": args.worker_class,
        "threads": args.threads if args.worker_class == "gthread" else 1,
        "workers": args.workers, "sipflask_target": args.sipflask_target,
        "sipflask_env": args.sipflask_env, "requests_per_level": n, "time_cap_s": cap, "rows": rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "cpu": cpu_model()},
    }
    try:
        uri = make_database(kind, tmp, args.pg_db)
        db = Db(kind, uri, args.pg_db)
        db.schedules = results["schedules"] = args.schedules
        env = {**os.environ,
               "SIPFLASK_SQLALCHEMY_DATABASE_URI": uri, "SIPFLASK_TWILIO_AUTH_TOKEN": TOKEN,
               "SIPFLASK_PUBLIC_URL": PUBLIC_URL, "SIPFLASK_SECRET_KEY": "bench-" + "k" * 40,
               "SIPFLASK_PLUGINS_DIR": str(plugins_dir), "SIPFLASK_PLUGINS_ALLOW": "",
               "SIPFLASK_JOBS_SQLITE_PATH": str(tmp / "jobs.sqlite"),
               "PYTHONPATH": str(ROOT)}
        log(f"database: {kind} ({uri.split('@')[-1]}); schema + demo data")
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "demo")
        if args.webhooks:
            db.add_webhooks(args.webhooks)
        results["webhooks"] = args.webhooks
        db.lift_caps()
        db.settle()

        common = dict(env=env, worker_class=args.worker_class, threads=args.threads,
                      workers=args.workers, logdir=tmp)
        extra = dict(item.split("=", 1) for item in args.sipflask_env)
        servers["sipflask"] = Server("sipflask", args.sipflask_target,
                                     **{**common, "env": {**env, **extra}})
        servers["floor"] = Server("floor", "bench.floor_app:app", **common)
        for s in servers.values():
            s.wait_ready()
        log(f"gunicorn: {args.workers} workers, {args.worker_class}"
            + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
            + f"; sipflask on :{servers['sipflask'].port}, floor on :{servers['floor'].port}")

        seed = itertools.count(1)
        tag = secrets.token_hex(3)
        make_reqs = lambda count: Requests(count, tag, next(seed))  # noqa: E731
        # Both answers must be the real routed answer, not the sorry message or a 403.
        expect = {"sipflask": b"<Dial", "floor": b"<Dial"}

        log("warm-up (not counted)")
        for s in servers.values():
            load(s, make_reqs(200), 8, 10, b"")
        db.empty_calls()

        log(f"empty calls table: {n} requests per level, cap {cap:.0f} s")
        results["levels"] = {}
        for c in levels:
            results["levels"][c] = measure(servers, make_reqs, c, n, cap, expect)
        if rows:
            db.empty_calls()
            results["empty16"] = measure(servers, make_reqs, 16, n, cap, expect)
            log(f"bulk-loading {rows:,} calls (+ attempts) ...")
            secs = db.bulk_load(rows)
            results["bulk"] = {"calls": db.scalar("SELECT count(*) FROM calls"),
                               "attempts": db.scalar("SELECT count(*) FROM attempts"),
                               "seconds": round(secs, 1)}
            log(f"  {results['bulk']['calls']:,} calls, {results['bulk']['attempts']:,} attempts "
                f"in {secs:.1f} s")
            results["full16"] = measure(servers, make_reqs, 16, n, cap, expect)

        report(results)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        label = "" if args.sipflask_target == "sipflask:create_app()" and not args.sipflask_env else "-variant"
        label += f"-webhooks{args.webhooks}" if args.webhooks else ""
        path = RESULTS / (f"webhook-{kind}-{args.worker_class}{'-quick' if args.quick else ''}"
                          f"{label}-{stamp}.json")
        path.write_text(json.dumps(results, indent=2) + "\n")
        log(f"results written to {path.relative_to(ROOT)}")
        return 0 if results.get("verdict", {}).get("pass") else 1
    finally:
        for s in servers.values():
            s.stop()
        if kind == "postgres" and not args.keep_db:
            try:
                with pg_connect("postgres") as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {args.pg_db} WITH (FORCE)")
            except Exception as exc:  # noqa: BLE001
                log(f"could not drop {args.pg_db}: {exc}")
        shutil.rmtree(tmp, ignore_errors=True)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def report(results: dict) -> None:
    print()
    print(f"sipflask voice webhook vs floor  |  db={results['db']}  gunicorn {results['workers']} "
          f"workers {results['worker_class']}"
          + (f"x{results['threads']}" if results["worker_class"] == "gthread" else "")
          + f"  |  {results['machine']['cpus']} CPUs")
    head = (f"{'level':>14} | {'sipflask req/s':>14} | {'floor req/s':>11} | {'ratio':>6} | "
            f"{'sipflask p50/p99 ms':>19} | {'floor p50/p99 ms':>16} | {'p99 x':>5} | "
            f"{'loadgen CPU':>11}")
    print(head)
    print("-" * len(head))

    def row(label: str, pair: dict) -> None:
        s, f = pair["sipflask"], pair["floor"]
        print(f"{label:>14} | {s['rps']:14.1f} | {f['rps']:11.1f} | {pct(s['rps'], f['rps']):5.1f}% | "
              f"{s['p50_ms']:8.2f}/{s['p99_ms']:<10.2f} | {f['p50_ms']:7.2f}/{f['p99_ms']:<8.2f} | "
              f"{s['p99_ms'] / f['p99_ms']:5.2f} | {max(s['loadgen_cpu_pct'], f['loadgen_cpu_pct']):10.1f}%")

    for c, pair in results["levels"].items():
        row(f"{c} concurrent", pair)
    if "full16" in results:
        row("16, empty", results["empty16"])
        row(f"16, {results['bulk']['calls'] // 1000}k calls", results["full16"])
    print()
    levels = results["levels"]
    verdict = {}
    if 16 in levels:
        r = levels[16]["sipflask"]["rps"] / levels[16]["floor"]["rps"]
        verdict["throughput_16"] = {"ratio": round(r, 3), "goal": GOAL_THROUGHPUT,
                                    "pass": r >= GOAL_THROUGHPUT}
        print(f"goal 1: sipflask >= {GOAL_THROUGHPUT:.0%} of the floor's req/s at 16 concurrent: "
              f"{r:.1%} -> {'PASS' if r >= GOAL_THROUGHPUT else 'FAIL'}")
    if 1 in levels:
        x = levels[1]["sipflask"]["p99_ms"] / levels[1]["floor"]["p99_ms"]
        verdict["p99_1"] = {"ratio": round(x, 3), "goal": GOAL_P99, "pass": x <= GOAL_P99}
        print(f"goal 2: sipflask p99 <= {GOAL_P99:.0f}x the floor's at 1 concurrent: "
              f"{x:.2f}x -> {'PASS' if x <= GOAL_P99 else 'FAIL'}")
    if "full16" in results:
        for name in ("sipflask", "floor"):
            r = results["full16"][name]["rps"] / results["empty16"][name]["rps"]
            verdict[f"{name}_big_vs_empty"] = round(r, 3)
            print(f"{name}: req/s with {results['bulk']['calls']:,} stored calls vs empty table "
                  f"at 16 concurrent: {r:.1%}")
    for c, pair in levels.items():
        s_cpu, f_cpu = pair["sipflask"]["server_cpu_ms_per_req"], pair["floor"]["server_cpu_ms_per_req"]
        if s_cpu and f_cpu:
            verdict.setdefault("cpu_ratio", {})[c] = round(s_cpu / f_cpu, 2)
            print(f"server CPU per request at {c} concurrent: sipflask {s_cpu} ms, floor {f_cpu} ms "
                  f"-> {s_cpu / f_cpu:.2f}x")
    worst_lg = max(r["loadgen_cpu_pct"] for pair in levels.values() for r in pair.values())
    print(f"load generator: at most {worst_lg:.0f}% of one core "
          f"(client CPU/request is printed per run above; the server had the rest)")
    # Only the goals carry "pass" (cpu_ratio is a dict of figures, not a goal).
    verdict["pass"] = all(v["pass"] for v in verdict.values() if isinstance(v, dict) and "pass" in v)
    results["verdict"] = verdict


if __name__ == "__main__":
    sys.exit(main())
