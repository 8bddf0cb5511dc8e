"""gunicorn settings for sipflask (docs/deployment.md):  gunicorn -c gunicorn.conf.py

Environment: SIPFLASK_BIND (default 127.0.0.1:8000), WEB_CONCURRENCY (processes, default 2),
SIPFLASK_THREADS (threads per process, default 4), SIPFLASK_WEB_TIMEOUT (seconds, default 10),
FORWARDED_ALLOW_IPS (read by gunicorn itself), PROMETHEUS_MULTIPROC_DIR (default: a new
temporary directory, removed on exit). Every SIPFLASK_* app setting is read by create_app.
"""
import glob
import os
import shutil
import tempfile

wsgi_app = "sipflask:create_app()"
bind = os.environ.get("SIPFLASK_BIND", "127.0.0.1:8000").split(",")
# Threads: a webhook mostly waits on the database, and one process per core is enough.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("SIPFLASK_THREADS", "4"))
# Twilio gives up on a webhook after 15 s. The app's own database timeouts answer far sooner;
# this is the backstop that restarts a process that stopped answering at all.
timeout = int(os.environ.get("SIPFLASK_WEB_TIMEOUT", "10"))
graceful_timeout = 20
keepalive = 5

# Access log on stdout (journald keeps it). %(U)s is the path without the query string: a
# postback's query carries the call's secret key, which must not reach the log.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s %(m)s %(U)s %(s)s %(b)s %(M)sms "%(a)s"'

# forwarded_allow_ips: gunicorn trusts X-Forwarded-Proto only from these proxies (its default
# is 127.0.0.1,::1, or FORWARDED_ALLOW_IPS). Twilio's signature is still checked against
# SIPFLASK_PUBLIC_URL, so set that behind any TLS proxy.

# prometheus-client keeps each process's counts in files here so /metrics on any process
# reports all of them; it must be set before the app (and prometheus_client) is imported.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_own_metrics_dir = not _metrics_dir
if _own_metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="sipflask-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
os.makedirs(_metrics_dir, exist_ok=True)


def on_starting(server):
    # Counts left by an earlier run would be added to this run's.
    for path in glob.glob(os.path.join(_metrics_dir, "*.db")):
        os.remove(path)


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
