"""A worker that stays up and connected but stops taking tasks (kombu dropping its BRPOP
registration after a connection is quietly re-made): its watchdog restarts the consumer."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from tests.chaos.conftest import Cluster
from tests.chaos.test_chaos import check, due_batch, finish
from tests.helpers import eventually

pytestmark = pytest.mark.chaos


def test_worker_that_stops_taking_tasks_restarts_its_consumer_and_sends_everything(cluster: Cluster) -> None:
    worker = cluster.worker("worker", 4, "--include", "tests.chaos.deafen")
    cluster.beat()
    urgent = redis.Redis.from_url(cluster.settings.redis_url)
    queue = f"{cluster.settings.queue_name}.urgent"
    time.sleep(2)
    os.kill(worker.process.pid, signal.SIGUSR2)
    # Deaf, not dead: beat's dispatch runs (one a second) pile up untaken.
    eventually(lambda: urgent.llen(queue) >= 3, timeout=10)
    assert worker.process.poll() is None
    ids = due_batch(cluster, 100, in_seconds=0.5)
    row = finish("worker stops consuming", cluster, ids)
    check(row, cluster)
    assert "restarting its consumer" in worker.output(), cluster.logs()
