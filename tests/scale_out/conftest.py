"""A real Redis for the scale-out tests: the one tests/run started (PERMINDEX_TEST_REDIS_PORT) in
the first test process, else one started here by deploy/local-redis and stopped at the end. Each
test gets its own database number, flushed first."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from celery import Celery

from schedules.celery_app import configure
from schedules.queue_state import QueueState
from schedules.scheduler_service import Enqueuer
from schedules.settings import QueueSettings
from tests.scale_out.harness import Cluster, free_port, redis_script

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    given = os.environ.get("PERMINDEX_TEST_REDIS_PORT")
    # The first test process uses the Redis tests/run started; any other process starts its own,
    # since these tests restart their Redis and number its databases per process. (The
    # xdist_group in tests/conftest.py does not keep them in one process: pytest-xdist 3.8 sets
    # a node id attribute pytest 9 no longer reads, so loadgroup groups nothing.)
    if given and os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0":
        yield int(given)
        return
    port = free_port()
    redis_script("start", port)
    try:
        yield port
    finally:
        redis_script("stop", port)


ClusterFactory = Callable[..., Cluster]


@pytest.fixture(scope="module")
def make_cluster(
    redis_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterFactory]:
    """Processes are expensive here (each imports the whole CLI): a module shares one cluster."""
    made: list[Cluster] = []

    def build(**kwargs: Any) -> Cluster:
        db = next(_databases) % 16
        redis.Redis(port=redis_port, db=db).flushdb()
        tmp = tmp_path_factory.mktemp("cluster")
        cluster = Cluster(tmp=tmp, redis_port=redis_port, redis_db=db, **kwargs)
        cluster.write_config()
        made.append(cluster)
        return cluster

    yield build
    for cluster in made:
        cluster.stop_all()


def enqueuer_for(cluster: Cluster) -> Enqueuer:
    """Enqueue from the test process, as `permindex enqueue` does."""
    settings = QueueSettings(
        broker_url=f"redis://127.0.0.1:{cluster.redis_port}/{cluster.redis_db}",
        visibility_timeout=timedelta(seconds=12),
    )
    # Its own app: the broker URL differs from test to test.
    celery = configure(settings, Celery("permindex-tests", set_as_current=False))
    queue = QueueState.from_url(settings.broker_url or "", settings.queue)
    return Enqueuer(celery, queue, settings)
