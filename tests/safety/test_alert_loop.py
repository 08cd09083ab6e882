"""The closed loop: one alert per patient while it is open, on-call texts that say what and
where from, ACK by text, backups texted in turn, and nothing more once a person has it.

Real ASGI app with signed webhooks, real database, texts sent through the Twilio stand-in;
time moves by passing a later `now` to the beat task's function.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import RedisServer, make_settings
from tests.helpers import add_patient
from tests.inbound.test_replies import process_all
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form, signed
from worker.db.engine import transaction
from worker.db.models import AlertTrigger, AuditEntry, SafetyAlert, utcnow
from worker.outbound.sending import deliver
from worker.runtime import Runtime, build_runtime
from worker.safety.notices import repeat_and_escalate
from worker.web import create_app

PHONE = "+12025550143"
ONCALL = "+12025550177"
BACKUP_1, BACKUP_2 = "+12025550178", "+12025550179"


@pytest.fixture
def rt(db_url: str, redis_server: RedisServer, standin: StandIn) -> Iterator[Runtime]:
    settings = make_settings(
        db_url,
        redis_server.url,
        standin.url,
        oncall_number=ONCALL,
        oncall_backup_numbers=f"{BACKUP_1},{BACKUP_2}",
        alert_escalate_minutes=10,
        alert_repeat_minutes=15,
    )
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt.settings, rt), base_url="https://records.example.org") as test_client:
        yield test_client


def post(client: TestClient, body: str, sender: str = PHONE) -> None:
    response = client.post("/twilio/sms", **signed("/twilio/sms", inbound_form(body, sender)))
    assert response.status_code == 200


def alerts(rt: Runtime) -> list[SafetyAlert]:
    with rt.sessions() as session:
        return list(session.scalars(select(SafetyAlert).order_by(SafetyAlert.id)))


def tick(rt: Runtime, minutes: float) -> None:
    """What beat's every-minute task does, `minutes` from now; then send what it queued."""
    with transaction(rt.sessions) as session:
        ids = repeat_and_escalate(session, rt.settings, utcnow() + timedelta(minutes=minutes))
    for message_id in ids:
        deliver(rt, message_id)


def bodies(standin: StandIn, number: str) -> list[str]:
    return [m.body for m in standin.accepted_to(number)]


def test_ten_crisis_texts_in_a_burst_are_one_alert_one_988_text_and_one_page(
    client: TestClient, rt: Runtime, standin: StandIn
) -> None:
    add_patient(rt.sessions, rt.settings, PHONE)
    for n in range(10):
        post(client, "i want to kill myself" if n else "i want to die")
    process_all(rt)
    [alert] = alerts(rt)
    assert alert.more_texts == 9
    with rt.sessions() as session:
        triggers = session.scalars(select(AlertTrigger).where(AlertTrigger.alert_id == alert.id)).all()
    assert len(triggers) == 10  # every text counted and stored
    assert sum("988" in b for b in bodies(standin, PHONE)) == 1
    assert len(bodies(standin, ONCALL)) == 1
    tick(rt, 16)  # the next repeat says how many more came
    assert "9 more texts" in bodies(standin, ONCALL)[-1]


def test_on_call_text_names_id_source_and_category_never_the_patient(
    client: TestClient, rt: Runtime, standin: StandIn
) -> None:
    add_patient(rt.sessions, rt.settings, PHONE, name="Maria Example")
    post(client, "I bought a rope, tonight is the night")
    process_all(rt)
    [alert] = alerts(rt)
    assert alert.category == "plan_or_means" and alert.rule
    [page] = bodies(standin, ONCALL)
    assert page.startswith(f"SAFETY ALERT {alert.id}: crisis text, plan or means.")
    for secret in ("Maria", "rope", PHONE, PHONE[-4:]):
        assert secret not in page


def test_ack_by_text_from_on_call_closes_the_alert_confirms_and_stops_the_repeats(
    client: TestClient, rt: Runtime, standin: StandIn
) -> None:
    add_patient(rt.sessions, rt.settings, PHONE)
    post(client, "kms")
    process_all(rt)
    [alert] = alerts(rt)
    post(client, f"ack {alert.id}", sender=ONCALL)
    process_all(rt)
    [alert] = alerts(rt)
    assert alert.acknowledged_at is not None and alert.acknowledged_by == ONCALL
    assert bodies(standin, ONCALL)[-1].startswith(f"SAFETY ALERT {alert.id} acknowledged by +1******0177")
    with rt.sessions() as session:
        audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "alert.ack"))
    assert audit is not None and audit.actor == f"oncall:{ONCALL}"
    pages = len(bodies(standin, ONCALL))
    tick(rt, 60)
    assert len(bodies(standin, ONCALL)) == pages and bodies(standin, BACKUP_1) == []


