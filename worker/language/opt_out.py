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
    _words(
        "stop stopp stopall unsubscribe unsub revoke optout alto pare parar paren parenle baja "
        "detener basta cancelar desuscribir desuscribirme"
    )
)
_FILLER = frozenset(
    _words(
        "please pls plz plis now thanks thank thx you ty i said dije que les "
        "texting texts text messages message msgs sms "
        "it me this these them all ok okay just the wrong number no more already right away asap and "
        "por favor porfavor porfa ya gracias mensajes mensaje textos de numero equivocado ahora mismo con los"
    )
)
_SPANISH_STOPS = frozenset(_words("alto pare parar paren parenle basta baja detener cancelar desuscribir"))
# Strong enough to count as one sentence among others ("i never signed up for this, stop");
# "basta ya, no puedo mas" or "baja" alone in a longer text is not read as an opt-out.
_SENTENCE_STOPS = frozenset(_words("stop stopp stopall unsubscribe unsub optout alto pare paren parenle"))
# Misspellings seen in patients' texts. An explicit list: generic letter swaps also turn
# real words into stop words ("alot" is "alto" with two letters swapped).
_MISSPELT = {
    "sotp": "stop", "stpo": "stop", "tsop": "stop", "stoop": "stop", "sstop": "stop", "stooop": "stop",
    "unsubcribe": "unsubscribe", "unsuscribe": "unsubscribe", "unsubscibe": "unsubscribe",
    "usubscribe": "unsubscribe", "unsubscrib": "unsubscribe", "unsubscrive": "unsubscribe",
    "unsubscribed": "unsubscribe", "desuscrbir": "desuscribir", "dessuscribir": "desuscribir",
}  # fmt: skip
_SHORT_WORDS = 7

