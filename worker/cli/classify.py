"""clinic-worker replies classify: one text, or a file of them, read as the worker reads them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from worker.cli.context import ctx_of
from worker.cli.output import emit_json, say
from worker.inbound.intents import Context, read_reply
from worker.inbound.preview import parse_during, reply_text
from worker.inbound.screening import screen_text
from worker.language.rules import LANGUAGES
from worker.language.screening import Screener, Screening
from worker.lib.errors import InputError
from worker.messages.templates import Templates, load_templates
from worker.questionnaires.definitions import Catalogue, load_catalogue
from worker.runtime import load_crisis_screener
from worker.settings import Settings, config_file


@dataclass(frozen=True)
class Case:
    text: str
    language: str | None = None
    during: str | None = None
    opted_out: bool = False


@dataclass(frozen=True)
class Reader:
    settings: Settings
    screener: Screener
    catalogue: Catalogue
    templates: Templates

    def result(self, case: Case) -> dict[str, Any]:
        found = screen_text(self.screener, case.text, case.language)
        context, questionnaire_id = parse_during(self.catalogue, case.during)
        context = Context(context.item, context.reminder, case.opted_out)
        reading = read_reply(case.text, context)
        reply = reply_text(
            reading, context, questionnaire_id, found.language, self.settings, self.templates, self.catalogue
        )
        if found.alert:  # the safety text goes first, whatever the text also means
            reply = self.templates.render("safety", found.language, **_values(self.settings))
        return {
            "text": case.text,
            "language": found.language,
            "alert": found.alert,
            "category": found.category,
            "rule": found.rule,
            "negated": found.negated,
            "intent": reading.intent,
            "intent_rule": reading.rule,
            "value": reading.value,
            "when": reading.when,
            "reply": reply,
        }


def _values(settings: Settings) -> dict[str, str]:
    return {"clinic_name": settings.clinic_name, "clinic_phone": settings.clinic_phone or ""}


def classify(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Argument(help="The text to read, as a patient would send it.")] = None,
    language: Annotated[str | None, typer.Option(help="en or es: the patient's language, if known.")] = None,
    during: Annotated[
        str | None,
        typer.Option(
            help="What the text answers: 'reminder' (an appointment reminder) or QUESTIONNAIRE_ID:ITEM_ID "
            "(e.g. phq9:q3). Without it, a text out of the blue."
        ),
    ] = None,
    opted_out: Annotated[bool, typer.Option("--opted-out", help="The sender had opted out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            help='One JSON object per line, {"text": ..., "language": ..., "during": ..., "opted_out": ...}; '
            "- for standard input. Prints one JSON result per line, in order.",
        ),
    ] = None,
) -> None:
    """Read texts as the webhook does (no database needed): crisis language first, then what
    the text means in its context (intent, parsed answer) and what the patient would be sent."""
    if (text is None) == (file is None):
        raise InputError("give a TEXT or --file FILE (not both)")
    _check_language(language, "--language")
    settings = ctx_of(ctx).settings
    catalogue = load_catalogue(config_file(settings, "questionnaires"))
    parse_during(catalogue, during)  # a bad --during is one clear error before any reading
    reader = Reader(settings, load_crisis_screener(settings), catalogue, load_templates(settings))
    if file is not None:
        for case in list(_read_items(file, Case("", language, during, opted_out))):
            emit_json(reader.result(case), indent=None)
        return
    assert text is not None
    case = Case(text, language, during, opted_out)
    result = reader.result(case)
    if as_json:
        emit_json(result)
    else:
        # One say per line: a newline inside the text itself is shown escaped.
        for line in _human(screen_text(reader.screener, text, language), result):
            say(line)


def _human(found: Screening, result: dict[str, Any]) -> list[str]:
    if found.alert:
        crisis = f"ALERT  {found.category}  (rule {found.rule}, language {found.language})"
    elif found.negated:
        crisis = (
            f"no alert: denied or in the past, for staff to read  "
            f"({found.category}, rule {found.rule}, language {found.language})"
        )
    else:
        crisis = f"no alert  (language {found.language})"
    meaning = f"intent {result['intent']}  (rule {result['intent_rule']})"
    if result["value"] is not None:
        meaning += f"  value {result['value']}"
    if result["when"]:
        meaning += f"  when {result['when']!r}"
    reply = result["reply"] or "(nothing: it waits for a person)"
    return [crisis, meaning, f"reply: {reply}"]


def _check_language(language: object, where: str) -> None:
    if language is not None and language not in LANGUAGES:
        raise InputError(f"{where}: language must be one of {', '.join(LANGUAGES)}, not {language!r}")


def _read_items(file: str, default: Case) -> Iterable[Case]:
    """One Case per non-blank line; a bad line is a one-line InputError."""
    name = "standard input" if file == "-" else file
    try:
        lines = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    for number, line in enumerate(lines.splitlines(), start=1):
        if line.strip():
            yield _parse_line(line, f"{name}:{number}", default)


def _parse_line(line: str, where: str, default: Case) -> Case:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise InputError(f'{where}: expected an object with a "text" string')
    language = item.get("language", default.language)
    _check_language(language, where)
    during = item.get("during", default.during)
    if during is not None and not isinstance(during, str):
        raise InputError(f'{where}: "during" must be "reminder" or QUESTIONNAIRE_ID:ITEM_ID')
    opted_out = item.get("opted_out", default.opted_out)
    if not isinstance(opted_out, bool):
        raise InputError(f'{where}: "opted_out" must be true or false')
    return Case(item["text"], language, during, opted_out)
