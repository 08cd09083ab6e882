"""What surrounds a match: a denial before it, someone else as its subject, a "but" after it,
or a time long past. Pure; word lists in English and Spanish, compared as normalised words.

These only ever turn an alert into a `negated` finding for staff, or drop a match about
someone else. When unsure they leave the alert standing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from worker.language.normalise import Token, words


def _set(text: str) -> frozenset[str]:
    return frozenset(w for word in text.split() for w in words(word))


def _with_plurals(text: str) -> frozenset[str]:
    base = _set(text)
    return base | {w + "s" for w in base} | {w + "es" for w in base}


# A denial: "not suicidal", "no thoughts of hurting myself", "nunca he pensado en matarme".
NEGATIONS = _set("not no never nor without none zero 0 deny denies nunca jamas ni sin tampoco ningun ninguna")
# Words right after a denial that undo it: "can't stop thinking about", "no longer want",
# "no dejo de pensar en", "no puedo más".
# Someone else not knowing is no denial: "mi esposo no sabe que pienso en matarme".
UNDO_NEGATION = _set(
    "stop help quit longer sure know knows knew think dejo dejar puedo paro aguanto sabe saben sabia "
    "funciona funcionan sirve sirven work works worked working answer answers answered contesta contestan"
)
# ... unless "think" is "think about/of" ("I don't think about suicide" is a denial).
_THINK_ABOUT = _set("about of")
_NO_POINT = _set("para pa")
# Between a denial and the match they end its reach: a new subject, a conjunction, an
# intensifier ("never felt so suicidal"), a turn to something else ("not suicidal, just
# wish I wasn't here": the denial was of the first thing only).
ENDS_NEGATION = _set(
    "i yo and but so because though although however y pero porque aunque entonces so this as more tan mas "
    "tanto tantas much just only solo nomas para pa duermo dormi como comi salgo sali"
)
NEGATION_REACH = 5

# Spanish says "I" with the verb: "bro ando bien suicida" is the writer's own.
FIRST_PERSON = _set(
    "i me my myself mine im yo mi mis conmigo estoy ando tengo soy siento quiero voy pienso necesito"
)
THIRD_PERSON = _set(
    "he she they him her his their them someone somebody people has ella ellos ellas alguien su sus gente"
)
PEOPLE = _with_plurals(
    "mom mother mum mama dad father papa brother sister bro sis friend bestie bff cousin aunt "
    "uncle grandma grandpa grandmother grandfather nana son daughter kid child children wife "
    "husband boyfriend girlfriend bf gf roommate coworker neighbor classmate patient client "
    "niece nephew stepdad stepmom madre padre hermano hermana amigo amiga primo prima tio tia "
    "abuelo abuela hijo hija esposo esposa marido novio novia vecino vecina companero companera "
    "sobrino sobrina cunado cunada suegro suegra jefe jefa"
)
THIRD_PARTY_REACH = 4
# Spanish "he"/"has" before a participle is "I have"/"you have" ("he pensado en
# ahorcarme"), not the English "he".
_AUXILIARY = _set("he has")
_PARTICIPLE = ("ado", "ido", "ada", "ida", "cho", "sto", "to")

# A denial followed by one of these still alerts: "I'm not suicidal but ...".
BUT = _set("but though however although except yet pero aunque sino embargo")


def _before(tokens: Sequence[Token], start: int, reach: int) -> Iterable[int]:
    """Positions before `start` in the same clause, nearest first, at most `reach`."""
    if start >= len(tokens):
        return
    clause = tokens[start].clause
    for pos in range(start - 1, max(start - reach, 0) - 1, -1):
        if tokens[pos].clause != clause:
            return
        yield pos


# After the match, a comparison turns "never" into "more than ever": "never thought about
# killing myself as much as now", "nunca había pensado tanto en matarme como ahora".
_COMPARISONS = (
    ("as", "much", "as"),
    ("as", "often", "as"),
    ("than", "ever"),
    ("like", "now"),
    ("like", "this"),
    ("tanto", "como"),
    ("como", "ahora"),
    ("como", "nunca"),
    ("que", "nunca"),
)
COMPARISON_REACH = 6


def compared_after(tokens: Sequence[Token], end: int) -> bool:
    """A comparison with now follows the match in its clause."""
    if end == 0 or end > len(tokens):
        return False
    clause = tokens[end - 1].clause
    following = [t.word for t in tokens[end : end + COMPARISON_REACH] if t.clause == clause]
    return any(
        tuple(following[i : i + len(seq)]) == seq for seq in _COMPARISONS for i in range(len(following))
    )


def denied(tokens: Sequence[Token], start: int, end: int | None = None) -> bool:
    """A denial shortly before the match, in its clause, not undone on the way nor by a
    comparison after it."""
    if end is not None and compared_after(tokens, end):
        return False
    if start < len(tokens) and tokens[start].word in _SPANISH_FIRST_PERSON_VERBS:
        return _verb_denied(tokens, start, start)
    for pos in _before(tokens, start, NEGATION_REACH):
        word = tokens[pos].word
        if word in NEGATIONS or _nada_de(tokens, pos):
            return not _undone(tokens, pos, start) and not _double_negative(tokens, pos)
        if word in _SPANISH_FIRST_PERSON_VERBS:
            return _verb_denied(tokens, pos, start)
        if word in ENDS_NEGATION or word == "nada":  # "no me importa nada" closes its denial
            return False
    return False


# A Spanish verb said in the first person starts what the writer says now; a denial before
# it reaches the match only through it: "no pienso en matarme" denies, "me quedé sin chamba,
# pienso en matarme" does not.
_SPANISH_FIRST_PERSON_VERBS = _set("pienso tengo quiero deseo voy siento necesito estoy ando soy")
_CLITICS = _set("me te se lo la le")


def _verb_denied(tokens: Sequence[Token], verb: int, start: int) -> bool:
    pos = verb - 1
    while pos >= 0 and tokens[pos].word in _CLITICS and tokens[pos].clause == tokens[verb].clause:
        pos -= 1
    if pos < 0 or tokens[pos].clause != tokens[verb].clause:
        return False
    if tokens[pos].word in NEGATIONS:
        return not _undone(tokens, pos, start)
    return False


def _double_negative(tokens: Sequence[Token], pos: int) -> bool:
    # "no pasa un día sin que piense en suicidarme": "sin" after a denial says every day.
    return tokens[pos].word == "sin" and any(tokens[p].word in NEGATIONS for p in _before(tokens, pos, 5))


def _nada_de(tokens: Sequence[Token], pos: int) -> bool:
    # "nada de pensamientos de hacerme daño" denies; a bare "nada" ("no me importa nada,
    # quiero morir") does not.
    return tokens[pos].word == "nada" and pos + 1 < len(tokens) and tokens[pos + 1].word == "de"


# "hard not to think about ending it": the denial is what the writer cannot manage.
_CANNOT_MANAGE = _set("hard difficult impossible dificil imposible")


def _undone(tokens: Sequence[Token], cue: int, start: int) -> bool:
    if cue > 0 and tokens[cue - 1].word in _CANNOT_MANAGE:
        return True
    nxt = cue + 1
    if nxt < start and tokens[nxt].word in _CLITICS:  # "si no me funciona": the verb undoes it
        nxt += 1
    after = tokens[nxt].word if nxt < start else ""
    then = tokens[nxt + 1].word if nxt + 1 < start else ""
    if tokens[cue].word == "ni" and tokens[cue + 1].word in _NO_POINT:
        return True  # "ni pa qué seguir viviendo" says there is no point; it denies nothing
    return after in UNDO_NEGATION and not (after == "think" and then in _THINK_ABOUT)


def about_someone_else(tokens: Sequence[Token], start: int, end: int) -> bool:
    """The match is said of another person: "she wants to die", "my brother has been cutting",
    "mi tío se suicidó". A match holding a first-person word ("better off without me") is
    always the writer's own."""
    if any(t.word in FIRST_PERSON for t in tokens[start:end]):
        return False
    if start > 0 and tokens[start - 1].word == "se" and tokens[start - 1].clause == tokens[start].clause:
        return True  # Spanish third-person reflexive: "se mató", "se suicidó"
    for pos in _before(tokens, start, THIRD_PARTY_REACH):
        word = tokens[pos].word
        if word in FIRST_PERSON or _spanish_perfect(tokens, pos):
            return False
        if word in THIRD_PERSON or word in PEOPLE:
            return True
    return False


