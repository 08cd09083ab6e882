"""A manual send when Redis does not answer: said at once, planned for the dispatcher's next
run (not left queued until its lease runs out), never sent twice. Real database; the Redis
is a port nobody listens on."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import free_port, make_settings
from tests.helpers import add_appointment, add_patient, messages_of
from worker.db.engine import transaction
from worker.db.models import Message, Patient, utcnow
from worker.enums import MessageStatus
from worker.jobs.queueing import enqueue_sends
from worker.lib.errors import InputError
from worker.outbound.dispatch import claim_due
from worker.outbound.manual import HandOver, hand_over, queue_manual_reminder
from worker.settings import Settings


@pytest.fixture
def offline(db_url: str) -> Settings:
    """Settings whose Redis is a closed port: every enqueue fails."""
    return make_settings(db_url, f"redis://127.0.0.1:{free_port()}/0", dispatch_interval=10.0)


def _manual_send(sessions: sessionmaker[Session], settings: Settings, appointment_id: int) -> HandOver:
    """What `clinic-worker send reminder` does: write the row, enqueue after commit, hand over."""
    with transaction(sessions) as session:
        message_id = queue_manual_reminder(session, settings, appointment_id, actor="test", now=utcnow()).id
    enqueued = enqueue_sends(settings, [message_id])
    return hand_over(sessions, settings, message_id, enqueued=enqueued, now=utcnow())


def test_given_redis_down_when_sending_now_expect_an_answer_at_once_that_says_when_it_goes(
    offline: Settings, sessions: sessionmaker[Session]
) -> None:
    appt = add_appointment(sessions, offline, add_patient(sessions, offline), utcnow() + timedelta(days=1))
    started = time.monotonic()
    handed = _manual_send(sessions, offline, appt)
    assert time.monotonic() - started < 3, "the send waited on Redis"
    assert not handed.enqueued and handed.status == MessageStatus.PLANNED
    assert handed.notice.startswith("Redis is not answering; the reminder stays planned")
    assert "next dispatch within 10 s, CLINIC_DISPATCH_INTERVAL" in handed.notice
    assert "more than 15m from now it is skipped as stale" in handed.notice


def test_given_redis_down_when_sending_now_expect_the_next_dispatch_to_claim_it_not_the_lease_end(
    offline: Settings, sessions: sessionmaker[Session]
) -> None:
    appt = add_appointment(sessions, offline, add_patient(sessions, offline), utcnow() + timedelta(days=1))
    handed = _manual_send(sessions, offline, appt)
    [manual] = [m for m in messages_of(sessions, appt) if m.id == handed.message_id]
    assert (manual.status, manual.lease_until, manual.queued_at) == ("planned", None, None)
    # Redis is back: the very next dispatcher run takes it (before, it waited the 5-minute lease).
    assert claim_due(sessions, utcnow(), 10, offline.claim_lease) == [handed.message_id]


def test_given_redis_answering_expect_the_row_left_queued_for_its_worker(
    db_settings: Settings, sessions: sessionmaker[Session]
) -> None:
    appt = add_appointment(
        sessions, db_settings, add_patient(sessions, db_settings), utcnow() + timedelta(days=1)
    )
    handed = _manual_send(sessions, db_settings, appt)  # memory:// always takes it
    assert handed.enqueued and handed.status == MessageStatus.QUEUED
    assert handed.notice.startswith("on the queue")
    [manual] = [m for m in messages_of(sessions, appt) if m.id == handed.message_id]
    assert manual.status == "queued" and manual.lease_until is not None


def test_given_a_worker_took_the_row_anyway_when_handing_over_expect_it_left_alone(
    offline: Settings, sessions: sessionmaker[Session]
) -> None:
    appt = add_appointment(sessions, offline, add_patient(sessions, offline), utcnow() + timedelta(days=1))
    with transaction(sessions) as session:
        message_id = queue_manual_reminder(session, offline, appt, actor="test", now=utcnow()).id
    with transaction(sessions) as session:  # the enqueue failed late: its task did reach a worker
        session.execute(update(Message).where(Message.id == message_id).values(status=MessageStatus.SENDING))
    handed = hand_over(sessions, offline, message_id, enqueued=False, now=utcnow())
    assert handed.status == MessageStatus.SENDING and handed.notice == "already taken by a worker (sending)"
    [manual] = [m for m in messages_of(sessions, appt) if m.id == message_id]
    assert manual.status == "sending"


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"sms_consent": False}, "no SMS consent"), ({"opted_out": True}, "patient opted out")],
)
def test_given_a_patient_who_cannot_be_texted_when_sending_now_expect_a_refusal_and_no_row(
    db_settings: Settings, sessions: sessionmaker[Session], change: dict[str, bool], reason: str
) -> None:
    pid = add_patient(sessions, db_settings)
    appt = add_appointment(sessions, db_settings, pid, utcnow() + timedelta(days=1))
    with transaction(sessions) as session:
        session.execute(update(Patient).where(Patient.id == pid).values(**change))
        before = session.scalar(select(func.count()).select_from(Message))
    with pytest.raises(InputError) as refused, transaction(sessions) as session:
        queue_manual_reminder(session, db_settings, appt, actor="test", now=utcnow())
    assert str(refused.value) == f"not sent: patient {pid}: {reason}"
    with sessions() as session:  # the refusal rolled the transaction back: nothing written
        assert session.scalar(select(func.count()).select_from(Message)) == before
