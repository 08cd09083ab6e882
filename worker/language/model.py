"""A small learned reader of crisis texts, beside the rules. Pure Python, no new dependency.

The rules catch what someone foresaw: on texts written apart from them they caught about
three in four must-alert texts. A linear model over character and word n-grams, trained on
the labelled corpus (scripts/train_crisis_model.py; scikit-learn at training time only),
reads veiled ways of saying it ("picked the date", "won't make it to the next one") that no
rule foresaw. It only ever adds alerts: it runs when no rule matched and no denial was
found, and alerts above a high threshold chosen so that it adds few false alarms.

It is one multinomial logistic regression over the corpus labels - `benign` and the five
crisis categories - so an alert it raises names the category it reads most likely ("plan or
means" tells on-call more than "something"). It reads the text as the rules do, normalised
(normalise.py: case, accents, apostrophes, stretched letters, texting spellings), so "dont"
and "don't", "kiero" and "quiero" are one feature.

Its weights ship as config/crisis_model.json; this module computes exactly what
scikit-learn's TfidfVectorizer + LogisticRegression computed (the file carries sample texts
with the probabilities scikit-learn gave them, and a test checks this module against them).
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.language.normalise import words
from worker.lib.errors import InputError

BENIGN = "benign"
# The probability the model needs to alert on a text whose crisis words an idiom explained.
EXPLAINED_THRESHOLD = 0.9
_WORD = re.compile(r"(?u)\b\w\w+\b")


def model_text(text: str) -> str:
    """What the model reads: the text's canonical words, as training saw them."""
    return canonical_text(words(text))


def canonical_text(canonical_words: Iterable[str]) -> str:
    """Canonical words already made (the screener has them) joined as the model reads them."""
    return " ".join(canonical_words)


@dataclass(frozen=True)
class _Vectorizer:
    """One TfidfVectorizer: its n-gram kind and range, idf per n-gram, and its weights."""

    kind: str  # "char_wb" or "word"
    low: int
    high: int
    idf: dict[str, float]
    coef: dict[str, tuple[float, ...]]  # one weight per class

    def grams(self, text: str) -> Counter[str]:
        if self.kind == "char_wb":
            return _char_wb(text, self.low, self.high)
        return _words(text, self.low, self.high)

    def scores(self, text: str, classes: int) -> list[float]:
        """Per class, the dot product of the l2-normalised sublinear tf-idf vector with its weights."""
        weights, rows = [], []
        for gram, count in self.grams(text).items():
            idf = self.idf.get(gram)
            if idf is not None:
                weights.append((1.0 + math.log(count)) * idf)
                rows.append(self.coef[gram])
        norm = math.sqrt(math.fsum(w * w for w in weights))
        if norm == 0:
            return [0.0] * classes
        # One column of weights per class, each a dot product done in C.
        return [sum(map(operator.mul, weights, column)) / norm for column in zip(*rows, strict=True)]


@dataclass(frozen=True)
class Reading:
    """The model's reading of one text: how likely it is not benign, and the likeliest category."""

    crisis: float
    category: str


@dataclass(frozen=True)
class CrisisModel:
    classes: tuple[str, ...]
    vectorizers: tuple[_Vectorizer, ...]
    intercepts: tuple[float, ...]
    threshold: float
    samples: tuple[tuple[str, float], ...]  # (text, scikit-learn's crisis probability), for the test

    def read(self, text: str) -> Reading:
        return self.read_canonical(model_text(text))

    def read_canonical(self, seen: str) -> Reading:
        """The reading of a text already normalised (model_text or canonical_text)."""
        z = list(self.intercepts)
        for vectorizer in self.vectorizers:
            for k, s in enumerate(vectorizer.scores(seen, len(z))):
                z[k] += s
        top = max(z)
        exp = [math.exp(v - top) for v in z]  # softmax, shifted so nothing overflows
        total = sum(exp)
        probabilities = dict(zip(self.classes, (e / total for e in exp), strict=True))
        benign = probabilities.pop(BENIGN)
        return Reading(1.0 - benign, max(probabilities, key=probabilities.__getitem__))

    def probability(self, text: str) -> float:
        return self.read(text).crisis

    def alerts(self, seen: str, *, explained: bool = False) -> Reading | None:
        """The reading when it reaches the threshold; `seen` is normalised (canonical_text).
        When an idiom already explained the words the rules saw ("me corté el pelo"), the
        model must be surer to overrule it."""
        reading = self.read_canonical(seen)
        threshold = max(self.threshold, EXPLAINED_THRESHOLD) if explained else self.threshold
        return reading if reading.crisis >= threshold else None


def _char_wb(text: str, low: int, high: int) -> Counter[str]:
    # As scikit-learn's char_wb analyzer: n-grams inside each space-padded word only; a
    # word no longer than n is counted once, whole, and gives no longer n-grams.
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if n >= size:
                grams.append(padded)
                break
            grams.extend([padded[i : i + n] for i in range(size - n + 1)])
    return Counter(grams)


def _words(text: str, low: int, high: int) -> Counter[str]:
    tokens = _WORD.findall(text)
    grams: Counter[str] = Counter()
    for n in range(low, high + 1):
        for i in range(len(tokens) - n + 1):
            grams[" ".join(tokens[i : i + n])] += 1
    return grams


def load_model(path: Path) -> CrisisModel:
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        classes = tuple(str(c) for c in raw["classes"])
        vectorizers = tuple(_vectorizer(v, len(classes)) for v in raw["vectorizers"])
        intercepts = tuple(float(i) for i in raw["intercepts"])
        if BENIGN not in classes or len(intercepts) != len(classes) or len(classes) < 2:
            raise ValueError(f"classes must include {BENIGN!r}, one intercept each")
        return CrisisModel(
            classes,
            vectorizers,
            intercepts,
            float(raw["threshold"]),
            tuple((str(t), float(p)) for t, p in raw["samples"]),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise InputError(f"{path.name}: cannot read the crisis model: {exc}") from None


def _vectorizer(raw: dict[str, Any], classes: int) -> _Vectorizer:
    grams: list[str] = raw["grams"]
    idf: list[float] = raw["idf"]
    coef: list[list[float]] = raw["coef"]
    if not len(grams) == len(idf) == len(coef) or any(len(c) != classes for c in coef):
        raise ValueError(f"vectorizer {raw.get('name')!r}: grams, idf and coef differ in length")
    return _Vectorizer(
        raw["kind"],
        raw["ngram"][0],
        raw["ngram"][1],
        dict(zip(grams, idf, strict=True)),
        {gram: tuple(row) for gram, row in zip(grams, coef, strict=True)},
    )
