"""/healthz, /readyz and /metrics: no login, no cookie, no detail for attackers; who may scrape."""
import time

import pytest
from flask_migrate import stamp
from prometheus_client import REGISTRY

from sipflask.extensions import db
from sipflask.jobs.heartbeat import KEY as HEARTBEAT_KEY
from sipflask.jobs.queue import get_queue
from sipflask.monitoring import metrics
from tests.support.app import make_app
from tests.support.jobs import queue_config

OUTSIDER = {"REMOTE_ADDR": "203.0.113.5"}


@pytest.fixture
def ops_app(tmp_path, backend):
    app = make_app(tmp_path, backend, **queue_config(tmp_path, "sqlite"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _ready(app):
    """Schema stamped at the newest migration and a heartbeat just written."""
    with app.app_context():
        stamp()
        get_queue(app).huey.put(HEARTBEAT_KEY, time.time())


def _no_cookie(response):
    assert "Set-Cookie" not in response.headers


def test_healthz_answers_without_login_or_cookie(ops_app):
    response = ops_app.test_client().get("/healthz")
    assert response.status_code == 200 and response.data == b"ok\n"
    assert response.mimetype == "text/plain"
    _no_cookie(response)


def test_readyz_ready(ops_app):
    _ready(ops_app)
    response = ops_app.test_client().get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json == {"ready": True, "checks": {"database": "ok", "migrations": "ok",
                                                        "worker": "ok"}}
    _no_cookie(response)


def test_readyz_names_what_fails_and_nothing_more(ops_app):
    client = ops_app.test_client()
    # Fresh database made by create_all: no alembic_version, and no worker has run yet.
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "migrations": "failing",
                                       "worker": "failing"}
    _no_cookie(response)
    _ready(ops_app)
    with ops_app.app_context():
        get_queue(ops_app).huey.put(HEARTBEAT_KEY, time.time() - 181)
    stale = client.get("/readyz")
    assert stale.status_code == 503 and stale.json["checks"]["worker"] == "failing"
    ops_app.config["WORKER_HEARTBEAT_MAX_AGE"] = 0  # a deployment without a worker
    assert client.get("/readyz").status_code == 200


def test_readyz_with_the_database_unreachable_leaks_nothing(tmp_path):
    broken = _app_with_broken_database(tmp_path)
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "failing"
    body = response.get_data(as_text=True)
    for leak in ("missing-dir", "sqlite", "Error", "sipflask/", "/tmp", "0.1.0"):
        assert leak not in body
    _no_cookie(response)


def _app_with_broken_database(tmp_path):
    from sipflask import create_app
    config = {"TESTING": True, "SECRET_KEY": "x", **queue_config(tmp_path, "sqlite"),
              "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "missing-dir" / "db.sqlite"),
              "PLUGINS_DIR": str(tmp_path / "plugins"), "PLUGINS_ALLOW": []}
    return create_app(config)


def test_ops_endpoints_are_the_public_blueprint():
    from sipflask.blueprints.auth import PUBLIC_BLUEPRINTS
    assert "ops" in PUBLIC_BLUEPRINTS


def test_metrics_from_loopback_lists_every_contract_name(ops_app):
    metrics.call_outcome("completed")
    metrics.attempt_sip_code(486)
    metrics.skip("cap")
    metrics.skip("hours")
    metrics.plugin_timeout("crm_lookup")
    response = ops_app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    _no_cookie(response)
    body = response.get_data(as_text=True)
    for name in ("sipflask_webhook_duration_seconds_bucket", 'sipflask_calls_total{outcome="completed"}',
                 'sipflask_attempts_total{sip_code="486"}', 'sipflask_buyer_skips_total{reason="cap"}',
                 'sipflask_buyer_skips_total{reason="hours"}',
                 'sipflask_plugin_timeouts_total{plugin="crm_lookup"}', "sipflask_jobs_queued ",
                 'sipflask_jobs_failed_total{job="heartbeat"}', 'sipflask_jobs_run_total{job="heartbeat"}',
                 "sipflask_worker_heartbeat_timestamp_seconds "):
        assert name in body, name


def test_webhook_latency_is_observed_for_twilio_endpoints_only(ops_app):
    def count(endpoint):
        return REGISTRY.get_sample_value("sipflask_webhook_duration_seconds_count",
                                         {"endpoint": endpoint}) or 0
    before_voice, before_status = count("voice"), count("status")
    client = ops_app.test_client()
    client.post("/twilio/voice", data={"CallSid": "CA" + "1" * 32})  # unsigned: refused, timed
    client.post("/twilio/status", data={})
    client.get("/healthz")
    assert count("voice") == before_voice + 1 and count("status") == before_status + 1
    assert count("healthz") == 0


def test_label_values_are_bounded():
    def value(name, labels):
        return REGISTRY.get_sample_value(name, labels) or 0
    other, none = (value("sipflask_calls_total", {"outcome": "other"}),
                   value("sipflask_attempts_total", {"sip_code": "none"}))
    metrics.call_outcome("x" * 100)
    metrics.call_outcome("<script>")
    metrics.attempt_sip_code("abc")
    metrics.attempt_sip_code(None)
    metrics.attempt_sip_code(9999)
    metrics.skip("anything")
    assert value("sipflask_calls_total", {"outcome": "other"}) == other + 2
    assert value("sipflask_attempts_total", {"sip_code": "none"}) == none + 3
    assert value("sipflask_buyer_skips_total", {"reason": "other"}) >= 1


@pytest.mark.parametrize("headers, environ, status", [
    ({}, OUTSIDER, 403),
    ({"Authorization": "Bearer wrong-token"}, OUTSIDER, 403),
    ({"Authorization": "Bearer s3cret-metrics-token"}, OUTSIDER, 200),
    ({"Authorization": "s3cret-metrics-token"}, OUTSIDER, 403),
    # Through a proxy on the same host every request comes from loopback.
    ({"X-Forwarded-For": "198.51.100.7"}, {"REMOTE_ADDR": "127.0.0.1"}, 403),
    ({}, {"REMOTE_ADDR": "::1"}, 200),
    ({}, {"REMOTE_ADDR": "10.1.2.3"}, 200),
    ({}, {"REMOTE_ADDR": "10.2.0.1"}, 403),
    ({}, {"REMOTE_ADDR": "fd00::5"}, 200),
])
def test_who_may_read_metrics(tmp_path, headers, environ, status):
    app = make_app(tmp_path, "sqlite", **queue_config(tmp_path, "sqlite"),
                   METRICS_ALLOW="10.1.0.0/16, fd00::/8", METRICS_TOKEN="s3cret-metrics-token")
    response = app.test_client().get("/metrics", headers=headers, environ_base=environ)
    assert response.status_code == status
    if status == 403:
        assert response.data == b"forbidden\n" and response.mimetype == "text/plain"
        _no_cookie(response)


def test_a_mistyped_metrics_network_stops_the_start(tmp_path):
    with pytest.raises(ValueError):
        make_app(tmp_path, "sqlite", METRICS_ALLOW="10.0.0.0/33")
