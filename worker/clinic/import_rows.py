"""One CSV row of an appointment import, checked cell by cell without the database.

Every limit the database would enforce is checked here first, so a bad cell is reported as
`<column>: <reason>` on its line, never as a DataError from the driver. The limits are kept
as constants rather than read from the models: columns that become encrypted TEXT keep no
length in the schema, but a name of 10,000 characters is still a mistake. Every bad cell of
a row is reported, in one line (`start: ...; duration: ...`): a file is fixed in one go.

The start is read as `--date-format` says (`DateFormat`), from a start column or from a
date and a time column, and a time without an offset is a wall-clock time in the clinic's
zone that must name exactly one instant (`worker.lib.localtime.wall_clock`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo

from worker.clinic.csv_headers import FIELDS
from worker.clinic.kinds import canonical_kind, known_kinds
from worker.clinic.records import LANGUAGES, MAX_DURATION_MINUTES
from worker.lib.errors import InputError
from worker.lib.localtime import EXAMPLE_INPUT, wall_clock
from worker.lib.phones import to_e164
from worker.planning.followups import DEFAULT_KIND
from worker.settings import Settings, check_timezone

# Longest value each column accepts, in characters. name, kind, timezone and language are the
# schema's sizes; the others bound cells whose longest valid value is much shorter.
MAX_LENGTH = {
    "phone": 32,
    "patient_id": 12,
    "name": 200,
    "start": 64,
    "date": 32,
    "time": 32,
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
_ORDER = {name: n for n, name in enumerate(FIELDS)}  # a row's problems are listed in this order
T = TypeVar("T")


class CellError(InputError):
    """A cell that cannot be imported: `column: reason`."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column


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


@dataclass(frozen=True)
class RowPatient:
    """Who a refused row is for, when its patient cells are fine: the database can still say
    whether that patient is someone else (see importer.check_against_database)."""

    line: int
    patient_id: int | None
    phone: str | None  # E.164
    name: str


class RowError(InputError):
    """A row with bad cells: every one of them, in one line; `patient` when that part is fine."""

    def __init__(self, problems: list[str], patient: RowPatient | None) -> None:
        super().__init__("; ".join(problems))
        self.patient = patient


@dataclass
class RowRules:
    """What every row of one import is read with, worked out once per import."""

    settings: Settings
    now: datetime
    dates: DateFormat
    zone: ZoneInfo = field(init=False)
    kinds: dict[str, str] = field(default_factory=dict)  # cell -> kind: canonical_kind once per spelling

    def __post_init__(self) -> None:
        self.zone = check_timezone(self.settings.timezone)
        known_kinds(self.settings)  # a broken kinds.yaml is one error for the file, not one per row

    def kind(self, text: str) -> str:
        if not text:
            return DEFAULT_KIND
        found = self.kinds.get(text)
        if found is None:
            try:
                found = self.kinds[text] = canonical_kind(self.settings, text)
            except InputError as exc:
                raise CellError("kind", str(exc)) from None
        return found


def parse_row(line: int, cells: dict[str, str], rules: RowRules) -> Row:
    """The row's values, or RowError naming every bad column: `start: ...; kind: ...`."""
    row = _Cells(cells)
    patient_id = row.read("patient_id", _patient_id, None)
    by_id = patient_id is not None or "patient_id" in row.problems  # then the phone is not read
    parsed = Row(
        line=line,
        patient_id=patient_id,
        phone=None if by_id else row.read("phone", _phone, None),
        name=row.read("name", _name, ""),
        timezone=row.read("timezone", _timezone, None),
        language=row.read("language", _language, None),
        consent=row.read("consent", _consent, True),
        start_at=_start(row, rules),
        duration=row.read("duration", _duration, 60),
        kind=row.read("kind", rules.kind, DEFAULT_KIND),
    )
    if row.problems:
        columns = sorted(row.problems, key=_ORDER.__getitem__)
        patient = None
        if not row.problems.keys() & {"patient_id", "phone", "name"}:
            patient = RowPatient(line, parsed.patient_id, parsed.phone, parsed.name)
        raise RowError([row.problems[column] for column in columns], patient)
    return parsed


class _Cells:
    """One row's cells and the problems found in them so far: the first of each column."""

    __slots__ = ("cells", "problems")

    def __init__(self, cells: dict[str, str]) -> None:
        self.cells = cells
        self.problems: dict[str, str] = {}
        for column, value in cells.items():
            try:
                check_cell(column, value)
            except CellError as exc:
                self.problems[column] = str(exc)

    def read(self, column: str, parse: Callable[[str], T], default: T) -> T:
        """The column's value, or `default` with the problem noted (a bad cell is not parsed)."""
        if column in self.problems:
            return default
        try:
            return parse(self.cells.get(column, ""))
        except CellError as exc:
            self.problems.setdefault(exc.column, str(exc))
            return default


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


def _start(row: _Cells, rules: RowRules) -> datetime:
    """The start as UTC, from the start column or the date and time columns; `now` when bad."""
    dates = rules.dates
    local: datetime | None = None
    if "start" in row.cells:
        local = row.read("start", dates.start, None)
    elif dates.preset is None:  # a strptime format reads the date and the time together
        if "time" not in row.problems:
            local = row.read("date", lambda day: dates.joined(day, row.cells["time"]), None)
    else:
        day, hour = row.read("date", dates.day, None), row.read("time", dates.hour, None)
        local = datetime.combine(day, hour) if day is not None and hour is not None else None
    if local is None:
        return rules.now
    return row.read("start", lambda _: _instant(local, rules), rules.now)


