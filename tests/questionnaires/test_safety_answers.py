"""PHQ-9 item 9 read fail-safe: only a clear lowest answer is safe, in any wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.questionnaires.definitions import load_catalogue
from worker.questionnaires.safety_answers import read_safety_answer

CONFIG = Path(__file__).resolve().parents[2] / "config"
ITEM_9 = load_catalogue(CONFIG / "questionnaires").get("phq9").item("q9")


@pytest.mark.parametrize(
    "text",
    ["0", "0.", " 0 ", "(0)", "0 - not at all", "0 not at all", "Not at all", "not at all.", "no", "No.",
     "nope", "never", "none", "zero", "Nunca", "nunca.", "cero", "para nada", "no nunca", "ninguno"],
)  # fmt: skip
def test_a_clear_lowest_answer_in_any_wording_raises_nothing(text: str) -> None:
    reading = read_safety_answer(ITEM_9, text)
    assert reading.clear_lowest and reading.value == 0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1), ("2", 2), ("3", 3), ("3!!", 3), ("2 - more than half the days", 2),
        ("Several days", 1), ("nearly every day", 3), ("Varios días", 1), ("casi todos los dias", 3),
        ("sometimes", 1), ("a little", 1), ("a veces", 1), ("some days", 1), ("un poco", 1),
        ("every day", 3), ("everyday", 3), ("all the time", 3), ("todos los días", 3), ("siempre", 3),
        ("most days", 2), ("often", 2), ("muchas veces", 2),
        ("no, but sometimes", 1), ("0 but sometimes i think about it", 0),
    ],
)  # fmt: skip
def test_any_answer_above_the_lowest_raises_an_alert_and_is_scored_when_plain(text: str, value: int) -> None:
    reading = read_safety_answer(ITEM_9, text)
    assert not reading.clear_lowest
    assert reading.value == value


@pytest.mark.parametrize("text", ["yes", "Yes.", "yeah", "sí", "si", "Si", "kinda", "maybe", "i guess so"])
def test_yes_in_either_language_raises_an_alert_without_a_score(text: str) -> None:
    reading = read_safety_answer(ITEM_9, text)
    assert (reading.clear_lowest, reading.value, reading.how) == (False, None, "yes")


@pytest.mark.parametrize("text", ["", "??", "idk", "what?", "7", "12", "fine", "lol", "🙂"])
def test_a_reply_that_cannot_be_read_raises_an_alert(text: str) -> None:
    reading = read_safety_answer(ITEM_9, text)
    assert (reading.clear_lowest, reading.value, reading.how) == (False, None, "unreadable")
