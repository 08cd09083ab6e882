"""Fault injection, loaded into a test's worker with `--include tests.jobs.block_loop`.

On SIGUSR2 the worker's event loop runs a callback that sleeps for ten minutes: the
process stays up, its threads run, but its consumer takes nothing (a task hung in the main
process, a blocking call in the loop). Only the tests import this module.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from celery.signals import worker_ready

BLOCK_SECONDS = 600
_consumer: list[Any] = []


def _block(signum: int, frame: Any) -> None:
    # From another thread: call_soon takes the hub's lock, which the interrupted main
    # thread may hold (see tests/chaos/deafen.py).
    threading.Thread(target=_consumer[0].hub.call_soon, args=(time.sleep, BLOCK_SECONDS), daemon=True).start()


@worker_ready.connect
def _arm(sender: Any, **kwargs: Any) -> None:
    _consumer[:] = [sender]
    signal.signal(signal.SIGUSR2, _block)
