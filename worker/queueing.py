"""Handing committed rows to workers. Only ids cross into Celery.

Every caller has already committed the row the task will read. If Redis does not answer
the row stays as committed, and a periodic job picks it up (queued messages when their
lease runs out, unprocessed replies on the next sweep): nothing is lost, only later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from worker.settings import Settings

log = logging.getLogger(__name__)


# A broker that does not answer would hold a webhook for seconds while kombu retries; one
# quick ping (per process, cached client) decides instead. Built on first use, not at import.
_probes: dict[str, Any] = {}
_answered: dict[str, float] = {}  # url -> monotonic time of the last good ping
FRESH = 1.0  # a ping this recent is trusted: one round trip per second, not one per request


def broker_answers(settings: Settings) -> bool:
    if settings.redis_url.startswith("memory://"):
        return True
    import redis

    probe = _probes.get(settings.redis_url)
    if probe is None:
        probe = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
        _probes[settings.redis_url] = probe
    if time.monotonic() - _answered.get(settings.redis_url, -FRESH) < FRESH:
        return True
    try:
        probe.ping()
    except redis.RedisError:
        _answered.pop(settings.redis_url, None)
        return False
    _answered[settings.redis_url] = time.monotonic()
    return True


def _tasks(settings: Settings) -> object:
    from worker import tasks
    from worker.celery_app import app, attach_settings

    if getattr(app, "clinic_settings", None) is None:
        attach_settings(app, settings)
    return tasks


def urgent_queue(settings: Settings) -> str:
    """Safety texts and reply processing: never behind a morning's backlog of reminders."""
    return f"{settings.queue_name}.urgent"


def enqueue_sends(settings: Settings, message_ids: Iterable[int], *, urgent: bool = False) -> bool:
    ids = list(message_ids)
    if not ids:
        return True
    if not broker_answers(settings):
        log.warning("Redis does not answer; the dispatcher will queue these", extra={"count": len(ids)})
        return False
    tasks = _tasks(settings)
    queue = urgent_queue(settings) if urgent else settings.queue_name
    try:
        for message_id in ids:
            tasks.send_batch.apply_async(args=[[message_id]], retry=False, queue=queue)  # type: ignore[attr-defined]
    except Exception as exc:
        _answered.pop(settings.redis_url, None)
        log.warning("could not enqueue sends; the dispatcher will", extra={"error": type(exc).__name__})
        return False
    return True


def enqueue_inbound(settings: Settings, inbound_ids: list[int]) -> bool:
    """One task for these stored replies; the sweep processes them if this fails."""
    if not broker_answers(settings):
        log.warning(
            "Redis does not answer; the sweep will process these replies", extra={"count": len(inbound_ids)}
        )
        return False
    tasks = _tasks(settings)
    try:
        tasks.process_inbound_batch.apply_async(  # type: ignore[attr-defined]
            args=[inbound_ids], retry=False, queue=urgent_queue(settings)
        )
    except Exception as exc:
        _answered.pop(settings.redis_url, None)
        log.warning(
            "could not enqueue replies; the sweep will process them",
            extra={"count": len(inbound_ids), "error": type(exc).__name__},
        )
        return False
    return True


class ReplyBatcher:
    """Collects the ids of replies the webhook stored and hands them to workers together,
    every FLUSH seconds: one Celery message for many replies under load, and at most FLUSH
    seconds of delay for one. The replies are committed before they get here, so a process
    that dies with ids still in the buffer loses nothing: the sweep processes them."""

    FLUSH = 0.02

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
            time.sleep(self.FLUSH)  # let the requests arriving meanwhile join this batch
            self.flush()
