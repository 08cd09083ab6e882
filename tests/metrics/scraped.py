"""Reading a /metrics text back: one value per sample name and label set."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, frozenset[tuple[str, str]]]
LONG_DIGITS = re.compile(r"\d{7,}")


def samples(text: str) -> dict[Key, float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[Key, float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def names(found: dict[Key, float]) -> set[str]:
    return {name for name, _ in found}
