"""A small learned reader of crisis texts, beside the rules. Pure Python, no new dependency.

The rules catch what someone foresaw: on texts written apart from them they caught about
three in four must-alert texts. A linear model over character and word n-grams, trained on
the labelled corpus (scripts/train_crisis_model.py; scikit-learn at training time only),
reads veiled ways of saying it ("picked the date", "won't make it to the next one") that no
rule foresaw. It only ever adds alerts: it runs when no rule matched and no denial was
found, and alerts above a high threshold chosen so that it adds few false alarms.

Its weights ship as config/crisis_model.json; this module computes exactly what
scikit-learn's TfidfVectorizer + LogisticRegression computed (the file carries sample texts
with the probabilities scikit-learn gave them, and a test checks this module against them).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.lib.errors import InputError

_SPACES = re.compile(r"\s\s+")
_WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class _Vectorizer:
    """One TfidfVectorizer: its n-gram kind and range, idf per n-gram, and its weights."""

    kind: str  # "char_wb" or "word"
    low: int
    high: int
    idf: dict[str, float]
    coef: dict[str, float]

    def grams(self, text: str) -> Counter[str]:
        if self.kind == "char_wb":
            return _char_wb(text, self.low, self.high)
        return _words(text, self.low, self.high)

    def score(self, text: str) -> float:
        """The dot product of the l2-normalised sublinear tf-idf vector with the weights."""
        weights = {
            gram: (1.0 + math.log(count)) * self.idf[gram]
            for gram, count in self.grams(text).items()
            if gram in self.idf
        }
        norm = math.sqrt(sum(w * w for w in weights.values()))
        if norm == 0:
            return 0.0
        return sum(w * self.coef.get(gram, 0.0) for gram, w in weights.items()) / norm


@dataclass(frozen=True)
class CrisisModel:
    vectorizers: tuple[_Vectorizer, ...]
    intercept: float
    threshold: float
    samples: tuple[tuple[str, float], ...]  # (text, scikit-learn's probability), for the test

    def probability(self, text: str) -> float:
        lowered = text.lower()
        z = self.intercept + sum(v.score(lowered) for v in self.vectorizers)
        return 1.0 / (1.0 + math.exp(-z))

    def alerts(self, text: str) -> bool:
        return self.probability(text) >= self.threshold


def _char_wb(text: str, low: int, high: int) -> Counter[str]:
    # As scikit-learn's char_wb analyzer: n-grams inside each space-padded word only.
    grams: Counter[str] = Counter()
    for word in _SPACES.sub(" ", text).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            offset = 0
            grams[padded[offset : offset + n]] += 1
            while offset + n < len(padded):
                offset += 1
                grams[padded[offset : offset + n]] += 1
            if offset == 0:  # the word is shorter than n: counted once, no longer n-grams
                break
    return grams


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
        vectorizers = tuple(
            _Vectorizer(v["kind"], v["ngram"][0], v["ngram"][1], v["idf"], v["coef"])
            for v in raw["vectorizers"]
        )
        return CrisisModel(
            vectorizers,
            float(raw["intercept"]),
            float(raw["threshold"]),
            tuple((str(t), float(p)) for t, p in raw["samples"]),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise InputError(f"{path.name}: cannot read the crisis model: {exc}") from None
