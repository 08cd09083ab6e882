"""What a reply to an appointment reminder means, in the patient's own words. Pure.

Reminder vendors name "invalid response" as the failure to avoid: "Yep see u then", "👍",
"can't make it", "can we move it to thursday?" must not fall through to a list nobody reads.
`read` gives the intent (`confirm`, `reschedule`, `question` or `unclear`), the rule that
decided, and for a reschedule request the day or time it names ("thursday"), kept for staff.

Order matters, and errs towards a person:
1. A request to move or cancel the visit wins over a yes ("yes but can we do friday").
2. A question that is not a reschedule goes to staff ("do I need to fast?").
3. A yes, an emoji or "see you then" confirms, unless it is also negated or asks something.
4. Anything else is unclear: the caller asks once, then puts it in front of a person.

Opt-outs, HELP and START are read before this (worker.language.opt_out, keywords), and
crisis screening runs on every text regardless.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CONFIRM, RESCHEDULE, QUESTION, UNCLEAR = "confirm", "reschedule", "question", "unclear"
LATE, COURTESY = "late", "courtesy"  # rules of two unclear readings the worker treats apart


@dataclass(frozen=True)
class Intent:
    intent: str
    rule: str
    when: str | None = None  # the day or time a reschedule request names, as written


def plain(text: str) -> str:
    """Lower case, accents folded, emoji kept as words (:thumbs_up:), single spaces."""
    text = text.lower().replace("\u2019", "'")
    for emoji, word in _EMOJI.items():
        text = text.replace(emoji, f" {word} ")
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).replace("'", "")
    return " ".join(re.findall(r"[a-z0-9:?]+", folded.replace("?", " ? ")))


_EMOJI = {
    "👍": "thumbsup", "👌": "okhand", "✅": "checkmark", "✔": "checkmark", "☑": "checkmark",
    "🙂": "smile", "😊": "smile", "😀": "smile", "😁": "smile", "🙏": "thanks", "💯": "hundred",
    "🤙": "thumbsup", "👎": "thumbsdown", "❌": "crossmark", "🚫": "crossmark",
}  # fmt: skip

_DAYS = (
    r"mon(day)?|tues?(day)?|wed(nesday)?|thu(rs)?(day)?|fri(day)?|sat(urday)?|sun(day)?|"
    r"lunes|martes|miercoles|jueves|viernes|sabado|domingo"
)
_RESCHEDULE = {
    "en.reschedule.word": r"\b(re ?s?c?h?ed(u|ua)l|resched|rescedule|reschdule|reeschedule|rebook)\w*",
    "en.reschedule.cancel_visit": (
        rf"\bcancel(l?ed|l?ing)? ((my|the|this|that|our|tomorrows?|todays?|for|on) )?"
        rf"(appt|appointment|apt|visit|session|infusion|treatment|{_DAYS})\b"
        r"|\bcancel (it|for|on)\b|\bneed to cancel\b|\bhave to cancel\b|\bgotta cancel\b"
    ),
    "en.reschedule.new_slot": (
        r"(?<!every )\b(new|another|different|diff|other|later|earlier) (appointment|appt|time|day|date"
        r"|slot|one)\b"
        r"|\b(any|have|got) (openings?|availability|slots?|spots?|times? available)\b"
        r"|\b(is |are )?(anything|any time|something) (open|available|free)\b"
        r"|\banything (after|before|earlier|later|on|in the)\b|\bmissed my (appt|appointment|visit|session)\b"
        r"|\b(\w+ )?works? better\b|\b(later|earlier) (in|this|next) (the )?(week|day|month)\b"
    ),
    "en.reschedule.cant_make_it": (
        r"\b(cant|cannot|can not|wont|will not|wont be able to|not gonna|not going to|unable to|"
        r"couldnt|not able to|dont think i can|dont think ill|no way i can|cant be|have to bail|"
        r"gotta bail)"
        r" ?(make|come|go|be there|attend|do|get there|get in|it|make it)\b"
        r"|^(im |i am |we are |were )?not (coming|coming in|going to come|gonna come|able to come)\b"
    ),
    "en.reschedule.move": (
        r"\b(move|change|push|switch|bump|shift) (it|my|me|his|her|our|their|the|this|that|appt|appointment|"
        r"to|back|up)\b"
        r"|\b(another|different|other|new|later|earlier) (day|date|time|slot)\b"
        r"|\b(something|anything) (later|earlier|else)\b|\bpush it\b|\bpostpone\w*"
    ),
    "en.reschedule.instead": (
        r"\b(instead|come in (on|at) \w+ instead)\b|\b(have to|gotta|gonna have to|got to|need to) bail\b"
        r"|\bnext (avail|available|opening|open)\b"
    ),
    "es.reschedule.word": (
        r"\b(reprogram|reagend|pospon|aplaz)\w*"
        r"|(?<!no )\b(mover|mueven|muevan|mueva|cambiar|cambian|cambien|cambie|"
        r"pasar|pasan|pasen|correr|recorrer|cancelen) (la |mi |esa |esta |lo |el |mi proxima |la proxima )?"
        r"(cita|sesion|infusion|turno|dia|hora|fecha)\b"
        r"|\b(cambiala|cambiarla|cambienla|moverla|muevanla|pasarla|pasala|cambiarme|reponerla)\b"
        r"|\bcambio de (cita|dia|hora|fecha)\b"
    ),
    "es.reschedule.cancel_visit": (
        r"(?<!no )\b(cancelar|cancelo|cancela|cancelamos|cancele) (la |mi |esa |esta |el |lo )?"
        r"(cita|sesion|infusion|turno|consulta)\b|\b(quiero|necesito|tengo que) cancelar\b"
        r"|(?<!no )\bcancel(a|en|ar) (la|el) (del|de la|de el) \w+"
        rf"|(?<!no )\bcancel(o|ar|a|en) (el |la )?({_DAYS})\b"
    ),
    "es.reschedule.new_slot": (
        r"\b(otra|nueva) cita\b|\b(hay|tienen|tiene) (espacio|algo|lugar|disponible|citas?|horario)\b"
        r"|\ben (lugar|vez) de\b|\bquisiera (una )?cita\b|\bsacar otra\b"
        r"|\b(se me olvido|perdi|falte a) (mi|la) cita\b|\bmejor (el|la|a las|para el|en la) "
        r"|\bse puede (despues|antes|mas tarde|mas temprano|el|para el|a las)\b"
        r"|\bme la (cambian|pasan|mueven|recorren|cambias|pasas)\b"
        r"|\b(la|lo|me la) (pueden|puede|podrian|podemos|podriamos) (pasar|cambiar|mover|adelantar|atrasar|"
        r"recorrer)\b|\b(puede|podria|se podria|podra) ser (el|la|a las|para|mas|otro|otra)\b"
        r"|\bse podria (el|la|a las|para|mas)\b|\b(adelantar|atrasar)(la|lo)?\b"
    ),
    "es.reschedule.no_puedo": (
        r"\bno (voy a poder|podre|alcanzo|llego|creo que pueda|voy a ir|voy a llegar|me va a dar tiempo|"
        r"vamos a poder|se va a poder)\b|\bno (puedo|podemos)(?! (parar|dejar|dormir|concentrar|respirar|mas|"
        r"con|controlar|estar|pensar|comer|quedar|relajar|creer|sacar|quitar|evitar|olvidar))\b"
    ),
    "es.reschedule.otro_dia": r"\b(otro|otra) (dia|hora|fecha|horario)\b|\bmas (tarde|temprano)\b",
}
_QUESTION = {
    "en.question.wh": (
        r"^(what|whats|when|whens|where|wheres|who|whos|how|why|which|is it|is there|do i|do you|do u|can u|"
        r"can my|could my|may i|can (he|she|they|someone|somebody)|"
        r"does|can i|could i|should i|am i|will i|will it|will there|are you|are there|is this|"
        r"can someone|can you|how long|how much)\b"
    ),
    "es.question.wh": (
        r"^(que|cuando|donde|quien|como|cuanto|cuanta|cuantos|cuantas|cual|por que|puedo|tengo que|debo|"
        r"hay que|es|necesito|se puede|me pueden|pueden|usted)\b.*\?|^(que|cuando|donde|quien|"
        r"cuanto|cuantas|cuantos|cual|por que|a que hora|puedo|tengo que|debo|hay que|necesito)\b"
        r"|\b(is|es) (that|it|this|eso|esto) (ok|okay|normal|safe|bad|malo|peligroso|seguro)\b"
        r"|\b(wants? to know|wondering|would like to know|quisiera saber|quiere saber|pregunta si"
        r"|preguntaba si)\b"
        r"|^(is|are|will|would|should|does|did|was) (the|it|there|this|that|my|your|she|he|they|we|i)\b"
    ),
}
_QUESTION["en.question.mark"] = r"\?"  # last: a wh-word names the rule when there is one
_CONFIRM = {
    "en.confirm.yes": (
        r"^(y|ys|ya|yes+|yessir|yessur|bet|okie|okie dokie|okey dokey|fosho|for sure|yess+|yea|yeah|yep+"
        r"|yup|yus|ye|yas|sure|ok+|okay|okey|k+|kk|o k|alright|"
        r"all right|aight|absolutely|definitely|of course|certainly|c|confirm\w*|confrim\w*|confim\w*|"
        r"comfirm\w*|conf|cofirm\w*|confirmed|correct|affirmative|roger|will do|sounds good|"
        r"perfect|great|good|cool|got it|works|that works|thumbsup|okhand|checkmark|smile|hundred)\b"
    ),
    "en.confirm.there": (
        r"\b(ill|i will|i ll|i shall|will|gonna|going to|i am going to|im going to|planning to|plan to)"
        r" ?(be|b) (there|thete|ther|thr|theyre|their|in|here|on time|ready)\b"
        r"|\b(shell|she will|hell|he will|theyll|they will|she is going to|he is going to) be there\b|\b(i"
        r"|we) (confirm|am confirming"
        r"|are confirming|"
        r"would like to confirm|want to confirm)\b"
        rf"|\b(see|sea|c) (you|u|ya|yall) (then|there|soon|tomorrow|tmrw|tmr|{_DAYS}|at|on|next)\b"
        r"|^(cya|cu|see ya|laters)\b"
        r"|\bsee (you|u|ya)$"
        r"|\b(works|works for me|that works|works fine)\b"
        r"|\b(count me in|i can make it|i can come|i can be there|ill make it|i will make it|"
        r"will attend|ill attend|be there|still on|still coming|coming|on my way|i'll come|ill come)\b"
    ),
    "es.confirm.si": (
        r"^(si+|sii+|sip|simon|claro|ok+|okay|oki|okis|va|vale|sale|dale|listo|lista|perfecto|de acuerdo|"
        r"orale|vaya pues|va pues|sale pues|ahi nos vemos|"
        r"confirm\w*|confimo|conrirmo|cofirmo|correcto|bueno|esta bien|ta bien|bien|muy bien|me parece bien|"
        r"por supuesto|seguro|c)\b"
    ),
    "es.confirm.alli": (
        r"\b(ahi|alli|aya|alla|ai|ay|alli mismo) (estare|estaremos|nos vemos|voy|llego|estaremos)\b"
        r"|\bnos vemos\b"
        r"|\b(el|ella) si va\b"
        r"|\b(voy a ir|si voy|ire|asistire|si asisto|ahi estoy|cuenten conmigo|ahi me tienen|no falto"
        r"|confirmo|"
        r"(si )?(va|vamos|van) a (ir|estar)|"
        r"no faltare|"
        r"si puedo|llego)\b"
    ),
}
_NEGATED = re.compile(r"\b(not|no|dont|cant|wont|never|nope|nah|unable|cannot|unless|except|nunca|tampoco)\b")
_BUT = re.compile(r"\b(?:but|pero)\b")
_NO_PROBLEM = re.compile(
    r"\b(dont cancel( me| it| my \w+)?|no cancelen( mi cita)?|no stopping me|no falto|no faltare|como no|"
    r"not the wrong number|no es (el )?numero equivocado|"
    r"no se preocupen?|dont worry|no problem|no prob|no worries|no doubt|"
    r"not a problem|cant wait|can not wait|no hay problema|sin problema|sin falta)\b"
)

_DAY = (
    r"mon(day)?|tue(s|sday)?|wed(nesday)?|thu(rs|rsday)?|thursday|fri(day)?|sat(urday)?|sun(day)?|"
    r"tomorrow|tmrw|tmr|today|tonight|weekend|next week|this week|"
    r"lunes|martes|miercoles|jueves|viernes|sabado|domingo|manana|hoy|pasado manana|"
    r"la (proxima|otra|siguiente) semana|(el )?fin de semana|esta semana"
)
_TIME = (
    r"(at |a las |a la )?\d{1,2}(:\d{2})? ?(am|pm|a m|p m)?|noon|midday|"
    r"(in the |en la |por la )?(morning|afternoon|evening|tarde|noche|mediodia)|"
    r"\d{1,2}/\d{1,2}|(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w* \d{1,2}"
)
_LATE = re.compile(
    r"\b(running|gonna be|going to be|will be|ill be|a bit|bit|little|be)( \d+ ?(min|mins|minutes))? late\b"
    r"|\b\d+ ?(min|mins|minutes) late\b|\b(stuck in|in) traffic\b"
    r"|\b(voy|vamos|llego|llegare|ando|voy a llegar) (un poco |bien )?tarde\b|\bllego en \d+"
)
_COURTESY_ONLY = re.compile(
    r"^(thanks|thank you|thank u|thx|ty|tysm|thanks so much|thank you so much|gracias|"
    r"muchas gracias|mil gracias|thanks again|thank you again|thanks a lot|great thanks|"
    r"smile|thanks smile|gracias smile)( so much| a lot| again| smile)?$"
)
_TAPBACK = re.compile(
    r"^\s*(liked|loved|emphasized|laughed at|disliked|questioned|le gusto|le encanto"
    r"|no le gusto)\s+[\u201c\"]",
    re.IGNORECASE,
)
_LETTER = re.compile(
    r"^\s*([rc])\1?\s*([,.\-:!]|$|\s+(pls|please|plz|porfa|por favor|x favor|xfa|plis)\b)", re.IGNORECASE
)
# "can we do next week", "can u do mon": a new slot asked for, with or without a mark.
_CAN_WE_DO = re.compile(r"\b(can|could|cn) (we|i|u|you) (do|make it|come|come in|switch|move|go|get in)\b")
_OTHER_SLOT = re.compile(
    r"\b(come|make it|switch|move|instead|available|anything|something|pasar|ir|venir|cambiar|mover|mejor|"
    r"se puede|disponible|espacio|lugar)\b"
)
_WHEN = re.compile(rf"\b(({_DAY})|({_TIME}))\b")
_COMPILED = [
    (rule, re.compile(pattern))
    for table in (_RESCHEDULE, _QUESTION, _CONFIRM)
    for rule, pattern in table.items()
]


def read(text: str) -> Intent:
    """The intent of a reply to a reminder (or a text about the visit out of the blue)."""
    said = plain(text)
    if not said:
        return Intent(UNCLEAR, "empty")
    moved = _reschedule_rule(text, said)
    if moved is not None:  # before "late": "running late, can we move it to 4?" is a reschedule
        return Intent(RESCHEDULE, moved, when_of(said))
    if _LATE.search(said):
        return Intent(UNCLEAR, LATE)  # "running late, be there 2:15": the front desk wants to know
    if _LETTER.match(text):  # "C!", "c."
        return Intent(CONFIRM, "letter")
    return _asked_or_said(said)


def _asked_or_said(said: str) -> Intent:
    """After the reschedule rules: a slot asked for, a question, thanks, a confirmation."""
    asks = _question_rule(said)
    when = when_of(said)
    if when and ((asks is not None and _OTHER_SLOT.search(said)) or _CAN_WE_DO.search(said)):
        return Intent(RESCHEDULE, "other_slot", when)  # "can I come sat?", "can we do next week"
    if asks is not None:
        return Intent(QUESTION, asks)
    if _COURTESY_ONLY.match(said):
        return Intent(UNCLEAR, COURTESY)  # "thanks", "gracias": nothing to do, nothing to ask
    confirm = _confirm_rule(said)
    return Intent(CONFIRM, confirm) if confirm is not None else Intent(UNCLEAR, "none")


def tapback(text: str) -> Intent | None:
    """An iPhone reaction quotes our whole text ('Liked “…Reply STOP to opt out…”'): only the
    reaction counts, never the words quoted. A like confirms; anything else is unclear."""
    found = _TAPBACK.match(_fold(text))
    if found is None:
        return None
    liked = found.group(1) in ("liked", "loved", "le gusto", "le encanto")
    return Intent(CONFIRM, "tapback") if liked else Intent(UNCLEAR, "tapback")


def _reschedule_rule(text: str, said: str) -> str | None:
    letter = _LETTER.match(text)
    if letter is not None and letter.group(1).lower() == "r":
        return "letter"  # "R, I'm out of town til the 15th"
    for rule, pattern in _COMPILED:
        if rule.split(".")[1] == "reschedule" and pattern.search(said):
            return rule
    return None


def _question_rule(said: str) -> str | None:
    for rule, pattern in _COMPILED:
        if rule.split(".")[1] == "question" and pattern.search(said):
            # "ok see you then?" and "confirmed?" still confirm: a lone trailing mark
            # after a confirmation is not a question for staff.
            if rule == "en.question.mark" and _confirm_rule(said.replace("?", "")) is not None:
                continue
            return rule
    return None


def _confirm_rule(said: str) -> str | None:
    """A confirmation, unless a negation goes with it: "ok not sure" is for a person; "yes but
    I have to leave by 3:30" and "cant stop yawning lol but yes see u thursday" confirm."""
    cleared = _NO_PROBLEM.sub(" ", said)
    parts = _BUT.split(cleared)
    for rule, pattern in _COMPILED:
        if rule.split(".")[1] != "confirm" or not pattern.search(said):
            continue
        if pattern.search(parts[-1].strip()) and not _NEGATED.search(parts[-1]):
            return rule  # the last word is the confirmation
        return None if any(_NEGATED.search(part) for part in parts) else rule
    return None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def when_of(said: str) -> str | None:
    """The day and time words of a reschedule request, in order ("thursday 3pm")."""
    found = [m.group(0).strip() for m in _WHEN.finditer(said)]
    found = [f for f in found if not f.isdigit() or len(found) > 1]
    return " ".join(found) or None
