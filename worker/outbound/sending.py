"""Sending a batch of planned messages: claim them, re-check each, send them concurrently,
record what happened.

A batch costs a handful of database statements, one rate-limit round trip and one
transaction per side of the provider calls, whatever its size; the provider calls run in
this process's thread pool, so a worker process is bound by the provider's rate, not by
its latency.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from worker.db.aftercommit import log_on_commit
from worker.db.engine import retry_while_unavailable, transaction, unavailable
from worker.db.models import Appointment, Message, Patient, SafetyAlert, utcnow
from worker.enums import URGENT, MessageKind, MessageStatus
from worker.lib.errors import Busy, SmsError
from worker.metrics import record as metrics
from worker.outbound.compose import compose
from worker.outbound.dispatch import sending_lease
from worker.outbound.outcomes import (
    SENT,
    Outcome,
    Untouched,
    finish,
    hand_back,
    place_again,
    record_failure,
    record_sent,
)
from worker.outbound.send_rules import quiet_now, skip_reason
from worker.questionnaires.runs import WAIT_FOR_OTHER_RUN, WAITING_REASON, open_run
from worker.retries import RATE_WAIT_SECONDS
from worker.runtime import Runtime
from worker.safety.texts import ALERT_ACKNOWLEDGED, notice_is_moot
from worker.sms.base import OutboundSms

__all__ = ["Outcome", "begin_batch", "deliver", "deliver_batch"]

log = logging.getLogger(__name__)

# Seconds late for its slot after which a text gives the slot up and takes another. With
# slots 8% wider than the rate (ratelimit.HEADROOM), a one-second window then holds at most
# (1 + LATE) x 0.92 x rate sends, 95% of the rate: the rest is room for what happens on the
# way to the provider.
LATE = 0.03


class NoSid(enum.Enum):
    """A send that ended with neither a SID nor the provider's refusal."""

    NO_SLOT = "no send slot came in time; not sent"
    NOT_HELD = "the row was no longer ours (or the database did not answer); not sent"
    NOT_STARTED = "the limiter or the database failed before the call; not sent"
    UNKNOWN = "something broke during or after the call: left in sending for the sweep"


Result = str | SmsError | NoSid  # a SID, the provider's refusal, or why there is neither
NOT_CLAIMED = Outcome(Untouched.NOT_CLAIMED, "already handled elsewhere or no longer queued")


def deliver(rt: Runtime, message_id: int, clock: Callable[[], datetime] = utcnow) -> Outcome:
    return deliver_batch(rt, [message_id], clock)[message_id]


def deliver_batch(rt: Runtime, ids: list[int], clock: Callable[[], datetime] = utcnow) -> dict[int, Outcome]:
    ids = sorted(set(ids))
    # Held in `sending` through the wait for a send slot and the provider call.
    hold = sending_lease(rt.settings.twilio_timeout) + timedelta(seconds=RATE_WAIT_SECONDS)
    now = clock()
    # The claim's lease end doubles as this holder's token: if this process stalls past
    # it, the sweep queues the row again and a later claim sets another. Every later write
    # of ours that could touch a row another worker now holds is conditional on it.
    held_until = now + hold
    with transaction(rt.sessions) as session:
        messages, prepared = begin_batch(session, rt, ids, now, held_until)
    outcomes = {i: p for i, p in prepared.items() if isinstance(p, Outcome)}
    to_send = {i: p for i, p in prepared.items() if isinstance(p, OutboundSms)}
    # A safety text never waits behind the morning's reminders, nor takes their slots.
    metered = {i for i in to_send if messages[i].kind not in URGENT}
    results = _send_all(rt, to_send, metered, held_until)
    # Twilio has these; their SIDs exist only in this process until they are committed.
    outcomes.update(
        retry_while_unavailable(lambda: _record(rt, messages, results, clock(), held_until), _window(rt))
    )
    _count(messages, results, outcomes, clock())
    return outcomes


def _count(
    messages: dict[int, Message], results: dict[int, Result], outcomes: dict[int, Outcome], now: datetime
) -> None:
    """The metrics of a batch, once its outcomes are committed (worker.metrics)."""
    for message_id, result in results.items():
        if isinstance(result, str | SmsError):  # the provider was called
            metrics.record_send_attempt(messages[message_id].kind)
    for message_id, outcome in outcomes.items():
        message = messages.get(message_id)
        if message is None:
            continue  # not claimed by this batch: someone else's to count
        if outcome.status == MessageStatus.SENT:
            metrics.record_sent(message.kind, (now - message.due_at).total_seconds())
        else:
            metrics.record_outcome(message.kind, outcome.status)


