"""A batch of due messages: claimed together, sent concurrently, each recorded on its own."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import redis
from sqlalchemy import event, select, text, update

from tests.conftest import RedisServer, make_settings
from tests.helpers import add_appointment, add_patient, in_minutes, messages_of
from tests.twilio_standin import StandIn
from worker.db.engine import transaction
from worker.db.models import Message, Patient, utcnow
from worker.outbound.dispatch import batch_size, claim_due, expire_stuck_sending
from worker.outbound.outcomes import LOST_HOLD
from worker.outbound.sending import _calling, begin_batch, deliver_batch
from worker.runtime import Runtime, build_runtime
from worker.sms.base import OutboundSms


def _due_batch(rt: Runtime, count: int) -> list[int]:
    """`count` patients, each with the first reminder of an appointment in 3 days due now."""
    firsts = []
    for n in range(count):
        pid = add_patient(rt.sessions, rt.settings, f"+1202555{3000 + n:04d}")
        appointment = add_appointment(rt.sessions, rt.settings, pid, in_minutes(60 * 72))
        firsts.append(messages_of(rt.sessions, appointment)[0].id)
    with transaction(rt.sessions) as session:
        session.execute(update(Message).where(Message.id.in_(firsts)).values(due_at=utcnow()))
    claimed = claim_due(rt.sessions, utcnow(), 100, rt.settings.claim_lease)
    assert sorted(claimed) == sorted(firsts)
    return firsts


def test_a_batch_goes_out_concurrently_and_each_row_keeps_its_own_sid(
    runtime: Runtime, standin: StandIn
) -> None:
    standin.behaviour.latency = 0.3
    ids = _due_batch(runtime, 12)
    started = time.monotonic()
    outcomes = deliver_batch(runtime, ids)
    elapsed = time.monotonic() - started
    assert {i: o.status for i, o in outcomes.items()} == {i: "sent" for i in ids}
    # One after another this would take 12 x 0.3 s.
    assert elapsed < 2.0, f"{elapsed:.1f}s: the sends did not overlap"
    with runtime.sessions() as session:
        rows = session.execute(
            select(Message.status, Message.attempts, Message.twilio_sid, Patient.phone)
            .join(Patient, Patient.id == Message.patient_id)
            .where(Message.id.in_(ids))
        ).all()
    accepted = {a.sid: a.to for a in standin.accepted}
    assert len(accepted) == 12 and len(rows) == 12
    for status, attempts, sid, phone in rows:
        assert (status, attempts, accepted[sid]) == ("sent", 1, phone)


def test_each_message_of_a_batch_gets_its_own_fate(runtime: Runtime, standin: StandIn) -> None:
    ids = _due_batch(runtime, 4)
    ok, opted_out, invalid, busy = ids
    with transaction(runtime.sessions) as session:
        patient_of = dict(
            session.execute(select(Message.id, Message.patient_id).where(Message.id.in_(ids))).all()
        )
        session.execute(update(Patient).where(Patient.id == patient_of[opted_out]).values(opted_out=True))
        phones = {mid: session.get_one(Patient, pid).phone for mid, pid in patient_of.items()}
    standin.behaviour.fail_numbers = {phones[invalid]: 21211, phones[busy]: 20429}
    outcomes = deliver_batch(runtime, ids)
    assert outcomes[ok].status == "sent"
    assert outcomes[opted_out].status == "skipped"
    assert outcomes[invalid].status == "failed"
    assert outcomes[busy].status == "queued" and outcomes[busy].retry_in is not None
    assert [a.to for a in standin.accepted] == [phones[ok]]
    # A retry is an UPDATE: the dispatcher takes the row again once its backoff has passed.
    assert claim_due(runtime.sessions, utcnow(), 10, runtime.settings.claim_lease) == []
    later = utcnow() + timedelta(seconds=outcomes[busy].retry_in + 0.1)
    assert claim_due(runtime.sessions, later, 10, runtime.settings.claim_lease) == [busy]


def test_a_batch_delivered_twice_sends_each_message_once(runtime: Runtime, standin: StandIn) -> None:
    ids = _due_batch(runtime, 5)
    first = deliver_batch(runtime, ids)
    again = deliver_batch(runtime, ids)  # the same task redelivered by Redis
    assert {o.status for o in first.values()} == {"sent"}
    assert {o.status for o in again.values()} == {"not-claimed"}
    assert len(standin.accepted) == 5


def test_a_batch_spans_at_most_a_second_of_the_send_rate() -> None:
    assert batch_size(send_rate=1, concurrency=32) == 1
    assert batch_size(send_rate=10, concurrency=32) == 10
    assert batch_size(send_rate=400, concurrency=32) == 32


def test_the_call_marks_of_a_batch_are_committed_together_before_each_call(
    db_url: str, redis_server: RedisServer, standin: StandIn
) -> None:
    # A rate that does not bind: the 24 calls all start at once, as in a morning's burst.
    runtime = build_runtime(make_settings(db_url, redis_server.url, standin.url, send_rate=10_000))
    ids = _due_batch(runtime, 24)
    commits = [0]

    def count(_connection: object) -> None:
        commits[0] += 1

    event.listen(runtime.engine, "commit", count)
    outcomes = deliver_batch(runtime, ids)
    event.remove(runtime.engine, "commit", count)

    assert {o.status for o in outcomes.values()} == {"sent"}
    with runtime.sessions() as session:
        marks = session.execute(
            select(Message.call_started_at, Message.sent_at).where(Message.id.in_(ids))
        ).all()
    assert all(started is not None and started <= sent for started, sent in marks)
    # The claim, the record of the results, and the marks: far fewer than one per text.
    assert commits[0] < 24, f"{commits[0]} commits for a batch of 24"
    runtime.close()


def test_a_rate_limiter_failing_mid_batch_hands_its_text_back_and_the_others_keep_their_sids(
    runtime: Runtime, standin: StandIn
) -> None:
    ids = _due_batch(runtime, 8)
    real = type(runtime.limiter).reserve
    calls = [0]

    def flaky(limiter: object, max_wait: float) -> tuple[bool, float]:
        calls[0] += 1
        if calls[0] == 3:  # Redis went away under one text's reservation
            raise redis.ConnectionError("Connection refused")
        return real(limiter, max_wait)  # type: ignore[arg-type]

    with mock.patch.object(type(runtime.limiter), "reserve", autospec=True, side_effect=flaky):
        outcomes = deliver_batch(runtime, ids)

    statuses = sorted(o.status for o in outcomes.values())
    assert statuses == ["queued"] + ["sent"] * 7
    [back] = [i for i, o in outcomes.items() if o.status == "queued"]
    with runtime.sessions() as session:
        rows = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))}
    assert rows[back].call_started_at is None and rows[back].twilio_sid is None
    assert rows[back].attempts == 0
    assert len(standin.accepted) == 7
    assert {rows[i].twilio_sid for i in ids if i != back} == {a.sid for a in standin.accepted}


def test_a_send_that_breaks_unexpectedly_is_left_for_the_sweep_and_the_others_are_recorded(
    runtime: Runtime, standin: StandIn
) -> None:
    ids = _due_batch(runtime, 6)
    real = type(runtime.sender).send
    broken_to: list[str] = []

    def breaks_once(sender: object, sms: OutboundSms) -> str:
        if not broken_to:
            broken_to.append(sms.to)
            raise RuntimeError("a bug after the call")
        return real(sender, sms)  # type: ignore[arg-type]

    with mock.patch.object(type(runtime.sender), "send", autospec=True, side_effect=breaks_once):
        outcomes = deliver_batch(runtime, ids)

    assert sorted(o.status for o in outcomes.values()) == ["sending"] + ["sent"] * 5
    with runtime.sessions() as session:
        rows = session.execute(
            select(Message.status, Message.twilio_sid, Patient.phone)
            .join(Patient, Patient.id == Message.patient_id)
            .where(Message.id.in_(ids))
        ).all()
    left = [phone for status, sid, phone in rows if status == "sending" and sid is None]
    assert left == broken_to  # still held: the sweep decides once its lease runs out
    assert len(standin.accepted) == 5


def test_a_call_mark_the_database_cannot_commit_in_time_means_the_text_is_not_sent(
    db_url: str, redis_server: RedisServer, standin: StandIn
) -> None:
    runtime = build_runtime(make_settings(db_url, redis_server.url, standin.url, twilio_timeout=1.0))
    [message_id] = _due_batch(runtime, 1)
    lease = utcnow() + timedelta(minutes=1)
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Message).where(Message.id == message_id).values(status="sending", lease_until=lease)
        )
    blocker = runtime.engine.connect()
    held = blocker.begin()  # on SQLite, BEGIN IMMEDIATE: the write lock
    if runtime.engine.dialect.name == "postgresql":
        blocker.execute(text("LOCK TABLE messages IN EXCLUSIVE MODE"))
    started = time.monotonic()
    try:
        assert _calling(runtime, message_id, lease) is False  # not held: the caller hands it back
        waited = time.monotonic() - started
    finally:
        held.rollback()
        blocker.close()
    assert 0.9 < waited < 5, f"waited {waited:.1f} s for a mark with a 1 s limit"
    runtime.close()  # the late mark lands or not; either way nothing was sent
    assert standin.accepted == []


def test_a_worker_that_stalls_past_its_lease_sends_nothing_and_leaves_the_next_holders_row_alone(
    db_url: str, redis_server: RedisServer, standin: StandIn
) -> None:
    runtime = build_runtime(
        make_settings(db_url, redis_server.url, standin.url, send_rate=1.0, twilio_timeout=1.0)
    )
    [message_id] = _due_batch(runtime, 1)
    assert runtime.limiter.reserve(0)[0]  # this second's slot is gone: the send waits for the next
    later = utcnow() + timedelta(seconds=60)  # past this worker's lease (3 x 1 s + 25 s)
    next_holder: list[object] = []

    def stalls_past_its_lease(seconds: float) -> None:
        # While this worker is frozen: the sweep finds its lease run out and queues the
        # row again (no call had started), the dispatcher takes it, another worker claims it.
        expire_stuck_sending(runtime.sessions, later)
        assert claim_due(
            runtime.sessions, later + timedelta(seconds=1), 10, runtime.settings.claim_lease
        ) == [message_id]
        with transaction(runtime.sessions) as session:
            _, prepared = begin_batch(session, runtime, [message_id], later, later + timedelta(minutes=1))
        next_holder.append(prepared[message_id])
        time.sleep(seconds)

    runtime.sleep = stalls_past_its_lease
    try:
        outcomes = deliver_batch(runtime, [message_id])
    finally:
        runtime.close()

    assert isinstance(next_holder[0], OutboundSms), next_holder
    assert outcomes == {message_id: LOST_HOLD}
    assert standin.accepted == []  # only the next holder may send it
    with runtime.sessions() as session:
        row = session.get_one(Message, message_id)
    assert (row.status, row.lease_until, row.call_started_at, row.attempts) == (
        "sending",
        later + timedelta(minutes=1),
        None,
        1,
    )
