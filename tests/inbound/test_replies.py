"""Inbound texts through the signed webhook and the real ASGI app, then processed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from tests.conftest import AUTH_TOKEN, FROM_NUMBER, RedisServer, make_settings
from tests.helpers import add_appointment, add_patient, in_minutes, messages_of
from tests.twilio_standin import StandIn
from tests.webhooks import MultiDict, inbound_form, signed
from worker.db.engine import transaction
from worker.db.models import Appointment, AuditEntry, InboundMessage, Message, Patient, utcnow
from worker.inbound.store import unprocessed
from worker.jobs.tasks import _process
from worker.outbound.dispatch import claim_due
from worker.outbound.sending import deliver
from worker.runtime import Runtime, build_runtime
from worker.web import create_app

PHONE = "+12025550143"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(
        create_app(runtime.settings, runtime), base_url="https://clinic.example.org"
    ) as test_client:
        yield test_client


def text(client: TestClient, body: str, sender: str = PHONE, sid: str | None = None) -> int:
    response = client.post("/twilio/sms", **signed("/twilio/sms", inbound_form(body, sender, sid)))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.endswith("<Response></Response>")
    return response.status_code


def process_all(rt: Runtime) -> list[str]:
    """Process stored texts, then send the answers they queued; returns the answers' bodies."""
    with rt.sessions() as session:
        ids = unprocessed(session, utcnow() + timedelta(seconds=1))
    for inbound_id in ids:
        _process(rt, inbound_id)
    with rt.sessions() as session:
        queued = session.scalars(
            select(Message.id).where(Message.status == "queued", Message.kind != "reminder")
        )
        answers = list(queued)
    return [deliver(rt, i).status for i in answers]


def reminded_appointment(rt: Runtime, phone: str = PHONE, **patient: object) -> int:
    """A patient whose first reminder for an appointment in 3 days has been sent."""
    pid = add_patient(rt.sessions, rt.settings, phone, **patient)
    appt = add_appointment(rt.sessions, rt.settings, pid, in_minutes(60 * 72))
    first = messages_of(rt.sessions, appt)[0]
    with transaction(rt.sessions) as session:
        session.execute(update(Message).where(Message.id == first.id).values(due_at=utcnow()))
    claim_due(rt.sessions, utcnow(), 10, rt.settings.claim_lease)
    assert deliver(rt, first.id).status == "sent"
    return appt


def inbound_rows(sessions: sessionmaker[Session]) -> list[InboundMessage]:
    with sessions() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def appointment_status(sessions: sessionmaker[Session], appt: int) -> str:
    with sessions() as session:
        return session.get_one(Appointment, appt).status


def test_c_confirms_the_reminded_appointment_and_thanks_the_patient(
    client: TestClient, runtime: Runtime, standin: StandIn
) -> None:
    appt = reminded_appointment(runtime)
    text(client, "C")
    assert process_all(runtime) == ["sent"]
    assert appointment_status(runtime.sessions, appt) == "confirmed"
    assert standin.accepted[-1].to == PHONE and "is confirmed" in standin.accepted[-1].body
    [row] = inbound_rows(runtime.sessions)
    assert (row.kind, row.appointment_id, row.body) == ("confirm", appt, "C")


def test_r_flags_the_appointment_and_tells_the_front_desk_by_id_only(
    db_url: str, redis_server: RedisServer, standin: StandIn
) -> None:
    settings = make_settings(db_url, redis_server.url, standin.url, front_desk_number="+12025550199")
    rt = build_runtime(settings)
    with TestClient(create_app(settings, rt), base_url="https://clinic.example.org") as client:
        appt = reminded_appointment(rt, name="Maria Example")
        text(client, "r")
        assert process_all(rt) == ["sent", "sent"]
    assert appointment_status(rt.sessions, appt) == "reschedule_requested"
    [desk] = standin.accepted_to("+12025550199")
    assert f"appointment {appt}" in desk.body and "Maria" not in desk.body and PHONE not in desk.body
    assert "contact you" in standin.accepted_to(PHONE)[-1].body


