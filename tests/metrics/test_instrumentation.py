"""The recording points, driven through the real code: claims and sends through the real
twilio client against the stand-in, provider errors, the sweep, superseded reminders and
processed replies. No folder is prepared: the process's own registry counts, as in the demo."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.helpers import add_appointment, add_patient, in_minutes, messages_of
from tests.metrics.scraped import Key, samples, value
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form
from worker.db.engine import transaction
from worker.db.models import Message, utcnow
from worker.enums import MessageStatus
from worker.inbound.store import store_inbound
from worker.jobs.tasks import _process
from worker.metrics.scrape import render, scrape_registry
from worker.outbound.dispatch import claim_due, expire_stuck_sending
from worker.outbound.sending import deliver_batch
from worker.runtime import Runtime

PHONE = "+12025550143"


def _scrape() -> dict[Key, float]:
    return samples(render(scrape_registry()).decode())


def _due_reminders(rt: Runtime, count: int, phone: str = PHONE) -> list[int]:
    """`count` appointments in three days whose first reminder is due now (one patient)."""
    pid = add_patient(rt.sessions, rt.settings, phone)
    ids = []
    for i in range(count):
        appointment = add_appointment(rt.sessions, rt.settings, pid, in_minutes(60 * (72 + i)))
        ids.append(messages_of(rt.sessions, appointment)[0].id)
    with transaction(rt.sessions) as session:
        session.execute(
            update(Message).where(Message.id.in_(ids)).values(due_at=utcnow() - timedelta(seconds=2))
        )
    return ids


def _all(rt: Runtime) -> list[Message]:
    with rt.sessions() as session:
        return list(session.scalars(select(Message)))


def _dispatch(rt: Runtime) -> list[int]:
    ids = claim_due(rt.sessions, utcnow(), 50, rt.settings.claim_lease)
    deliver_batch(rt, ids)
    return ids


def test_given_due_reminders_when_claimed_and_sent_expect_claims_attempts_sends_and_their_timings(
    runtime: Runtime, standin: StandIn
) -> None:
    ids = _due_reminders(runtime, 3)
    assert sorted(_dispatch(runtime)) == sorted(ids)
    found = _scrape()
    assert value(found, "clinic_claims_total") == 3
    assert value(found, "clinic_send_attempts_total", kind="reminder") == 3
    assert value(found, "clinic_messages_total", kind="reminder", status="sent") == 3
    assert value(found, "clinic_send_lateness_seconds_count", kind="reminder") == 3
    assert value(found, "clinic_send_lateness_seconds_bucket", kind="reminder", le="1.0") == 0
    assert value(found, "clinic_send_lateness_seconds_bucket", kind="reminder", le="15.0") == 3
    rows = [m for m in _all(runtime) if m.id in ids]
    lateness = sum((m.sent_at - m.due_at).total_seconds() for m in rows)
    assert abs((value(found, "clinic_send_lateness_seconds_sum", kind="reminder") or 0) - lateness) < 0.5
    assert value(found, "clinic_provider_latency_seconds_count") == 3
    assert value(found, "clinic_rate_limit_wait_seconds_count") == 3  # reminders are metered
    assert value(found, "clinic_messages_total", kind="reminder", status="failed") == 0


def test_given_a_refused_number_when_sent_expect_the_twilio_code_and_a_failed_message(
    runtime: Runtime, standin: StandIn
) -> None:
    standin.behaviour.fail_numbers[PHONE] = 21211
    _due_reminders(runtime, 1)
    _dispatch(runtime)
    found = _scrape()
    assert value(found, "clinic_provider_errors_total", code="21211") == 1
    assert value(found, "clinic_messages_total", kind="reminder", status="failed") == 1
    assert value(found, "clinic_send_attempts_total", kind="reminder") == 1
    assert value(found, "clinic_send_lateness_seconds_count", kind="reminder") is None


def test_given_twilio_silent_after_the_request_when_sent_expect_a_timeout_and_an_ambiguous_send(
    runtime: Runtime, standin: StandIn
) -> None:
    standin.behaviour.stall_rate, standin.behaviour.stall_seconds = 1.0, 3.0  # client timeout is 2 s
    _due_reminders(runtime, 1)
    _dispatch(runtime)
    found = _scrape()
    assert value(found, "clinic_provider_errors_total", code="timeout") == 1
    assert value(found, "clinic_messages_total", kind="reminder", status="ambiguous") == 1
    assert value(found, "clinic_ambiguous_sends_total") == 1
    assert (value(found, "clinic_provider_latency_seconds_bucket", le="1.0") or 0) == 0


def test_given_rows_left_in_sending_when_swept_expect_lease_expiries_and_the_ambiguous_one_counted(
    runtime: Runtime,
) -> None:
    called, not_called = _due_reminders(runtime, 2)
    past = utcnow() - timedelta(seconds=1)
    with transaction(runtime.sessions) as session:
        for message_id, started in ((called, utcnow()), (not_called, None)):
            session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(status=MessageStatus.SENDING, lease_until=past, call_started_at=started)
            )
    assert expire_stuck_sending(runtime.sessions, utcnow()) == 1
    found = _scrape()
    assert value(found, "clinic_lease_expiries_total") == 2
    assert value(found, "clinic_ambiguous_sends_total") == 1
    assert value(found, "clinic_messages_total", kind="reminder", status="ambiguous") == 1


def test_given_both_reminders_of_a_visit_overdue_when_dispatched_expect_the_earlier_counted_skipped(
    runtime: Runtime, standin: StandIn
) -> None:
    start = utcnow() + timedelta(hours=2) - timedelta(minutes=1)
    pid = add_patient(runtime.sessions, runtime.settings, PHONE)
    add_appointment(runtime.sessions, runtime.settings, pid, start, now=start - timedelta(days=3))
    assert len(_dispatch(runtime)) == 1
    found = _scrape()
    assert value(found, "clinic_messages_total", kind="reminder", status="skipped") == 1
    assert value(found, "clinic_messages_total", kind="reminder", status="sent") == 1
    assert value(found, "clinic_claims_total") == 1


def test_given_replies_when_processed_expect_each_counted_once_by_intent(runtime: Runtime) -> None:
    add_patient(runtime.sessions, runtime.settings, PHONE)
    stored = []
    with transaction(runtime.sessions) as session:
        for body in ("STOP", "do I need to fast?"):
            form = {name: [text] for name, text in inbound_form(body, PHONE)}
            stored.append(store_inbound(session, form, "webhook", utcnow()))
    for inbound_id in stored:
        assert inbound_id is not None
        _process(runtime, inbound_id)
        _process(runtime, inbound_id)  # a redelivered task: processed, and counted, once
    found = _scrape()
    assert value(found, "clinic_inbound_texts_total", intent="opt_out") == 1
    assert value(found, "clinic_inbound_texts_total", intent="question") == 1
