"""PHQ-9 answers sent as a row of numbers: "PHQ 2 2 3 3 1 2 2 1 3", "PHQ-9 de hoy: 1 0 1 1 2
0 0 1 0". Pure.

Patients who fill the questionnaire on paper or in another app text the scores back as a
row. Item 9 (thoughts of being better off dead or of hurting yourself) is the ninth number,
and any answer above 0 must alert as it would inside a questionnaire run; a row whose ninth
number is 0 is not a crisis text however the words "PHQ 9" read.
"""

from __future__ import annotations

import re

from worker.language.normalise import fold

PHQ9_ITEMS = 9
SAFETY_ITEM_POSITION = 9  # item 9, counted from 1
# A tenth number is the difficulty question some forms add after item 9.
_ROW_LENGTHS = (PHQ9_ITEMS, PHQ9_ITEMS + 1)
_WORDS_BEFORE_ROW = 4  # "PHQ-9 de hoy:", "phq9 scores today"
_NAME = "phq"
_TOKEN = re.compile(r"[a-z]+|\d+")
_ANSWER = re.compile(r"[0-3]")


def phq9_item9(text: str) -> int | None:
    """The item-9 answer of a PHQ-9 row of scores in the text, or None when there is none."""
    words = _TOKEN.findall(fold(text))
    for i, word in enumerate(words):
        if word != _NAME:
            continue
        rest = words[i + 1 :]
        if rest[:1] == ["9"]:
            rest = rest[1:]  # the name "PHQ-9", not an answer
        row = _row(rest)
        if len(row) in _ROW_LENGTHS:
            return row[SAFETY_ITEM_POSITION - 1]
    return None


def _row(words: list[str]) -> list[int]:
    start = next((i for i, w in enumerate(words[: _WORDS_BEFORE_ROW + 1]) if _ANSWER.fullmatch(w)), None)
    if start is None:
        return []
    row = []
    for word in words[start:]:
        if not _ANSWER.fullmatch(word):
            break
        row.append(int(word))
    return row
