"""Someone texting the clinic about a patient: "my son is your patient, he says he's going to
kill himself", "mi papá (paciente de ustedes) dice que se va a pegar un tiro". Pure.

The rules are written in the first person, and a match said of someone else does not
alert ("my uncle killed himself", "she wants to die" about a friend). But a parent, spouse or
child who tells the clinic that one of its patients is in danger needs on-call as much as
the patient would. So when a text says it is about a patient here, or asks the clinic what
to do, each clause that tells of that person in the present tense ("dice que quiere
matarse", "keeps saying she wants to die") is read once more as if the patient wrote it,
and the same rules run on that reading. Only present-tense clauses are rewritten: "se
suicidó" and "killed himself" stay someone else's past.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from worker.language.normalise import Token, words


def _phrases(*texts: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(words(text)) for text in texts)


# The text is about a patient of the clinic, or asks the clinic to act.
_ABOUT_A_PATIENT = _phrases(
    "your patient",
    "a patient",
    "patient of yours",
    "sees you",
    "sees you guys",
    "sees dr",
    "comes to you",
    "has an appointment",
    "has an appt",
    "has appointment",
    "his appointment",
    "her appointment",
    "what do i do",
    "what should i do",
    "what do we do",
    "please call",
    "call me back",
    "paciente de ustedes",
    "su paciente",
    "es paciente",
    "hija de paciente",
    "hijo de paciente",
    "viene con ustedes",
    "se atiende",
    "tiene cita",
    "su cita",
    "que hago",
    "que debo hacer",
    "que hacemos",
    "llamenme",
    "me pueden llamar",
    "should i be worried",
    "what to do",
    "va con ustedes",
    "paciente suya",
    "paciente suyo",
    "para preocuparse",
    "no se que hacer",
    "se atiende con ustedes",
    "thought you should know",
    "the patient",
    "a quien llamo",
    "who do i call",
    *(
        f"soy su {who}"
        for who in ("vecina", "vecino", "amiga", "amigo", "hija", "hijo", "esposa", "esposo", "mama", "papa")
    ),
    "is this an emergency",
    "husband here",
    "wife here",
    "mom here",
    "dad here",
    "mother here",
    "father here",
    "partner here",
    "ayudenme",
    "ayudenos",
    *(
        f"soy {who} de"
        for who in (
            "el papa",
            "la mama",
            "la esposa",
            "el esposo",
            "el hermano",
            "la hermana",
            "el hijo",
            "la hija",
            "la novia",
            "el novio",
            "la abuela",
            "el abuelo",
            "la tia",
            "el tio",
            "la pareja",
        )
    ),
)

# English: a third person, a verb said of them now, and their reflexive.
_EN_PRONOUNS = {w: "i" for w in words("he she they")}
_EN_POSSESSIVE = {w: "my" for w in words("his their")}
_EN_REFLEXIVE = {w: "myself" for w in words("himself herself themselves themself")}
_EN_CONTRACTED = {"shed": ("i", "would"), "hed": ("i", "would"), "shes": ("i", "am"), "hes": ("i", "am")}
_EN_PRESENT = {
    words(said)[0]: words(now)[0]
    for said, now in (
        ("is", "am"),
        ("has", "have"),
        ("does", "do"),
        ("doesnt", "dont"),
        ("keeps", "keep"),
        ("says", "say"),
        ("wants", "want"),
        ("wishes", "wish"),
        ("thinks", "think"),
        ("talks", "talk"),
        ("cuts", "cut"),
        ("hurts", "hurt"),
        ("burns", "burn"),
        ("hits", "hit"),
        ("plans", "plan"),
        ("feels", "feel"),
        ("needs", "need"),
        ("hopes", "hope"),
        ("prays", "pray"),
        ("tells", "tell"),
        *((same, same) for same in ("will", "would", "can", "cant", "could", "might", "just", "still")),
    )
}

# Spanish: third-person present verbs said of the patient, their reflexive "se", and the
# enclitic of an infinitive ("matarse" -> "matarme"). Preterites ("se mató", folded "mato")
# are not in the list, so a death told of the past stays someone else's.
_ES_PRESENT = {
    "va": "voy",
    "quiere": "quiero",
    "piensa": "pienso",
    "siente": "siento",
    "dice": "digo",
    "tiene": "tengo",
    "esta": "estoy",
    "anda": "ando",
    "sigue": "sigo",
    "puede": "puedo",
    "aguanta": "aguanto",
    "desea": "deseo",
    "corta": "corto",
    "lastima": "lastimo",
    "quema": "quemo",
    "pega": "pego",
    "mata": "mato",
    "muere": "muero",
    "habla": "hablo",
    "necesita": "necesito",
    "ha": "he",
    "iba": "iba",
}
_ES_PRONOUNS = {"ella": "yo", "su": "mi", "sus": "mis"}  # not "el": it is also "the"
_ENCLITIC_ENDS = ("arse", "erse", "irse", "andose", "endose", "iendose")

_AFTER_OBJECT = frozenset(words("home now away already every tonight anymore and to from out off too soon"))
_PRESENT_CUES = frozenset(_EN_PRESENT) | frozenset(_ES_PRESENT) | frozenset(_EN_CONTRACTED)


# Someone introducing themselves: "soy la nieta de don Aurelio", "this is Dana's husband",
# "escribo por mi esposo".
_RELATIONS = frozenset(
    words(
        "husband wife mom dad mother father son daughter brother sister partner boyfriend girlfriend "
        "roommate grandson granddaughter neighbor friend aunt uncle niece nephew"
    )
)
_ON_BEHALF = _phrases("escribo por mi", "le escribo por", "writing for my", "texting for my", "on behalf of")


def about_a_patient(tokens: Sequence[Token]) -> bool:
    """The text says it is about one of the clinic's patients, or asks the clinic what to do."""
    said = [t.word for t in tokens]
    phrases = _ABOUT_A_PATIENT + _ON_BEHALF
    if any(tuple(said[i : i + len(p)]) == p for p in phrases for i in range(len(said))):
        return True
    return any(_introduces_self(said, i) for i in range(len(said)))


