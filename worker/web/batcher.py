"""The webhook's reply batcher: the ids of stored replies go to workers together."""

from __future__ import annotations

import threading
import time

from worker.jobs.queueing import enqueue_inbound
from worker.retries import REPLY_BATCH_SECONDS
from worker.settings import Settings


class ReplyBatcher:
    """Collects the ids of replies the webhook stored and hands them to workers together,
    every FLUSH seconds: one Celery message for many replies under load, and at most REPLY_BATCH_SECONDS
    seconds of delay for one. The replies are committed before they get here, so a process
    that dies with ids still in the buffer loses nothing: the sweep processes them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._ids: list[int] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, inbound_id: int) -> None:
        with self._lock:
            self._ids.append(inbound_id)
            if self._thread is None:  # started on first use: after any fork, never at import
                self._thread = threading.Thread(target=self._run, name="reply-batcher", daemon=True)
                self._thread.start()
        self._wake.set()

    def flush(self) -> None:
        with self._lock:
            ids, self._ids = self._ids, []
        if ids:
            enqueue_inbound(self._settings, ids)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            time.sleep(REPLY_BATCH_SECONDS)  # let the requests arriving meanwhile join this batch
            self.flush()