def _spanish_perfect(tokens: Sequence[Token], pos: int) -> bool:
    following = tokens[pos + 1].word if pos + 1 < len(tokens) else ""
    return tokens[pos].word in _AUXILIARY and following.endswith(_PARTICIPLE)


# A form-like line answered "no": "Thoughts of hurting myself: no, never", "Pensamientos
# de lastimarme: no, ninguno", "better off dead: not at all. The rest several days". Only
# when the clause right after the match is nothing but the answer, and the writer is not
# the subject before the match ("I want to die. No" still alerts).
ANSWER_NO = _set(
    "no never none nope nah nunca ninguno ninguna ningun dia nada jamas zero cero 0 not at all para"
)


# Said with an answer, not an answer themselves: "obvio no", "of course not", "lol no".
_EMPHASIS = _set(
    "obvio obviamente obviously claro definitely absolutely of course por supuesto jaja lol haha"
)


def answered_no(tokens: Sequence[Token], start: int, end: int) -> bool:
    rest = tokens[end:]
    if not rest or rest[0].clause == tokens[end - 1].clause:
        return False
    # The answer is the clause right after the label; other items may follow it.
    answer = [t for t in rest if t.clause == rest[0].clause and t.word not in _EMPHASIS]
    if not answer or not all(t.word in ANSWER_NO for t in answer):
        return False
    return not any(tokens[pos].word in FIRST_PERSON for pos in _before(tokens, start, start + 1))


