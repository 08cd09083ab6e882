"""Fault scenarios: real worker, beat and web processes, a private Redis, the Twilio stand-in
and PostgreSQL (SQLite when it does not answer). Each plans a batch, injects one fault, waits
until every message is in a final state, and counts at the stand-in what each patient got.

Pass: no message lost, none sent twice, none in a state the stand-in contradicts.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from tests.chaos.conftest import Cluster
from tests.chaos.faults import hold_sqlite_lock
from tests.chaos.ledger import Row, plan_batch, tally, wait_settled
from tests.helpers import eventually
from tests.twilio_standin import Behaviour
from worker.db.models import utcnow

pytestmark = pytest.mark.chaos

SETTLE = 120.0  # seconds; long enough for five attempts with backoff


def check(row: Row, cluster: Cluster) -> None:
    """The suite's promise, per scenario."""
    detail = f"{row}\n{cluster.logs()}"
    assert row.lost == 0, detail
    assert row.duplicates == 0, detail
    assert row.unexplained == 0, detail
    assert row.planned > 0 and row.sent > 0, detail


def due_batch(cluster: Cluster, count: int, in_seconds: float = 2.0) -> list[int]:
    return plan_batch(cluster.sessions, cluster.settings, count, utcnow() + timedelta(seconds=in_seconds))


def finish(name: str, cluster: Cluster, ids: list[int]) -> Row:
    wait_settled(cluster.sessions, ids, SETTLE)
    return cluster.record(tally(name, cluster.sessions, cluster.standin, ids))


def accepted_at_least(cluster: Cluster, count: int, timeout: float = 60) -> None:
    eventually(lambda: len(cluster.standin.accepted) >= count, timeout)


def test_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(cluster: Cluster) -> None:
    cluster.standin.behaviour.latency = 0.05  # so that sends are in flight when the kill lands
    ids = due_batch(cluster, 500)
    first = cluster.worker("first")
    cluster.beat()
    accepted_at_least(cluster, 100)
    cluster.kill(first)
    at_kill = len(cluster.standin.accepted)
    cluster.worker("second")
    row = finish("worker SIGKILL mid-batch", cluster, ids)
    assert at_kill < 500, "the kill came after the batch: no fault was injected"
    check(row, cluster)


def test_redis_restarted_empty_mid_batch_loses_nothing(cluster: Cluster) -> None:
    cluster.standin.behaviour.latency = 0.05
    ids = due_batch(cluster, 500)
    cluster.worker()
    cluster.beat()
    accepted_at_least(cluster, 100)
    cluster.redis.stop()  # no persistence: every queued task and the beat lock are gone
    at_restart = len(cluster.standin.accepted)
    time.sleep(3)
    cluster.redis.start()
    row = finish("Redis restarted empty", cluster, ids)
    assert at_restart < 500
    check(row, cluster)


def test_beat_started_while_redis_is_down_dispatches_once_it_returns(cluster: Cluster) -> None:
    # Given due messages, a worker, and Redis down when beat starts (a host reboot, say)
    ids = due_batch(cluster, 50)
    cluster.worker()
    cluster.redis.stop()
    beat = cluster.start("beat", "beat")
    # When beat has found Redis missing and Redis comes back a few seconds later
    beat.wait_for("Redis does not answer", timeout=60)
    time.sleep(3)  # the outage itself: the fault lasts a while by design
    cluster.redis.start()
    # Expect every message sent once, by the same beat, still running
    row = finish("beat started while Redis was down", cluster, ids)
    assert beat.process.poll() is None, cluster.logs()
    check(row, cluster)
    assert row.sent == 50, f"{row}\n{cluster.logs()}"


def test_provider_errors_and_stalls_are_retried_or_recorded_never_doubled(cluster: Cluster) -> None:
    cluster.standin.behaviour = Behaviour(
        latency=0.02, error_rate_500=0.3, error_rate_429=0.1, stall_rate=0.03, stall_seconds=6.0
    )  # the client's timeout is 5 s: a stall is answered after the client gave up
    ids = due_batch(cluster, 300)
    cluster.worker(concurrency=8)
    cluster.beat()
    row = finish("Twilio 500/429/stalls", cluster, ids)
    check(row, cluster)
    assert cluster.standin.requests > 300, "no request was failed: no fault was injected"
    assert row.ambiguous > 0, "a stalled request must be recorded as ambiguous"


def test_two_beats_and_three_workers_send_each_message_once(cluster: Cluster) -> None:
    cluster.standin.behaviour.latency = 0.02
    ids = due_batch(cluster, 500, in_seconds=8.0)
    for n in range(3):
        cluster.worker(f"worker{n}", concurrency=3)
    cluster.beat("beat1")
    cluster.beat("beat2")
    row = finish("2 beats + 3 workers", cluster, ids)
    check(row, cluster)


def test_database_outage_during_dispatch_loses_nothing(cluster: Cluster) -> None:
    cluster.standin.behaviour.latency = 0.02
    ids = due_batch(cluster, 500)
    cluster.worker()
    cluster.beat()
    accepted_at_least(cluster, 100)
    if cluster.proxy is not None:
        cluster.proxy.cut()  # every connection dropped, new ones refused: a restart
        time.sleep(5)
        cluster.proxy.restore()
        name = "PostgreSQL down 5 s"
    else:
        assert cluster.sqlite_path is not None
        threading.Thread(target=hold_sqlite_lock, args=(cluster.sqlite_path, 5.0)).start()
        name = "SQLite locked 5 s"
    row = finish(name, cluster, ids)
    check(row, cluster)
