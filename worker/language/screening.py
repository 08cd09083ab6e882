"""Crisis screening of free text: does this text need a person now, and why. Pure.

PHQ-9 item 9 misses many people at risk (Louzon 2016), so every inbound text is read for
crisis language too. People in distress write fast, misspell, drop apostrophes, stretch
words and switch language, so a literal phrase list misses them. The screener:

1. normalises the text (normalise.py): case, accents, apostrophes, repeated letters,
   contractions and texting spellings;
2. gives each word its atoms (fuzzy.py): the rule words it is, exactly, as a prefix or
   misspelt within guarded limits;
3. runs the rules whose required words are all present (an index, so a text only meets the
   few rules it could match) - every language's rules on every text;
4. drops matches inside a not_crisis span (an idiom, a mere mention) and matches about
   someone else; marks matches after a denial, or told of a time long past, as negated;
   a text about one of the clinic's patients is read again as the patient's own words
   (reports.py);
5. reports the most severe category among the rest; a PHQ-9 sent as a row of scores
   (scores.py) alerts when its ninth number is above 0;
6. when no rule matched and nothing was denied, asks the learned model (model.py), which
   alerts above its threshold with rule `model` and the category it reads likeliest: it
   reads veiled wording no rule foresaw, and only ever adds alerts.

A text with only negated matches does not alert but comes back `negated`, for a staff
queue. A denial followed by "but"/"pero" alerts. When in doubt it alerts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from worker.language import context, patterns, reports
from worker.language.fuzzy import Vocabulary
from worker.language.model import CrisisModel, canonical_text, load_model
from worker.language.normalise import Token, tokens
from worker.language.rules import CATEGORIES, Rule, RuleSet, load_rules
from worker.language.scores import named_answers, numbered_item9, phq9_item9

_SEVERITY = {category: rank for rank, category in enumerate(CATEGORIES)}
MODEL_FILE = "crisis_model.json"
MODEL_RULE = "model"
# PHQ-9 scores sent as a row of numbers (scores.py): item 9 above 0 is thoughts of death.
SCORES_RULE, SCORES_CATEGORY = "phq9_item9_scores", "ideation"
# Short texts are the rules' alone: one to three words are mostly answers ("sometimes",
# "every day", "idk" to a questionnaire), which the model, seeing no context, over-reads.
# Short crisis texts ("kms", "want to die") are what the rules are best at.
MODEL_MIN_WORDS = 4

# A year long gone: "an attempt in 2015", "desde 2019" (1980 to 2024).
_YEARS = " | ".join(f"(in|since|back in|en|desde|en el) {year}" for year in range(1980, 2025))
# Told of the past: "as a teen", "years ago", "used to", "hace años". Such a match is
# flagged, not alerted, unless its clause says it is happening again.
_PAST = (
    "years ago | year ago | long time ago | as a (teen|teenager|kid|child) | in high school "
    "| in the past $ | used to | back then | when i was (younger|little|a kid|a teen|a teenager|#) "
    "| hace (anos|mucho|tiempo|# anos|un ano) | de (adolescente|joven|nina|nino|chica|chico) "
    "| cuando era (joven|nina|nino|adolescente|chica|chico) | solia | en el pasado "
    "| antes (tenia|pensaba|queria|sentia|me cortaba|me lastimaba|me hacia) "
    "| en (la|el) (prepa|secundaria|preparatoria|universidad|facu|colegio|liceo|instituto) "
    "| de (chamaca|chamaco|morra|morro|chava|chavo|chiquita|chiquito|escuincla|escuincle "
    "|pelada|pelado|piba|pibe|chavala|chavalo) "
    "| in (middle school|college) | since my [last] (attempt|suicide attempt|overdose|hospitalization) "
    "| (desde|hace) ...3 (mi|el) ultimo (episodio|intento) | " + _YEARS
)
_AGAIN = (
    "again | (is|are|its|came|come|comes|coming|been|was|were) back | back again | relapse* "
    "| recently | lately "
    "| started (to|cutting|burning|hurting|hitting|scratching|thinking|having|wanting|feeling|getting) "
    "| tonight | today | right now "
    "| otra vez | de nuevo | volvi | volvio | volvieron | regreso | regresaron | recai* | ultimamente | hoy "
    "| anoche | ahorita | still | keep (wanting|thinking|having|getting) "
    "| sigo (pensando|queriendo|con|sintiendo|cortandome|lastimandome|teniendo|igual) | todavia | aun"
)


@dataclass(frozen=True)
class Screening:
    alert: bool
    category: str | None
    rule: str | None
    language: str
    negated: bool = False
    others: bool = False  # negated only because every match was said of someone else


@dataclass(frozen=True)
class _Pattern:
    rule: Rule
    node: patterns.Node
    needs: tuple[frozenset[str], ...]  # one atom of each set must be in the text
    starts: frozenset[str] | None
    order: int


@dataclass(frozen=True)
class _Finding:
    rule: Rule
    order: int
    start: int
    end: int
    denied: bool  # a denial shortly before it: "not suicidal"
    past: bool  # told of a time long past: "as a teen", "years ago"
    others: bool = False  # said of someone else: "she wants to die", "mi tío se suicidó"

    @property
    def negated(self) -> bool:
        return self.denied or self.past or self.others

    @property
    def rank(self) -> tuple[int, int]:
        return (_SEVERITY[self.rule.category or ""], self.order)


class _Index:
    """Patterns filed under one atom each, so a text meets only those it could match."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.patterns: list[_Pattern] = []
        self._by_atom: dict[str, list[int]] = defaultdict(list)
        for rule in rules:
            for node in rule.patterns:
                self._add(rule, node)

    def _add(self, rule: Rule, node: patterns.Node) -> None:
        needs = tuple(patterns.clauses(node))
        entry = _Pattern(rule, node, needs, patterns.first_atoms(node), len(self.patterns))
        self.patterns.append(entry)
        for atom in min(needs, key=len):
            self._by_atom[atom].append(entry.order)

    def candidates(self, present: frozenset[str]) -> list[_Pattern]:
        orders = {order for atom in present for order in self._by_atom.get(atom, ())}
        found = (self.patterns[order] for order in sorted(orders))
        return [p for p in found if all(need & present for need in p.needs)]

    def spans(self, text: patterns.Text, present: frozenset[str]) -> Iterator[tuple[_Pattern, int, int]]:
        for entry in self.candidates(present):
            for start, end in patterns.matches(entry.node, text, entry.starts):
                yield entry, start, end


