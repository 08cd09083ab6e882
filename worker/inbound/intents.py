"""What one inbound text means in its context: the one reading the worker acts on and
`clinic-worker replies classify` prints. Pure: the caller says what the text answers.

Numbered, because the order is the policy:
1. An opt-out wins over everything, in any context (the keywords, or the patient's own
   words: worker.language.opt_out).
2. START, or YES from someone opted out, is an opt-in; HELP is help.
3. While a questionnaire item waits: a valid answer; a reply that could mean two things
   ("2 days", "1-2", "yes" to "how often") is unclear, asked again with a hint.
4. A reschedule or cancel request, a question, a confirmation: worker.language.intents.
   A confirmation with no reminded appointment ahead has nothing to confirm: unclear.
5. Anything else is unclear, for the clarification text or a person.

Crisis screening is not here: it runs first on every text, whatever it means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from worker.language import intents as appointment
from worker.language import opt_out
from worker.language.keywords import OPT_OUT_WORDS, TWILIO_KEYWORDS, Keyword, classify, normalise
from worker.questionnaires.definitions import Item
from worker.questionnaires.parsing import INVALID, read_answer
from worker.questionnaires.safety_answers import read_safety_answer

OPT_OUT, OPT_IN, HELP, ANSWER = "opt_out", "opt_in", "help", "answer"
CONFIRM, RESCHEDULE, QUESTION, UNCLEAR = (
    appointment.CONFIRM,
    appointment.RESCHEDULE,
    appointment.QUESTION,
    appointment.UNCLEAR,
)
INTENTS = (OPT_OUT, OPT_IN, HELP, CONFIRM, RESCHEDULE, ANSWER, QUESTION, UNCLEAR)


@dataclass(frozen=True)
class Context:
    item: Item | None = None  # the questionnaire item waiting for an answer
    reminder: bool = False  # an upcoming appointment the patient was reminded of
    opted_out: bool = False


@dataclass(frozen=True)
class Reading:
    intent: str
    rule: str
    value: Any = None  # the parsed answer, for ANSWER
    when: str | None = None  # the day or time a reschedule request names
    ambiguous: str | None = None  # why an answer was not read: days, range, yes_no

    @property
    def wrong_number(self) -> bool:
        return self.rule.endswith(("wrong_number", "numero_equivocado"))


_COURTESY = re.compile(
    r"\b(please|pls|plz|thanks|thank you|thx|ty|por favor|porfavor|porfa|gracias)\b", re.IGNORECASE
)


_SHORT_PHRASE_WORDS = 3
_QUESTION_WORDS = 5  # "maybe?" and "a little?" hedge an answer; a longer "?" asks something


def read_reply(text: str, context: Context) -> Reading:
    reaction = appointment.tapback(text)
    if reaction is not None:  # the words of our own text it quotes are not the patient's
        reading = _confirm(Reading(reaction.intent, reaction.rule), context)
        return reading if reaction.intent == CONFIRM else Reading(UNCLEAR, reaction.rule)
    keyword = classify(text)
    first = _keywords(text, keyword, context)
    if first is not None:
        return first
    if context.item is not None:
        answered = _answer(text, context.item)
        if answered is not None:
            return answered
    return _about_the_visit(text, keyword, context)


def _keywords(text: str, keyword: Keyword | None, context: Context) -> Reading | None:
    """Steps 1 and 2: an opt-out, an opt-in, HELP; None for anything else."""
    if keyword == Keyword.OPT_OUT and normalise(text) in OPT_OUT_WORDS:
        # "keyword" only when Twilio answers it too (ALTO, BAJA are the worker's to confirm).
        return Reading(OPT_OUT, "keyword" if normalise(text) in TWILIO_KEYWORDS else "keyword.words")
    # A keyword phrase ("stop texting me", "remove me…") is read in full: "remove me from
    # thursday" is about the visit, "STOP texting me, wrong number" also says whose phone it is.
    natural = opt_out.read(text)
    if natural is None and keyword == Keyword.OPT_OUT and len(text.split()) <= _SHORT_PHRASE_WORDS:
        natural = "keyword.words"  # "Stop sending", "STOPTEXTING": the phrase and nothing else
    if natural is not None:
        wrong = opt_out.wrong_number(text) and not natural.endswith(("wrong_number", "equivocado"))
        return Reading(OPT_OUT, natural + (".wrong_number" if wrong else ""))
    exact = normalise(text) in TWILIO_KEYWORDS
    if keyword == Keyword.OPT_IN or (context.opted_out and keyword == Keyword.YES):
        return Reading(OPT_IN, "keyword" if exact else "keyword.words")
    if keyword == Keyword.HELP:
        return Reading(HELP, "keyword" if exact else "keyword.words")
    # "HELP please", "START por favor": the keyword with courtesy, which Twilio does not see as
    # its keyword (so the worker answers it whatever CLINIC_KEYWORD_REPLIES says).
    first = re.split(r"[.,;!?\n]", text, maxsplit=1)[0]  # "START please, I changed my mind"
    courteous = classify(_COURTESY.sub(" ", first)) if keyword is None else None
    if courteous == Keyword.OPT_IN or (
        context.opted_out and (courteous == Keyword.YES or opt_out.opt_in(text))
    ):
        return Reading(OPT_IN, "opt_in.words")
    return Reading(HELP, "help.words") if courteous == Keyword.HELP else None


def _answer(text: str, item: Item) -> Reading | None:
    """An answer to the waiting item, an ambiguous one, or None (read the text otherwise)."""
    if item.is_safety:
        safety = read_safety_answer(item, text)
        if safety.value is not None:
            return Reading(ANSWER, f"answer.safety.{safety.how}", safety.value)
        return None
    reading = read_answer(item, text)
    if reading.value is not INVALID:
        return Reading(ANSWER, "answer", reading.value)
    if reading.ambiguous is not None:
        return Reading(UNCLEAR, f"answer.ambiguous.{reading.ambiguous}", ambiguous=reading.ambiguous)
    return None


def _about_the_visit(text: str, keyword: Keyword | None, context: Context) -> Reading:
    if keyword == Keyword.RESCHEDULE:
        return Reading(RESCHEDULE, "keyword")
    if keyword == Keyword.CONFIRM or (keyword == Keyword.YES and context.item is None):
        return _confirm(Reading(CONFIRM, "keyword"), context)
    found = appointment.read(text)
    if found.rule == "en.question.mark" and context.item is not None and len(text.split()) < _QUESTION_WORDS:
        return Reading(UNCLEAR, "question.mark.during_questionnaire")  # "a little?": ask again
    if found.intent == CONFIRM and context.item is not None:
        # "ok" to a PHQ-9 item is not an answer and not a confirmation: ask again.
        return Reading(UNCLEAR, f"{found.rule}.during_questionnaire")
    if found.intent == CONFIRM:
        return _confirm(Reading(CONFIRM, found.rule), context)
    return Reading(found.intent, found.rule, when=found.when)


def _confirm(reading: Reading, context: Context) -> Reading:
    if context.reminder:
        return reading
    return Reading(UNCLEAR, f"{reading.rule}.no_reminder")
