"""Operator endpoints: ``/healthz`` (the process answers), ``/readyz`` (it can serve calls),
``/metrics`` (Prometheus). No login (``auth.PUBLIC_BLUEPRINTS``), no session cookie, and no
detail an attacker could use: versions, paths, hosts and error text go to the log only."""
from flask import Blueprint, Response, current_app, jsonify, request

from sipflask.jobs.heartbeat import last_heartbeat
from sipflask.jobs.queue import get_queue
from sipflask.monitoring import metrics, readiness
from sipflask.monitoring.access import metrics_allowed

bp = Blueprint("ops", __name__)


def _plain(body: str, status: int) -> Response:
    return Response(body, status, mimetype="text/plain", headers={"Cache-Control": "no-store"})


@bp.get("/healthz")
def healthz():
    return _plain("ok\n", 200)


@bp.get("/readyz")
def readyz():
    app = current_app._get_current_object()
    checks = readiness.run_checks(app)
    ready = all(checks.values())
    response = jsonify(ready=ready, checks={k: "ok" if v else "failing" for k, v in checks.items()})
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics_view():
    if not metrics_allowed(request, current_app.config):
        return _plain("forbidden\n", 403)
    app = current_app._get_current_object()
    body, content_type = metrics.render(get_queue(app), lambda: last_heartbeat(app))
    return Response(body, 200, content_type=content_type, headers={"Cache-Control": "no-store"})