def _instant(local: datetime, rules: RowRules) -> datetime:
    try:
        value = local if local.tzinfo is not None else wall_clock(local, rules.zone)
        value = value.astimezone(UTC)
    except InputError as exc:  # a time skipped or repeated when the clocks change
        raise CellError("start", str(exc)) from None
    except OverflowError:  # year 1 or 9999 pushed over the edge by the offset
        raise CellError("start", f"{local.isoformat()} is out of range") from None
    if value <= rules.now:
        raise CellError("start", f"{value.isoformat()} is in the past")
    return value


_SAMPLE = datetime.fromisoformat(EXAMPLE_INPUT)  # the example every format message shows
_US_DAYS = ("%m/%d/%Y", "%m/%d/%y")
_US_TIMES = ("%I:%M %p", "%I:%M%p", "%H:%M", "%I %p", "%I%p", "%I:%M:%S %p", "%H:%M:%S")
_AM_PM = re.compile(r"[ap]\.?m\.?$", re.IGNORECASE)


class DateFormat:
    """How the file writes its times (--date-format): `iso` (ISO 8601, the default), `us`
    (12/01/2026 03:30 PM and its usual variants), or a strptime format. A date and a time
    column are read apart (`day`, `hour`), except with a strptime format, which reads them
    joined by a space (`joined`).
    Of several formats, the last one that matched is tried first: a file keeps to one."""

    def __init__(self, spec: str) -> None:
        self.spec = spec.strip()
        self.preset = self.spec.lower() if self.spec.lower() in ("iso", "us") else None
        if self.preset is None:
            self._check_custom()
        self.formats = [f"{day} {hour}" for day in _US_DAYS for hour in _US_TIMES]
        self.days, self.times = list(_US_DAYS), list(_US_TIMES)

    def _check_custom(self) -> None:
        usage = "use iso, us, or a strptime format like '%d.%m.%Y %H:%M'"
        if "%" not in self.spec:
            raise InputError(f"--date-format {self.spec!r}: {usage}")
        try:
            datetime.strptime(_SAMPLE.strftime(self.spec), self.spec)
        except ValueError as exc:
            raise InputError(f"--date-format {self.spec!r}: {exc}; {usage}") from None

    def start(self, text: str) -> datetime:
        if not text:
            raise CellError("start", "empty")
        if self.preset == "iso":
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                hint = _us_hint(_SAMPLE.strftime(self.formats[0])) if "/" in text else ""
                raise CellError(
                    "start", f"{text!r} is not an ISO 8601 time like {EXAMPLE_INPUT}{hint}"
                ) from None
        formats = self.formats if self.preset == "us" else [self.spec]
        return _first_match("start", text, formats, self._expected(formats[0]))

    def joined(self, day: str, hour: str) -> datetime:
        """The start from a date and a time cell, read together by a strptime format."""
        if not day or not hour:
            raise CellError("date" if not day else "time", "empty")
        return _first_match("start", f"{day} {hour}", [self.spec], self._expected(self.spec))

    def day(self, text: str) -> date:
        if not text:
            raise CellError("date", "empty")
        if self.preset == "us":
            return _first_match("date", text, self.days, self._expected(self.days[0])).date()
        try:
            return date.fromisoformat(text)
        except ValueError:
            hint = _us_hint(_SAMPLE.strftime(_US_DAYS[0])) if "/" in text else ""
            raise CellError("date", f"{text!r} is not an ISO 8601 date like {_SAMPLE.date()}{hint}") from None

    def hour(self, text: str) -> time:
        if not text:
            raise CellError("time", "empty")
        if self.preset == "us":
            return _first_match("time", text, self.times, self._expected(self.times[0], " or 15:30")).timetz()
        try:
            return time.fromisoformat(text)
        except ValueError:
            hint = _us_hint(_SAMPLE.strftime(_US_TIMES[0])) if _AM_PM.search(text) else ""
            raise CellError("time", f"{text!r} is not a 24-hour time like 15:30{hint}") from None

    def _expected(self, example_format: str, more: str = "") -> str:
        shown = self.preset or repr(self.spec)
        return f"does not match --date-format {shown} (like {_SAMPLE.strftime(example_format)}{more})"


def _first_match(column: str, text: str, formats: list[str], expected: str) -> datetime:
    """`text` read by the first of `formats` that fits; that one moves to the front."""
    for n, form in enumerate(formats):
        try:
            value = datetime.strptime(text, form)  # naive: a wall-clock time, see _instant
        except ValueError:
            continue
        if n:
            formats.insert(0, formats.pop(n))
        return value
    raise CellError(column, f"{text!r} {expected}")


def _us_hint(example: str) -> str:
    return f" (for {example} use --date-format us)"


def _name(text: str) -> str:
    return " ".join(text.split())


def _consent(text: str) -> bool:
    return _yes_no(text or "yes")


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
    text = text or "60"
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
