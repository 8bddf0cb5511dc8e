"""sipflask with experimental settings, to size a recommended change before anyone makes it.

    .venv/bin/python bench/webhook.py --sipflask-target bench.variant_app:app \
        --sipflask-env BENCH_VARIANT=noexpire [--sipflask-env 'SIPFLASK_SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": false}']

BENCH_VARIANT (comma-separated):
  noexpire   the session keeps loaded attributes after commit (expire_on_commit=False), so
             callflow does not re-SELECT the call, campaign, publisher, attempts and buyer
             after each of its commits (nor for the log line after the last one).
Nothing in sipflask/ is changed; this only configures the app object gunicorn serves.
"""
import os

from sipflask import create_app
from sipflask.extensions import db

VARIANT = {v for v in os.environ.get("BENCH_VARIANT", "").split(",") if v}
app = create_app()
if "noexpire" in VARIANT:
    db.session.session_factory.configure(expire_on_commit=False)
