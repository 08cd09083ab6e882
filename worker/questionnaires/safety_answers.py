"""Reading a reply to a safety item (PHQ-9 item 9): only a clear lowest answer is safe.

Any answer above 0 raises one-year risk about tenfold (Simon 2013), and patients answer in
words as often as in numbers: "yes", "sometimes", "a little", "every day", "sí", "a veces".
So the reading fails safe. A reply is `clear_lowest` only when all it says is the lowest
option: its number, its label in any language, or a plain no/never/none/nunca. Everything
else raises an alert: a higher number or label, a yes, a frequency word, and a reply that
cannot be read at all. A frequency word is also scored where its meaning is plain
("every day" is "nearly every day"), so the questionnaire can still be completed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from worker.questionnaires.definitions import Item


@dataclass(frozen=True)
class SafetyReading:
    clear_lowest: bool
    value: int | None  # the option it maps to, when it maps to one
    how: str  # "number", "label", "words", "yes", "unreadable": for the alert's rule id


_LOWEST_WORDS = frozenset(
    {
        "0", "zero", "cero", "no", "nope", "nah", "never", "none", "not at all", "not really no",
        "no never", "nunca", "para nada", "nada", "ninguno", "ninguna", "no nunca", "ningun dia",
        "not once", "no ninguno", "no para nada", "0 not at all", "0 nunca",
    }
)  # fmt: skip

# Frequency words -> PHQ option value (0-3 scale: several days, more than half, nearly every day).
_FREQUENCY = (
    (3, r"every ?day|everyday|all the time|always|daily|constantly|nearly every|almost every|"
        r"todos los dias|todo el tiempo|siempre|diario|a diario|casi todos|cada dia"),
    (2, r"most days|most of the time|often|a lot|lots|more than half|over half|frequently|"
        r"la mayoria|muchas veces|mucho|seguido|frecuente|mas de la mitad"),
    (1, r"sometimes|some days|a few|few days|a little|a bit|once|occasionally|rarely|now and then|"
        r"several|a veces|algunos dias|algunas veces|un poco|poco|de vez en cuando|varios dias|una vez"),
)  # fmt: skip
_FREQUENCY_RES = tuple((value, re.compile(rf"\b(?:{words})\b")) for value, words in _FREQUENCY)
_YES = re.compile(r"\b(?:yes|yeah|yea|yep|ya|y|si|sip|kind of|kinda|sort of|maybe|i guess|probably|claro)\b")
_LEADING_NUMBER = re.compile(r"^\s*[#(\[]?\s*(\d{1,3})(?![\d.,]\d)\s*[).\]:-]?\s*(.*)$")


def read_safety_answer(item: Item, text: str) -> SafetyReading:
    said = _plain(text)
    lowest = min(item.values()) if item.values() else item.minimum
    number = _LEADING_NUMBER.match(said)
    if number is not None:
        return _by_number(item, int(number.group(1)), number.group(2), lowest)
    label = _by_label(item, said)
    if label is not None:
        return SafetyReading(label == lowest, label, "label")
    if said in _LOWEST_WORDS:
        return SafetyReading(True, lowest, "words")
    for value, pattern in _FREQUENCY_RES:
        if pattern.search(said):
            return SafetyReading(False, value if value in item.values() else None, "words")
    if _YES.search(said):
        return SafetyReading(False, None, "yes")
    return SafetyReading(False, None, "unreadable")


def _by_number(item: Item, value: int, rest: str, lowest: int) -> SafetyReading:
    allowed = item.values() or list(range(item.minimum, item.maximum + 1))
    if value not in allowed:
        return SafetyReading(False, None, "unreadable")
    if value != lowest:
        return SafetyReading(False, value, "number")
    # "0" alone, or "0 not at all", is clear; "0 but sometimes I think about it" is not.
    clear = not rest or rest in _LOWEST_WORDS or _by_label(item, rest) == lowest
    return SafetyReading(clear, value, "number")


def _by_label(item: Item, said: str) -> int | None:
    for option in item.options:
        if any(_plain(label) == said for label in option.label.values()):
            return option.value
    return None


def _plain(text: str) -> str:
    """Lower case, no accents, words separated by single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())
