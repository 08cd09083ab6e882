"""Crisis language in free text. Pure: the phrase list comes from config/crisis_phrases.yaml.

PHQ-9 item 9 misses many people at risk (Louzon 2016), so every inbound text is read for
crisis language too. Matching is on whole words after folding case, accents and
punctuation, so "I want to die." and "quiero morir" match but "diet" does not match "die".
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import yaml

from worker.lib.errors import InputError

_NON_WORD = re.compile(r"[^a-z0-9']+")


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " " + " ".join(_NON_WORD.sub(" ", plain).split()) + " "


class CrisisPhrases:
    def __init__(self, phrases: list[str]) -> None:
        self._phrases = sorted({fold(p) for p in phrases if p.strip()}, key=len, reverse=True)

    def __len__(self) -> int:
        return len(self._phrases)

    def find(self, text: str) -> str | None:
        """The first phrase found in the text, or None."""
        folded = fold(text)
        for phrase in self._phrases:
            if phrase in folded:
                return phrase.strip()
        return None


def load_phrases(path: Path) -> CrisisPhrases:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path.name}: cannot read crisis phrases: {exc}") from None
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise InputError(f"{path.name}: expected a list of phrases per language")
    phrases = [str(p) for values in raw.values() for p in values]
    if not phrases:
        raise InputError(f"{path.name}: no phrases: crisis language would never be noticed")
    return CrisisPhrases(phrases)
