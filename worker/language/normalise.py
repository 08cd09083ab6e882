"""Text as people in distress type it, brought to one spelling. Pure.

Rules and texts go through the same functions, so a rule written "don't want to live"
matches "dont want to live", "don't want to live" with a curly apostrophe, and
"DONT WANT TO LIVEEE". The steps:

1. Case and accents are folded (NFKD), curly apostrophes made straight.
2. The text is cut into clauses at punctuation. Emoji and symbols separate words and are
   otherwise ignored. Clause ends matter for negation ("not ok. i want to die" is not a
   denial) and for the `$` (end of clause) of a pattern.
3. Apostrophes are dropped inside words (don't -> dont, i'm -> im).
4. Repeated letters are squeezed (dieeee -> die, kill -> kil, too -> to): people stretch
   words when they are upset, and comparing squeezed forms makes every stretch the same
   word. The few words whose squeezed form collides with another word that matters
   ("off" with "of", "see" with Spanish "se") keep a form of their own.
5. Informal spellings and contractions become the words they stand for (wanna -> want to,
   dont -> do not, im -> i am, u -> you, kiero -> quiero, q -> que, xq -> porque), and
   "my self" becomes "myself".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

# Clause separators: sentence ends, commas and the like. A newline ends a clause too.
_CLAUSE_END = re.compile(r"[.,;:!?¿¡()\[\]{}\n\r\u2026]+|\s-\s|\s\u2013\s|\s\u2014\s")
_WORD = re.compile(r"[a-z0-9']+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'"})
# "OD'd" and "SH'd" would lose their meaning with the apostrophe ("odd"); say them in full.
_APOSTROPHE_D = re.compile(r"\b(od|sh)'d\b")
_APOSTROPHE_D_WORDS = {"od": "overdosed", "sh": "self harmed"}
_REPEATS = re.compile(r"([a-z])\1+")

# Squeezed forms that would collide with a different word that matters to screening:
# "off myself" is not "of myself" ("proud of myself"); English "see" is not the Spanish
# "se" of "se suicidó" (someone else); "good" is not "god" ("god take me"); a "noose" is
# not a "nose"; "soon" is not a "son" (someone else).
_KEEP_DOUBLE = {
    re.compile(r"of{2,}"): "off",
    re.compile(r"se{2,}"): "see",
    re.compile(r"go{2,}d"): "good",
    re.compile(r"no{2,}se"): "noose",
    re.compile(r"so{2,}n"): "soon",
}

# Informal spellings and contractions, written naturally here; keyed by squeezed form.
# English and Spanish share one table: patients switch language mid-text.
_INFORMAL_SOURCE = {
    # English contractions without their apostrophe, and texting forms
    "wanna": "want to",
    "wana": "want to",
    "gonna": "going to",
    "gona": "going to",
    "finna": "going to",
    "gotta": "got to",
    "hafta": "have to",
    "tryna": "trying to",
    "imma": "i am going to",
    "ima": "i am going to",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "cant": "can not",
    "cannot": "can not",
    "couldnt": "could not",
    "wont": "will not",
    "wouldnt": "would not",
    "shouldnt": "should not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "havent": "have not",
    "hasnt": "has not",
    "hadnt": "had not",
    "aint": "am not",
    "im": "i am",
    "ive": "i have",
    "id": "i would",
    "ill": "i will",
    "youre": "you are",
    "youll": "you will",
    "hes": "he is",
    "shes": "she is",
    "theyre": "they are",
    "thats": "that is",
    "theres": "there is",
    "whats": "what is",
    "tonights": "tonight is",
    "u": "you",
    "ur": "your",
    "urself": "yourself",
    "r": "are",
    "rn": "right now",
    "tonite": "tonight",
    "2nite": "tonight",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "2morrow": "tomorrow",
    "cuz": "because",
    # Vowels dropped in haste (short words the guarded fuzzy match leaves alone).
    "nevr": "never",
    "evryone": "everyone",
    "evrything": "everything",
    "evry": "every",
    "wud": "would",
    "wld": "would",
    "bettr": "better",
    "sry": "sorry",
    "ths": "this",
    "luv": "love",
    "alredy": "already",
    "razr": "razor",
    "flor": "floor",
    "tnite": "tonight",
    "coz": "because",
    "bc": "because",
    "idk": "i do not know",
    "idc": "i do not care",
    "dunno": "do not know",
    "nvm": "nevermind",
    "til": "until",
    "untill": "until",
    "pls": "please",
    "plz": "please",
    "ppl": "people",
    "abt": "about",
    "dieing": "dying",
    "tho": "though",
    "w": "with",
    "2": "to",
    "wnt": "want",
    "wamt": "want",
    "whant": "want",
    "oded": "overdosed",
    "oding": "overdosing",
    "shing": "self harming",
    "odd": "odd",
    # Spanish texting forms
    "q": "que",
    "k": "que",
    "ke": "que",
    "xq": "porque",
    "pq": "porque",
    "xk": "porque",
    "pk": "porque",
    "porq": "porque",
    "x": "por",
    "pa": "para",
    "kiero": "quiero",
    "qiero": "quiero",
    "quero": "quiero",
    "kiere": "quiere",
    "vdd": "verdad",
    "tmb": "tambien",
    "tb": "tambien",
    "aki": "aqui",
    "toy": "estoy",
    "stoy": "estoy",
    "nd": "nada",
    "nunk": "nunca",
    "matr": "matar",
    "morr": "morir",
    # written as heard: "me boi a matar kuando se balla"
    "boi": "voy",
    "estoi": "estoy",
    "soi": "soy",
    "kuando": "cuando",
    "kon": "con",
    "aser": "hacer",
    "balla": "vaya",
    "pastiyas": "pastillas",
    "pastiya": "pastilla",
}

# "no se" is almost always "no sé" (I don't know) in a text: one word, so that it is read
# neither as a denial nor as the third-person "se" of "se suicidó".
_JOINED = {("my", "self"): "myself", ("mi", "self"): "myself", ("your", "self"): "yourself"}
_JOINED_SPANISH = {("no", "se"): "no-se"}


def fold(text: str) -> str:
    """Lower case, accents removed, curly apostrophes straight."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def squeeze(word: str) -> str:
    """One letter for each run of the same letter; a few words keep their double letter."""
    for pattern, kept in _KEEP_DOUBLE.items():
        if pattern.fullmatch(word):
            return kept
    return _REPEATS.sub(r"\1", word)


