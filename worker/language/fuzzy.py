"""Which of the rules' words a text's word stands for: exactly, as a prefix, or misspelt.

Misspellings are common when someone is upset ("sucidal", "suicidial", "overdoes",
"self harmig"), so a word may match a rule's word at a small edit distance (optimal string
alignment, so a swapped pair of letters counts once). Guards keep real words apart:

- only rule words of 5 letters or more (squeezed) are matched loosely, at distance 1;
  words of 8 letters or more at distance 2;
- the first letter must agree ("willing" is not "killing");
- a word that is itself one of the rules' words is taken as written;
- a guard list of real words near the rules' words ("skill", "still", "diet", "kidding")
  never matches loosely; clinics can add to it (`never_fuzzy` in the rule file).

Prefixes (suicid*) of 5 letters or more match a misspelt beginning at distance 1
("sucidal", "suisidio").

Lookups are cached per word: a day's texts reuse a few thousand words.
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA

from worker.language.normalise import squeeze
from worker.language.patterns import NUMBER, prefix_key, word_key

MIN_LOOSE = 5
LONG = 8
SMALLEST_NUMBER = 5
_CACHE_SIZE = 100_000

# Real words one or two edits from a rule word. Written plainly; compared squeezed.
GUARD = (
    # near kill, killing, killed
    "skill skills still shill spill kilt kiln kills kidding kicking kissing kidnap kindle kindling "
    "billing filling willing milling tilling chilling thrilling kiting kited kilos "
    # near die, dying, dead, death
    "diet diets dye dyed dyes dying deal deals dear dean deaf deed dread depth dearth "
    # near cut, cutting, cuts
    "cutie cuter cutter cutest cuttings cutlery cuticle curling "
    # near hang, hanging, burn, burned
    "banging hanger hangers hangout hunting burner burnet burped burred "
    # near myself, yourself, alive, living, life
    "olive alike alight aline loving lining liking lifting giving "
    # near pills, meds, overdose
    "pillow pillows polls pulls medal medals mends overdue overdrive overdone overdress "
    # near bridge, train, knife, razor, noose, rope
    "bride bridges fridge brides trains trained trainer strain drain knives knifed razer nooks "
    # near suicide words (Spanish and English)
    "suite suited suicidology sucede suceda "
    # near burden, better, without, anymore, exist, worth
    "border burdened bitter butter letter setter withdraw existed exits worthy "
    # Spanish: near matar, morir, cortar, colgar, pastillas, vivir
    "mataron matare morira moriria cortina cortinas cortaron cortare colgado colgaron pastel "
    "pasillo pasillos pastelitos vivira vivire viviria hondo honda "
    # Spanish clitics about someone else or someone addressed: "quiere matarse" is not
    # "matarme", "te voy a matar" is not "me voy a matar"
    "matarse matarte matarlo matarla matarnos matarlos morirse morirte suicidarse suicidarte "
    "cortarse cortarte cortarlo cortarla ahorcarse ahorcarte colgarse colgarte colgarlo "
    "lastimarse lastimarte quitarse quitarte tirarse tirarte aventarse aventarte "
    # Spanish: near cortarme ("me muero de ganas de contarle")
    "contarle contarme contarte contarles conto conte contaba cuento cuenta contado "
    # near relapse, scratch, carving, saving
    "scratchy craving cravings caring caving savings shaving"
)


def _guard_words(extra: Iterable[str]) -> frozenset[str]:
    plain = {squeeze(word) for word in GUARD.split()}
    return frozenset(plain | {squeeze(word) for word in extra})


def _limit(length: int) -> int:
    return 2 if length >= LONG else 1


class Vocabulary:
    """The rules' words and prefixes, and the atoms each text word carries."""

    def __init__(self, atoms: Iterable[str], never_fuzzy: Iterable[str] = ()) -> None:
        keys = set(atoms)
        self._words = frozenset(k[2:] for k in keys if k.startswith("w:"))
        self._stems = tuple(sorted(k[2:] for k in keys if k.startswith("p:")))
        self._loose_words = sorted(w for w in self._words if len(w) >= MIN_LOOSE)
        self._loose_stems = tuple(s for s in self._stems if len(s) >= MIN_LOOSE)
        self._guard = _guard_words(never_fuzzy)
        self._cache: dict[str, frozenset[str]] = {}

    def atoms_of(self, word: str) -> frozenset[str]:
        """The atoms (w:word, p:stem, #) a text's word carries; cached."""
        found = self._cache.get(word)
        if found is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()  # a flood of one-off words must not grow memory forever
            found = self._cache[word] = self._lookup(word)
        return found

    def _lookup(self, word: str) -> frozenset[str]:
        found = {prefix_key(stem) for stem in self._stems if word.startswith(stem)}
        if word.isdigit() and int(word) >= SMALLEST_NUMBER:
            found.add(NUMBER)
        if word in self._words:
            found.add(word_key(word))
        elif len(word) >= MIN_LOOSE and word.isalpha() and word not in self._guard:
            found.update(self._near_words(word))
            found.update(self._near_stems(word))
        return frozenset(found)

    def _near_words(self, word: str) -> set[str]:
        near = process.extract(word, self._loose_words, scorer=OSA.distance, score_cutoff=2, limit=None)
        return {
            word_key(candidate)
            for candidate, distance, _ in near
            if candidate[0] == word[0] and distance <= _limit(min(len(candidate), len(word)))
        }

    def _near_stems(self, word: str) -> set[str]:
        found: set[str] = set()
        for stem in self._loose_stems:
            if stem[0] != word[0] or len(word) < len(stem) - 1:
                continue
            heads = {word[: len(stem) + delta] for delta in (-1, 0, 1)}
            if min(OSA.distance(head, stem) for head in heads) <= 1:
                found.add(prefix_key(stem))
        return found
