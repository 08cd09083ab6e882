"""Answers as patients type them: the prompt's own words, the official labels, numbers as
words, synonyms and typos read; replies that could mean two things asked again with a hint."""

from __future__ import annotations

import pytest

from worker.lib.segments import cost
from worker.questionnaires.definitions import load_catalogue
from worker.questionnaires.parsing import DAYS, INVALID, RANGE, YES_NO, printed_options, read_answer
from worker.questionnaires.texts import render
from worker.settings import bundled_config_dir

CATALOGUE = load_catalogue(bundled_config_dir() / "questionnaires")
PHQ9, GAD7, CHECKIN = (CATALOGUE.get(q) for q in ("phq9", "gad7", "checkin"))


def test_every_option_is_read_as_the_prompt_prints_it_and_by_its_official_label() -> None:
    # Given every choice item of the shipped questionnaires, in both languages
    checked = 0
    for questionnaire in (PHQ9, GAD7):
        for item in questionnaire.items:
            for prompt in item.prompt.values():
                # When the reply is the label as printed next to its number, or the official one
                for value, label in printed_options(prompt):
                    assert read_answer(item, label).value == value, (item.id, label)
                    checked += 1
            for option in item.options:
                for label in option.label.values():
                    assert read_answer(item, label).value == option.value, (item.id, label)
                    checked += 1
    # Then every one is read as its own option
    assert checked > 150


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Over half the days", 2),
        ("over half", 2),
        ("two", 2),
        ("dos", 2),
        ("every day", 3),
        ("never", 0),
        ("Ningún día", 0),
        ("ningun dia", 0),
        ("most days", 2),
        ("sevral days", 1),
        ("nearly everyday", 3),
        ("a few days here and there", 1),
        ("most days tbh", 2),
        ("a veces nomas", 1),
        ("casi todos los días", 3),
        ("1 several days", 1),
        ("2 - more than half the days", 2),
    ],
)
def test_frequency_answers_in_the_patients_words(text: str, expected: int) -> None:
    assert read_answer(PHQ9.item("q1"), text).value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Somewhat", 1), ("Not at all", 0), ("very", 2), ("Extremely", 3), ("un poco", 1), ("muy dificil", 2)],
)
def test_the_difficulty_item_takes_its_short_labels(text: str, expected: int) -> None:
    assert read_answer(PHQ9.item("difficulty"), text).value == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2 days", DAYS),
        ("two days", DAYS),
        ("1-2", RANGE),
        ("2 or 3", RANGE),
        ("1 o 2", RANGE),
        ("yes", YES_NO),
    ],
)
def test_replies_that_could_mean_two_things_are_not_guessed(text: str, why: str) -> None:
    reading = read_answer(PHQ9.item("q2"), text)
    assert reading.value is INVALID and reading.ambiguous == why


def test_a_negated_frequency_is_not_read_as_that_frequency() -> None:
    assert read_answer(PHQ9.item("q2"), "not every day, just some").value is INVALID


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7/10", 7),
        ("seven", 7),
        ("about a 6", 6),
        ("un 8", 8),
        ("hoy un 4", 4),
        ("11", INVALID),
        ("6.5", INVALID),
    ],
)
def test_mood_is_read_from_numbers_in_words_and_digits(text: str, expected: object) -> None:
    assert read_answer(CHECKIN.item("mood"), text).value == expected


def test_the_hint_says_what_was_unclear_before_the_question_in_gsm_spanish() -> None:
    english = render(CATALOGUE, "phq9/q2/reask/days", "en")
    assert english.startswith(
        "Please reply with the number of one answer below, not a count of days. 2/10 Over"
    )
    spanish = render(CATALOGUE, "phq9/q2/reask/range", "es")
    assert spanish.startswith("Elija una sola respuesta. 2/10 Durante las ultimas 2 semanas")
    assert cost(spanish).encoding == "GSM-7"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not nearly every day", None), ("not more than half the days", None), ("half the time", None),
        ("No one", None), ("2 weeks", DAYS), ("3x a week", DAYS), ("2 3", RANGE), ("2 not at all", RANGE),
        ("every other day", DAYS),
    ],
)  # fmt: skip
def test_negated_near_and_conflicting_replies_are_not_stored_as_an_answer(text: str, why: str | None) -> None:
    reading = read_answer(PHQ9.item("q1"), text)
    assert (reading.value, reading.ambiguous) == (INVALID, why)
