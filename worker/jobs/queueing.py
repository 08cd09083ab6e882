"""Handing committed rows to workers. Only ids cross into Celery.

Every caller has already committed the row the task will read. If Redis does not answer
the row stays as committed, and a periodic job picks it up (queued messages when their
lease runs out, unprocessed replies on the next sweep): nothing is lost, only later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from celery import Celery

from worker.jobs.celery_app import app, attach_settings
from worker.settings import Settings, urgent_queue

# Task names (worker.jobs.tasks registers them under these).
SEND_BATCH = "worker.send_batch"
PROCESS_INBOUND_BATCH = "worker.process_inbound_batch"

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


def _app(settings: Settings) -> Celery:
    """The Celery app, configured from these Settings if nothing configured it yet. Tasks are
    sent by name: this module does not import the task bodies (nor they it, in a circle)."""
    if getattr(app, "clinic_settings", None) is None:
        attach_settings(app, settings)
    return app


def enqueue_sends(settings: Settings, message_ids: Iterable[int], *, urgent: bool = False) -> bool:
    ids = list(message_ids)
    if not ids:
        return True
    if not broker_answers(settings):
        log.warning("Redis does not answer; the dispatcher will queue these", extra={"count": len(ids)})
        return False
    celery = _app(settings)
    queue = urgent_queue(settings) if urgent else settings.queue_name
    try:
        for message_id in ids:
            celery.send_task(SEND_BATCH, args=[[message_id]], retry=False, queue=queue)
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
    try:
        _app(settings).send_task(
            PROCESS_INBOUND_BATCH, args=[inbound_ids], retry=False, queue=urgent_queue(settings)
        )
    except Exception as exc:
        _answered.pop(settings.redis_url, None)
        log.warning(
            "could not enqueue replies; the sweep will process them",
            extra={"count": len(inbound_ids), "error": type(exc).__name__},
        )
        return False
    return True
