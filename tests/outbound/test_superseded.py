"""Reminders of one appointment due at once (after a beat or Redis outage): only the latest
goes out, the others are skipped as superseded. Real database, real sender (the stand-in)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from tests.helpers import add_appointment, add_patient, messages_of
from tests.twilio_standin import StandIn
from worker.db.engine import transaction
from worker.db.models import Message, utcnow
from worker.enums import MessageStatus
from worker.outbound.dispatch import SUPERSEDED, claim_due
from worker.outbound.sending import deliver_batch
from worker.runtime import Runtime


def _booked_long_ago(rt: Runtime, phone: str, start: datetime) -> int:
    """An appointment planned three days before `start`, as if booked then: its 48h and 2h
    reminders are both due by now if `start` is less than two hours away."""
    pid = add_patient(rt.sessions, rt.settings, phone)
    return add_appointment(rt.sessions, rt.settings, pid, start, now=start - timedelta(days=3))


def _dispatch(rt: Runtime) -> list[int]:
    ids = claim_due(rt.sessions, utcnow(), 50, rt.settings.claim_lease)
    deliver_batch(rt, ids)
    return ids


def test_given_the_48h_and_2h_reminders_both_overdue_when_dispatched_expect_only_the_2h_one_sent(
    runtime: Runtime, standin: StandIn
) -> None:
    appt = _booked_long_ago(runtime, "+12025550181", utcnow() + timedelta(hours=2) - timedelta(minutes=1))
    early, late = messages_of(runtime.sessions, appt)
    assert (early.status, late.status) == ("planned", "planned")
    assert late.due_at - early.due_at == timedelta(hours=46)

    assert _dispatch(runtime) == [late.id]

    early, late = messages_of(runtime.sessions, appt)
    assert (early.status, early.reason) == (MessageStatus.SKIPPED, SUPERSEDED)
    assert SUPERSEDED == "superseded"
    assert late.status == MessageStatus.SENT
    assert [sms.sid for sms in standin.accepted] == [late.twilio_sid]


def test_given_the_earlier_reminder_already_sent_when_the_later_is_due_expect_it_sent_too(
    runtime: Runtime, standin: StandIn
) -> None:
    start = utcnow() + timedelta(hours=2) - timedelta(minutes=1)
    appt = _booked_long_ago(runtime, "+12025550182", start)
    early, late = messages_of(runtime.sessions, appt)
    with transaction(runtime.sessions) as session:  # the 48h reminder went out on time
        session.execute(
            update(Message)
            .where(Message.id == early.id)
            .values(status=MessageStatus.SENT, twilio_sid="SM" + "1" * 32, sent_at=early.due_at)
        )

    assert _dispatch(runtime) == [late.id]
    assert [m.status for m in messages_of(runtime.sessions, appt)] == ["sent", "sent"]
    assert len(standin.accepted) == 1


def test_given_a_lost_queued_reminder_and_a_later_due_one_expect_the_lost_one_superseded(
    runtime: Runtime, standin: StandIn
) -> None:
    appt = _booked_long_ago(runtime, "+12025550183", utcnow() + timedelta(hours=2) - timedelta(minutes=1))
    early, late = messages_of(runtime.sessions, appt)
    now = utcnow()
    with transaction(runtime.sessions) as session:  # claimed once, its task lost with Redis
        session.execute(
            update(Message)
            .where(Message.id == early.id)
            .values(status=MessageStatus.QUEUED, queued_at=now - timedelta(minutes=10), lease_until=now)
        )

    assert _dispatch(runtime) == [late.id]
    early, late = messages_of(runtime.sessions, appt)
    assert (early.status, early.reason, early.lease_until) == ("skipped", "superseded", None)
    assert late.status == "sent" and len(standin.accepted) == 1


def test_given_one_overdue_reminder_each_for_two_appointments_expect_both_sent(
    runtime: Runtime, standin: StandIn
) -> None:
    start = utcnow() + timedelta(hours=48) - timedelta(minutes=1)
    appts = [_booked_long_ago(runtime, phone, start) for phone in ("+12025550184", "+12025550185")]
    # Each appointment's 48h reminder is due, its 2h one is not yet: nothing to supersede.
    claimed = _dispatch(runtime)
    assert len(claimed) == 2
    for appt in appts:
        assert [m.status for m in messages_of(runtime.sessions, appt)] == ["sent", "planned"]
    assert len(standin.accepted) == 2