def _calling(rt: Runtime, message_id: int, held_until: datetime) -> bool:
    """Record that the provider call starts now, if this worker still holds the row (it is
    `sending` with the lease this worker's claim set: see deliver_batch).

    Committed before the call: should the worker die, the sweep can tell a text that may
    have reached Twilio (ambiguous) from one that cannot have (queued again). The marks of
    the process's concurrent sends share commits (group commit): on SQLite a commit each
    queued the send threads of every process behind its single write lock.
    """
    marks = rt.writer("call-marks", partial(_mark_calling, rt.engine))
    try:
        # Bounded: a writer stuck on a dead connection must not hold the send for ever. A
        # mark that lands after we gave up matches only this claim's row, and only until
        # the row is handed back (which moves its lease): it can never mark a later holder's.
        return marks.submit((message_id, held_until)).result(timeout=rt.settings.twilio_timeout)
    except TimeoutError:
        log.warning(
            "not sent: the call-started mark was not committed in time", extra={"message_id": message_id}
        )
        return False
    except Exception as exc:
        if unavailable(exc) or isinstance(exc, Busy):
            return False  # not called: handed back below, sent once the database answers
        raise


def _mark_calling(engine: Engine, claims: Sequence[tuple[int, datetime]]) -> list[bool]:
    """Mark the (message id, lease) claims as calling now; whether each row was still held."""
    by_lease: dict[datetime, list[int]] = {}
    for message_id, held_until in claims:
        by_lease.setdefault(held_until, []).append(message_id)
    held: set[int] = set()
    with engine.begin() as connection:
        # One statement per claim (a batch's texts share one): few, whatever the count.
        for held_until, message_ids in by_lease.items():
            held.update(
                connection.execute(
                    update(Message)
                    .where(
                        Message.id.in_(message_ids),
                        Message.status == MessageStatus.SENDING,
                        Message.lease_until == held_until,
                    )
                    .values(call_started_at=utcnow())
                    .returning(Message.id)
                ).scalars()
            )
    return [message_id in held for message_id, _ in claims]


def take_slot(rt: Runtime, give_up_at: float, before_call: Callable[[], bool]) -> bool | None:
    """Wait for a send slot from the account-wide limit, run `before_call` once, and return
    its answer the moment the call may go; None if no slot comes by `give_up_at`.

    A slot counts only if the call starts within LATE seconds of it. Anything slow between
    the two (a busy process, `before_call` waiting on a database commit) would otherwise
    bunch late sends onto the next slots, and the provider would see more than the rate in
    some second; such a slot is given up and another taken.
    """
    ready: bool | None = None
    waited = 0.0
    while True:
        asked = time.monotonic()
        granted, wait = rt.limiter.reserve(max(0.0, give_up_at - asked))
        if not granted:
            return None
        slot = asked + wait  # the earliest the slot can be: a slow answer counts as late
        if wait > 0:
            rt.sleep(wait)
            waited += wait
        if ready is None:
            ready = before_call()
            if not ready:
                return False
        # A slot free at once means the rate is not binding: there are no crowded slots
        # after it for a late call to land on.
        if wait == 0 or time.monotonic() - slot <= LATE:
            metrics.observe_rate_limit_wait(waited)
            return True


def _send_all(
    rt: Runtime, to_send: dict[int, OutboundSms], metered: set[int], held_until: datetime
) -> dict[int, Result]:
    def send_one(message_id: int, sms: OutboundSms) -> Result:
        def mark() -> bool:
            return _calling(rt, message_id, held_until)

        try:
            held = (
                take_slot(rt, time.monotonic() + RATE_WAIT_SECONDS, mark) if message_id in metered else mark()
            )
        except Exception as exc:  # e.g. Redis gone from under the rate limiter: nothing was sent
            log.warning(
                "not sent: failed before the call",
                extra={"message_id": message_id, "error": type(exc).__name__},
            )
            return NoSid.NOT_STARTED
        if held is None:
            return NoSid.NO_SLOT
        if not held:
            return NoSid.NOT_HELD
        try:
            return rt.sender.send(sms)
        except SmsError as exc:
            return exc

    if len(to_send) == 1:  # no thread hop for a single text (replies, safety alerts)
        [(message_id, sms)] = to_send.items()
        return {message_id: send_one(message_id, sms)}
    futures: dict[int, Future[Result]] = {
        i: rt.send_pool().submit(send_one, i, sms) for i, sms in to_send.items()
    }
    return {i: _result_of(i, future) for i, future in futures.items()}


def _result_of(message_id: int, future: Future[Result]) -> Result:
    """One text's result; a text that broke its thread must not cost the others their SIDs."""
    try:
        return future.result()
    except Exception:
        log.exception("send broke; left for the sweep", extra={"message_id": message_id})
        return NoSid.UNKNOWN


def _window(rt: Runtime) -> float:
    """How long to wait out a database outage before leaving the rows to the sweep."""
    return rt.settings.twilio_timeout + 10


