"""docs/privacy.md lists every column left in clear: a new column is encrypted or explained."""

from __future__ import annotations

import re
from pathlib import Path

from worker.db.models import Base, EncryptedInt, EncryptedJSON, EncryptedText

DOC = Path(__file__).parents[2] / "docs" / "privacy.md"
ENCRYPTED_TYPES = (EncryptedText, EncryptedInt, EncryptedJSON)


def _listed_in_clear() -> dict[str, set[str]]:
    listed: dict[str, set[str]] = {}
    section = DOC.read_text().split("## Columns left in clear", 1)[1].split("\n## ", 1)[0]
    for table, columns in re.findall(r"^- `(\w+)`: (.*?) — ", section, flags=re.MULTILINE):
        listed[table] = set(re.findall(r"`(\w+)`", columns))
    return listed


def test_every_column_is_encrypted_or_listed_in_clear_with_its_reason() -> None:
    listed = _listed_in_clear()
    clear = {
        table.name: {c.name for c in table.columns if not isinstance(c.type, ENCRYPTED_TYPES)}
        for table in Base.metadata.sorted_tables
    }
    assert listed == clear


def test_no_encrypted_column_is_listed_as_clear() -> None:
    encrypted = {
        (table.name, c.name)
        for table in Base.metadata.sorted_tables
        for c in table.columns
        if isinstance(c.type, ENCRYPTED_TYPES)
    }
    listed = {(table, column) for table, columns in _listed_in_clear().items() for column in columns}
    assert encrypted and not encrypted & listed