def test_a_bare_ack_closes_the_newest_open_alert_and_a_stale_one_is_answered(
    client: TestClient, rt: Runtime, standin: StandIn
) -> None:
    add_patient(rt.sessions, rt.settings, PHONE)
    add_patient(rt.sessions, rt.settings, "+12025550144")
    post(client, "i wish i was dead")
    post(client, "me voy a matar", sender="+12025550144")
    process_all(rt)
    first, second = alerts(rt)
    post(client, "ACK", sender=ONCALL)
    process_all(rt)
    first, second = alerts(rt)
    assert first.acknowledged_at is None and second.acknowledged_at is not None
    post(client, f"ACK {second.id}", sender=ONCALL)  # already closed
    process_all(rt)
    assert bodies(standin, ONCALL)[-1].startswith("clinic-worker: no open safety alert matches that ACK")


def test_ack_from_a_number_that_is_not_on_call_changes_nothing(
    client: TestClient, rt: Runtime, standin: StandIn
) -> None:
    add_patient(rt.sessions, rt.settings, PHONE)
    post(client, "i want to die")
    process_all(rt)
    [alert] = alerts(rt)
    post(client, f"ACK {alert.id}", sender="+12025550150")
    post(client, f"ACK {alert.id}")  # the patient themself
    process_all(rt)
    [alert] = alerts(rt)
    assert alert.acknowledged_at is None


def test_unacknowledged_alert_reaches_each_backup_in_turn_and_repeats_to_everyone_reached(
    client: TestClient, rt: Runtime, standin: StandIn
) -> None:
    add_patient(rt.sessions, rt.settings, PHONE)
    post(client, "i want to die")
    process_all(rt)
    [alert] = alerts(rt)
    tick(rt, 5)
    assert bodies(standin, BACKUP_1) == []
    tick(rt, 10.5)
    [backup_page] = bodies(standin, BACKUP_1)
    assert backup_page.startswith(f"SAFETY ALERT {alert.id} not acknowledged by on-call after 10 min")
    assert bodies(standin, BACKUP_2) == []
    tick(rt, 20.5)  # the second backup reached; on-call and the first backup texted again
    assert [len(bodies(standin, n)) for n in (ONCALL, BACKUP_1, BACKUP_2)] == [2, 2, 1]
    tick(rt, 30)  # not yet 15 minutes since the last round
    assert [len(bodies(standin, n)) for n in (ONCALL, BACKUP_1, BACKUP_2)] == [2, 2, 1]
    tick(rt, 36)  # everyone reached so far, again
    assert [len(bodies(standin, n)) for n in (ONCALL, BACKUP_1, BACKUP_2)] == [3, 3, 2]
    post(client, "ACK", sender=BACKUP_2)  # the backup closes it; the others are told
    process_all(rt)
    [alert] = alerts(rt)
    assert alert.acknowledged_by == BACKUP_2
    assert bodies(standin, ONCALL)[-1].startswith(f"SAFETY ALERT {alert.id} acknowledged by +1******0179")
    assert "acknowledged" in bodies(standin, BACKUP_1)[-1]


def test_a_new_crisis_text_after_acknowledgement_opens_a_new_alert(
    client: TestClient, rt: Runtime, standin: StandIn
) -> None:
    add_patient(rt.sessions, rt.settings, PHONE)
    post(client, "i want to die")
    process_all(rt)
    [alert] = alerts(rt)
    post(client, f"ACK {alert.id}", sender=ONCALL)
    process_all(rt)
    post(client, "took a bunch of pills")
    process_all(rt)
    first, second = alerts(rt)
    assert first.acknowledged_at is not None
    assert second.acknowledged_at is None and second.category == "plan_or_means"
    assert sum("988" in b for b in bodies(standin, PHONE)) == 2


def test_a_joining_text_that_is_more_severe_shows_in_the_next_repeat(
    client: TestClient, rt: Runtime, standin: StandIn
) -> None:
    add_patient(rt.sessions, rt.settings, PHONE)
    post(client, "everyone would be better off without me")
    post(client, "i have a gun and i want to use it on myself")
    process_all(rt)
    [alert] = alerts(rt)
    assert alert.category == "plan_or_means" and alert.more_texts == 1
    tick(rt, 16)
    assert "crisis text, plan or means, 1 more text." in bodies(standin, ONCALL)[-1]


def test_spanish_speaking_patient_gets_the_spanish_988_route(
    client: TestClient, rt: Runtime, standin: StandIn
) -> None:
    add_patient(rt.sessions, rt.settings, PHONE, language="es")
    post(client, "me voy a matar")
    process_all(rt)
    [crisis] = bodies(standin, PHONE)
    assert "AYUDA" in crisis and "oprima 2" in crisis and "988lineadevida.org" in crisis