def _marker(name: str, pattern: str) -> Rule:
    return Rule(f"en.context.{name}", None, "en", (patterns.parse(pattern),), 0)


class Screener:
    """Rules compiled once; `screen` is pure and safe to call from many threads."""

    def __init__(self, ruleset: RuleSet, model: CrisisModel | None = None) -> None:
        self.ruleset = ruleset
        self.model = model
        self._rules = _Index(ruleset.rules)
        self._not_crisis = _Index(ruleset.not_crisis)
        self._past = _Index([_marker("past", _PAST)])
        self._again = _Index([_marker("again", _AGAIN)])
        every = [
            atom
            for index in (self._rules, self._not_crisis, self._past, self._again)
            for entry in index.patterns
            for atom in patterns.atoms(entry.node)
        ]
        self._vocabulary = Vocabulary(every, ruleset.never_fuzzy)

    def __len__(self) -> int:
        return len(self.ruleset.rules)

    def screen(self, text: str, language: str | None = None) -> Screening:
        words, seen, present = self._read(text)
        answers = named_answers([t.word for t in words])
        named = max((a.value for a in answers), default=None)
        # Item 9 named and answered 0: its own words ("better off dead") are the question, not
        # the patient's; anything else in the text is still read.
        answered_zero = [(a.start, a.end) for a in answers] if named == 0 else []
        spared = self._spared(words, seen, present)
        matches = list(self._rules.spans(seen, present))
        findings = list(self._findings(words, seen, present, matches, spared, answered_zero))
        verdict = _verdict(findings, words, language)
        item9 = next((v for v in (phq9_item9(text), numbered_item9(text), named) if v is not None), None)
        if item9 is not None:  # item 9 answered: it decides, not the model
            return _with_scores(verdict, item9)
        if not verdict.alert and reports.about_a_patient(words):
            verdict = self._reported(words, language) or verdict
        denied = verdict.negated and not verdict.others
        if verdict.alert or denied or self.model is None or len(text.split()) < MODEL_MIN_WORDS:
            return verdict
        explained = any(_overlaps(start, end, spared) for _, start, end in matches)
        reading = self.model.alerts(canonical_text(t.word for t in words), explained=explained)
        if reading is None:
            return verdict
        return Screening(True, reading.category, MODEL_RULE, verdict.language)

    def _reported(self, original: Sequence[Token], language: str | None) -> Screening | None:
        """The alert a text about a patient raises when read as the patient's own words."""
        words = reports.as_the_patient(original)
        if [t.word for t in words] == [t.word for t in original]:
            return None
        seen = self._text(words)
        present = frozenset().union(*seen.atoms)
        matches = list(self._rules.spans(seen, present))
        spared = self._spared(words, seen, present)
        findings = list(self._findings(words, seen, present, matches, spared, []))
        verdict = _verdict(findings, words, language)
        if verdict.alert or (verdict.negated and not verdict.others) or self.model is None:
            return verdict if verdict.alert else None
        reading = self.model.alerts(
            canonical_text(t.word for t in words),
            explained=any(_overlaps(a, b, spared) for _, a, b in matches),
        )
        return Screening(True, reading.category, MODEL_RULE, verdict.language) if reading else None

    def _text(self, words: Sequence[Token]) -> patterns.Text:
        atoms = [self._vocabulary.atoms_of(t.word) for t in words]
        ends = {i for i in range(1, len(words)) if words[i].clause != words[i - 1].clause}
        return patterns.Text(atoms, frozenset(ends | {len(words)}))

    def _read(self, text: str) -> tuple[list[Token], patterns.Text, frozenset[str]]:
        words = tokens(text)
        seen = self._text(words)
        present = frozenset().union(*seen.atoms) if words else frozenset()
        return words, seen, present

    def idiom_explained(self, text: str) -> bool:
        """An idiom or mention covers a rule's match in the text (the model then needs
        EXPLAINED_THRESHOLD); for the training script, which mirrors `screen`."""
        words, seen, present = self._read(text)
        spared = self._spared(words, seen, present)
        return any(_overlaps(start, end, spared) for _, start, end in self._rules.spans(seen, present))

    def _spared(
        self, words: Sequence[Token], seen: patterns.Text, present: frozenset[str]
    ) -> list[tuple[int, int]]:
        # An idiom lives inside one clause: "morir, de verdad" is not "morir de (hambre)";
        # one whose pattern names the clause end (`$`) may go on past it ("won't need the
        # appointment, switching clinics").
        return [
            (s, e)
            for entry, s, e in self._not_crisis.spans(seen, present)
            if words[s].clause == words[e - 1].clause or patterns.has_end(entry.node)
        ]

    def _findings(
        self,
        words: Sequence[Token],
        seen: patterns.Text,
        present: frozenset[str],
        matches: Sequence[tuple[_Pattern, int, int]],
        spared: Sequence[tuple[int, int]],
        answered_zero: Sequence[tuple[int, int]],
    ) -> Iterator[_Finding]:
        past = self._clauses_of(self._past, words, seen, present)
        again = self._clauses_of(self._again, words, seen, present)
        for entry, start, end in matches:
            if _overlaps(start, end, spared) and not context.on_purpose(words, start, end):
                continue
            if context.about_someone_else(words, start, end):
                # Kept for staff and never alerted by itself; the model still reads the text
                # (the attribution is often wrong: "my dad's gun is in the closet and I
                # can't stop thinking about using it").
                yield _Finding(entry.rule, entry.order, start, end, False, False, True)
                continue
            clause = words[start].clause
            told_of_past = clause in past and clause not in again
            denied = (
                context.denied(words, context.core_start(words, start, end), end)
                or context.answered_no(words, start, end)
                or context.asked_and_answered_no(words, start, end)
                or context.zero_after(words, end)
                or _overlaps(start, end, answered_zero)
            )
            yield _Finding(entry.rule, entry.order, start, end, denied, told_of_past)

    @staticmethod
    def _clauses_of(
        index: _Index, words: Sequence[Token], seen: patterns.Text, present: frozenset[str]
    ) -> set[int]:
        return {words[start].clause for _, start, _ in index.spans(seen, present)}


