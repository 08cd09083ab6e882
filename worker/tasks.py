"""Thin Celery tasks: load the runtime, call a plain function, turn the outcome into a retry.

Arguments are ids only. Celery logs task arguments, so a phone number or a message text
must never be one.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from worker.celery_app import app, settings_of
from worker.db.engine import transaction
from worker.db.models import utcnow
from worker.dispatch import claim_due, expire_stuck_sending
from worker.errors import SmsError
from worker.queueing import enqueue_sends
from worker.reconcile import reconcile as reconcile_with_provider
from worker.replies import process_inbound as process_one_inbound
from worker.replies import sweep_cutoff, unprocessed
from worker.runtime import Runtime, build_runtime
from worker.sending import deliver

log = logging.getLogger(__name__)

_runtime: Runtime | None = None
_runtime_pid: int | None = None


def runtime() -> Runtime:
    """This process's runtime. Built after fork: engines and sockets must not be shared."""
    global _runtime, _runtime_pid
    if _runtime is None or _runtime_pid != os.getpid():
        _runtime = build_runtime(settings_of(app))
        _runtime_pid = os.getpid()
    return _runtime


def claim_limit(send_rate: float, interval: float, batch: int) -> int:
    """Claim about two intervals' worth of sends: more would only wait on the rate limit."""
    return max(1, min(batch, math.ceil(send_rate * interval * 2)))


@app.task(name="worker.dispatch", ignore_result=True)
def dispatch() -> int:
    rt = runtime()
    settings = rt.settings
    limit = claim_limit(settings.send_rate, settings.dispatch_interval, settings.dispatch_batch)
    ids = claim_due(rt.sessions, utcnow(), limit, settings.claim_lease)
    # The claim is committed before anything is enqueued, so a task never races its row.
    for message_id in ids:
        send_message.apply_async(args=[message_id])
    if ids:
        log.info("dispatched", extra={"count": len(ids)})
    return len(ids)


@app.task(bind=True, name="worker.send_message", ignore_result=True, max_retries=None)
def send_message(self: Any, message_id: int) -> None:
    outcome = deliver(runtime(), message_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@app.task(name="worker.process_inbound", ignore_result=True)
def process_inbound(inbound_id: int) -> None:
    _process(runtime(), inbound_id)


def _process(rt: Runtime, inbound_id: int) -> None:
    with transaction(rt.sessions) as session:
        result = process_one_inbound(session, rt.settings, inbound_id, utcnow())
    if result is not None and result.replies:
        enqueue_sends(rt.settings, result.replies)


@app.task(name="worker.process_stored_replies", ignore_result=True)
def process_stored_replies() -> int:
    """Replies stored while Redis was down (or whose task was lost) are processed here."""
    rt = runtime()
    with rt.sessions() as session:
        ids = unprocessed(session, sweep_cutoff(utcnow()))
    for inbound_id in ids:
        _process(rt, inbound_id)
    if ids:
        log.info("stored replies processed by the sweep", extra={"count": len(ids)})
    return len(ids)


@app.task(name="worker.sweep", ignore_result=True)
def sweep() -> int:
    stuck = expire_stuck_sending(runtime().sessions, utcnow())
    if stuck:
        log.warning("messages stuck in sending marked ambiguous", extra={"count": stuck})
    return stuck


@app.task(name="worker.reconcile", ignore_result=True)
def reconcile() -> None:
    try:
        reconcile_with_provider(runtime(), utcnow())
    except SmsError as exc:
        # The next run covers the same window (the look-back is longer than the interval).
        log.warning("reconciliation failed", extra={"error": str(exc), "code": exc.code})
