"""Claiming and sending through the real twilio client against the stand-in."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FROM_NUMBER
from tests.helpers import add_appointment, add_patient, in_minutes, messages_of
from tests.twilio_standin import StandIn
from worker.db.engine import transaction
from worker.db.models import Message, Patient, utcnow
from worker.enums import MessageStatus
from worker.outbound.dispatch import claim_due, expire_stuck_sending
from worker.outbound.sending import deliver
from worker.runtime import Runtime

PHONE = "+12025550143"


def _due_now(sessions: sessionmaker[Session], message_id: int) -> None:
    with transaction(sessions) as session:
        session.execute(update(Message).where(Message.id == message_id).values(due_at=utcnow()))


def _one_due_reminder(runtime: Runtime, **patient: object) -> tuple[int, int]:
    """A patient with an appointment in 3 days whose first reminder is due now."""
    pid = add_patient(runtime.sessions, runtime.settings, PHONE, **patient)
    appt = add_appointment(runtime.sessions, runtime.settings, pid, in_minutes(60 * 72))
    first = messages_of(runtime.sessions, appt)[0]
    _due_now(runtime.sessions, first.id)
    return appt, first.id


def _claim_and_deliver(runtime: Runtime) -> list[str]:
    ids = claim_due(runtime.sessions, utcnow(), 100, runtime.settings.claim_lease)
    return [deliver(runtime, i).status for i in ids]


def test_due_reminder_goes_to_the_e164_number_with_clinic_time_and_reply_options(
    runtime: Runtime, standin: StandIn
) -> None:
    appt, _ = _one_due_reminder(runtime)
    assert _claim_and_deliver(runtime) == ["sent"]
    [sms] = standin.accepted
    assert sms.to == PHONE and sms.sender == FROM_NUMBER
    assert sms.body.startswith("Riverside Clinic: reminder of your appointment on ")
    assert sms.body.endswith("Reply C to confirm or R to reschedule")
    assert sms.params["StatusCallback"] == "https://clinic.example.org/twilio/status"
    assert 0 < int(sms.params["ValidityPeriod"]) <= 4 * 3600
    row = messages_of(runtime.sessions, appt)[0]
    assert (row.status, row.twilio_sid, row.attempts) == ("sent", sms.sid, 1)


def test_spanish_speaking_patient_gets_the_spanish_text(runtime: Runtime, standin: StandIn) -> None:
    _one_due_reminder(runtime, language="es")
    _claim_and_deliver(runtime)
    assert "Responda C para confirmar o R para cambiar la cita" in standin.accepted[0].body
    assert " a las " in standin.accepted[0].body


def test_a_claimed_row_is_claimed_by_one_dispatcher_only(runtime: Runtime) -> None:
    pid = add_patient(runtime.sessions, runtime.settings, PHONE)
    for hours in range(3, 23):
        add_appointment(runtime.sessions, runtime.settings, pid, in_minutes(60 * 72 + hours))
    with transaction(runtime.sessions) as session:
        session.execute(update(Message).values(due_at=utcnow()))
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        results.append(claim_due(runtime.sessions, utcnow(), 15, timedelta(minutes=5)))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for batch in results for i in batch]
    assert len(claimed) == len(set(claimed)) == 40


def test_delivering_the_same_task_twice_sends_once(runtime: Runtime, standin: StandIn) -> None:
    _, message_id = _one_due_reminder(runtime)
    claim_due(runtime.sessions, utcnow(), 10, runtime.settings.claim_lease)
    assert deliver(runtime, message_id).status == "sent"
    assert deliver(runtime, message_id).status == "not-claimed"
    assert len(standin.accepted) == 1


def test_queued_row_whose_task_was_lost_is_claimed_again_after_its_lease(
    runtime: Runtime, standin: StandIn
) -> None:
    _, message_id = _one_due_reminder(runtime)
    assert claim_due(runtime.sessions, utcnow(), 10, timedelta(seconds=30)) == [message_id]
    assert claim_due(runtime.sessions, utcnow(), 10, timedelta(seconds=30)) == []
    later = utcnow() + timedelta(seconds=31)
    assert claim_due(runtime.sessions, later, 10, timedelta(seconds=30)) == [message_id]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"opted_out": True}, "patient opted out"),
        ({"sms_consent": False}, "no SMS consent"),
    ],
)
def test_patient_who_cannot_be_texted_is_skipped_at_send_time(
    runtime: Runtime, standin: StandIn, change: dict[str, object], reason: str
) -> None:
    appt, _ = _one_due_reminder(runtime)
    with transaction(runtime.sessions) as session:
        session.execute(update(Patient).values(**change))
    assert _claim_and_deliver(runtime) == ["skipped"]
    assert messages_of(runtime.sessions, appt)[0].reason == reason
    assert standin.accepted == []


def test_message_found_later_than_its_grace_is_skipped_not_sent(runtime: Runtime, standin: StandIn) -> None:
    appt, message_id = _one_due_reminder(runtime)
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Message).where(Message.id == message_id).values(due_at=utcnow() - timedelta(minutes=20))
        )
    assert _claim_and_deliver(runtime) == ["skipped"]
    assert messages_of(runtime.sessions, appt)[0].reason.startswith("stale: ")
    assert standin.accepted == []


def test_permanent_error_is_recorded_with_its_code_and_not_retried(
    runtime: Runtime, standin: StandIn
) -> None:
    standin.behaviour.fail_numbers[PHONE] = 21211
    appt, _ = _one_due_reminder(runtime)
    assert _claim_and_deliver(runtime) == ["failed"]
    row = messages_of(runtime.sessions, appt)[0]
    assert (row.status, row.error_code, row.attempts) == ("failed", 21211, 1)
    assert claim_due(runtime.sessions, utcnow() + timedelta(hours=1), 10, timedelta(minutes=5)) != [row.id]


def test_unsubscribed_error_21610_marks_the_patient_opted_out(runtime: Runtime, standin: StandIn) -> None:
    standin.behaviour.fail_numbers[PHONE] = 21610
    appt, _ = _one_due_reminder(runtime)
    _claim_and_deliver(runtime)
    rows = messages_of(runtime.sessions, appt)
    assert [r.status for r in rows] == ["failed", "cancelled"]
    with runtime.sessions() as session:
        patient = session.get_one(Patient, rows[0].patient_id)
    assert patient.opted_out and patient.opt_out_source == "twilio:21610"


def test_transient_error_requeues_with_backoff_then_sends(runtime: Runtime, standin: StandIn) -> None:
    standin.behaviour.scripted.extend([(500, 20500), (429, 20429)])
    appt, message_id = _one_due_reminder(runtime)
    claim_due(runtime.sessions, utcnow(), 10, runtime.settings.claim_lease)
    first = deliver(runtime, message_id)
    assert first.status == "queued" and first.retry_in is not None and 2.5 <= first.retry_in <= 5
    second = deliver(runtime, message_id)
    assert second.status == "queued" and second.retry_in is not None and 5 <= second.retry_in <= 10
    assert deliver(runtime, message_id).status == "sent"
    row = messages_of(runtime.sessions, appt)[0]
    assert (row.attempts, len(standin.accepted)) == (3, 1)


def test_gives_up_after_the_attempt_limit(runtime: Runtime, standin: StandIn) -> None:
    standin.behaviour.scripted.extend([(503, None)] * 10)
    _, message_id = _one_due_reminder(runtime)
    claim_due(runtime.sessions, utcnow(), 10, runtime.settings.claim_lease)
    outcomes = [deliver(runtime, message_id) for _ in range(runtime.settings.send_max_attempts)]
    assert [o.status for o in outcomes][-1] == "failed"
    assert outcomes[-1].retry_in is None
    assert "gave up after 5 attempts" in (outcomes[-1].reason or "")


def test_timeout_after_sending_is_recorded_ambiguous_and_not_resent(
    runtime: Runtime, standin: StandIn
) -> None:
    standin.behaviour.stall_rate, standin.behaviour.stall_seconds = 1.0, 3.0  # client timeout is 2 s
    appt, _ = _one_due_reminder(runtime)
    assert _claim_and_deliver(runtime) == ["ambiguous"]
    standin.behaviour.stall_rate = 0.0
    assert claim_due(runtime.sessions, utcnow() + timedelta(hours=1), 10, timedelta(minutes=5)) == []
    assert messages_of(runtime.sessions, appt)[0].status == "ambiguous"


def test_row_left_in_sending_by_a_dead_worker_mid_call_becomes_ambiguous(runtime: Runtime) -> None:
    appt, message_id = _one_due_reminder(runtime)
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(
                status=MessageStatus.SENDING,
                lease_until=utcnow() - timedelta(seconds=1),
                call_started_at=utcnow(),
            )
        )
    assert expire_stuck_sending(runtime.sessions, utcnow()) == 1
    row = messages_of(runtime.sessions, appt)[0]
    assert row.status == "ambiguous" and "not resent" in (row.reason or "")


def test_row_left_in_sending_before_its_call_started_is_queued_again_and_sent_once(
    runtime: Runtime, standin: StandIn
) -> None:
    appt, message_id = _one_due_reminder(runtime)
    claim_due(runtime.sessions, utcnow(), 10, runtime.settings.claim_lease)
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(status=MessageStatus.SENDING, attempts=1, lease_until=utcnow() - timedelta(seconds=1))
        )
    assert expire_stuck_sending(runtime.sessions, utcnow()) == 0  # none ambiguous
    row = messages_of(runtime.sessions, appt)[0]
    assert (row.status, row.attempts) == ("queued", 0) and "before calling Twilio" in (row.reason or "")
    assert claim_due(runtime.sessions, utcnow(), 10, runtime.settings.claim_lease) == [message_id]
    assert deliver(runtime, message_id).status == "sent"
    assert len(standin.accepted) == 1


def test_no_phone_number_or_text_reaches_the_logs_even_at_debug(
    runtime: Runtime, standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _one_due_reminder(runtime, name="Maria Example")
    assert _claim_and_deliver(runtime) == ["sent"]
    logged = caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    assert PHONE not in logged and PHONE[2:] not in logged
    assert "Maria" not in logged and "Reply C" not in logged
    assert any(getattr(r, "message_id", None) for r in caplog.records)


def test_twilio_client_logger_is_held_at_warning(runtime: Runtime) -> None:
    # It logs query parameters (a `To` filter when listing messages) at INFO.
    assert logging.getLogger("twilio.http_client").getEffectiveLevel() >= logging.WARNING
