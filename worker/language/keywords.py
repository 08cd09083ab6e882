"""What an inbound text says, as far as keywords go. Pure functions, no database.

Texts are compared after normalising: accents folded, case ignored, spaces and
punctuation dropped ("Stop!", " s t o p ", "STOP." are all STOP).
"""

from __future__ import annotations

import enum
import re
import unicodedata


class Keyword(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    YES = "yes"  # START only from someone opted out; otherwise an answer
    HELP = "help"
    CONFIRM = "confirm"
    RESCHEDULE = "reschedule"


# Twilio's own opt-out words (it honours them on long codes), plus Spanish ones: the FCC's
# 2025 rule asks for any reasonable opt-out wording to be honoured.
TWILIO_OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_OUT_WORDS = TWILIO_OPT_OUT_WORDS | {"ALTO", "PARAR", "PARE", "BAJA", "DETENER"}
OPT_OUT_PHRASES = (
    "STOPTEXTING",
    "STOPSENDING",
    "STOPMESSAGING",
    "STOPCONTACTING",
    "DONTTEXT",
    "DONOTTEXT",
    "REMOVEME",
    "UNSUBSCRIBEME",
    "NOMASMENSAJES",
    "NOMEENVIES",
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
# The words Twilio's own keyword handling (Advanced Opt-Out) answers on a long code when a
# text is exactly one of them; anything else is answered by the worker itself.
TWILIO_KEYWORDS = TWILIO_OPT_OUT_WORDS | {"START", "UNSTOP", "YES", "HELP", "INFO"}
YES_WORDS = frozenset({"YES", "Y", "SI"})
HELP_WORDS = frozenset({"HELP", "INFO", "AYUDA"})
CONFIRM_WORDS = frozenset({"C", "CONFIRM", "CONFIRMED", "CONFIRMAR", "CONFIRMO"})
RESCHEDULE_WORDS = frozenset({"R", "RESCHEDULE", "CAMBIAR", "REPROGRAMAR"})

_NOT_LETTERS = re.compile(r"[^A-Z0-9]")


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _NOT_LETTERS.sub("", folded.upper())


def classify(text: str) -> Keyword | None:
    """The keyword a whole text amounts to, or None for anything else.

    Opt-out phrases count only at the start ("stop texting me"), so a sentence that merely
    contains "stop" ("I can't stop crying") is never taken for an opt-out.
    """
    word = normalise(text)
    if word in OPT_OUT_WORDS or word.startswith(OPT_OUT_PHRASES):
        return Keyword.OPT_OUT
    for keyword, words in (
        (Keyword.OPT_IN, OPT_IN_WORDS),
        (Keyword.YES, YES_WORDS),
        (Keyword.HELP, HELP_WORDS),
        (Keyword.CONFIRM, CONFIRM_WORDS),
        (Keyword.RESCHEDULE, RESCHEDULE_WORDS),
    ):
        if word in words:
            return keyword
    return None
