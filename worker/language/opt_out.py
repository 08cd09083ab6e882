"""A wish to stop the texts said in the patient's own words. Pure.

The FCC's 2024 revocation rule (in force since April 2025) asks for an opt-out made by any
reasonable means to be honoured, not only the keywords: "please stop", "no more texts",
"take me off your list", "No me manden más mensajes", "pare por favor". A missed one keeps
texting a patient who said no. So the rules below err towards the opt-out, with two
guards: a stop word must be the point of a short text ("Stop please", not "I can't stop
crying"), and a phrase must name the texts or the contact ("stop texting me", not "I want
it all to stop").

`read` gives the rule that matched, or None; `wrong_number` says whether the text also says
the phone is not the patient's.
"""

from __future__ import annotations

import re
import unicodedata


def _words(text: str) -> list[str]:
    return _plain(text).split()


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).replace("'", "")
    return " ".join(re.findall(r"[a-z0-9#]+", folded))


# A keyword of the family counts anywhere in a short text whose other words are only these.
_STOP_WORDS = frozenset(
    _words("stop stopall unsubscribe end quit revoke optout alto pare parar paren baja detener basta")
)
_FILLER = frozenset(
    _words(
        "please pls plz plis now thanks thank thx you ty texting texts text messages message msgs sms "
        "it me this these them all ok okay just the wrong number no more already right away asap "
        "por favor ya gracias mensajes mensaje textos de numero equivocado ahora mismo"
    )
)
_SPANISH_STOPS = frozenset(_words("alto pare parar paren basta baja detener"))
_SHORT_WORDS = 7

_PHRASES = {
    "en.opt_out.no_more_texts": (
        r"\bno more (texts?|messages?|text messages|msgs|sms|reminders|notifications)\b"
    ),
    "en.opt_out.do_not_contact": (
        r"\b(do not|dont|never|please dont|stop) (text|txt|message|contact|sms|call) "
        r"(me|this number|my (phone|number))\b"
    ),
    "en.opt_out.stop_texting": (
        r"\bstop (texting|txting|messaging|sending( me)?( these| the)? (texts|messages)|contacting|"
        r"the (texts|messages)|these (texts|messages)|sending me)\b"
    ),
    "en.opt_out.off_the_list": (
        r"\b(take|remove|delete|unsubscribe) (me|my number|this number)( off| from)?\b"
    ),
    "en.opt_out.opt_out": r"\b(opt ?out|unsubscribe|unenroll)\b",
    "en.opt_out.dont_want_texts": (
        r"\b(dont|do not|no longer) want (to (get|receive) )?(any )?(more )?(these )?"
        r"(texts|messages|reminders)\b"
    ),
    "es.opt_out.no_me_manden": (
        r"\bno me (manden|envien|escriban|mande|envie|escriba|mandes|envies|escribas|contacten|llamen)"
        r"( mas)?( (mensajes|textos|nada|sms))?\b"
    ),
    "es.opt_out.ya_no_quiero": (
        r"\b(ya )?no quiero (recibir |que me (manden|envien) )?(mas )?(mensajes|textos|sms)\b"
    ),
    "es.opt_out.dejen_de": r"\bdejen de (mandar|enviar|escribir|mandarme|enviarme|escribirme|contactarme)\b",
    "es.opt_out.de_baja": r"\b(darme|dame|denme|me doy) de baja\b",
    "es.opt_out.de_la_lista": r"\b(saquenme|quitenme|borrenme|eliminenme) de (la|su|esta) lista\b",
    "es.opt_out.no_mas_mensajes": r"\bno mas (mensajes|textos|sms|recordatorios)\b",
}
_COMPILED = {rule: re.compile(pattern) for rule, pattern in _PHRASES.items()}
_WRONG_NUMBER = re.compile(
    r"\b(wrong (number|person|#)|not (the right|this) person|numero equivocado|"
    r"se equivocaron de (numero|persona)|equivocado de numero)\b"
)
# Not a request to stop the texts: "can't stop", "no puedo parar", "end it". ("cancel" alone
# is a keyword already; "cancel it" after a reminder is about the appointment.)
_NOT_A_REQUEST = re.compile(
    r"\b((cant|cannot|can not|wont|dont|couldnt|puedo|pude) (stop|quit|end|parar|detener)"
    r"|end (it|things|my))\b"
)


def read(text: str) -> str | None:
    """The rule that reads the text as a request to stop the texts, or None."""
    plain = _plain(text)
    for rule, pattern in _COMPILED.items():
        if pattern.search(plain):
            return rule
    said = plain.split()
    if _WRONG_NUMBER.search(plain):
        return "en.opt_out.wrong_number" if "wrong" in said else "es.opt_out.numero_equivocado"
    stops = [w for w in said if w in _STOP_WORDS]
    short = bool(stops) and len(said) <= _SHORT_WORDS and not _NOT_A_REQUEST.search(plain)
    if short and all(w in _STOP_WORDS or w in _FILLER for w in said):
        return "es.opt_out.keyword" if stops[0] in _SPANISH_STOPS else "en.opt_out.keyword"
    return None


def wrong_number(text: str) -> bool:
    """The text says the phone is not the patient's ("stop, wrong number")."""
    return bool(_WRONG_NUMBER.search(_plain(text)))
