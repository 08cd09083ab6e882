"""A PHQ-9 texted back as a row of numbers, or item 9 named and answered in words: above 0
it alerts."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.language.normalise import words
from worker.language.scores import named_item9, numbered_item9, phq9_item9
from worker.language.screening import SCORES_RULE, load_screener

SCREENER = load_screener(Path(__file__).resolve().parents[2] / "config" / "crisis_rules.yaml")


@pytest.mark.parametrize(
    ("text", "item9"),
    [
        ("PHQ 2 2 3 3 1 2 2 1 3", 3),
        ("PHQ-9 de hoy: 1 0 1 1 2 0 0 1 0", 0),
        ("phq9 1/0/2/1/0/0/1/1/2", 2),
        ("phq9: 1,0,2,1,0,0,1,1,0,1", 0),  # a tenth number is the difficulty question
        ("my PHQ-9 scores today 0 0 0 0 0 0 0 0 1", 1),
    ],
)
def test_the_ninth_number_of_a_row_after_phq_is_item_9(text: str, item9: int) -> None:
    assert phq9_item9(text) == item9


@pytest.mark.parametrize(
    "text",
    [
        "PHQ-2: 1 1",
        "phq9 total 12",
        "my phq was 2 2 2",
        "see you at 9, 2 3 of us coming",
        "PHQ 1 2 3 4 5 6 7 8 9",
    ],
)
def test_anything_but_a_row_of_nine_or_ten_answers_is_not_read_as_scores(text: str) -> None:
    assert phq9_item9(text) is None


def test_given_a_row_whose_item_9_is_above_0_when_screened_expect_an_ideation_alert() -> None:
    found = SCREENER.screen("PHQ 2 2 3 3 1 2 2 1 3")
    assert (found.alert, found.category, found.rule) == (True, "ideation", SCORES_RULE)


def test_given_a_row_whose_item_9_is_0_when_screened_expect_no_alert_from_the_phq_9_name() -> None:
    assert not SCREENER.screen("PHQ-9 de hoy: 1 0 1 1 2 0 0 1 0").alert


def test_a_worse_finding_in_the_same_text_is_kept() -> None:
    found = SCREENER.screen("phq 0 0 0 0 0 0 0 0 2. i have the pills saved up for tonight")
    assert found.alert and found.category == "plan_or_means"


@pytest.mark.parametrize(
    ("text", "item9"),
    [
        ("1-2, 2-3, 3-2, 4-3, 5-1, 6-2, 7-2, 8-1, 9-2", 2),
        ("cuestionario: 1-0 2-1 3-1 4-0 5-0 6-0 7-1 8-0 9-0", 0),
        ("1) 1 2) 1 3) 2 4) 0 5) 0 6) 1 7) 1 8) 0 9) 3", 3),
    ],
)
def test_a_row_of_numbered_answers_gives_item_9_its_own_answer(text: str, item9: int) -> None:
    assert numbered_item9(text) == item9


@pytest.mark.parametrize(
    ("text", "item9"),
    [
        ("en la pregunta de estar mejor muerto marqué varios días", 1),
        ("lo de estar mejor muerto o hacerse daño: casi todos los días", 3),
        ("the better off dead or hurting yourself one, more than half the days", 2),
        ("La de hacerme daño: para nada", 0),
        ("hurting myself: never", 0),
        ("en lo de lastimarme puse que nunca", 0),
        ("Item 9: 0. Never.", 0),
        ("PHQ-9 #9: 3", 3),
        ("The self-harm one is a no, hasn't happened in years", 0),
        ("Lo de autolesiones es que no", 0),
    ],
)
def test_item_9_named_in_its_own_words_gives_the_answer_after_it(text: str, item9: int) -> None:
    assert named_item9(words(text)) == item9


@pytest.mark.parametrize(
    "text",
    [
        "I feel better off without coffee, 2 cups a day",
        "hurting my back, 3 days now",
        "nos vemos el 9 a las 2",
    ],
)
def test_a_text_that_does_not_name_item_9_gives_no_answer(text: str) -> None:
    assert named_item9(words(text)) is None and numbered_item9(text) is None


def test_given_item_9_answered_in_words_above_0_when_screened_expect_an_ideation_alert() -> None:
    found = SCREENER.screen("en la pregunta de estar mejor muerto marqué más de la mitad de los días")
    assert (found.alert, found.category, found.rule) == (True, "ideation", SCORES_RULE)


@pytest.mark.parametrize(
    "text",
    [
        "Lol the survey asked if I'd be better off dead and I laughed, no, I'm doing better. Put 0",
        "La de que estaría mejor muerto o de hacerme daño: para nada",
        "la 9 = para nada. la 3 (sueño) = casi todos los días jaja",
        "Just finished the GAD-7. Question 9 on the other one I said not at all",
    ],
)
def test_given_item_9_named_and_answered_0_when_screened_expect_its_own_words_not_to_alert(text: str) -> None:
    assert not SCREENER.screen(text).alert


@pytest.mark.parametrize(
    "text",
    [
        "the better off dead question I put 0 but honestly I want to die",
        "better off dead one I put 0 last time but now it's every day",
        "hurting myself: never. I have the pills saved for tonight",
        "me tomé más pastillas de la cuenta pa hacerme daño, no pa morir",
    ],
)
def test_given_item_9_answered_0_when_the_text_says_more_expect_the_rest_still_read(text: str) -> None:
    assert SCREENER.screen(text).alert


@pytest.mark.parametrize(
    "text",
    ["En la pregunta 9 me equivoqué de casilla, puse 1 y era 0", "item 9 marked 1 by mistake, meant 0"],
)
def test_item9_corrected_to_zero_later_in_the_text_is_zero(text: str) -> None:
    assert named_item9(words(text)) == 0


@pytest.mark.parametrize(
    "text",
    ["pregunta 9: varios dias, y la 3 era 0", "question 9 I put 2, I meant 0 on question 4"],
)
def test_a_correction_of_another_item_leaves_item9_standing(text: str) -> None:
    assert named_item9(words(text)) in (1, 2)
