"""A worker that is connected but no longer takes tasks is restarted from inside.

kombu's Redis transport (5.6.2) can stop polling for tasks after a connection drops and is
quietly re-made: it removes its per-tick BRPOP registration on any disconnect and adds it
back only when the consumer restarts, which it does only if an error reaches Celery (the
known "worker stops consuming after a Redis restart" reports, celery#8091, #10205). The
process stays up, so no restart policy helps, and a safety text would wait for ever.

This consumer step checks, every CHECK_SECONDS, from the worker's own event loop, whether
the oldest task of each queue it consumes is still the same one while the worker has had
room for more at every check. After STRIKES such checks in a row it raises a connection
error in the event loop, which makes Celery restart the consumer: reconnect, redeclare
the queues and register its polling again. Nothing is lost either way: rows in the
database are the truth, and the restart only makes the worker take them sooner.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import bootsteps

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
STRIKES = 2  # about ten seconds of a queue head that did not move while we had room


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


class ConsumerWatchdog(bootsteps.StartStopStep):  # type: ignore[misc]
    """Restarts this worker's consumer when it stops taking tasks that are waiting for it."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._client: Any = None
        self._timer: Any = None
        self._stall = Stall()

    def start(self, c: Any) -> None:
        from worker.celery_app import settings_of

        url = settings_of(c.app).redis_url
        if c.hub is None or not url.startswith("redis"):
            return  # no event loop to run in (solo pool), or no Redis to look at
        # Its own short-timeout client: the check runs in the event loop and must not hold it.
        self._client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._stall = Stall()
        self._timer = c.hub.call_repeatedly(CHECK_SECONDS, self.check, c)

    def stop(self, c: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._client is not None:
            self._client.close()
            self._client = None

    shutdown = stop

    def check(self, c: Any) -> None:
        consumer = c.task_consumer
        if consumer is None or self._client is None:
            return
        queues = [queue.name for queue in consumer.queues]
        try:
            heads = oldest(self._client, queues)
        except redis.RedisError:
            self._stall = Stall()  # Redis itself is away: the consumer notices that on its own
            return
        if self._stall.observe(heads, consumer.channel.qos.can_consume()):
            log.error(
                "worker stopped taking tasks that are waiting for it; restarting its consumer",
                extra={"queues": queues, "seconds": CHECK_SECONDS * STRIKES},
            )
            self._stall = Stall()
            raise ConsumerStalled("consumer stalled with tasks waiting")
