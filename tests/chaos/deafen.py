"""Fault injection, loaded into a test's worker with `--include tests.chaos.deafen`.

On SIGUSR2 the worker's task connection to Redis is dropped the way a quietly re-made
connection drops it: redis-py's disconnect(), with no error reaching Celery. kombu 5.6.2
answers that by no longer registering its BRPOP with the event loop, and the worker,
still up and connected, takes no more tasks. (Only the tests import this module.)

The drop runs in the worker's event loop, between two events, as redis-py's own re-make
does. A signal handler runs between any two bytecodes of the main thread, so dropping the
connection from the handler itself could land in the middle of a reply being parsed; the
parser then finds its buffer gone (AttributeError: 'NoneType' object has no attribute
'readline'), an error no real connection loss produces, and the worker stops with an
"Unrecoverable error" that says nothing about the watchdog under test.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from celery.signals import worker_ready

_consumer: list[Any] = []


def _drop() -> None:
    _consumer[0].task_consumer.channel.client.connection.disconnect()


def _deafen(signum: int, frame: Any) -> None:
    # call_soon takes the hub's lock, which the interrupted main thread may be holding: ask
    # from another thread, which simply waits for it.
    threading.Thread(target=_consumer[0].hub.call_soon, args=(_drop,), daemon=True).start()


@worker_ready.connect
def _arm(sender: Any, **kwargs: Any) -> None:
    _consumer[:] = [sender]
    signal.signal(signal.SIGUSR2, _deafen)
