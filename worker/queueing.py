"""Handing committed rows to workers. Only ids cross into Celery.

Every caller has already committed the row the task will read. If Redis does not answer
the row stays as committed, and a periodic job picks it up (queued messages when their
lease runs out, unprocessed replies on the next sweep): nothing is lost, only later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from worker.settings import Settings

log = logging.getLogger(__name__)


def _tasks(settings: Settings) -> object:
    from worker import tasks
    from worker.celery_app import app, attach_settings

    if getattr(app, "clinic_settings", None) is None:
        attach_settings(app, settings)
    return tasks


def enqueue_sends(settings: Settings, message_ids: Iterable[int]) -> bool:
    tasks = _tasks(settings)
    try:
        for message_id in message_ids:
            tasks.send_message.apply_async(args=[message_id], retry=False)  # type: ignore[attr-defined]
    except Exception as exc:
        log.warning("could not enqueue sends; the dispatcher will", extra={"error": type(exc).__name__})
        return False
    return True


def enqueue_inbound(settings: Settings, inbound_id: int) -> bool:
    tasks = _tasks(settings)
    try:
        tasks.process_inbound.apply_async(args=[inbound_id], retry=False)  # type: ignore[attr-defined]
    except Exception as exc:
        log.warning(
            "could not enqueue a reply; the sweep will process it",
            extra={"inbound_id": inbound_id, "error": type(exc).__name__},
        )
        return False
    return True