def _verdict(findings: list[_Finding], words: Sequence[Token], language: str | None) -> Screening:
    # "not suicidal but ..." alerts; "years ago, but I'm well now" stays a flag.
    positive = [
        f for f in findings if not f.negated or (f.denied and not f.past and context.but_after(words, f.end))
    ]
    if positive:
        best = min(positive, key=lambda f: f.rank)
        return Screening(True, best.rule.category, best.rule.id, language or best.rule.language)
    if findings:
        best = min(findings, key=lambda f: f.rank)
        others = all(f.others and not (f.denied or f.past) for f in findings)
        return Screening(
            False, best.rule.category, best.rule.id, language or best.rule.language, True, others
        )
    return Screening(False, None, None, language or guess_language(words))


def _overlaps(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def _with_scores(verdict: Screening, item9: int) -> Screening:
    """A PHQ-9 row whose item 9 is above 0 alerts as ideation, unless a rule found worse."""
    if item9 == 0 or (verdict.alert and _SEVERITY[verdict.category or ""] <= _SEVERITY[SCORES_CATEGORY]):
        return verdict
    return Screening(True, SCORES_CATEGORY, SCORES_RULE, verdict.language)


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SPANISH = _word_set(
    "que de la el los las y en me mi por para con es estoy muy pero ya lo se una un yo porque "
    "todo nada quiero tengo hoy cita gracias hola si como esta mas"
)
_ENGLISH = _word_set(
    "the i to and you my is it of a in for am not be this that have want do can will just "
    "me so at with was thanks hi yes"
)


def guess_language(words: Sequence[Token]) -> str:
    """ "es" when more of the words are common Spanish words than common English ones."""
    spanish = sum(t.word in _SPANISH for t in words)
    english = sum(t.word in _ENGLISH for t in words)
    return "es" if spanish > english else "en"


def load_screener(path: Path) -> Screener:
    """The screener for a rule file; RuleFileError lists every problem as file:line: message.
    The learned model beside it (crisis_model.json), when there is one, joins the rules."""
    model_path = path.with_name(MODEL_FILE)
    return Screener(load_rules(path), load_model(model_path) if model_path.exists() else None)