_PHRASES = {
    "en.opt_out.no_more_texts": (
        r"\bno more (of )?(these |the |your |those )?(texts?|messages?|text messages|msgs|sms|reminders|"
        r"notifications|surveys)\b"
    ),
    "en.opt_out.do_not_contact": (
        r"\b(do not|dont|never|please dont|stop) (text|txt|message|contact|sms) "
        r"(me|this number|my (phone|number))\b|^(please )?(do not|dont) (contact|text|message)( me)?$"
    ),
    "en.opt_out.stop_texting": (
        r"(?<!dont )(?<!do not )(?<!never )\b(stop|quit) (texting|txting|textin|txtin|messaging|msging"
        r"|msgin|msg|"
        r"sending( me)?( these| the| your| all)? (texts|messages|reminders|msgs|surveys)|"
        r"contacting|reminding me|"
        r"the (texts|messages|reminders)|"
        r"these (texts|messages|reminders)|sending me)\b"
        r"|\b(no longer|not) a patient( there| here| anymore)?\b|\bya no soy (su )?paciente\b"
    ),
    "en.opt_out.off_the_list": (
        r"\b(take|remove|delete|unsubscribe|leave|keep|drop) (me|my number|this number|my phone) "
        r"(off|from|out of)(( (this|the|these|your|that|ur|all|all your|all the))? "
        r"(list|lists|texts?|messages|msgs|system|contact list|mailing list|text list|texting list|"
        r"reminders|sms)\b"
        r"|( please| pls| now| thanks)?$)"
        r"|\b(remove|delete) (me|my number|this number)( please| pls| now| thanks| asap)?$"
    ),
    "en.opt_out.opt_out": r"\b(opt ?out|opt (me|us) out|unsubscribe|unenroll)\b",
    "en.opt_out.discontinue": (
        r"\b(discontinue|cease|halt|end|cancel|unsubscribe me from) (these |the |all |all the |your |my )?"
        r"(text |sms )?(texts|messages|msgs|reminders|notifications)\b|^no (more )?(texts|text messages"
        r"|messages|msgs)\b"
    ),
    "en.opt_out.no_longer_wish": (
        r"\b(no longer|dont|do not) (wish|want) to (receive|get) (any )?(more )?(text|texts|messages|sms)\b"
        r"|\b(want|get|take me) off (this|the|your) (list|texts?)\b|\benough with the (texts|messages)\b"
        r"|\bstop sending (them|these|those|it)\b"
    ),
    "en.opt_out.dont_want_texts": (
        r"\b(dont|do not|no longer) want (to (get|receive) )?(any )?(more )?(these |the |your )?"
        r"(texts|messages|msgs|reminders|surveys)\b"
    ),
    "es.opt_out.no_me_manden": (
        r"\bno me (manden|envien|escriban|mande|envie|escriba|mandes|envies|escribas|contacten)"
        r"( mas| (estos |los |sus |esos |las |estas |mas )?(mensajes|textos|nada|sms|encuestas)|$)"
    ),
    "es.opt_out.ya_no_quiero": (
        r"\b(ya )?no quiero (recibir |que me (manden|envien) )?(mas )?(los |las |sus |estos |estas )?"
        r"(mensajes|textos|sms|encuestas|preguntas)( ni (los |las )?(mensajes|textos|encuestas))?\b"
    ),
    "es.opt_out.dejen_de": (
        r"(?<!no )\bdejen de (mandar|enviar|escribir|mandarme|enviarme|escribirme|contactarme|textear|"
        r"textearme|mensajear|mensajearme)\b"
    ),
    "es.opt_out.de_baja": r"(?<!no )\b(darme|dame|denme|deme|me doy|me quiero dar) de baja\b",
    "es.opt_out.de_la_lista": (
        r"\b(saquenme|quitenme|borrenme|eliminenme) de (la|su|esta|sus) (lista|listas)\b"
        r"|\b(saquenme|quitenme|borrenme) de (esto|aqui|ahi|los mensajes|los textos)\b"
    ),
    "es.opt_out.no_mas_mensajes": r"\bno mas (mensajes|textos|sms|recordatorios)\b",
    "es.opt_out.no_deseo": (
        r"\bno (deseo|quiero) (recibir|que me (sigan|vuelvan a) (mandando|enviando|mandar|enviar))"
        r"( mas)?( (los|estos))? (mensajes|textos|sms)\b|\bno (enviar|mandar|manden|envien) mas\b"
        r"|\bno me vuelvan a (mandar|enviar|escribir|contactar|textear|llamar)\b"
        r"|\bya no quiero (estos|los|sus) (mensajes|textos)\b"
        r"|\b(paren|pare|deje) (los|de mandar|de enviar|de mandarme|de enviarme|de escribir|de escribirme|"
        r"de textear) ?"
        r"(mensajes|textos)?\b|\bparenle( con los (textos|mensajes))?\b"
        r"|\bborren mi numero\b|\bno (manden|escriban|envien) mas\b"
        r"|\bno quiero que me (contacten|escriban|manden|envien|texteen|sigan escribiendo)\b"
    ),
}
_COMPILED = {rule: re.compile(pattern) for rule, pattern in _PHRASES.items()}
_WRONG_NUMBER = re.compile(
    r"\b(wrong (number|person|#|num)|not (the right|this) person|numero equivocado|"
    r"se equivocaron de (numero|persona)|equivocado de numero|ya no es de \w+)(?!\w)"
)
_HOUR_SENSITIVE = ("en.opt_out.do_not_contact", "es.opt_out.no_me_manden")
# About when, not whether: "pls don't text me so early", "no me manden mensajes tan temprano".
_ONLY_WHEN = re.compile(
    r"\b(so|too|this|that|tan|muy|bien) (early|late|temprano|tarde|noche)\b|\b(at|in the) (night|morning)\b"
    r"|\b(before|after|antes de|despues de) (the )?\d|\bon (weekends|sundays|saturdays)\b|\ben la noche\b"
)
# "wrong number for my emergency contact": a number on file, not this phone.
_WRONG_FOR = re.compile(
    r"\bwrong (number|#|num) (for|on|in)\b|\bnumero equivocado (de|para) (mi|el|la)\b"
    r"|\b(not|isnt|no es|no es el) (the |a |un )?(wrong (number|#)|numero equivocado)\b"
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
            # "don't text me so early": about the hour, not the texts; a person reads it.
            about_the_hour = rule in _HOUR_SENSITIVE and _ONLY_WHEN.search(plain)
            return None if about_the_hour else rule
    said = plain.split()
    if _WRONG_NUMBER.search(plain) and not _WRONG_FOR.search(plain):
        return "en.opt_out.wrong_number" if "wrong" in said else "es.opt_out.numero_equivocado"
    if _NOT_A_REQUEST.search(plain):
        return None
    # The whole text, or one sentence of it, is only a stop word and courtesy: "Stop please
    # and thank you", "i never signed up for this, stop", "stop. not doing this survey".
    sentences = [w for w in (_words(part) for part in re.split(r"[.,;!?\n]+", text)) if w]
    whole = [_MISSPELT.get(w, w) for w in said]
    if _only_stop(whole, _STOP_WORDS):
        return _keyword_rule(whole)
    for sentence in sentences:
        words = [_MISSPELT.get(w, w) for w in sentence]
        if len(sentences) > 1 and _only_stop(words, _SENTENCE_STOPS):
            return _keyword_rule(words)
    return None


def _only_stop(words: list[str], stops: frozenset[str]) -> bool:
    """A stop word, and nothing but courtesy and the texts around it, in a few words."""
    found = [w for w in words if w in stops]
    return bool(found) and len(words) <= _SHORT_WORDS and all(w in stops or w in _FILLER for w in words)


def _keyword_rule(words: list[str]) -> str:
    first = next(w for w in words if w in _STOP_WORDS)
    return "es.opt_out.keyword" if first in _SPANISH_STOPS else "en.opt_out.keyword"


_OPT_IN = re.compile(
    r"\b((start|resume|restart|turn on|keep) (texting|txting|sending|the (texts|messages|reminders))"
    r"|(send|text) me (again|texts|the texts|reminders)|opt( me)?( back)? in|sign me (back )?up|"
    r"(re)?subscribe|want (the )?(texts|messages|reminders) (again|back)|"
    r"(quiero )?(volver a )?recibir (los )?(mensajes|textos|recordatorios)|(volver a )?suscribirme"
    r"|resuscribirme|"
    r"(quiero|mandenme|envienme) (los |mis )?(recordatorios|mensajes|textos) (de nuevo|otra vez)|"
    r"vuelvan a (mandar|enviar|mandarme|enviarme|escribirme)|"
    r"(resume|restart|start) (the |my )?(text |sms )?(texts|messages|reminders)|"
    r"(get|receive) (the )?(\w+ )?(texts|messages|reminders) again|start (again|back up|back)|"
    r"volver a (escribirme|mandarme|enviarme|inscribir)|"
    r"(activen|reactiven|prendan|activar|reactivar|activa) (los )?(mensajes|textos)|"
    r"(mandenme|envienme) (los )?(mensajes|textos|recordatorios)|si quiero (los )?(mensajes|textos))\b"
)


def opt_in(text: str) -> bool:
    """The text asks for the texts again ("please start texting me again"): read only from
    someone opted out, never as a reason to text anyone else."""
    return bool(_OPT_IN.search(_plain(text)))


def wrong_number(text: str) -> bool:
    """The text says the phone is not the patient's ("stop, wrong number")."""
    plain = _plain(text)
    return bool(_WRONG_NUMBER.search(plain)) and not _WRONG_FOR.search(plain)
