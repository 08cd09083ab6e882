"""Status callbacks and reconciliation: statuses only move forward, nothing twice."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DataError
from starlette.testclient import TestClient

from tests.helpers import messages_of
from tests.inbound.test_replies import PHONE, inbound_rows, process_all, reminded_appointment
from tests.twilio_standin import StandIn
from tests.webhooks import signed, status_form
from worker.db.engine import transaction
from worker.db.models import Message, StatusEvent, utcnow
from worker.inbound.reconcile import reconcile
from worker.outbound.dispatch import claim_due
from worker.outbound.sending import deliver
from worker.outbound.statuses import Callback, record_event
from worker.runtime import Runtime
from worker.web import create_app
from worker.web.hooks import status_writer


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(
        create_app(runtime.settings, runtime), base_url="https://clinic.example.org"
    ) as test_client:
        yield test_client


def callback(client: TestClient, sid: str, status: str, code: str | None = None) -> None:
    response = client.post("/twilio/status", **signed("/twilio/status", status_form(sid, status, code)))
    assert response.status_code == 200


def sent_message(rt: Runtime) -> Message:
    appt = reminded_appointment(rt)
    return messages_of(rt.sessions, appt)[0]


def status_of(rt: Runtime, message_id: int) -> tuple[str, int | None]:
    with rt.sessions() as session:
        row = session.get_one(Message, message_id)
        return row.status, row.error_code


def test_delivered_then_a_late_sent_leaves_the_message_delivered(
    client: TestClient, runtime: Runtime
) -> None:
    message = sent_message(runtime)
    callback(client, message.twilio_sid or "", "delivered")
    callback(client, message.twilio_sid or "", "sent")
    assert status_of(runtime, message.id) == ("delivered", None)


def test_failed_and_undelivered_are_final(client: TestClient, runtime: Runtime) -> None:
    message = sent_message(runtime)
    callback(client, message.twilio_sid or "", "undelivered", "30005")
    callback(client, message.twilio_sid or "", "delivered")
    assert status_of(runtime, message.id) == ("undelivered", 30005)


def test_carrier_error_codes_are_recorded_as_undelivered(client: TestClient, runtime: Runtime) -> None:
    message = sent_message(runtime)
    callback(client, message.twilio_sid or "", "failed", "30003")
    assert status_of(runtime, message.id) == ("undelivered", 30003)


def test_a_repeated_callback_is_stored_once(client: TestClient, runtime: Runtime) -> None:
    message = sent_message(runtime)
    for _ in range(3):
        callback(client, message.twilio_sid or "", "delivered")
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(StatusEvent)) == 1


def test_an_unknown_sid_is_answered_200_and_kept(client: TestClient, runtime: Runtime) -> None:
    callback(client, "SM" + "0" * 32, "delivered")
    with runtime.sessions() as session:
        assert session.scalar(select(StatusEvent.status)) == "delivered"


def test_a_callback_that_beats_our_own_record_of_the_sid_is_applied_after_it(
    runtime: Runtime, standin: StandIn
) -> None:
    # Twilio can call back before the worker has committed the SID it got.
    reminded_appointment(runtime, phone="+12025550177")
    appt_rows = messages_of(runtime.sessions, 1)
    second = appt_rows[1]
    with transaction(runtime.sessions) as session:
        session.execute(Message.__table__.update().where(Message.id == second.id).values(due_at=utcnow()))
    claim_due(runtime.sessions, utcnow(), 10, runtime.settings.claim_lease)
    expected_sid_holder: list[str] = []
    real_send = runtime.sender.send

    def send_then_callback(sms):  # type: ignore[no-untyped-def]
        sid = real_send(sms)
        with transaction(runtime.sessions) as session:
            record_event(session, sid, "delivered", None, "webhook", utcnow())
        expected_sid_holder.append(sid)
        return sid

    runtime.sender.send = send_then_callback  # type: ignore[method-assign]
    assert deliver(runtime, second.id).status == "sent"
    assert status_of(runtime, second.id) == ("delivered", None)


def test_unsigned_callback_is_refused(client: TestClient, runtime: Runtime) -> None:
    message = sent_message(runtime)
    request = signed("/twilio/status", status_form(message.twilio_sid or "", "failed"))
    request["headers"]["X-Twilio-Signature"] = "forged"
    assert client.post("/twilio/status", **request).status_code == 403
    assert status_of(runtime, message.id) == ("sent", None)


def test_reconcile_records_missed_replies_and_final_statuses(runtime: Runtime, standin: StandIn) -> None:
    message = sent_message(runtime)
    standin.set_status(message.twilio_sid or "", "delivered")
    standin.add_inbound(PHONE, "+12025550100", "C")
    result = reconcile(runtime, utcnow())
    assert (result.inbound_added, result.statuses_updated) == (1, 1)
    assert status_of(runtime, message.id) == ("delivered", None)
    process_all(runtime)
    [row] = inbound_rows(runtime.sessions)
    assert (row.kind, row.source) == ("confirm", "reconcile")
    again = reconcile(runtime, utcnow() + timedelta(seconds=1))
    assert (again.inbound_added, again.statuses_updated) == (0, 0)


def test_callbacks_arriving_together_share_commits_and_keep_each_messages_order(runtime: Runtime) -> None:
    messages = [sent_message(runtime)] + [
        messages_of(runtime.sessions, reminded_appointment(runtime, f"+1202555{4100 + n:04d}"))[0]
        for n in range(3)
    ]
    sids = [m.twilio_sid or "" for m in messages]
    # Per message, in arrival order: delivered then a late sent; sent then undelivered;
    # the same delivered twice; failed.
    arriving = [
        Callback(sids[0], "delivered", None),
        Callback(sids[1], "sent", None),
        Callback(sids[0], "sent", None),
        Callback(sids[1], "undelivered", 30003),
        Callback(sids[2], "delivered", None),
        Callback(sids[2], "delivered", None),
        Callback(sids[3], "failed", 30007),
    ]
    commits = [0]

    def count(_connection: object) -> None:
        commits[0] += 1

    writer = status_writer(runtime)
    event.listen(runtime.engine, "commit", count)
    futures = [writer.submit(c) for c in arriving]
    applied = [f.result(10) for f in futures]
    writer.close()
    event.remove(runtime.engine, "commit", count)

    assert applied == [True, False, False, True, True, False, True]
    assert [status_of(runtime, m.id)[0] for m in messages] == [
        "delivered",
        "undelivered",
        "delivered",
        "undelivered",
    ]
    assert commits[0] < len(arriving), f"{commits[0]} commits for {len(arriving)} callbacks"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(StatusEvent)) == 6


def test_a_batch_written_again_one_by_one_logs_each_status_change_once(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores a NUL character; PostgreSQL's text columns refuse it")
    caplog.set_level(logging.INFO)
    sids = [
        messages_of(runtime.sessions, reminded_appointment(runtime, f"+1202555{4200 + n:04d}"))[0].twilio_sid
        or ""
        for n in range(4)
    ]
    # Sorted last in its batch, so the others are applied (and were once logged) before it fails.
    refused = Callback("SMzzzz\x00", "delivered", None)
    writer = status_writer(runtime)
    blocker = runtime.engine.connect()
    held = blocker.begin()
    blocker.execute(text("LOCK TABLE status_events IN EXCLUSIVE MODE"))
    try:
        first = writer.submit(Callback("SM" + "0" * 32, "sent", None))  # taken alone, waits on the lock
        time.sleep(0.3)
        together = [writer.submit(Callback(sid, "delivered", None)) for sid in sids] + [
            writer.submit(refused)
        ]
    finally:
        held.rollback()
        blocker.close()
    assert first.result(10) is False  # an unknown SID: kept, nothing to move
    assert [f.result(10) for f in together[:-1]] == [True] * 4
    with pytest.raises(DataError):
        together[-1].result(10)
    writer.close()

    assert "batched write failed; writing one by one" in caplog.messages
    assert caplog.messages.count("delivery status") == 4
