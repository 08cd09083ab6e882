"""What the patient would be sent back for a reading, rendered: `replies classify` shows it
so a clinical lead can check the whole answer to a text without a database."""

from __future__ import annotations

from worker.inbound import intents
from worker.inbound.intents import Context, Reading
from worker.lib.errors import InputError
from worker.messages.templates import Templates
from worker.questionnaires.definitions import Catalogue, next_item
from worker.questionnaires.texts import render
from worker.settings import Settings

_TEMPLATES = {
    intents.OPT_OUT: "stop_ack",
    intents.OPT_IN: "start_ack",
    intents.HELP: "help",
    intents.CONFIRM: "confirm_ack",
    intents.RESCHEDULE: "reschedule_ack",
    intents.QUESTION: "question_ack",
}
APPOINTMENT_TIME = "Thu Dec 10 2:00 PM"  # a sample {when}: the real one is the appointment's


def parse_during(catalogue: Catalogue, during: str | None) -> tuple[Context, str | None]:
    """`reminder`, `QUESTIONNAIRE_ID:ITEM_ID` or None -> (context, questionnaire id)."""
    if during is None:
        return Context(), None
    if during == "reminder":
        return Context(reminder=True), None
    questionnaire_id, _, item_id = during.partition(":")
    questionnaire = catalogue.get(questionnaire_id)
    known = {i.id: i for i in questionnaire.items}
    if item_id not in known:
        raise InputError(
            f"--during {during!r}: {questionnaire_id} has no item {item_id!r} (items: {', '.join(known)})"
        )
    return Context(item=known[item_id]), questionnaire_id


def reply_text(
    reading: Reading,
    context: Context,
    questionnaire_id: str | None,
    language: str,
    settings: Settings,
    templates: Templates,
    catalogue: Catalogue,
) -> str | None:
    """The text the worker would answer with; None when the reply waits for a person."""
    values = {
        "clinic_name": settings.clinic_name,
        "clinic_phone": settings.clinic_phone or "",
        "when": APPOINTMENT_TIME,
    }
    if (
        context.item is not None
        and questionnaire_id is not None
        and reading.intent
        in (
            intents.ANSWER,
            intents.UNCLEAR,
            intents.QUESTION,
        )
    ):
        return _in_questionnaire(reading, context, questionnaire_id, language, catalogue, values)
    template = _TEMPLATES.get(reading.intent)
    if template is None and reading.intent == intents.UNCLEAR and context.reminder:
        template = "reminder_clarify"
    return templates.render(template, language, **values) if template else None


def _in_questionnaire(
    reading: Reading,
    context: Context,
    questionnaire_id: str,
    language: str,
    catalogue: Catalogue,
    values: dict[str, str],
) -> str:
    assert context.item is not None
    item = context.item
    if reading.intent != intents.ANSWER:
        variant = f"reask/{reading.ambiguous}" if reading.ambiguous else "reask"
        return render(catalogue, f"{questionnaire_id}/{item.id}/{variant}", language, **values)
    questionnaire = catalogue.get(questionnaire_id)
    following = next_item(questionnaire, item.id, {item.id: reading.value})
    target = f"{questionnaire_id}/{following.id}" if following else f"{questionnaire_id}/closing"
    return render(catalogue, target, language, **values)
