"""Scores, bands and progress over time. Pure functions.

Only complete runs are scored: a run with an unanswered item, or one that expired, is kept
but gets no score (a partial PHQ-9 is not a PHQ-9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.questionnaires.definitions import Questionnaire

REMISSION_BELOW = {"phq9": 5}
RESPONSE_DROP = 0.5


def score(questionnaire: Questionnaire, answers: dict[str, Any]) -> int | None:
    """The sum of the scored items, or None if any scored item is unanswered."""
    if not questionnaire.scored:
        return None
    values = [answers.get(item.id) for item in questionnaire.items if item.scored]
    if any(not isinstance(value, int) or isinstance(value, bool) for value in values):
        return None
    return sum(values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Progress:
    baseline: int
    change: int  # this score minus the first one
    response: bool  # a drop of 50% or more from the first score
    remission: bool | None  # PHQ-9 under 5; None where no remission rule exists


def progress(questionnaire_id: str, first: int, current: int) -> Progress:
    response = first > 0 and (first - current) >= RESPONSE_DROP * first
    below = REMISSION_BELOW.get(questionnaire_id)
    return Progress(
        baseline=first,
        change=current - first,
        response=response,
        remission=(current < below) if below is not None else None,
    )
