"""Shared by the job, ops and deployment tests: a Redis to test on (or skip; fail under CI),
and a unique queue name per test so runs never share keys."""
import os
import uuid

import pytest

from tests.support.app import IN_CI

REDIS_URL = os.environ.get("SIPFLASK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_or_skip() -> str:
    import redis
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        if IN_CI:
            pytest.fail(f"CI=true but Redis at {REDIS_URL} is not reachable ({exc}): the Redis "
                        "job tests must run in CI.")
        pytest.skip(f"Redis job tests need Redis at {REDIS_URL}")
    return REDIS_URL


def queue_config(tmp_path, queue_backend: str) -> dict:
    config = {"JOBS_QUEUE_NAME": f"sipflask-test-{os.getpid()}-{uuid.uuid4().hex[:10]}",
              "JOBS_SQLITE_PATH": str(tmp_path / "jobs.sqlite")}
    if queue_backend == "redis":
        config["REDIS_URL"] = redis_or_skip()
    return config