def _introduces_self(said: Sequence[str], i: int) -> bool:
    if said[i : i + 2] in (["soy", "el"], ["soy", "la"]) and i + 3 < len(said):
        return said[i + 3] == "de"
    return said[i : i + 2] == ["this", "is"] and any(w in _RELATIONS for w in said[i + 2 : i + 4])


def as_the_patient(tokens: Sequence[Token]) -> list[Token]:
    """The text with each present-tense clause about a third person put in the first person;
    other clauses unchanged."""
    tokens = _without_se_lo(tokens)
    present = {t.clause for t in tokens if t.word in _PRESENT_CUES} | {
        t.clause for t, nxt in itertools.pairwise(tokens) if t.word == "se" and _spanish_present(nxt.word)
    }
    out: list[Token] = []
    for pos, token in enumerate(tokens):
        if token.clause not in present:
            out.append(token)
            continue
        following = (
            tokens[pos + 1].word if pos + 1 < len(tokens) and tokens[pos + 1].clause == token.clause else ""
        )
        after_se = pos > 0 and tokens[pos - 1].word == "se"
        said = _first_person(token.word, following, _after_subject(out), after_se)
        out.extend(Token(w, token.clause) for w in said)
    return out


def _without_se_lo(tokens: Sequence[Token]) -> list[Token]:
    """ "que Dios se lo lleve" is "que Dios me lleve" once said by the patient."""
    out: list[Token] = []
    for t in tokens:
        if t.word in ("lo", "la") and out and out[-1].word == "se" and out[-1].clause == t.clause:
            out[-1] = Token("me", t.clause)
        else:
            out.append(t)
    return out


def _after_subject(done: Sequence[Token]) -> bool:
    return bool(done) and done[-1].word == "i"


def _spanish_present(word: str) -> bool:
    """A third-person present verb after "se": listed, or a regular one ending in -a/-e
    (a preterite, folded, ends in -o: "se mató" stays someone else's)."""
    return word in _ES_PRESENT or (len(word) > 3 and word.endswith(("a", "e")))


def _first_person(
    word: str, following: str, after_subject: bool, after_spanish_se: bool = False
) -> Iterable[str]:
    said = _english(word, following, after_subject) or _spanish(word, following, after_spanish_se)
    return said or (word,)


def _english(word: str, following: str, after_subject: bool) -> tuple[str, ...] | None:
    if word in _EN_CONTRACTED:
        return _EN_CONTRACTED[word]
    if word in ("her", "him", "them"):  # "take her" -> "take me", "her arms" -> "my arms"
        is_object = word != "her" or not following or following in _AFTER_OBJECT
        return ("me",) if is_object else ("my",)
    if after_subject and word in _EN_PRESENT:
        return (_EN_PRESENT[word],)
    for table in (_EN_PRONOUNS, _EN_POSSESSIVE, _EN_REFLEXIVE):
        if word in table:
            return (table[word],)
    return None


def _spanish(word: str, following: str, after_se: bool) -> tuple[str, ...] | None:
    if word == "se" and _spanish_present(following):
        return ("me",)
    if after_se and word not in _ES_PRESENT and _spanish_present(word):
        return (word[:-1] + "o",)  # "se corta" -> "me corto", "se rasguña" -> "me rasguño"
    for table in (_ES_PRESENT, _ES_PRONOUNS):
        if word in table:
            return (table[word],)
    if len(word) > 5 and word.endswith(_ENCLITIC_ENDS):
        return (word[:-2] + "me",)  # "quiere matarse" -> "quiero matarme"
    return None
