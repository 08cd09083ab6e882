"""Whole questionnaire conversations through the signed webhook, processed and sent through the
Twilio stand-in: one question per text, re-asks, expiry, STOP, queued runs and safety alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from tests.conftest import RedisServer, make_settings
from tests.helpers import add_appointment, add_patient, in_minutes
from tests.inbound.test_replies import process_all
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form, signed
from worker.db.engine import transaction
from worker.db.models import Appointment, Message, Patient, QuestionnaireRun, SafetyAlert, utcnow
from worker.inbound.attention import needing_attention
from worker.outbound.manual import queue_checkin
from worker.outbound.sending import deliver
from worker.questionnaires.results import result_rows
from worker.questionnaires.runs import nudge_or_expire
from worker.runtime import Runtime, build_runtime
from worker.safety.acks import acknowledge
from worker.safety.notices import repeat_and_escalate
from worker.web import create_app

PHONE = "+12025550143"
ONCALL = "+12025550177"


@pytest.fixture
def rt(db_url: str, redis_server: RedisServer, standin: StandIn) -> Iterator[Runtime]:
    settings = make_settings(db_url, redis_server.url, standin.url, oncall_number=ONCALL)
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


class Chat:
    """A patient texting the clinic through the real ASGI app."""

    def __init__(self, rt: Runtime, standin: StandIn, client: TestClient, phone: str = PHONE) -> None:
        self.rt, self.standin, self.client, self.phone = rt, standin, client, phone

    def start(self, questionnaire: str, patient_id: int) -> str:
        with transaction(self.rt.sessions) as session:
            message = queue_checkin(
                session,
                self.rt.settings,
                self.rt.catalogue,
                patient_id,
                questionnaire,
                appointment_id=None,
                actor="test",
                now=utcnow(),
            )
        deliver(self.rt, message.id)
        return self.last()

    def say(self, body: str) -> str:
        response = self.client.post("/twilio/sms", **signed("/twilio/sms", inbound_form(body, self.phone)))
        assert response.status_code == 200
        self.send_queued()
        return self.last()

    def send_queued(self) -> None:
        process_all(self.rt)

    def last(self) -> str:
        return self.standin.accepted_to(self.phone)[-1].body


@pytest.fixture
def chat(rt: Runtime, standin: StandIn) -> Iterator[Chat]:
    with TestClient(create_app(rt.settings, rt), base_url="https://records.example.org") as client:
        yield Chat(rt, standin, client)


def runs(rt: Runtime) -> list[QuestionnaireRun]:
    with rt.sessions() as session:
        return list(session.scalars(select(QuestionnaireRun).order_by(QuestionnaireRun.id)))


def alerts(rt: Runtime) -> list[SafetyAlert]:
    with rt.sessions() as session:
        return list(session.scalars(select(SafetyAlert).order_by(SafetyAlert.id)))


def test_phq9_with_a_mistyped_answer_ends_with_the_right_total_and_band(chat: Chat, rt: Runtime) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    first = chat.start("phq9", pid)
    assert first.startswith("Riverside Clinic: up to 10 questions") and "1/10" in first
    assert "2/10" in chat.say("2")
    reask = chat.say("whatever")  # not a valid answer: asked again with a hint
    assert reask.startswith("Please reply with one number: 0, 1, 2, 3.") and "2/10" in reask
    steps = [
        ("1", "3/10"),
        ("1", "4/10"),
        (" 1.", "5/10"),
        ("3", "6/10"),
        ("1", "7/10"),
        ("0", "8/10"),
        ("2 - more than half the days", "9/10"),
        ("0", "10/10"),
    ]
    for answer, next_question in steps:
        assert next_question in chat.say(answer)
    closing = chat.say("Somewhat difficult")
    assert closing.startswith("Thank you.")
    with rt.sessions() as session:
        [row] = result_rows(session, rt.catalogue, pid)
    assert row["status"] == "completed"
    assert row["answers"] == {
        "q1": 2,
        "q2": 1,
        "q3": 1,
        "q4": 1,
        "q5": 3,
        "q6": 1,
        "q7": 0,
        "q8": 2,
        "q9": 0,
        "difficulty": 1,
    }
    assert (row["score"], row["severity"]) == (11, "moderate")
    assert alerts(rt) == []


def test_three_invalid_answers_leave_the_item_unanswered_and_the_run_unscored(
    chat: Chat, rt: Runtime
) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start("gad7", pid)
    chat.say("??")
    chat.say("no idea")
    assert "2/8" in chat.say("what")  # third miss: moves on
    for _ in range(6):
        chat.say("0")
    assert chat.say("0").startswith("Thank you.")
    [run] = runs(rt)
    assert (run.status, run.score, run.severity) == ("partial", None, None)


def test_a_silent_patient_gets_one_nudge_then_the_run_expires(
    chat: Chat, rt: Runtime, standin: StandIn
) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start("checkin", pid)
    later = utcnow() + timedelta(hours=25)
    with transaction(rt.sessions) as session:
        silences = nudge_or_expire(session, rt.settings, rt.catalogue, later)
    assert (silences.nudged, silences.expired) == (1, 0)
    with rt.sessions() as session:
        nudge = session.scalar(select(Message).where(Message.kind == "nudge"))
    assert nudge is not None and nudge.status == "planned"  # waits for the dispatcher (and quiet hours)
    with transaction(rt.sessions) as session:
        silences = nudge_or_expire(session, rt.settings, rt.catalogue, later + timedelta(hours=25))
    assert (silences.nudged, silences.expired, silences.urgent) == (0, 1, [])
    [run] = runs(rt)
    assert run.status == "expired" and run.score is None


def test_stop_in_the_middle_of_a_run_stops_it_and_nothing_more_is_asked(
    chat: Chat, rt: Runtime, standin: StandIn
) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start("phq9", pid)
    chat.say("1")
    assert "no more texts" in chat.say("STOP")
    sent = len(standin.accepted)
    chat.say("2")
    assert len(standin.accepted) == sent
    assert [r.status for r in runs(rt)] == ["stopped"]


@pytest.mark.parametrize(("questionnaire", "words"), [("phq9", "please stop"), ("gad7", "STOP please")])
def test_a_stop_in_the_patients_own_words_ends_the_run_with_one_confirmation(
    chat: Chat, rt: Runtime, standin: StandIn, questionnaire: str, words: str
) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start(questionnaire, pid)
    chat.say("1")
    before = len(standin.accepted)
    assert "no more texts" in chat.say(words)
    assert len(standin.accepted) == before + 1  # the confirmation, and no question asked again
    assert [r.status for r in runs(rt)] == ["stopped"]
    with rt.sessions() as session:
        assert session.get_one(Patient, pid).opted_out


def test_opting_out_when_asked_item_9_tells_on_call_the_item_was_left_unanswered(
    chat: Chat, rt: Runtime, standin: StandIn
) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start("phq9", pid)
    for _ in range(8):
        chat.say("0")
    assert "9/10" in standin.accepted_to(PHONE)[-1].body
    chat.say("stop texting me")
    [alert] = alerts(rt)
    assert (alert.category, alert.summary) == (
        "unanswered_safety_item",
        "PHQ-9 item 9 unanswered (opted out)",
    )
    assert [r.status for r in runs(rt)] == ["stopped"]


def test_an_ambiguous_reply_is_asked_again_with_what_was_unclear(chat: Chat, rt: Runtime) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start("gad7", pid)
    assert chat.say("1-2").startswith("Please pick just one answer. 1/8")
    assert chat.say("yes").startswith("Please say how often, with the number of one answer. 1/8")
    assert "2/8" in chat.say("most days")


def test_the_difficulty_item_is_skipped_when_no_problem_was_checked(chat: Chat, rt: Runtime) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start("gad7", pid)
    for _ in range(6):
        chat.say("never")
    assert chat.say("Not at all").startswith("Thank you.")
    assert [(r.status, r.score) for r in runs(rt)] == [("completed", 0)]


@pytest.mark.parametrize("words", ["help please", "HELP", "cant make it thursday"])
def test_on_item_9_help_or_visit_words_still_read_the_item_fail_safe(
    chat: Chat, rt: Runtime, words: str
) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start("phq9", pid)
    for _ in range(8):
        chat.say("0")
    chat.say(words)
    [alert] = alerts(rt)
    assert alert.category == "safety_item"  # unreadable on item 9: an alert, and the item asked again
    assert runs(rt)[0].current_item == "q9"


def test_a_reschedule_written_with_an_answer_is_listed_for_a_person(chat: Chat, rt: Runtime) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start("checkin", pid)
    chat.say("7")
    chat.say("no")
    chat.say("can we move my next appointment to thursday?")  # the note: stored, and listed
    with rt.sessions() as session:
        [item] = needing_attention(session)
    assert (item.attention, item.attention_detail) == ("reschedule request", "thursday")
    assert [r.status for r in runs(rt)] == ["completed"]


def test_help_wins_over_an_answer(chat: Chat, rt: Runtime) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start("checkin", pid)
    assert "Questions? Call" in chat.say("HELP")
    assert runs(rt)[0].current_item == "mood"


def test_a_second_questionnaire_waits_for_the_first_to_finish(chat: Chat, rt: Runtime) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    chat.start("checkin", pid)
    with transaction(rt.sessions) as session:
        second = queue_checkin(
            session, rt.settings, rt.catalogue, pid, "gad7", appointment_id=None, actor="test", now=utcnow()
        ).id
    assert deliver(rt, second).status == "planned"  # held: one questionnaire at a time
    chat.say("7")
    chat.say("no")
    assert chat.say("SKIP").startswith("Thank you.")
    with transaction(rt.sessions) as session:  # the dispatcher's next pass
        session.execute(update(Message).where(Message.id == second).values(status="queued"))
    deliver(rt, second)
    assert "1/8" in chat.last()
    assert [(r.questionnaire, r.status) for r in runs(rt)] == [("checkin", "completed"), ("gad7", "active")]


def test_answers_win_over_c_and_r_unless_they_are_not_valid_answers(
    chat: Chat, rt: Runtime, standin: StandIn
) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE)
    appt = add_appointment(rt.sessions, rt.settings, pid, in_minutes(600))
    with transaction(rt.sessions) as session:  # as if its reminder had gone out
        session.add(
            Message(
                key="r",
                appointment_id=appt,
                patient_id=pid,
                kind="reminder",
                template="reminder",
                due_at=utcnow(),
                status="sent",
                attempts=1,
            )
        )
    chat.start("checkin", pid)
    assert "is confirmed" in chat.say("C")  # "C" is no mood score: it confirms the appointment
    with rt.sessions() as session:
        assert session.get_one(Appointment, appt).status == "confirmed"
    assert "side effects" in chat.say("8")


def test_item_9_above_zero_texts_the_patient_988_and_on_call_the_id_source_and_category(
    chat: Chat, rt: Runtime, standin: StandIn
) -> None:
    pid = add_patient(rt.sessions, rt.settings, PHONE, name="Maria Example")
    chat.start("phq9", pid)
    for _ in range(8):
        chat.say("0")
    chat.say("1")  # item 9
    [alert] = alerts(rt)
    assert alert.source == "phq9:q9" and alert.patient_id == pid
    to_patient = [m.body for m in standin.accepted_to(PHONE)]
    assert any(
        "call or text 988" in b and "911" in b and "not monitored around the clock" in b for b in to_patient
    )
    [oncall] = standin.accepted_to(ONCALL)
    assert oncall.body.startswith(f"SAFETY ALERT {alert.id}: PHQ-9 item 9 = 1.")
    assert f"Reply ACK {alert.id}" in oncall.body
    assert "Maria" not in oncall.body and PHONE[-4:] not in oncall.body
    assert "10/10" in chat.last() or chat.last().startswith("If you are")  # the run goes on


def test_crisis_words_outside_any_questionnaire_raise_an_alert_at_any_hour(
    db_url: str, redis_server: RedisServer, standin: StandIn
) -> None:
    now = utcnow()
    window = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"
    settings = make_settings(
        db_url, redis_server.url, standin.url, oncall_number=ONCALL, quiet_hours=window, timezone="UTC"
    )
    rt = build_runtime(settings)
    add_patient(rt.sessions, settings, PHONE, timezone="UTC")
    with TestClient(create_app(settings, rt), base_url="https://records.example.org") as client:
        chat = Chat(rt, standin, client)
        chat.say("STOP")  # even a patient who opted out
        response = client.post(
            "/twilio/sms", **signed("/twilio/sms", inbound_form("I want to end my life", PHONE))
        )
        assert response.status_code == 200
        [alert] = alerts(rt)  # committed before the webhook answered
        assert alert.source == "crisis_language"
        with rt.sessions() as session:
            queued = session.scalars(select(Message).where(Message.alert_id == alert.id)).all()
        for message in queued:
            deliver(rt, message.id)
    assert "988" in standin.accepted_to(PHONE)[-1].body
    assert len(standin.accepted_to(ONCALL)) == 1
    rt.close()


def test_crisis_words_from_an_unknown_number_still_raise_an_alert(
    chat: Chat, rt: Runtime, standin: StandIn
) -> None:
    stranger = "+12025550166"
    chat.client.post("/twilio/sms", **signed("/twilio/sms", inbound_form("i want to kill myself", stranger)))
    [alert] = alerts(rt)
    assert alert.patient_id is None
    with rt.sessions() as session:
        ids = session.scalars(select(Message.id).where(Message.alert_id == alert.id)).all()
    for message_id in ids:
        deliver(rt, message_id)
    assert "988" in standin.accepted_to(stranger)[0].body and standin.accepted_to(ONCALL)


def test_an_unacknowledged_alert_texts_on_call_again_until_acknowledged(
    chat: Chat, rt: Runtime, standin: StandIn
) -> None:
    add_patient(rt.sessions, rt.settings, PHONE)
    chat.say("I want to die")
    [alert] = alerts(rt)
    with transaction(rt.sessions) as session:
        assert repeat_and_escalate(session, rt.settings, utcnow() + timedelta(minutes=5)) == []
        again = repeat_and_escalate(session, rt.settings, utcnow() + timedelta(minutes=16))
    assert len(again) == 1
    for message_id in again:
        deliver(rt, message_id)
    assert len(standin.accepted_to(ONCALL)) == 2
    with transaction(rt.sessions) as session:
        acknowledge(session, alert.id, by="dr-lee", note="called, safe", now=utcnow())
    with transaction(rt.sessions) as session:
        assert repeat_and_escalate(session, rt.settings, utcnow() + timedelta(hours=2)) == []


def test_follow_ups_are_planned_after_the_session_and_dropped_for_a_no_show(
    db_url: str, redis_server: RedisServer, standin: StandIn
) -> None:
    from worker.clinic import records
    from worker.enums import AppointmentStatus

    settings = make_settings(db_url, redis_server.url, standin.url, followup_plan="checkin@24h,phq9@7d")
    rt = build_runtime(settings)
    pid = add_patient(rt.sessions, settings, PHONE)
    start = in_minutes(60 * 72)
    appt = add_appointment(rt.sessions, settings, pid, start)
    with rt.sessions() as session:
        followups = session.scalars(
            select(Message).where(Message.appointment_id == appt, Message.kind == "checkin")
        ).all()
    assert sorted(m.due_at - start for m in followups) == [timedelta(hours=25), timedelta(days=7, hours=1)]
    with transaction(rt.sessions) as session:
        records.mark_appointment(
            # A no-show is marked once the start has passed (the transition table refuses it before).
            session,
            settings,
            appt,
            AppointmentStatus.NO_SHOW,
            actor="test",
            now=start + timedelta(minutes=15),
        )
    with rt.sessions() as session:
        statuses = session.scalars(select(Message.status).where(Message.appointment_id == appt)).all()
    assert set(statuses) == {"cancelled"}
    rt.close()
