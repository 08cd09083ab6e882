"""What a reply to a safety item (or silence on one) tells on-call.

Every `safety:` item fails safe (see safety_answers): anything but a clear lowest answer
raises an alert at once. A reply that gives no option (a "yes", an unreadable text) is asked
again once, so a score can still be made; if the second reply gives none either, the item is
left unanswered and that is an alert too (`unanswered_safety_item`), joining the first one
while it is open. So a patient is asked a safety question at most twice, never three times,
and never asked again after a silence: a run that stops there raises the alert instead.
"""

from __future__ import annotations

from worker.enums import AlertCategory
from worker.questionnaires.definitions import Item, Questionnaire
from worker.questionnaires.safety_answers import SafetyReading
from worker.safety.alerts import Trigger

# The question, then one re-ask: never a third time (a nudge counts as an ask).
MAX_SAFETY_REASKS = 1


def item_label(questionnaire: Questionnaire, item: Item) -> str:
    """`PHQ-9 item 9`: the title and the item's place, as a clinician says it."""
    number = [i.id for i in questionnaire.items].index(item.id) + 1
    return f"{questionnaire.title} item {number}"


def answer_trigger(
    questionnaire: Questionnaire, item: Item, reading: SafetyReading, run_id: int, inbound_id: int
) -> Trigger | None:
    """None for a clear lowest answer; otherwise the alert's trigger."""
    if reading.clear_lowest:
        return None
    where = item_label(questionnaire, item)
    if reading.value is not None:
        summary = f"{where} = {reading.value}" + (" (in words)" if reading.how == "words" else "")
    elif reading.how == "yes":
        summary = f"{where} answered yes"
    else:
        summary = f"{where} answer unclear"
    rule = f"{questionnaire.id}.{item.id}.{reading.how}"
    if reading.value is not None:
        rule += f"={reading.value}"
    return Trigger(
        f"{questionnaire.id}:{item.id}", AlertCategory.SAFETY_ITEM, summary, rule, inbound_id, run_id
    )


def unanswered_trigger(
    questionnaire: Questionnaire,
    item: Item,
    run_id: int,
    inbound_id: int | None,
    *,
    silent: bool,
    why: str | None = None,
) -> Trigger:
    where = item_label(questionnaire, item)
    summary = f"{where} unanswered " + (why or ("(no reply)" if silent else "after re-ask"))
    return Trigger(
        f"{questionnaire.id}:{item.id}:unanswered",
        AlertCategory.UNANSWERED_SAFETY_ITEM,
        summary,
        f"{questionnaire.id}.{item.id}.unanswered",
        inbound_id,
        run_id,
    )
