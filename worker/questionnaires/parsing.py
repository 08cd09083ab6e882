"""Reading an answer as patients type it: "2", "two", "dos", "Over half the days", "most days",
"sevral days", "7/10", "yes", "sí".

`read_answer` gives the value (or SKIPPED for a free-text item the patient skipped, or
INVALID) and, when the reply could mean more than one thing, why: a count of days ("2 days":
two days in two weeks is "several days", not option 2), a range ("1-2", "2 or 3") or a yes or
no to a frequency question. Those are never guessed; the run asks again with a hint that
says what was unclear (worker.questionnaires.definitions.AMBIGUOUS_HINTS).

An option is recognised by its number, its number written as a word, its label in any
language, the words the prompt itself prints next to the number, its `also` synonyms in
the questionnaire file, and a close misspelling of any of those (rapidfuzz).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

from worker.questionnaires.definitions import Item

INVALID = object()
SKIPPED = None
DAYS, RANGE, YES_NO = "days", "range", "yes_no"  # why an answer was ambiguous
MIN_FUZZY_SCORE = 88  # rapidfuzz ratio, 0-100: "sevral days", "nearly everyday"
_MAX_LENGTH_GAP = 3  # characters between a misspelling and the words it stands for

_NUMBER_WORDS = {
    "zero": 0, "cero": 0, "one": 1, "uno": 1, "una": 1, "un": 1, "two": 2, "dos": 2, "three": 3,
    "tres": 3, "four": 4, "cuatro": 4, "five": 5, "cinco": 5, "six": 6, "seis": 6, "seven": 7,
    "siete": 7, "eight": 8, "ocho": 8, "nine": 9, "nueve": 9, "ten": 10, "diez": 10,
}  # fmt: skip
_NUMBER = r"(\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")"
# Words before a number that do not change it: "about a 6", "option 2", "mas o menos 5".
_PREFIX = (
    r"(?:about|around|like|maybe|um+|a|an|id say|i d say|prob|probably|mas o menos|un|una|option|opcion|"
    r"number|numero|num)"
)
# "un 8", "una vez": the article is not a number at the start of a reply
_LEADING_NUMBER = r"(\d{1,3}|" + "|".join(w for w in _NUMBER_WORDS if w not in ("un", "una")) + r")"
_LEADING = re.compile(
    rf"^(?:{_PREFIX}\s+)*"
    rf"{_LEADING_NUMBER}\b(.*)$"
)
_RANGE = re.compile(
    rf"^(?:{_PREFIX}\s+)*{_LEADING_NUMBER}"
    r"(?:\s*(?:-|to|or|o|a|/|y|and|&|,|maybe|or maybe|o tal vez|tal vez|o quizas)\s*|\s+)"
    rf"{_NUMBER}\b"
)
_A_DAY_OR_TWO = re.compile(
    r"\b(a|one|un|uno) (day|dia) (or|o) (two|dos)\b|\bevery other day\b|\bun dia si y (un dia|otro) no\b"
    r"|\bcada (tercer|otro) dia\b"
)
_OUT_OF_TEN = re.compile(r"^(\d{1,2})\s*(?:/|out of|de|sobre)\s*10\b")
_DAY_COUNT = re.compile(
    r"^\s*(days?|dias?|times?|veces|nights?|noches?|out of 14|de 14|weeks?|semanas?|x|a week|per week|"
    r"por semana|al dia|a day)\b"
)
_ASKS = re.compile(r"^(is|does|what|which|do|can|el \d+ es|es el|que|cual)\b")
# Effects patients name when asked about side effects (the check-in's yes/no item).
_SYMPTOM = re.compile(
    r"\b(headaches?|head ache|migraine|dizzy|dizziness|lightheaded|nause\w*|vomit\w*|threw up|sick|"
    r"tired|sleepy|drowsy|foggy|fog|numb\w*|tingl\w*|blurry|anxious|jittery|shaky|sore|pain|hurts?|"
    r"dolor|mareo\w*|maread\w*|nausea\w*|vomit\w*|cansad\w*|cansancio|sueno|somnolient\w*|"
    r"adormecid\w*|hormigueo|borros\w*|temblor\w*)\b"
)
# "the nausea stopped", "is it normal to feel foggy?": a person reads what it means.
_PASSED = re.compile(
    r"\b(stopped|ended|gone|went away|passed|pararon|paro|se quito|se me quito|se fue|se paso|ya bajo|"
    r"bajo|ya no|normal|is it|se me paso)\b"
)
_NEGATION_START = re.compile(r"^(no|not|none|nope|nel|nada|ningun\w*|never|nunca)\b")
# Words around an answer that do not change it.
_ASIDE = re.compile(
    r"(?<= )(nope|no|yes|yeah|yep|si|ok|okay|honestly|tbh|lol|i guess|i think|i would say|thanks|"
    r"thank you|thx|"
    r"gracias a dios|gracias|la verdad|creo|pues|bueno)(?= )"
)
_NEGATED_WORDS = re.compile(r"\b(not|never|no|isnt|wasnt|nunca|ni)\b")
_DECIMAL = re.compile(r"\d[.,]\d")
_ARTICLES = frozenset({"un", "una", "uno"})  # "un 8": the article is not a number
_NEGATION = re.compile(r"\b(not|no|never|isnt|wasnt|nunca|ni)\s*$")
_YES = {"yes", "y", "yep", "yeah", "ya", "yup", "si", "s", "claro", "true", "sip", "yes i did", "yes some"}
_NO = {
    "no", "n", "nope", "nop", "nel", "nah", "negative", "false", "none", "ninguno", "ninguna", "nada",
    "no none", "not really", "no ninguno", "nothing", "nothing at all", "none at all", "nada de nada",
}  # fmt: skip
_SKIP = {"skip", "omitir", "pass", "pasar", "skip it", "n a", "na"}


@dataclass(frozen=True)
class Reading:
    value: Any  # the answer, SKIPPED, or INVALID
    ambiguous: str | None = None  # DAYS, RANGE or YES_NO when the reply could mean two things


def parse_answer(item: Item, text: str) -> Any:
    """The value, SKIPPED or INVALID (see `read_answer` for why a reply was not read)."""
    return read_answer(item, text).value


def read_answer(item: Item, text: str) -> Reading:
    if item.type == "text":
        return Reading(_text(text))
    said = plain(text)
    if item.type == "yes_no" and "?" in text:
        return Reading(INVALID)  # a question about the item, not an answer
    if item.type == "yes_no":
        return Reading(_yes_no(said))
    return _scale(item, text, said)


def plain(text: str) -> str:
    """Lower case, accents folded, words and digits only (keeps - / & for ranges)."""
    folded = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).replace("'", "")
    return " ".join(re.findall(r"[a-z]+|\d+|[-/&]", folded))


def _scale(item: Item, text: str, said: str) -> Reading:
    allowed = item.values() if item.type == "choice" else list(range(item.minimum, item.maximum + 1))
    if item.type == "integer" and (out_of := _OUT_OF_TEN.match(said)) and item.maximum == 10:
        return _within(int(out_of.group(1)), allowed)
    ambiguous = _ambiguous(item, text, said)
    if ambiguous is not None:
        return Reading(INVALID, ambiguous)
    leading = _LEADING.match(said)
    if leading is not None:
        if item.type == "choice" and _DAY_COUNT.match(leading.group(2)):
            return Reading(INVALID, DAYS)
        value = _number(leading.group(1))
        named = option_words(item).get(leading.group(2).strip()) if item.type == "choice" else None
        if named is not None and named != value:
            return Reading(INVALID, RANGE)  # "2 not at all": the number and the words disagree
        return _within(value, allowed)
    return _in_words(item, said, allowed)


def _ambiguous(item: Item, text: str, said: str) -> str | None:
    """Why a reply names more than one answer: "1-2", "2 or 3", "6.5", "a day or two"."""
    if (pair := _RANGE.match(said)) and _number(pair.group(1)) != _number(pair.group(2)):
        return RANGE
    if item.type == "choice" and _A_DAY_OR_TWO.search(said):
        return DAYS
    return RANGE if _DECIMAL.search(text) else None  # "6.5": between two answers


def _in_words(item: Item, said: str, allowed: list[int]) -> Reading:
    if _ASKS.match(said):
        return Reading(INVALID)  # "is 0 the worst or the best?": a question, not an answer
    label = _by_words(item, said) if item.type == "choice" else _only_number(said)
    if label is None and item.type == "choice":
        label = _contained(item, said)
    if label is not None:
        return _within(label, allowed)
    if item.type == "choice" and (said in _YES or said in _NO or said.split()[:1] in (["yes"], ["si"])):
        return Reading(INVALID, YES_NO)
    return Reading(INVALID)


def _only_number(said: str) -> int | None:
    """The one number in "honestly about a four", "hoy un 4", "diria q un 5"."""
    words = said.split()
    found = {_number(w) for w in words if w.isdigit() or (w in _NUMBER_WORDS and w not in _ARTICLES)}
    if not found:
        found = {_number(w) for w in words if w in _NUMBER_WORDS}
    if len(words) == 2 and words[0] in _ARTICLES and words[1].isdigit():
        return int(words[1])  # "un 8"
    return found.pop() if len(found) == 1 else None


def _negated(padded: str, words: str) -> bool:
    before = padded.split(f" {words} ", maxsplit=1)[0]
    return not words.startswith(("not", "no ")) and bool(_NEGATION.search(before))


def _contained(item: Item, said: str) -> int | None:
    """An option's words inside a longer reply ("a few days here and there", "most days tbh"),
    when every option named agrees and none is negated ("not every day" is not read)."""
    padded = f" {said} "
    # Phrases of two words or more: a lone "nada" or "never" inside a sentence says too little.
    named = [w for w in option_words(item) if " " in w and f" {w} " in padded]
    named = [w for w in named if not any(w != other and w in other for other in named)]
    if not named or any(_negated(padded, w) for w in named):
        return None
    values = {option_words(item)[w] for w in named}
    return values.pop() if len(values) == 1 else None


def _within(value: int, allowed: list[int]) -> Reading:
    return Reading(value if value in allowed else INVALID)


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def _by_words(item: Item, said: str) -> int | None:
    """The option whose words the reply is: exactly, or misspelt by a letter or two."""
    if not said or item.type != "choice":
        return None
    words = option_words(item)
    if said in words:
        return words[said]
    bare = _ASIDE.sub(" ", f" {said} ").strip()  # "nope never", "nunca gracias a dios", "most days tbh"
    if bare in words:
        return words[bare]
    # Misspellings keep their first letter ("sevral days"); "half the time" is not "all the time".
    near = [w for w in words if w[:1] == said[:1] and abs(len(w) - len(said)) <= _MAX_LENGTH_GAP]
    best = process.extractOne(said, near, scorer=fuzz.ratio, score_cutoff=MIN_FUZZY_SCORE)
    if best is None or (_NEGATED_WORDS.search(said) and not _NEGATED_WORDS.search(best[0])):
        return None  # "not nearly every day" is close to "nearly every day" and means the opposite
    close = [w for w in near if fuzz.ratio(said, w) >= best[1] - 1]
    values = {words[w] for w in close}
    return values.pop() if len(values) == 1 else None


def option_words(item: Item) -> dict[str, int]:
    """Every way of writing each option, plain: labels, synonyms, the prompt's own words."""
    cached = _WORDS.get(id(item))
    if cached is None or cached[0] is not item:
        cached = _WORDS[id(item)] = (item, _option_words(item))
    return cached[1]


