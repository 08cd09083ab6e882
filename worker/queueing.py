"""Handing committed rows to workers. Only ids cross into Celery.

Every caller has already committed the row the task will read. If Redis does not answer
the row stays as committed, and a periodic job picks it up (queued messages when their
lease runs out, unprocessed replies on the next sweep): nothing is lost, only later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from worker.settings import Settings

log = logging.getLogger(__name__)


# A broker that does not answer would hold a webhook for seconds while kombu retries; one
# quick ping (per process, cached client) decides instead. Built on first use, not at import.
_probes: dict[str, Any] = {}


def broker_answers(settings: Settings) -> bool:
    if settings.redis_url.startswith("memory://"):
        return True
    import redis

    probe = _probes.get(settings.redis_url)
    if probe is None:
        probe = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
        _probes[settings.redis_url] = probe
    try:
        probe.ping()
    except redis.RedisError:
        return False
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
        log.warning("could not enqueue sends; the dispatcher will", extra={"error": type(exc).__name__})
        return False
    return True


def enqueue_inbound(settings: Settings, inbound_id: int) -> bool:
    if not broker_answers(settings):
        log.warning(
            "Redis does not answer; the sweep will process this reply", extra={"inbound_id": inbound_id}
        )
        return False
    tasks = _tasks(settings)
    try:
        tasks.process_inbound.apply_async(  # type: ignore[attr-defined]
            args=[inbound_id], retry=False, queue=urgent_queue(settings)
        )
    except Exception as exc:
        log.warning(
            "could not enqueue a reply; the sweep will process it",
            extra={"inbound_id": inbound_id, "error": type(exc).__name__},
        )
        return False
    return True
