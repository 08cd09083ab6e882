"""PHQ-9 answers sent as a row of numbers ("PHQ 2 2 3 3 1 2 2 1 3", "PHQ-9 de hoy: 1 0 1 1 2
0 0 1 0", "1-2, 2-3, 3-2, ... 9-2") or as item 9 named and answered in words ("the better
off dead one: several days", "la de hacerse daño: casi todos los días"). Pure.

Patients who fill the questionnaire on paper or in another app text the scores back as a
row. Item 9 (thoughts of being better off dead or of hurting yourself) is the ninth number,
and any answer above 0 must alert as it would inside a questionnaire run; a row whose ninth
number is 0 is not a crisis text however the words "PHQ 9" read.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from worker.language.normalise import fold, words

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


def numbered_item9(text: str) -> int | None:
    """Item 9's answer in a row of numbered answers, "1-2, 2-3, 3-0, ..., 9-1"."""
    words = _TOKEN.findall(fold(text))
    for i in range(len(words) - 2 * PHQ9_ITEMS + 1):
        pairs = words[i : i + 2 * PHQ9_ITEMS]
        numbers, answers = pairs[0::2], pairs[1::2]
        if numbers == [str(n) for n in range(1, PHQ9_ITEMS + 1)] and all(
            _ANSWER.fullmatch(a) for a in answers
        ):
            return int(answers[SAFETY_ITEM_POSITION - 1])
    return None


# Item 9 named by its own words, then answered: the answer is what the patient marked.
# Written plainly; compared as texts are, normalised ("better" is read "beter").
_ITEM9_NAMES = tuple(
    tuple(words(name))
    for name in (
        "better off dead",
        "hurting yourself",
        "hurting myself",
        "harming yourself",
        "mejor muerto",
        "mejor muerta",
        "hacerse daño",
        "hacerme daño",
        "hacerte daño",
        "lastimarse",
        "lastimarme",
        "self harm",
        "self-harm question",
        "autolesiones",
        "autolesión",
        "phq 9 9",
        "phq9 9",
        "item 9",
        "question 9",
        "pregunta 9",
        "la 9",
        "q9",
        "p9",
        "la novena",
        "the ninth",
    )
)
_BETWEEN = frozenset(
    words(
        "o or de of en in some way alguna forma manera que q question pregunta item one la el the a i "
        "yo le lo marqué puse contesté respondí elegí marked put answered picked chose said is was es fue"
    )
)
_ANSWERS = {
    tuple(words(answer)): value
    for answer, value in (
        ("varios días", 1),
        ("several days", 1),
        ("a veces", 1),
        ("sometimes", 1),
        ("más de la mitad", 2),
        ("more than half", 2),
        ("over half", 2),
        ("casi todos los días", 3),
        ("nearly every day", 3),
        ("todos los días", 3),
        ("every day", 3),
        ("1", 1),
        ("2", 2),
        ("3", 3),
        ("0", 0),
        ("para nada", 0),
        ("not at all", 0),
        ("ningún día", 0),
        ("nunca", 0),
        ("never", 0),
        ("yes", 1),
        ("sí", 1),
        ("is a no", 0),
        ("es un no", 0),
        ("es que no", 0),
        # not a bare "no": "hacerme daño, no pa morir" is the patient's own words
    )
}
_GAP_WORDS = 6
_ANSWER_VERBS = frozenset(
    words("put puse marked marqué answered contesté respondí circled chose elegí said dije")
)
_VERB_REACH = 3  # "puse un 0", "put it at 0"


@dataclass(frozen=True)
class NamedAnswer:
    """Item 9 named at words[start:end] and answered `value`."""

    start: int
    end: int
    value: int


def named_answers(words: Sequence[str]) -> list[NamedAnswer]:
    """Each place item 9 is named and then answered."""
    found = []
    for start in range(len(words)):
        end = _name_end(words, start)
        if end is None:
            continue
        value = _answer_near(words, end)
        if value is None:
            value = _answer_by_verb(words, end)
        if value is not None and value > 0 and _corrected_to_zero(words, end):
            value = 0
        if value is not None:
            found.append(NamedAnswer(start, end, value))
    return found


# An answer put right later in the text: "puse 1 y era 0", "marked 1 by mistake, meant 0",
# "la marqué en 1 sin querer, quería poner 0". The patient's correction is the answer.
_CORRECTION_CUES = frozenset(
    words("era meant should actually realidad queria quise debia deberia corrijan corregir correct")
)
_ZERO = frozenset(words("0 cero zero"))
_CORRECTION_REACH = 4


_OTHER_ITEM = frozenset(words("la el question pregunta item q p number numero"))


def _corrected_to_zero(words: Sequence[str], end: int) -> bool:
    rest = words[end:]
    if any(w in _OTHER_ITEM and n.isdigit() and n != "9" for w, n in itertools.pairwise(rest)):
        return False  # "y la 3 era 0", "meant 0 on question 4": another item is corrected
    return any(
        w in _CORRECTION_CUES and any(z in _ZERO for z in rest[i + 1 : i + 1 + _CORRECTION_REACH])
        for i, w in enumerate(rest)
    )


def named_item9(words: Sequence[str]) -> int | None:
    """The answer given after item 9 is named (the highest, when named twice), or None: "en
    la de estar mejor muerto marqué varios días" is 1, "lo de hacerme daño: para nada" is 0,
    "the survey asked if I'd be better off dead, I laughed. Put 0" is 0."""
    return max((answer.value for answer in named_answers(words)), default=None)


def _answer_near(words: Sequence[str], end: int) -> int | None:
    at, skipped = end, 0
    while at < len(words) and skipped < _GAP_WORDS:
        answer = _answer_at(words[at:])
        if answer is not None:
            return answer
        name_end = _name_end(words, at)  # "mejor muerto o de hacerme daño: para nada"
        if name_end is None and words[at] not in _BETWEEN:
            return None
        at = name_end or at + 1
        skipped += 1
    return None


def _answer_by_verb(words: Sequence[str], end: int) -> int | None:
    # Later in the text, "I put 0" / "le puse un 2" answers the item named before it.
    for verb in range(end, len(words)):
        if words[verb] not in _ANSWER_VERBS:
            continue
        for at in range(verb + 1, min(verb + 1 + _VERB_REACH, len(words))):
            answer = _answer_at(words[at:])
            if answer is not None:
                return answer
    return None


def _name_end(words: Sequence[str], start: int) -> int | None:
    for name in _ITEM9_NAMES:
        if tuple(words[start : start + len(name)]) == name:
            return start + len(name)
    return None


def _answer_at(words: Sequence[str]) -> int | None:
    for answer, value in _ANSWERS.items():
        if tuple(words[: len(answer)]) == answer:
            return value
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
