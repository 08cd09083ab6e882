"""What a text means in its context (worker.inbound.intents): the order is the policy."""

from __future__ import annotations

import pytest

from worker.inbound.intents import Context, read_reply
from worker.questionnaires.definitions import load_catalogue
from worker.settings import bundled_config_dir

CATALOGUE = load_catalogue(bundled_config_dir() / "questionnaires")
PHQ9, GAD7 = CATALOGUE.get("phq9"), CATALOGUE.get("gad7")
REMINDER = Context(reminder=True)


@pytest.mark.parametrize(
    "text",
    [
        "please stop", "Stop please", "no more texts", "No more messages please", "I want to opt out",
        "take me off your list", "please don't contact me again", "stop, wrong number",
        "No me manden más mensajes", "ya no quiero recibir mensajes", "pare por favor", "CANCEL", "cancelar",
    ],
)  # fmt: skip
def test_an_opt_out_wins_in_every_context(text: str) -> None:
    for context in (Context(), REMINDER, Context(item=PHQ9.item("q3")), Context(item=GAD7.item("q1"))):
        assert read_reply(text, context).intent == "opt_out", (text, context)


@pytest.mark.parametrize(
    "text",
    [
        "I can't stop crying",
        "cancel my appointment",
        "nothing stops the worry",
        "stop by the pharmacy first?",
    ],
)
def test_stop_and_cancel_words_that_ask_something_else_are_not_opt_outs(text: str) -> None:
    assert read_reply(text, REMINDER).intent != "opt_out"


def test_a_wrong_number_is_an_opt_out_that_says_so() -> None:
    reading = read_reply("stop, wrong number", REMINDER)
    assert reading.intent == "opt_out" and reading.wrong_number


@pytest.mark.parametrize(
    "text", ["yes I'll be there", "Yep see u then", "Confirmed!", "👍", "sí, ahí estaré", "C"]
)
def test_natural_confirmations_confirm_a_reminded_visit(text: str) -> None:
    assert read_reply(text, REMINDER).intent == "confirm"


def test_a_confirmation_with_no_reminded_visit_is_for_a_person() -> None:
    assert read_reply("yes I'll be there", Context()).intent == "unclear"


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("can't make it", None),
        ("I need to reschedule", None),
        ("can we move it to thursday?", "thursday"),
        ("cancel my appointment", None),
        ("¿se puede cambiar la cita para el lunes?", "lunes"),
    ],
)
def test_reschedule_requests_keep_the_day_they_name(text: str, when: str | None) -> None:
    reading = read_reply(text, REMINDER)
    assert (reading.intent, reading.when) == ("reschedule", when)


def test_a_valid_answer_wins_over_an_appointment_reading() -> None:
    reading = read_reply("Over half the days", Context(item=PHQ9.item("q2"), reminder=True))
    assert (reading.intent, reading.value) == ("answer", 2)


def test_an_ambiguous_answer_is_unclear_with_the_reason() -> None:
    reading = read_reply("2 days", Context(item=PHQ9.item("q2")))
    assert (reading.intent, reading.ambiguous) == ("unclear", "days")


def test_start_or_yes_opts_in_only_someone_opted_out() -> None:
    assert read_reply("yes", Context(opted_out=True)).intent == "opt_in"
    assert read_reply("please start texting me again", Context(opted_out=True)).intent == "opt_in"
    assert read_reply("yes", REMINDER).intent == "confirm"


def test_questions_go_to_a_person() -> None:
    assert read_reply("do I need to fast before?", REMINDER).intent == "question"
    assert read_reply("what does this mean?", Context(item=PHQ9.item("q8"))).intent == "question"


@pytest.mark.parametrize(
    "text",
    [
        "My mom will take me", "Can you take me at 4 instead?", "keep me posted", "leave me a voicemail",
        "Don't call me, just text", "No me escriba en inglés por favor", "alot", "thanks alot",
        "basta ya, no puedo mas", "don't stop the reminders, they really help", "remove me from thursday",
        "pls don't text me so early in the morning", "u have the wrong number for my emergency contact",
    ],
)  # fmt: skip
def test_ordinary_texts_that_look_like_opt_outs_do_not_opt_out(text: str) -> None:
    for context in (Context(), REMINDER, Context(item=PHQ9.item("q1"))):
        assert read_reply(text, context).intent != "opt_out", (text, context)


@pytest.mark.parametrize(
    "text",
    [
        "please stop texting me its too late", "stop reminding me", "pare de mandar mensajes", "Sotp",
        "unsubcribe", "I said STOP", "take me off your list", "pls remove me", "No me vuelvan a contactar",
    ],
)  # fmt: skip
def test_more_ways_to_stop_are_read(text: str) -> None:
    assert read_reply(text, Context(item=GAD7.item("q2"))).intent == "opt_out"


def test_a_reaction_quoting_our_text_is_never_read_for_its_quoted_words() -> None:
    liked_help = "Liked \u201cRiverside Clinic: appointment texts. Reply STOP to opt out.\u201d"
    assert read_reply(liked_help, Context()).intent != "opt_out"
    liked_reminder = "Liked \u201cRiverside Clinic: reminder of your appointment. Reply C to confirm or R to reschedule\u201d"
    assert read_reply(liked_reminder, REMINDER).intent == "confirm"


def test_a_wrong_number_said_after_a_stop_phrase_is_kept() -> None:
    reading = read_reply("Stop texting me, wrong number", REMINDER)
    assert reading.intent == "opt_out" and reading.wrong_number and reading.rule != "keyword"


def test_running_late_and_thanks_are_not_confirmations() -> None:
    assert read_reply("Running late, be there 2:15", REMINDER).rule == "late"
    assert read_reply("I'm running late, can we move it to 4?", REMINDER).intent == "reschedule"
    assert read_reply("thank you", REMINDER).rule == "courtesy"
    assert read_reply("Im not coming", REMINDER).intent == "reschedule"
