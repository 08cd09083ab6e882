"""Thin Celery tasks: load the runtime, call a plain function, turn the outcome into a retry.

Arguments are ids only. Celery logs task arguments, so a phone number or a message text
must never be one.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from sqlalchemy import select

from worker.db.engine import transaction, unavailable
from worker.db.models import Message, utcnow
from worker.enums import URGENT
from worker.inbound.reconcile import reconcile as reconcile_with_provider
from worker.inbound.replies import process_inbound as process_one_inbound
from worker.inbound.store import unprocessed
from worker.jobs.beat import record_heartbeat
from worker.jobs.celery_app import app, settings_of
from worker.jobs.queueing import enqueue_sends
from worker.lib.errors import SmsError
from worker.lib.logs import Summary
from worker.metrics.record import record_inbound
from worker.outbound.dispatch import batch_size, batches, claim_due, expire_stuck_sending
from worker.outbound.sending import deliver_batch
from worker.questionnaires.runs import nudge_or_expire
from worker.retries import reply_sweep_cutoff, task_retry_seconds
from worker.runtime import Runtime, build_runtime
from worker.safety.notices import repeat_and_escalate
from worker.settings import urgent_queue

log = logging.getLogger(__name__)
# A dispatch run every few seconds is routine: one INFO line a minute says what they did.
DISPATCH_SUMMARY = Summary(log, "dispatcher summary")

WORKER_DB_CONNECTIONS = 8
_runtime: Runtime | None = None
_runtime_pid: int | None = None


def runtime() -> Runtime:
    """This process's runtime. Built after fork: engines and sockets must not be shared."""
    global _runtime, _runtime_pid
    if _runtime is None or _runtime_pid != os.getpid():
        # Sending threads share a few connections: each holds one only for a moment, and a
        # pool per thread in every pool process would exhaust PostgreSQL's connections.
        _runtime = build_runtime(settings_of(app), pool_size=WORKER_DB_CONNECTIONS)
        _runtime_pid = os.getpid()
    return _runtime


def claim_limit(send_rate: float, interval: float, batch: int) -> int:
    """Claim about two intervals' worth of sends: more would only wait on the rate limit."""
    return max(1, min(batch, math.ceil(send_rate * interval * 2)))


@app.task(name="worker.outbound.dispatch", ignore_result=True)
def dispatch() -> int:
    rt = runtime()
    settings = rt.settings
    record_heartbeat(rt.redis, settings)  # before the claim: `doctor` tells beat ran at all
    limit = claim_limit(settings.send_rate, settings.dispatch_interval, settings.dispatch_batch)
    ids = claim_due(rt.sessions, utcnow(), limit, settings.claim_lease)
    DISPATCH_SUMMARY.add(dispatched=len(ids))
    if not ids:
        return 0
    with rt.sessions() as session:
        urgent = set(_urgent_ids(session, ids))
    # The claim is committed before anything is enqueued, so a task never races its row.
    for message_id in sorted(urgent):
        send_batch.apply_async(args=[[message_id]], queue=urgent_queue(settings))
    size = batch_size(settings.send_rate, settings.send_concurrency)
    for chunk in batches([i for i in ids if i not in urgent], size):
        send_batch.apply_async(args=[chunk], queue=settings.queue_name)
    log.debug("dispatched", extra={"count": len(ids)})
    return len(ids)


@app.task(bind=True, name="worker.send_batch", ignore_result=True, max_retries=None)
def send_batch(self: Any, message_ids: list[int]) -> None:
    """Send these messages; retries of failed sends come back through the dispatcher."""
    _deliver_or_retry(self, message_ids)


def _deliver_or_retry(task: Any, message_ids: list[int]) -> None:
    try:
        deliver_batch(runtime(), message_ids)
    except Exception as exc:
        if not unavailable(exc):
            raise
        # The rows are as the last commit left them (queued, or sending awaiting the sweep);
        # a retry soon beats waiting for the dispatcher to notice their lease ran out.
        log.warning("database unavailable, send retried", extra={"count": len(message_ids)})
        raise task.retry(countdown=task_retry_seconds(task.request.retries + 1)) from None


@app.task(name="worker.process_inbound_batch", ignore_result=True)
def process_inbound_batch(inbound_ids: list[int]) -> None:
    """Replies the webhook stored in the last few milliseconds, each in its own transaction."""
    rt = runtime()
    for inbound_id in inbound_ids:
        _process(rt, inbound_id)


def _process(rt: Runtime, inbound_id: int) -> None:
    with transaction(rt.sessions) as session:
        result = process_one_inbound(session, rt.settings, rt.catalogue, inbound_id, utcnow())
        urgent = set(_urgent_ids(session, result.replies)) if result else set()
    if result is not None:
        record_inbound(result.intent)  # committed: a rolled-back run is counted when it runs again
    if result is not None and result.replies:
        enqueue_sends(rt.settings, [i for i in result.replies if i in urgent], urgent=True)
        enqueue_sends(rt.settings, [i for i in result.replies if i not in urgent])


def _urgent_ids(session: Any, ids: list[int]) -> list[int]:
    return list(session.scalars(select(Message.id).where(Message.id.in_(ids), Message.kind.in_(URGENT))))


@app.task(name="worker.process_stored_replies", ignore_result=True)
def process_stored_replies() -> int:
    """Replies stored while Redis was down (or whose task was lost) are processed here."""
    rt = runtime()
    with rt.sessions() as session:
        ids = unprocessed(session, reply_sweep_cutoff(utcnow()))
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


@app.task(name="worker.watch_safety_and_runs", ignore_result=True)
def watch_safety_and_runs() -> None:
    """Every minute: escalate and repeat unacknowledged alerts; nudge or expire silent runs."""
    rt = runtime()
    with transaction(rt.sessions) as session:
        notices = repeat_and_escalate(session, rt.settings, utcnow())
        silences = nudge_or_expire(session, rt.settings, rt.catalogue, utcnow())
    enqueue_sends(rt.settings, notices + silences.urgent, urgent=True)
    if silences.nudged or silences.expired:
        log.info("questionnaire runs", extra={"nudged": silences.nudged, "expired": silences.expired})


@app.task(name="worker.inbound.reconcile", ignore_result=True)
def reconcile() -> None:
    rt = runtime()
    try:
        result = reconcile_with_provider(rt, utcnow())
    except SmsError as exc:
        # The next run covers the same window (the look-back is longer than the interval).
        log.warning("reconciliation failed", extra={"error": str(exc), "code": exc.code})
        return
    enqueue_sends(rt.settings, result.urgent, urgent=True)
