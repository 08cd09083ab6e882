"""PHQ-9 item 9 fails safe through the whole conversation: the real webhook, the run, the
alert and the texts through the Twilio stand-in. Never asked a third time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import RedisServer, make_settings
from tests.helpers import add_patient
from tests.questionnaires.test_conversations import Chat
from tests.twilio_standin import StandIn
from worker.db.engine import transaction
from worker.db.models import AlertTrigger, Answer, SafetyAlert, utcnow
from worker.outbound.sending import deliver
from worker.questionnaires.runs import nudge_or_expire
from worker.runtime import Runtime, build_runtime
from worker.web import create_app

PHONE = "+12025550143"
ONCALL = "+12025550177"


@pytest.fixture
def rt(db_url: str, redis_server: RedisServer, standin: StandIn) -> Iterator[Runtime]:
    runtime = build_runtime(make_settings(db_url, redis_server.url, standin.url, oncall_number=ONCALL))
    yield runtime
    runtime.close()


@pytest.fixture
def chat(rt: Runtime, standin: StandIn) -> Iterator[Chat]:
    with TestClient(create_app(rt.settings, rt), base_url="https://records.example.org") as client:
        yield Chat(rt, standin, client)


def at_item_9(chat: Chat, rt: Runtime, language: str = "en") -> int:
    pid = add_patient(rt.sessions, rt.settings, PHONE, language=language)
    chat.start("phq9", pid)
    for _ in range(8):
        chat.say("0")
    return pid


def alerts(rt: Runtime) -> list[SafetyAlert]:
    with rt.sessions() as session:
        return list(session.scalars(select(SafetyAlert).order_by(SafetyAlert.id)))


def asked_item_9(standin: StandIn) -> int:
    return sum("9/10" in m.body for m in standin.accepted_to(PHONE))


def q9_answer(rt: Runtime) -> Answer:
    with rt.sessions() as session:
        return session.scalars(select(Answer).where(Answer.item_id == "q9")).one()


@pytest.mark.parametrize(("reply", "language"), [("sometimes", "en"), ("every day", "en"), ("a veces", "es")])
def test_item_9_in_frequency_words_alerts_at_once_and_is_scored(
    chat: Chat, rt: Runtime, standin: StandIn, reply: str, language: str
) -> None:
    at_item_9(chat, rt, language)
    chat.say(reply)
    [alert] = alerts(rt)
    assert alert.category == "safety_item" and alert.source == "phq9:q9"
    [page] = [m.body for m in standin.accepted_to(ONCALL)]
    assert page.startswith(f"SAFETY ALERT {alert.id}: PHQ-9 item 9 = ") and "(in words)" in page
    assert "988" in " ".join(m.body for m in standin.accepted_to(PHONE))
    assert q9_answer(rt).value in (1, 3) and asked_item_9(standin) == 1
    assert "10/10" in chat.last()


def test_yes_alerts_then_item_9_is_asked_once_more_for_a_number(
    chat: Chat, rt: Runtime, standin: StandIn
) -> None:
    at_item_9(chat, rt)
    chat.say("yes")
    [alert] = alerts(rt)
    assert alert.summary == "PHQ-9 item 9 answered yes"
    assert asked_item_9(standin) == 2
    chat.say("2")
    [alert] = alerts(rt)  # the number joins the open alert
    assert alert.more_texts == 1 and q9_answer(rt).value == 2
    assert "10/10" in chat.last() and len(standin.accepted_to(ONCALL)) == 1


def test_two_unreadable_replies_alert_and_leave_item_9_unanswered_never_asking_a_third_time(
    chat: Chat, rt: Runtime, standin: StandIn
) -> None:
    at_item_9(chat, rt)
    chat.say("idk")
    chat.say("hmm not sure what to say")
    [alert] = alerts(rt)
    assert alert.summary == "PHQ-9 item 9 answer unclear"
    with rt.sessions() as session:
        categories = list(session.scalars(select(AlertTrigger.category).order_by(AlertTrigger.id)))
    assert categories == ["safety_item", "safety_item", "unanswered_safety_item"]  # one alert, three triggers
    answer = q9_answer(rt)
    assert answer.skipped and answer.value is None
    # Never a third time; no item was above 0, so the difficulty item is not asked either.
    assert asked_item_9(standin) == 2 and chat.last().startswith("Thank you.")


def test_silence_at_item_9_after_a_reask_expires_the_run_with_an_alert_and_no_third_ask(
    chat: Chat, rt: Runtime, standin: StandIn
) -> None:
    at_item_9(chat, rt)
    chat.say("yes")
    [first] = alerts(rt)
    with transaction(rt.sessions) as session:
        session.get_one(SafetyAlert, first.id).acknowledged_at = utcnow()  # a person has it
    later = utcnow() + timedelta(hours=25)
    with transaction(rt.sessions) as session:
        silences = nudge_or_expire(session, rt.settings, rt.catalogue, later)
    assert (silences.nudged, silences.expired) == (0, 1) and silences.urgent
    for message_id in silences.urgent:
        deliver(rt, message_id)
    _, second = alerts(rt)
    assert (second.category, second.summary) == (
        "unanswered_safety_item",
        "PHQ-9 item 9 unanswered (no reply)",
    )
    assert asked_item_9(standin) == 2
    assert standin.accepted_to(ONCALL)[-1].body.startswith(
        f"SAFETY ALERT {second.id}: PHQ-9 item 9 unanswered"
    )


def test_a_clear_zero_on_item_9_raises_nothing(chat: Chat, rt: Runtime, standin: StandIn) -> None:
    at_item_9(chat, rt)
    chat.say("Not at all")
    assert alerts(rt) == [] and q9_answer(rt).value == 0
