"""A PHQ-9 texted back as a row of numbers: item 9 is the ninth, and above 0 it alerts."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.language.scores import phq9_item9
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