# Between a questionnaire label and its answer: "hurting myself question was 0", "la de
# hacerme daño en 0", "en la del suicidio puse cero".
# Only a score of zero or the lowest option, whole: "a nada", "never" or "nunca jamás" after
# a match are part of what the patient says, not an answer ("no haber nacido nunca").
_ZERO_ANSWERS = {
    tuple(words(a))
    for a in (
        "0",
        "cero",
        "zero",
        "none",
        "para nada",
        "not at all",
        "ningun dia",
        "ninguna",
        "ninguno",
    )
}
# Said first, these answer the label whatever follows ("didn't apply at all this week").
_ZERO_OPENINGS = tuple(
    tuple(words(a))
    for a in ("not at all", "did not apply", "does not apply", "no aplica", "no aplico", "para nada")
)
_LABEL_FILLER = _set(
    "question pregunta item one was is es fue en puse put a the la el answer respuesta score"
)


def zero_after(tokens: Sequence[Token], end: int) -> bool:
    """The match is a label whose own clause then gives the lowest answer."""
    if end == 0 or end >= len(tokens):
        return False
    clause = tokens[end - 1].clause
    rest = [t.word for t in tokens[end:] if t.clause == clause]
    while rest and rest[0] in _LABEL_FILLER:
        rest.pop(0)
    return tuple(rest) in _ZERO_ANSWERS or any(tuple(rest[: len(a)]) == a for a in _ZERO_OPENINGS)


def but_after(tokens: Sequence[Token], end: int) -> bool:
    return any(t.word in BUT for t in tokens[end:])


# Said to be deliberate, an injury is no accident whatever idiom it sits in: "me corté con
# las tijeras de podar a propósito", "deliberately burned my hand on the stove".
_ON_PURPOSE = (("a", "proposito"), ("on", "purpose"), ("deliberately",), ("queriendo",), ("adrede",))


def on_purpose(tokens: Sequence[Token], start: int, end: int) -> bool:
    """The match's clause says the act was deliberate."""
    clause = tokens[start].clause
    said = [t.word for t in tokens if t.clause == clause]
    return any(tuple(said[i : i + len(p)]) == p for p in _ON_PURPOSE for i in range(len(said)))


# A question put to the patient and answered no: "the doctor asked if I've had thoughts of
# death or hurting myself. Answer is no", "me preguntó si he pensado en hacerme daño ... la
# respuesta es no". The question's words are not the patient's; a "but" after the answer
# still alerts (screening's verdict), and without an explicit "no" the match stands.
_ASKED = _set("asked asking asks ask pregunto preguntaron pregunta preguntan preguntando")
_IF = _set("if whether si about sobre")
_ANSWERED_NO = tuple(
    tuple(words(a))
    for a in (
        "answer is no",
        "answer was no",
        "i said no",
        "respuesta es no",
        "respuesta fue no",
        "dije que no",
        "conteste que no",
        "respondi que no",
    )
)
QUESTION_REACH = 12


def asked_and_answered_no(tokens: Sequence[Token], start: int, end: int) -> bool:
    """The match sits in a reported question ("asked if ...") that the text answers no."""
    asked = any(
        tokens[pos].word in _IF and any(tokens[p].word in _ASKED for p in range(max(pos - 3, 0), pos))
        for pos in _before(tokens, start, QUESTION_REACH)
    )
    if not asked:
        return False
    after = [t.word for t in tokens[end:]]
    said_no = any(tuple(after[i : i + len(a)]) == a for a in _ANSWERED_NO for i in range(len(after)))
    return said_no or _next_clause_says_no(tokens, end)


def _next_clause_says_no(tokens: Sequence[Token], end: int) -> bool:
    """A later clause is nothing but "no" ("..., no, never.", "... dead. no!", "... none now. 0")."""
    rest = [t for t in tokens[end:] if t.clause != tokens[end - 1].clause]
    clauses: dict[int, list[str]] = {}
    for t in rest:
        if t.word not in _EMPHASIS:
            clauses.setdefault(t.clause, []).append(t.word)
    return any(said and all(w in ANSWER_NO for w in said) for said in clauses.values())


def core_start(tokens: Sequence[Token], start: int, end: int) -> int:
    """Where a match that runs over a clause end begins its last clause, when the writer
    speaks there in the first person: a denial before the match belongs to the first
    clause's words ("no quiero que me salven esta vez. lo voy a hacer"), not to what the
    writer goes on to say. Without a first person ("not at all on the last one. several
    days on the sleep one") the denial still answers the whole match."""
    last = tokens[end - 1].clause
    core = next(pos for pos in range(start, end) if tokens[pos].clause == last)
    return core if any(t.word in FIRST_PERSON for t in tokens[core:end]) else start
