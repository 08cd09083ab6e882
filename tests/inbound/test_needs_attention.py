"""Nothing a patient sends disappears: reschedule requests, questions, unclear replies, wrong
numbers and strangers' texts wait on `replies list --needs-attention` until someone resolves
them; the front desk gets one text per item, an id only."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import RedisServer, make_settings
from tests.helpers import add_patient
from tests.inbound.test_replies import (
    PHONE,
    appointment_status,
    client,
    inbound_rows,
    process_all,
    reminded_appointment,
    text,
)
from tests.twilio_standin import StandIn
from worker.db.engine import transaction
from worker.db.models import AuditEntry, utcnow
from worker.inbound.attention import needing_attention, resolve
from worker.lib.errors import InputError
from worker.runtime import Runtime, build_runtime
from worker.web import create_app

__all__ = ["client"]  # the fixture, shared with test_replies
DESK = "+12025550199"


def test_a_natural_reschedule_keeps_the_day_and_waits_for_the_front_desk(
    db_url: str, redis_server: RedisServer, standin: StandIn
) -> None:
    settings = make_settings(db_url, redis_server.url, standin.url, front_desk_number=DESK)
    rt = build_runtime(settings)
    with TestClient(create_app(settings, rt), base_url="https://clinic.example.org") as client:
        appt = reminded_appointment(rt, name="Maria Example")
        text(client, "can we move it to thursday?")
        assert process_all(rt) == ["sent", "sent"]
    assert appointment_status(rt.sessions, appt) == "reschedule_requested"
    with rt.sessions() as session:
        [item] = needing_attention(session)
        assert (item.attention, item.attention_detail, item.intent) == (
            "reschedule request",
            "thursday",
            "reschedule",
        )
    [desk] = standin.accepted_to(DESK)
    assert f"appointment {appt}" in desk.body and "thursday" not in desk.body and "Maria" not in desk.body


def test_a_question_is_thanked_once_a_day_and_each_goes_on_the_list(
    db_url: str, redis_server: RedisServer, standin: StandIn
) -> None:
    settings = make_settings(db_url, redis_server.url, standin.url, front_desk_number=DESK)
    rt = build_runtime(settings)
    with TestClient(create_app(settings, rt), base_url="https://clinic.example.org") as client:
        reminded_appointment(rt)
        text(client, "do I need to fast before?")
        text(client, "and can my husband come in with me?")
        assert process_all(rt) == ["sent", "sent", "sent"]  # one thanks, two front-desk texts
    assert [m.body.startswith("Riverside Clinic: thank you, our team") for m in standin.accepted_to(PHONE)][
        -1
    ]
    bodies = [m.body for m in standin.accepted_to(DESK)]
    rows = inbound_rows(rt.sessions)
    assert bodies == [
        f"clinic-worker: reply {r.id} needs a person. See replies list --needs-attention." for r in rows
    ]
    assert [(r.kind, r.attention) for r in rows] == [("question", "question")] * 2


def test_a_wrong_number_is_on_the_list_for_staff_to_fix_the_record(
    client: TestClient, runtime: Runtime
) -> None:
    reminded_appointment(runtime)
    text(client, "wrong number, please stop")
    process_all(runtime)
    [row] = inbound_rows(runtime.sessions)
    assert (row.kind, row.attention) == ("opt_out", "wrong number")


def test_a_strangers_text_is_listed_without_paging_the_front_desk(
    client: TestClient, runtime: Runtime
) -> None:
    text(client, "hi this is my new phone, it's Maria", sender="+12025550177")
    assert process_all(runtime) == []
    [row] = inbound_rows(runtime.sessions)
    assert (row.kind, row.attention) == ("unknown_sender", "unknown sender")


def test_confirming_with_no_reminded_visit_goes_to_a_person(client: TestClient, runtime: Runtime) -> None:
    add_patient(runtime.sessions, runtime.settings, PHONE)
    text(client, "C")
    process_all(runtime)
    [row] = inbound_rows(runtime.sessions)
    assert (row.kind, row.attention) == ("unmatched", "no appointment to confirm")


def test_resolving_takes_an_item_off_the_list_once_with_who_and_why_audited(
    client: TestClient, runtime: Runtime
) -> None:
    reminded_appointment(runtime)
    text(client, "do I need to fast before?")
    process_all(runtime)
    [row] = inbound_rows(runtime.sessions)
    with transaction(runtime.sessions) as session:
        resolve(session, row.id, "Dana (front desk)", "called back: no fasting", utcnow())
    with runtime.sessions() as session:
        assert needing_attention(session) == []
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "reply.resolve")).one()
        assert (entry.actor, entry.patient_id, entry.entity_id) == (
            "Dana (front desk)",
            row.patient_id,
            row.id,
        )
    with (
        pytest.raises(InputError, match="already resolved by Dana"),
        transaction(runtime.sessions) as session,
    ):
        resolve(session, row.id, "Sam", None, utcnow())


@pytest.mark.parametrize("actor", ["", "   ", "Dana\nACK 3", "\x1b[31mDana"])
def test_resolving_needs_a_readable_name(client: TestClient, runtime: Runtime, actor: str) -> None:
    reminded_appointment(runtime)
    text(client, "do I need to fast before?")
    process_all(runtime)
    [row] = inbound_rows(runtime.sessions)
    with pytest.raises(InputError, match="--by"), transaction(runtime.sessions) as session:
        resolve(session, row.id, actor, None, utcnow())


def test_ok_thanks_after_a_reschedule_request_does_not_confirm_the_visit(
    client: TestClient, runtime: Runtime, standin: StandIn
) -> None:
    appt = reminded_appointment(runtime)
    text(client, "can we move it to friday?")
    process_all(runtime)
    sent = len(standin.accepted_to(PHONE))
    text(client, "ok thanks")
    assert process_all(runtime) == []
    assert appointment_status(runtime.sessions, appt) == "reschedule_requested"
    assert len(standin.accepted_to(PHONE)) == sent
    assert inbound_rows(runtime.sessions)[-1].attention == "confirm after reschedule request"


def test_thanks_after_a_confirmation_needs_nothing_and_running_late_is_listed(
    client: TestClient, runtime: Runtime
) -> None:
    reminded_appointment(runtime)
    text(client, "C")
    text(client, "thank you!")
    text(client, "running late, be there 2:15")
    assert process_all(runtime) == ["sent"]  # the confirmation only: no clarification after it
    rows = inbound_rows(runtime.sessions)
    assert [(r.kind, r.attention) for r in rows] == [
        ("confirm", None),
        ("thanks", None),
        ("unmatched", "running late"),
    ]


def test_a_crisis_text_gets_the_988_text_and_nothing_else_from_a_machine(
    client: TestClient, runtime: Runtime, standin: StandIn
) -> None:
    appt = reminded_appointment(runtime)
    text(client, "me voy a matar")
    process_all(runtime)
    bodies = [m.body for m in standin.accepted_to(PHONE)][1:]  # after the reminder
    assert len(bodies) == 1 and "988" in bodies[0]
    assert inbound_rows(runtime.sessions)[-1].kind == "crisis"
    assert appointment_status(runtime.sessions, appt) == "scheduled"
