"""One CSV row of an appointment import, checked cell by cell without the database.

Every limit the database would enforce is checked here first, so a bad cell is reported as
`<column>: <reason>` on its line, never as a DataError from the driver. The limits are kept
as constants rather than read from the models: columns that become encrypted TEXT keep no
length in the schema, but a name of 10,000 characters is still a mistake.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from worker.clinic.records import LANGUAGES, MAX_DURATION_MINUTES
from worker.lib.errors import InputError
from worker.lib.phones import to_e164
from worker.settings import Settings, check_timezone

COLUMNS = ("phone", "patient_id", "name", "start", "duration", "kind", "timezone", "language", "consent")

# Longest value each column accepts, in characters. name, kind, timezone and language are the
# schema's sizes; the others bound cells whose longest valid value is much shorter.
MAX_LENGTH = {
    "phone": 32,
    "patient_id": 12,
    "name": 200,
    "start": 64,
    "duration": 6,
    "kind": 64,
    "timezone": 64,
    "language": 8,
    "consent": 8,
}
MAX_ID = 2**31 - 1  # PostgreSQL integer
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
# Invisible characters that reorder or hide text (Trojan Source): never part of a real value.
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")
# Any character check_cell refuses, in one pattern: category Cc is exactly U+0000-U+001F and
# U+007F-U+009F. A clean cell (nearly all of them) costs one regex search, not a lookup per
# character; a cell it matches is then walked to name its first refused character.
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f" + "".join(re.escape(char) for char in sorted(_BIDI)) + "]")


class CellError(InputError):
    """A cell that cannot be imported: `column: reason`."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")


@dataclass(frozen=True)
class Row:
    """A row whose every cell is valid. Patient fields are None/"" where the file left them out."""

    line: int
    patient_id: int | None
    phone: str | None  # E.164
    name: str
    timezone: str | None
    language: str | None
    consent: bool
    start_at: datetime
    duration: int
    kind: str


def parse_row(line: int, cells: dict[str, str], settings: Settings, now: datetime) -> Row:
    """The row's values, or CellError naming the first bad column (in header order)."""
    for column in COLUMNS:
        check_cell(column, cells.get(column, ""))
    start_at = _start(cells.get("start", ""), settings.timezone, now)
    patient_id = _patient_id(cells.get("patient_id", ""))
    phone = _phone(cells.get("phone", "")) if patient_id is None else None
    return Row(
        line=line,
        patient_id=patient_id,
        phone=phone,
        name=" ".join(cells.get("name", "").split()),
        timezone=_timezone(cells.get("timezone", "")),
        language=_language(cells.get("language", "")),
        consent=_yes_no(cells.get("consent") or "yes"),
        start_at=start_at,
        duration=_duration(cells.get("duration") or "60"),
        kind=cells.get("kind") or "session",
    )


def check_cell(column: str, value: str) -> None:
    """Length and characters: what PostgreSQL would refuse (NUL) or a person cannot see."""
    limit = MAX_LENGTH.get(column)
    if limit is not None and len(value) > limit:
        raise CellError(column, f"longer than {limit} characters ({len(value)})")
    if _REFUSED.search(value) is None:
        return
    for char in value:
        if char == "\x00":
            raise CellError(column, "contains a NUL byte")
        if unicodedata.category(char) == "Cc" or char in _BIDI:
            raise CellError(column, f"contains the control character U+{ord(char):04X}")


def _start(text: str, zone: str, now: datetime) -> datetime:
    if not text:
        raise CellError("start", "empty")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CellError("start", f"{text!r} is not an ISO 8601 time like 2026-12-01T15:30") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=check_timezone(zone))
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed over the edge by the offset
        raise CellError("start", f"{text!r} is out of range") from None
    if value <= now:
        raise CellError("start", f"{value.isoformat()} is in the past")
    return value


def _patient_id(text: str) -> int | None:
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise CellError("patient_id", f"{text!r} is not a patient id")
    return int(text)


def _phone(text: str) -> str:
    if not text:
        raise CellError("phone", "empty (give phone or patient_id)")
    try:
        return to_e164(text)
    except InputError as exc:
        raise CellError("phone", str(exc)) from None


def _timezone(text: str) -> str | None:
    if not text:
        return None
    try:
        check_timezone(text)
    except ValueError as exc:
        raise CellError("timezone", str(exc)) from None
    return text


def _language(text: str) -> str | None:
    if not text:
        return None
    if text.lower() not in LANGUAGES:
        raise CellError("language", f"{text!r} is not one of {', '.join(LANGUAGES)}")
    return text.lower()


def _duration(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_DURATION_MINUTES:
        raise CellError(
            "duration", f"{text!r} is not a whole number of minutes from 1 to {MAX_DURATION_MINUTES}"
        )
    return int(text)


def _yes_no(text: str) -> bool:
    value = text.lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise CellError("consent", f"{text!r} is not yes or no")