def _record(
    rt: Runtime,
    messages: dict[int, Message],
    results: dict[int, Result],
    now: datetime,
    held_until: datetime,
) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    sids = {i: r for i, r in results.items() if isinstance(r, str)}
    with transaction(rt.sessions) as session:
        record_sent(session, messages, sids, now)
        for message_id, result in results.items():
            # Not sent: back to the queue, but only a row this claim still holds. After a
            # stall past the lease, the row may be another worker's, mid-send.
            if result is NoSid.NO_SLOT:
                outcomes[message_id] = hand_back(session, message_id, now, held_until)
            elif result is NoSid.NOT_HELD:
                outcomes[message_id] = hand_back(
                    session,
                    message_id,
                    now,
                    held_until,
                    "not sent: no longer held, or the database did not answer",
                )
            elif result is NoSid.NOT_STARTED:
                outcomes[message_id] = hand_back(
                    session, message_id, now, held_until, "not sent: the rate limiter or the database failed"
                )
            elif result is NoSid.UNKNOWN:
                outcomes[message_id] = Outcome(MessageStatus.SENDING, "left for the sweep")
            elif isinstance(result, SmsError):
                outcomes[message_id] = record_failure(session, rt.settings, messages[message_id], result, now)
            else:
                outcomes[message_id] = SENT
    for message_id in sids:
        log.info("message sent", extra={"message_id": message_id})
    return outcomes


def begin_batch(
    session: Session, rt: Runtime, ids: list[int], now: datetime, held_until: datetime
) -> tuple[dict[int, Message], dict[int, OutboundSms | Outcome]]:
    """Claim the rows (queued -> sending, their lease ending at `held_until`: the holder's
    token) and re-check that each should still go out."""
    appointment_ids = sorted(
        {
            a
            for a in session.scalars(select(Message.appointment_id).where(Message.id.in_(ids)))
            if a is not None
        }
    )
    # Lock order matches reschedule/cancel: appointments first (in id order), then messages.
    appointments = {
        a.id: a
        for a in session.scalars(
            select(Appointment)
            .where(Appointment.id.in_(appointment_ids))
            .order_by(Appointment.id)
            .with_for_update()
        )
    }
    claimed = set(
        session.scalars(
            update(Message)
            .where(Message.id.in_(ids), Message.status == MessageStatus.QUEUED)
            .values(
                status=MessageStatus.SENDING,
                attempts=Message.attempts + 1,
                lease_until=held_until,
                call_started_at=None,
                updated_at=now,
            )
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        )
    )
    messages = {
        m.id: m
        for m in session.scalars(
            select(Message).where(Message.id.in_(claimed)).execution_options(populate_existing=True)
        )
    }
    patient_ids = {m.patient_id for m in messages.values() if m.patient_id is not None}
    patients = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(patient_ids)))}
    prepared: dict[int, OutboundSms | Outcome] = {i: NOT_CLAIMED for i in ids if i not in claimed}
    for message_id, message in messages.items():
        patient = patients.get(message.patient_id) if message.patient_id is not None else None
        appointment = appointments.get(message.appointment_id) if message.appointment_id is not None else None
        prepared[message_id] = _check(session, rt, message, patient, appointment, now)
    return messages, prepared


def _check(
    session: Session,
    rt: Runtime,
    message: Message,
    patient: Patient | None,
    appointment: Appointment | None,
    now: datetime,
) -> OutboundSms | Outcome:
    """One claimed message: skipped, placed again, or composed for sending."""
    reason = skip_reason(rt.settings, message, patient, appointment, now)
    if reason is not None:
        finish(session, message.id, now, status=MessageStatus.SKIPPED, reason=reason)
        log_on_commit(session, log, logging.INFO, "message skipped", message_id=message.id, reason=reason)
        return Outcome(MessageStatus.SKIPPED, reason)
    assert patient is not None or message.to_number is not None
    held = quiet_now(rt.settings, session, message, patient.timezone, appointment, now) if patient else None
    if held is not None:
        return place_again(session, message, held.placement.due_at, held.placement.reason, now)
    if message.kind == MessageKind.CHECKIN and message.run_id is None:
        assert patient is not None
        if open_run(session, rt.catalogue, message, patient, now) is None:
            return place_again(session, message, now + WAIT_FOR_OTHER_RUN, WAITING_REASON, now)
    alert = session.get(SafetyAlert, message.alert_id) if message.alert_id is not None else None
    if alert is not None and notice_is_moot(alert, message.template):
        finish(session, message.id, now, status=MessageStatus.SKIPPED, reason=ALERT_ACKNOWLEDGED)
        return Outcome(MessageStatus.SKIPPED, ALERT_ACKNOWLEDGED)
    return compose(rt, message, patient, appointment, now, alert)
