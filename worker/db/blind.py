"""Lookups by blind index: finding a row by a value that is stored only encrypted.

A phone number is stored as a Fernet token, different each time it is written, so SQL can
neither compare nor index it. Beside it sits its blind index (an HMAC under
CLINIC_BLIND_INDEX_KEYS, see worker.lib.crypto.Cipher): equal numbers give equal indexes.
Writes fill the index from the value (the listeners in worker.db.models); a lookup matches
the value's index under every configured index key, so rows written before a key rotation
are still found until `keys rotate-index` has re-indexed them.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute, Session

from worker.db.cipher import cipher_of


def index_of(session: Session, value: str) -> str:
    """The index a new row stores for `value` (under the newest index key)."""
    return cipher_of(session.get_bind().dialect).index(value)


def matches(
    session: Session, column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None], value: str
) -> ColumnElement[bool]:
    """A WHERE clause: `column` (a blind index) is the index of `value` under any key."""
    return column.in_(cipher_of(session.get_bind().dialect).indexes(value))