def test_stop_opts_out_cancels_pending_reminders_and_start_undoes_it(
    client: TestClient, runtime: Runtime, standin: StandIn
) -> None:
    appt = reminded_appointment(runtime)
    text(client, "Stop")
    assert process_all(runtime) == ["sent"]
    assert "no more texts" in standin.accepted[-1].body
    with runtime.sessions() as session:
        patient = session.scalars(select(Patient)).one()
    assert patient.opted_out and patient.opt_out_source == "sms" and patient.opted_out_at is not None
    assert [m.status for m in messages_of(runtime.sessions, appt)] == ["sent", "cancelled"]
    text(client, "START")
    assert process_all(runtime) == ["sent"]
    with runtime.sessions() as session:
        assert not session.scalars(select(Patient)).one().opted_out
    assert [m.status for m in messages_of(runtime.sessions, appt)] == ["sent", "planned"]


def test_an_opt_out_in_a_crisis_text_still_sends_the_crisis_resources(
    client: TestClient, runtime: Runtime, standin: StandIn
) -> None:
    appt = reminded_appointment(runtime)
    text(client, "stop texting me, i want to die")
    process_all(runtime)
    bodies = [m.body for m in standin.accepted_to(PHONE)]
    assert any("988" in body for body in bodies), bodies
    assert any("no more texts" in body for body in bodies), bodies
    assert [m.status for m in messages_of(runtime.sessions, appt)] == ["sent", "cancelled"]


@pytest.mark.parametrize("words", ["please don't contact me again", "No me manden más mensajes"])
def test_an_opt_out_in_the_patients_own_words_cancels_reminders_and_is_confirmed(
    client: TestClient, runtime: Runtime, standin: StandIn, words: str
) -> None:
    appt = reminded_appointment(runtime)
    text(client, words)
    assert process_all(runtime) == ["sent"]
    assert "no more texts" in standin.accepted[-1].body
    assert [m.status for m in messages_of(runtime.sessions, appt)] == ["sent", "cancelled"]
    assert inbound_rows(runtime.sessions)[-1].kind == "opt_out"


def test_a_wrong_number_opts_out_and_says_so_for_staff(client: TestClient, runtime: Runtime) -> None:
    reminded_appointment(runtime)
    text(client, "stop, wrong number")
    process_all(runtime)
    with runtime.sessions() as session:
        patient = session.scalars(select(Patient)).one()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "patient.opt_out")).one()
    assert patient.opted_out and patient.opt_out_source == "sms: wrong number"
    assert entry.patient_id == patient.id


def test_yes_opts_back_in_only_a_patient_who_opted_out(client: TestClient, runtime: Runtime) -> None:
    reminded_appointment(runtime)
    text(client, "yes")
    process_all(runtime)
    assert inbound_rows(runtime.sessions)[-1].kind == "confirm"  # to a reminder, yes confirms
    text(client, "STOP")
    text(client, "Yes")
    process_all(runtime)
    assert [r.kind for r in inbound_rows(runtime.sessions)] == ["confirm", "opt_out", "opt_in"]


def test_help_is_answered_with_the_clinic_name_and_phone_even_after_opt_out(
    client: TestClient, runtime: Runtime, standin: StandIn
) -> None:
    add_patient(runtime.sessions, runtime.settings, PHONE)
    text(client, "STOP")
    text(client, "help")
    assert process_all(runtime) == ["sent", "sent"]
    assert "Riverside Clinic" in standin.accepted[-1].body and "+12025550111" in standin.accepted[-1].body


def test_unknown_number_is_stored_and_answered_only_for_stop_and_help(
    client: TestClient, runtime: Runtime, standin: StandIn
) -> None:
    stranger = "+12025550188"
    for body in ("who is this?", "HELP", "STOP"):
        text(client, body, sender=stranger)
    assert process_all(runtime) == ["sent", "sent"]
    assert [r.kind for r in inbound_rows(runtime.sessions)] == ["unknown_sender", "help", "opt_out"]
    assert len(standin.accepted_to(stranger)) == 2


