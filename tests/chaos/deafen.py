"""Fault injection, loaded into a test's worker with `--include tests.chaos.deafen`.

On SIGUSR2 the worker's task connection to Redis is dropped the way a quietly re-made
connection drops it: redis-py's disconnect(), with no error reaching Celery. kombu 5.6.2
answers that by no longer registering its BRPOP with the event loop, and the worker,
still up and connected, takes no more tasks. (Only the tests import this module.)
"""

from __future__ import annotations

import signal
from typing import Any

from celery.signals import worker_ready

_consumer: list[Any] = []


def _deafen(signum: int, frame: Any) -> None:
    channel = _consumer[0].task_consumer.channel
    channel.client.connection.disconnect()


@worker_ready.connect
def _arm(sender: Any, **kwargs: Any) -> None:
    _consumer[:] = [sender]
    signal.signal(signal.SIGUSR2, _deafen)