def _build_informal() -> dict[str, tuple[str, ...]]:
    return {squeeze(k): tuple(squeeze(w) for w in v.split()) for k, v in _INFORMAL_SOURCE.items()}


_INFORMAL = _build_informal()
_JOINED_SQUEEZED = {
    (squeeze(a), squeeze(b)): joined for (a, b), joined in (_JOINED | _JOINED_SPANISH).items()
}


@lru_cache(maxsize=65536)
def canonical(raw: str) -> tuple[str, ...]:
    """The words one raw token stands for (usually one; "dont" gives "do", "not")."""
    word = squeeze(raw.replace("'", ""))
    if not word:
        return ()
    return _INFORMAL.get(word, (word,))


@dataclass(frozen=True)
class Token:
    word: str  # canonical, squeezed
    clause: int  # index of the clause it is in


def tokens(text: str) -> list[Token]:
    """The text's canonical words, each with the number of its clause."""
    folded = _APOSTROPHE_D.sub(lambda m: _APOSTROPHE_D_WORDS[m.group(1)], fold(text))
    out: list[Token] = []
    for clause, part in enumerate(_CLAUSE_END.split(folded)):
        words = [w for raw in _WORD.findall(part) for w in canonical(raw)]
        out.extend(Token(w, clause) for w in _join_pairs(words))
    return out


def words(text: str) -> list[str]:
    """Canonical words only, for rule literals (a rule is one clause)."""
    return [t.word for t in tokens(text)]


def _join_pairs(words: list[str]) -> Iterator[str]:
    i = 0
    while i < len(words):
        pair = (words[i], words[i + 1]) if i + 1 < len(words) else None
        if pair in _JOINED_SQUEEZED:
            yield _JOINED_SQUEEZED[pair]
            i += 2
        else:
            yield words[i]
            i += 1
