"""A worker that is connected but no longer takes tasks is restarted from inside.

kombu's Redis transport (5.6.2) can stop polling for tasks after a connection drops and is
quietly re-made: it removes its per-tick BRPOP registration on any disconnect and adds it
back only when the consumer restarts, which it does only if an error reaches Celery (the
known "worker stops consuming after a Redis restart" reports, celery#8091, #10205). The
process stays up, so no restart policy helps, and a safety text would wait for ever.

This consumer step checks, every CHECK_SECONDS from a thread of the worker's main process,
whether the oldest task of each queue it consumes is still the same one while the worker
has had room for more at every check. After STRIKES such checks in a row it raises a
connection error in the event loop, which makes Celery restart the consumer: reconnect,
redeclare the queues and register its polling again. If the event loop does not even run
that within LOOP_GRACE, the process exits (EX_TEMPFAIL) for its supervisor to restart.
Nothing is lost either way: rows in the database are the truth, and the restart only makes
the worker take them sooner.

The same thread stamps the worker's heartbeat file (worker.jobs.heartbeats), read by
`clinic-worker worker --check`: only after a check at which the event loop ran a probe
sent at the previous check and no waiting task stood still, so a live process whose loop
is blocked, or whose consumer is deaf, stops stamping.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from celery import bootsteps

from worker.jobs.app_settings import settings_of
from worker.jobs.heartbeats import heartbeat_path, worker_role
from worker.lib.heartbeat import stamp

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
STRIKES = 2  # about ten seconds of a queue head that did not move while we had room
LOOP_GRACE = 30.0  # seconds for the event loop to act on a restart before the process exits
EXIT_STALLED = 75  # EX_TEMPFAIL: restart me


class ConsumerStalled(redis.exceptions.ConnectionError):
    """Raised in the worker's event loop so that Celery restarts the consumer."""


@dataclass
class Stall:
    """Counts checks in a row at which a queue's oldest task had not moved although this
    worker could have taken it. Pure: fed what each check saw."""

    strikes: int = 0
    _heads: dict[str, bytes] = field(default_factory=dict)

    def observe(self, heads: dict[str, bytes | None], room: bool) -> bool:
        """`heads` maps each consumed queue to its oldest message (None when empty);
        `room` says whether this worker would take another task now. True: stalled."""
        waiting = {queue: head for queue, head in heads.items() if head is not None}
        stuck = room and any(self._heads.get(queue) == head for queue, head in waiting.items())
        self._heads = waiting
        self.strikes = self.strikes + 1 if stuck else 0
        return self.strikes >= STRIKES


def oldest(client: Any, queues: Sequence[str]) -> dict[str, bytes | None]:
    """The next message each queue would hand out: kombu LPUSHes and BRPOPs, so the right end."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.lindex(queue, -1)
    return dict(zip(queues, pipe.execute(), strict=True))


class LoopProbe:
    """Asks the worker's event loop, at each check, to run a trivial callback: the loop is
    alive when the one sent at the previous check has run."""

    def __init__(self, hub: Any) -> None:
        self._hub = hub
        self._sent = 0
        self._ran = 0

    def answered(self) -> bool:
        """Did the previous probe run? Sends the next one either way."""
        ok = self._sent > 0 and self._ran == self._sent
        self._sent += 1
        self._hub.call_soon(self._mark, self._sent)
        return ok

    def _mark(self, number: int) -> None:
        self._ran = number


class ConsumerWatchdog(bootsteps.StartStopStep):  # type: ignore[misc]
    """Restarts this worker's consumer when it stops taking tasks that are waiting for it.

    The checks run in a thread of their own, not in the event loop: a check must not wait on
    the loop it is judging, and the loop may itself be what stopped.
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()

    def start(self, c: Any) -> None:
        url = str(c.app.conf.broker_url or "")  # the Settings' CLINIC_REDIS_URL
        if c.hub is None or not url.startswith("redis"):
            return  # no event loop to restart (solo pool), or no Redis to look at
        self._stop = threading.Event()
        queues = [queue.name for queue in c.task_consumer.queues]
        # Not joined: stop() only sets the event, and the thread ends at its next wake-up.
        threading.Thread(
            target=self._watch, args=(c, url, queues, self._stop), name="consumer-watchdog", daemon=True
        ).start()

    def stop(self, c: Any) -> None:
        self._stop.set()  # the thread ends at its next wake-up; nothing waits for it

    shutdown = stop

    def _watch(self, c: Any, url: str, queues: list[str], stop: threading.Event) -> None:
        client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        stall, loop = Stall(), LoopProbe(c.hub)
        heartbeat = _heartbeat_file(c, queues)
        try:
            while not stop.wait(CHECK_SECONDS):
                loop_alive = loop.answered()
                try:
                    heads = oldest(client, queues)
                except redis.RedisError:
                    # Redis itself is away: the consumer reconnects on its own, and a new
                    # process would not help, so a live loop still counts as healthy.
                    stall = Stall()
                    _stamp(heartbeat, loop_alive, "waiting for Redis")
                    continue
                if stall.observe(heads, c.task_consumer.channel.qos.can_consume()):
                    self._restart(c, queues, stop)
                    return
                _stamp(heartbeat, loop_alive and stall.strikes == 0, "consuming")
        finally:
            client.close()

    def _restart(self, c: Any, queues: list[str], stop: threading.Event) -> None:
        log.error(
            "worker stopped taking tasks that are waiting for it; restarting its consumer",
            extra={"queues": queues, "seconds": CHECK_SECONDS * STRIKES},
        )
        c.hub.call_soon(_raise_stalled)  # raised in the event loop: Celery restarts the consumer
        if stop.wait(LOOP_GRACE):
            return  # the consumer restarted, which stopped this watchdog and started a new one
        # The event loop did not even run the restart: only a new process helps. Exit, so
        # that the supervisor (docker compose's restart policy) starts one.
        log.critical("worker's event loop is not running; exiting so that it is restarted")
        os._exit(EXIT_STALLED)


def _heartbeat_file(c: Any, queues: list[str]) -> Path:
    settings = settings_of(c.app)
    return heartbeat_path(settings, worker_role(settings, queues))


def _stamp(path: Path, healthy: bool, state: str) -> None:
    if not healthy:
        return
    try:
        stamp(path, state=state)
    except OSError as exc:  # a full or read-only disk must not stop the watchdog
        log.warning("worker heartbeat not written", extra={"error": type(exc).__name__})


def _raise_stalled() -> None:
    raise ConsumerStalled("consumer stalled with tasks waiting")