def test_an_unclear_reply_to_a_reminder_is_asked_once_then_kept_for_staff(
    client: TestClient, runtime: Runtime, standin: StandIn
) -> None:
    appt = reminded_appointment(runtime)
    text(client, "hmm שלום")
    assert process_all(runtime) == ["sent"]
    assert "Reply C to confirm your appointment" in standin.accepted_to(PHONE)[-1].body
    text(client, "hmm my sister has the car")
    assert process_all(runtime) == []  # asked once per appointment: now a person reads it
    first, second = inbound_rows(runtime.sessions)
    assert (first.kind, first.attention, first.appointment_id) == ("clarify", "unclear, asked again", appt)
    assert (second.kind, second.attention, second.body) == (
        "unmatched",
        "unclear",
        "hmm my sister has the car",
    )


def test_the_same_message_sid_twice_stores_one_reply_and_acts_once(
    client: TestClient, runtime: Runtime, standin: StandIn
) -> None:
    reminded_appointment(runtime)
    text(client, "C", sid="SM" + "d" * 32)
    text(client, "C", sid="SM" + "d" * 32)
    process_all(runtime)
    assert len(inbound_rows(runtime.sessions)) == 1
    assert sum("is confirmed" in m.body for m in standin.accepted) == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, 403),
        ({"X-Twilio-Signature": ""}, 403),
        ({"Content-Type": "application/json"}, 415),
    ],
)
def test_bad_signature_or_form_gets_an_error_and_stores_nothing(
    client: TestClient, runtime: Runtime, change: dict[str, str], status: int
) -> None:
    request = signed("/twilio/sms", inbound_form("C", PHONE))
    request["headers"].update(change)
    assert client.post("/twilio/sms", **request).status_code == status
    assert inbound_rows(runtime.sessions) == []


def test_a_tampered_body_fails_the_signature(client: TestClient, runtime: Runtime) -> None:
    request = signed("/twilio/sms", inbound_form("C", PHONE))
    request["content"] = request["content"].replace(b"Body=C", b"Body=STOP")
    assert client.post("/twilio/sms", **request).status_code == 403
    assert inbound_rows(runtime.sessions) == []


def test_signature_is_checked_against_the_public_url_not_the_request_url(runtime: Runtime) -> None:
    # Behind a TLS proxy the app sees http://internal:8000; Twilio signed https://clinic.example.org.
    with TestClient(create_app(runtime.settings, runtime), base_url="http://internal:8000") as client:
        assert (
            client.post("/twilio/sms", **signed("/twilio/sms", inbound_form("C", PHONE))).status_code == 200
        )


def test_a_signature_over_the_public_url_with_its_default_port_is_accepted(
    client: TestClient, runtime: Runtime
) -> None:
    form = inbound_form("C", PHONE)
    request = signed("/twilio/sms", form)
    with_port = RequestValidator(AUTH_TOKEN).compute_signature(
        "https://clinic.example.org:443/twilio/sms", MultiDict(form)
    )
    request["headers"]["X-Twilio-Signature"] = with_port
    assert client.post("/twilio/sms", **request).status_code == 200
    assert len(inbound_rows(runtime.sessions)) == 1


def test_a_signature_with_an_unknown_algorithm_is_refused_and_stores_nothing(
    db_url: str, redis_server: RedisServer, standin: StandIn
) -> None:
    settings = make_settings(db_url, redis_server.url, standin.url, twilio_webhook_key="key")
    rt = build_runtime(settings)
    request = signed("/twilio/sms", inbound_form("hello", PHONE), token="key")
    request["headers"]["X-Twilio-Webhooks-Signature-Settings"] = "key=k1,algorithm=HMAC_MD5"
    with TestClient(create_app(settings, rt), base_url="https://clinic.example.org") as client:
        response = client.post("/twilio/sms", **request)
    assert (response.status_code, response.text) == (403, "unsupported signature algorithm")
    assert inbound_rows(rt.sessions) == []
    rt.close()


