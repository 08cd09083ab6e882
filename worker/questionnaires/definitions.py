"""Questionnaire definitions from config/questionnaires/*.yaml, checked when loaded.

A bad file is one clear error naming the file and the field ("phq9.yaml: items[2].type: ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from worker.lib.errors import InputError

TYPES = ("choice", "integer", "yes_no", "text")
LANGUAGES = ("en", "es")
DEFAULT_HINTS = {
    "choice": {
        "en": "Please reply with one number: {values}.",
        "es": "Responda con un solo numero: {values}.",
    },
    "integer": {
        "en": "Please reply with a number from {min} to {max}.",
        "es": "Responda con un numero del {min} al {max}.",
    },
    "yes_no": {"en": "Please reply YES or NO.", "es": "Responda SI o NO."},
    "text": {"en": "Please reply in words, or SKIP.", "es": "Responda con palabras, u OMITIR."},
}
# A reply that could mean two things is asked again with what was unclear, never guessed;
# the question that follows lists the answers.
AMBIGUOUS_HINTS = {
    "days": {
        "en": "Please reply with the number of one answer below, not a count of days.",
        "es": "Responda con el numero de una respuesta, no con cuantos dias.",
    },
    "range": {"en": "Please pick just one answer.", "es": "Elija una sola respuesta."},
    "yes_no": {
        "en": "Please say how often, with the number of one answer.",
        "es": "Diga con que frecuencia, con el numero de una respuesta.",
    },
}
NUDGE = {"en": "Reminder: we are waiting for your answer.", "es": "Recordatorio: esperamos su respuesta."}


@dataclass(frozen=True)
class Option:
    value: int
    label: dict[str, str]
    code: str | None = None
    also: tuple[str, ...] = ()  # other ways patients write it: "never", "most days", "casi diario"


@dataclass(frozen=True)
class Item:
    id: str
    type: str
    prompt: dict[str, str]
    code: str | None = None
    options: tuple[Option, ...] = ()
    minimum: int = 0
    maximum: int = 0
    scored: bool = False
    when: tuple[str, Any] | None = None  # (item id, value): asked only if that answer was given
    when_any_above: int | None = None  # asked only if a scored item was answered above this
    safety_min: int | None = None  # an answer >= this raises a safety alert
    safety_equals: Any = None

    def values(self) -> list[int]:
        return [o.value for o in self.options]

    @property
    def is_safety(self) -> bool:
        """A `safety:` item: read fail-safe, asked at most twice (worker.questionnaires.safety_items)."""
        return self.safety_min is not None or self.safety_equals is not None

    def raises_alert(self, value: Any) -> bool:
        if value is None:
            return False
        if self.safety_min is not None and isinstance(value, int) and not isinstance(value, bool):
            return value >= self.safety_min
        return self.safety_equals is not None and value == self.safety_equals


@dataclass(frozen=True)
class Band:
    minimum: int
    label: str


@dataclass(frozen=True)
class Questionnaire:
    id: str
    title: str
    intro: dict[str, str]
    closing: dict[str, str]
    items: tuple[Item, ...]
    code: str | None = None
    total_code: str | None = None
    bands: tuple[Band, ...] = ()
    source: str = ""

    @property
    def scored(self) -> bool:
        return any(item.scored for item in self.items)

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def severity(self, score: int) -> str | None:
        label = None
        for band in sorted(self.bands, key=lambda b: b.minimum):
            if score >= band.minimum:
                label = band.label
        return label


@dataclass
class Catalogue:
    by_id: dict[str, Questionnaire] = field(default_factory=dict)

    def get(self, questionnaire_id: str) -> Questionnaire:
        try:
            return self.by_id[questionnaire_id]
        except KeyError:
            known = ", ".join(sorted(self.by_id)) or "none"
            raise InputError(f"no questionnaire {questionnaire_id!r} (known: {known})") from None


def load_catalogue(folder: Path) -> Catalogue:
    catalogue = Catalogue()
    if not folder.is_dir():
        raise InputError(f"{folder}: no questionnaires folder")
    for path in sorted(folder.glob("*.yaml")):
        questionnaire = load_file(path)
        if questionnaire.id in catalogue.by_id:
            raise InputError(
                f"{path.name}: id {questionnaire.id!r} is also used by "
                f"{catalogue.by_id[questionnaire.id].source}"
            )
        catalogue.by_id[questionnaire.id] = questionnaire
    return catalogue


def load_file(path: Path) -> Questionnaire:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"{path.name}: not valid YAML{where}") from None
    return _Reader(path.name).questionnaire(raw)


class _Reader:
    """Reads one file, naming the field of every problem."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, where: str, problem: str) -> InputError:
        return InputError(f"{self.name}: {where}: {problem}")

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be a mapping")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "must be non-empty text")
        return value

    def texts(self, value: Any, where: str) -> dict[str, str]:
        by_language = self.mapping(value, where)
        if "en" not in by_language:
            raise self.fail(where, "needs an 'en' text")
        return {str(lang): self.text(text, f"{where}.{lang}") for lang, text in by_language.items()}

    def integer(self, value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(where, "must be a whole number")
        return value

    def questionnaire(self, raw: Any) -> Questionnaire:
        data = self.mapping(raw, "file")
        items_raw = data.get("items")
        if not isinstance(items_raw, list) or not items_raw:
            raise self.fail("items", "must be a non-empty list")
        items = tuple(self.item(value, f"items[{i}]") for i, value in enumerate(items_raw))
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise self.fail("items", "item ids must be unique")
        self.check_conditions(items)
        scoring = self.mapping(data.get("scoring", {}), "scoring")
        return Questionnaire(
            id=self.text(data.get("id"), "id"),
            title=self.text(data.get("title"), "title"),
            intro=self.texts(data.get("intro"), "intro"),
            closing=self.texts(data.get("closing"), "closing"),
            items=items,
            code=data.get("code"),
            total_code=scoring.get("total_code"),
            bands=tuple(self.band(b, f"scoring.bands[{i}]") for i, b in enumerate(scoring.get("bands", []))),
            source=self.name,
        )

    def band(self, raw: Any, where: str) -> Band:
        data = self.mapping(raw, where)
        return Band(
            self.integer(data.get("min"), f"{where}.min"), self.text(data.get("label"), f"{where}.label")
        )

    def item(self, raw: Any, where: str) -> Item:
        data = self.mapping(raw, where)
        kind = data.get("type")
        if kind not in TYPES:
            raise self.fail(f"{where}.type", f"must be one of {', '.join(TYPES)}")
        options = tuple(
            self.option(o, f"{where}.options[{i}]") for i, o in enumerate(data.get("options", []))
        )
        if kind == "choice" and not options:
            raise self.fail(f"{where}.options", "a choice item needs options")
        minimum, maximum = data.get("min", 0), data.get("max", 0)
        if kind == "integer":
            minimum, maximum = self.integer(minimum, f"{where}.min"), self.integer(maximum, f"{where}.max")
            if minimum >= maximum:
                raise self.fail(f"{where}.max", "must be greater than min")
        safety = self.mapping(data.get("safety", {}), f"{where}.safety")
        when = self.mapping(data["when"], f"{where}.when") if "when" in data else None
        any_above = when.pop("any_scored_above", None) if when else None
        return Item(
            id=self.text(data.get("id"), f"{where}.id"),
            type=kind,
            prompt=self.texts(data.get("prompt"), f"{where}.prompt"),
            code=data.get("code"),
            options=options,
            minimum=minimum,
            maximum=maximum,
            scored=bool(data.get("scored", False)),
            when=(self.text(when.get("item"), f"{where}.when.item"), when.get("equals")) if when else None,
            when_any_above=(
                self.integer(any_above, f"{where}.when.any_scored_above") if any_above is not None else None
            ),
            safety_min=self.integer(safety["min"], f"{where}.safety.min") if "min" in safety else None,
            safety_equals=safety.get("equals"),
        )

    def option(self, raw: Any, where: str) -> Option:
        data = self.mapping(raw, where)
        also = self.mapping(data.get("also", {}), f"{where}.also")
        words: list[str] = []
        for language, listed in also.items():
            if not isinstance(listed, list):
                raise self.fail(f"{where}.also.{language}", "must be a list of texts")
            words += [self.text(word, f"{where}.also.{language}[{i}]") for i, word in enumerate(listed)]
        return Option(
            self.integer(data.get("value"), f"{where}.value"),
            self.texts(data.get("label"), f"{where}.label"),
            data.get("code"),
            tuple(words),
        )

    def check_conditions(self, items: tuple[Item, ...]) -> None:
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item.when is not None and item.when[0] not in seen:
                raise self.fail(f"items[{index}].when.item", f"{item.when[0]!r} is not an earlier item")
            seen.add(item.id)


def hint(item: Item, language: str, ambiguous: str | None = None) -> str:
    if ambiguous is not None:
        return pick(AMBIGUOUS_HINTS[ambiguous], language)
    texts = DEFAULT_HINTS[item.type]
    template = texts.get(language, texts["en"])
    return template.format(
        values=", ".join(str(v) for v in item.values()), min=item.minimum, max=item.maximum
    )


def pick(texts: dict[str, str], language: str) -> str:
    return texts.get(language) or texts["en"]


def item_text(item: Item, language: str) -> str:
    """The item's own words, for staff: no "3/10", no stem, no option list."""
    prompt = pick(item.prompt, language)
    if item.options and "?" in prompt:
        prompt = prompt.rsplit("?", 1)[0] + "?"
    prompt = re.sub(r"^\d+/\d+\s+", "", prompt)
    return prompt.split(": ", 1)[1] if ": " in prompt else prompt


def next_item(questionnaire: Questionnaire, after: str | None, answers: dict[str, Any]) -> Item | None:
    """The item to ask after `after` (None: the first), given the answers so far."""
    items = list(questionnaire.items)
    start = 0 if after is None else [i.id for i in items].index(after) + 1
    for item in items[start:]:
        if asked(questionnaire, item, answers):
            return item
    return None


def asked(questionnaire: Questionnaire, item: Item, answers: dict[str, Any]) -> bool:
    """Whether the item's condition holds: the difficulty item only after a problem was checked."""
    if item.when is not None and answers.get(item.when[0]) != item.when[1]:
        return False
    if item.when_any_above is None:
        return True
    above = item.when_any_above
    return any(
        isinstance(answers.get(i.id), int) and answers[i.id] > above for i in questionnaire.items if i.scored
    )