# By item identity: items hold dicts, so they cannot be hashed; the catalogue lives as long
# as the process, and the entry keeps its item alive so an id is never reused under it.
_WORDS: dict[int, tuple[Item, dict[str, int]]] = {}


def _option_words(item: Item) -> dict[str, int]:
    words: dict[str, int] = {}
    for option in item.options:
        for label in (*option.label.values(), *option.also):
            words.setdefault(plain(label), option.value)
    for prompt in item.prompt.values():
        for value, label in printed_options(prompt):
            words.setdefault(plain(label), value)
    return words


_PRINTED = re.compile(r"(?:^|[\s,(])(\d{1,2})\s*[=:.)-]?\s*([^\d,;()]+?)\s*(?=,|;|$|\))")


def printed_options(prompt: str) -> list[tuple[int, str]]:
    """The "0 Not at all, 1 Several days, ..." list at the end of a prompt, as printed."""
    tail = prompt.rsplit("?", 1)[-1]
    return [(int(number), label) for number, label in _PRINTED.findall(tail) if label.strip()]


def _yes_no(said: str) -> Any:
    if said in _YES or said in _NO:
        return said in _YES
    if _PASSED.search(said):
        return INVALID  # "ya se me quitó la náusea": had one, now gone; a person reads it
    if _SYMPTOM.search(said) and not _NEGATION_START.match(said):
        return True  # "a little headache the next morning": an effect described is a yes
    first = said.split(maxsplit=1)[0] if said else ""
    if first in _YES:
        return True
    if first in _NO:
        return False
    return INVALID


def _text(text: str) -> Any:
    stripped = text.strip()
    if not stripped:
        return INVALID
    if plain(stripped) in _SKIP:
        return SKIPPED
    return stripped