def test_another_accounts_message_is_refused(client: TestClient, runtime: Runtime) -> None:
    form = inbound_form("C", PHONE, account="AC" + "9" * 32)
    assert client.post("/twilio/sms", **signed("/twilio/sms", form)).status_code == 403
    assert inbound_rows(runtime.sessions) == []


def test_an_oversized_body_gets_413(client: TestClient, runtime: Runtime) -> None:
    request = signed("/twilio/sms", inbound_form("x" * 40_000, PHONE))
    assert client.post("/twilio/sms", **request).status_code == 413
    assert inbound_rows(runtime.sessions) == []


def test_the_stored_form_keeps_no_city_zip_or_media_link(client: TestClient, runtime: Runtime) -> None:
    # Given an MMS whose form carries Twilio's guess at the sender's place and a media link
    form = [
        *[(k, "62704" if k == "FromZip" else v) for k, v in inbound_form("photo", PHONE) if k != "NumMedia"],
        ("NumMedia", "1"),
        ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"),
        ("MediaContentType0", "image/jpeg"),
    ]
    # When it is received
    assert client.post("/twilio/sms", **signed("/twilio/sms", form)).status_code == 200
    # Expect only what explains the message to staff: that a photo came, not where from or the photo
    [row] = inbound_rows(runtime.sessions)
    assert row.num_media == 1
    assert row.params == {
        "MediaContentType0": ["image/jpeg"],
        "SmsStatus": ["received"],
        "NumSegments": ["1"],
        "ApiVersion": ["2010-04-01"],
    }


def test_shared_key_sha256_signatures_are_accepted_when_the_key_is_set(
    db_url: str, redis_server: RedisServer, standin: StandIn
) -> None:
    key = "webhook-shared-key-secret"
    settings = make_settings(db_url, redis_server.url, standin.url, twilio_webhook_key=key)
    rt = build_runtime(settings)
    form = inbound_form("hello", PHONE)
    request = signed("/twilio/sms", form, token=key, algorithm="HMAC_SHA256")
    request["headers"]["X-Twilio-Webhooks-Signature-Settings"] = (
        "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    )
    with TestClient(create_app(settings, rt), base_url="https://clinic.example.org") as client:
        assert client.post("/twilio/sms", **request).status_code == 200
        request["headers"]["X-Twilio-Signature"] = signed("/twilio/sms", form, algorithm="HMAC_SHA256")[
            "headers"
        ]["X-Twilio-Signature"]  # signed with the auth token, not the key
        assert client.post("/twilio/sms", **request).status_code == 403
    assert len(inbound_rows(rt.sessions)) == 1
    rt.close()


def test_reply_whose_task_never_ran_is_processed_by_the_sweep(
    db_url: str, standin: StandIn, tmp_path: object
) -> None:
    settings = make_settings(db_url, "redis://127.0.0.1:1/0", standin.url)
    rt = build_runtime(settings)
    with TestClient(create_app(settings, rt), base_url="https://clinic.example.org") as client:
        add_patient(rt.sessions, settings, PHONE)
        text(client, "STOP")
    [row] = inbound_rows(rt.sessions)
    assert row.processed_at is None
    with rt.sessions() as session:
        assert unprocessed(session, utcnow()) == [row.id]
    _process(rt, row.id)
    assert inbound_rows(rt.sessions)[0].kind == "opt_out"
    rt.close()


def test_processing_a_reply_twice_acts_once(client: TestClient, runtime: Runtime) -> None:
    reminded_appointment(runtime)
    text(client, "STOP")
    [row] = inbound_rows(runtime.sessions)
    _process(runtime, row.id)
    _process(runtime, row.id)
    with runtime.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "patient.opt_out")
            )
            == 1
        )
        assert (
            session.scalar(select(func.count()).select_from(Message).where(Message.kind == "keyword_reply"))
            == 1
        )


def test_an_inbound_text_from_our_own_number_is_not_a_patient(client: TestClient, runtime: Runtime) -> None:
    text(client, "loop", sender=FROM_NUMBER)
    process_all(runtime)
    assert inbound_rows(runtime.sessions)[0].kind == "unknown_sender"
