"""Reading an answer leniently: "2", " 2.", "2 - more than half the days", "yes", "Y", "sí".

Returns the value, SKIPPED for a free-text item the patient skipped, or INVALID.
"""

from __future__ import annotations

import re
from typing import Any

from worker.language.keywords import normalise
from worker.questionnaires.definitions import Item

INVALID = object()
SKIPPED = None
_LEADING_NUMBER = re.compile(r"^\s*[#(\[]?\s*(\d{1,3})(?![\d.,]\d)")
_YES = {"YES", "Y", "YEP", "YEAH", "YA", "SI", "S", "CLARO", "TRUE"}
_NO = {"NO", "N", "NOPE", "NAH", "FALSE", "NONE", "NINGUNO", "NADA"}
_SKIP = {"SKIP", "OMITIR", "PASS", "PASAR"}


def parse_answer(item: Item, text: str) -> Any:
    if item.type == "text":
        return _text(text)
    if item.type == "yes_no":
        return _yes_no(text)
    value = _number(text)
    if value is None and item.type == "choice":
        value = _by_label(item, text)
    if value is None:
        return INVALID
    allowed = item.values() if item.type == "choice" else range(item.minimum, item.maximum + 1)
    return value if value in allowed else INVALID


def _number(text: str) -> int | None:
    match = _LEADING_NUMBER.match(text)
    return int(match.group(1)) if match else None


def _by_label(item: Item, text: str) -> int | None:
    said = normalise(text)
    if not said:
        return None
    for option in item.options:
        if any(normalise(label) == said for label in option.label.values()):
            return option.value
    return None


def _yes_no(text: str) -> Any:
    word = normalise(text.split(maxsplit=1)[0]) if text.split() else ""
    if word in _YES:
        return True
    if word in _NO:
        return False
    return INVALID


def _text(text: str) -> Any:
    stripped = text.strip()
    if not stripped:
        return INVALID
    if normalise(stripped) in _SKIP:
        return SKIPPED
    return stripped
