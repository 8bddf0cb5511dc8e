#!/usr/bin/env bash
# One command from a fresh clone to a running sipflask with demo data on SQLite:
#   ./scripts/run.sh            (then open http://127.0.0.1:5000)
# Environment: HOST, PORT, ADMIN_EMAIL; any SIPFLASK_* setting (see README).
EXTRAS=""
source "$(dirname "$0")/_setup.sh"

# The example plugins (per-campaign headers, CRM lookup) show what plugins add to a call.
for plugin in plugins/*/; do
  pip_install -e "$plugin"
done

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
ADMIN_EMAIL=${ADMIN_EMAIL:-admin@example.com}

echo "==> database: flask db upgrade"
.venv/bin/flask db upgrade 2>&1 | grep -v '^INFO' || true
echo "==> demo data"
.venv/bin/flask demo
echo "==> admin user"
.venv/bin/flask users ensure-admin "$ADMIN_EMAIL"
echo
echo "sipflask is starting on http://$HOST:$PORT  (sign in as $ADMIN_EMAIL; Ctrl-C stops it)"
echo "Try a call without Twilio:  .venv/bin/flask --app sipflask simulate-call --to +18882223333 --from +14155552671 --outcome busy:486 --outcome completed"
# The job worker (heartbeat and the other background jobs) runs beside the web server. Ctrl-C
# reaches both (same process group); the trap also stops the worker if the server exits alone.
.venv/bin/flask worker &
WORKER_PID=$!
trap 'kill -INT "$WORKER_PID" 2>/dev/null || true; wait "$WORKER_PID" 2>/dev/null || true' EXIT
.venv/bin/flask run --host "$HOST" --port "$PORT"
