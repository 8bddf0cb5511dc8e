"""What an operator watches: Prometheus metrics (``metrics``), readiness checks
(``readiness``), and the webhook-latency hooks ``init_app`` installs on the app."""
from __future__ import annotations

import time

from flask import g, request

from sipflask.monitoring import access, metrics


def init_app(app):
    # Parsed now so a mistyped network stops the start-up instead of every scrape.
    access.allowed_networks(app.config.get("METRICS_ALLOW"))

    @app.before_request
    def _start_webhook_timer():
        if request.blueprint == "webhook":
            g.sipflask_webhook_started = time.perf_counter()

    @app.after_request
    def _observe_webhook(response):
        started = g.pop("sipflask_webhook_started", None)
        if started is not None:
            endpoint = (request.endpoint or "unknown").rsplit(".", 1)[-1]
            metrics.observe_webhook(time.perf_counter() - started, endpoint)
        return response
