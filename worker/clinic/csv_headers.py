"""Which field each column of an import file holds: the header read as spreadsheets write it.

Clinics export appointments from a scheduling system or a spreadsheet whose header says
"Appointment Date" or "Mobile", not `start` or `phone`. A header is compared with the fields
and their usual spreadsheet names with case, spaces and punctuation dropped ("Appointment
Date", "appointment_date" and "APPOINTMENT-DATE" are one name); `--map 'Column=field'` names
a column no alias covers and `--map 'Column=-'` drops one. The mapping is made once per file:
rows are then read by position, never by looking a header up again.

Every problem of the header (unknown columns, missing fields, two columns for one field) is
reported at once, in one line: the operator fixes them together, not one per run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from worker.lib.errors import InputError

# What a column can hold. name may instead come from first_name and last_name, and start
# from date and time (exports often split them).
FIELDS = (
    "phone",
    "patient_id",
    "name",
    "first_name",
    "last_name",
    "start",
    "date",
    "time",
    "duration",
    "kind",
    "timezone",
    "language",
    "consent",
)
IGNORE = "-"  # --map 'Column=-': the column is read by nobody
# No MRN: it is the clinic system's record number, not our patient_id.
ALIASES: dict[str, tuple[str, ...]] = {
    "phone": (
        "mobile", "mobile phone", "cell", "cell phone", "phone number", "mobile number",
        "patient phone", "telephone",
    ),
    "patient_id": ("patient number",),
    "name": ("patient name", "patient", "full name"),
    "first_name": ("given name",),
    "last_name": ("surname", "family name"),
    "start": (
        "appointment start", "start time", "appointment datetime", "date/time", "appointment date time",
    ),
    "date": ("appointment date", "visit date"),
    "time": ("appointment time", "visit time"),
    "duration": ("length", "duration (min)", "duration minutes", "minutes", "appointment length"),
    "kind": ("appointment type", "type", "visit type", "appointment kind", "service"),
    "timezone": ("time zone", "tz"),
    "language": ("preferred language", "lang"),
    "consent": ("sms consent", "text consent", "consent to text", "sms opt in", "text opt in"),
}  # fmt: skip
_NOT_NAME = re.compile(r"[\W_]+")
_SHOWN = 40  # characters of a header quoted in a message


def normalise(header: str) -> str:
    """A header as compared: lowercase letters and digits only ("Duration (min)" -> durationmin)."""
    return _NOT_NAME.sub("", header.casefold())


def _names() -> dict[str, str]:
    names = {normalise(field): field for field in FIELDS}
    for field, aliases in ALIASES.items():
        for alias in aliases:
            assert names.setdefault(normalise(alias), field) == field, f"alias {alias!r} is taken"
    return names


_FIELD_OF = _names()  # every name a header may have -> its field
_FIELD_NAMED = {normalise(field): field for field in FIELDS}  # what --map accepts after '='


@dataclass(frozen=True)
class Layout:
    """Where each field is in a row of the file."""

    width: int  # cells in the header
    single: tuple[tuple[str, int], ...]  # (field, position) of the columns read as they are
    name_parts: tuple[int, ...]  # first_name and last_name positions, joined into name
    unnamed: tuple[int, ...]  # columns without a header: ignored while their cells are empty

    def cells(self, raw: Sequence[str]) -> dict[str, str]:
        """A row's cells by field, stripped. `raw` has at least `width` cells."""
        cells = {field: raw[at].strip() for field, at in self.single}
        if self.name_parts:
            cells["name"] = " ".join(part for at in self.name_parts if (part := raw[at].strip()))
        return cells

    def stray(self, raw: Sequence[str]) -> str | None:
        """A row's value under a column without a header: a cell nobody would read."""
        for at in self.unnamed:
            if raw[at].strip():
                return f"row: a value in column {at + 1}, which has no header"
        return None


def parse_map(items: Sequence[str]) -> dict[str, tuple[str, str]]:
    """--map COLUMN=FIELD items as {normalised column: (column as typed, field or IGNORE)};
    InputError, one line, for the first bad one (these come before the file is read)."""
    mapped: dict[str, tuple[str, str]] = {}
    for item in items:
        column, equals, target = (part.strip() for part in item.rpartition("="))
        if not equals or not column:
            raise InputError(f"--map {item!r}: expected COLUMN=FIELD, like --map 'Cell #=phone'")
        field = IGNORE if target == IGNORE else _FIELD_NAMED.get(normalise(target))
        if field is None:
            raise InputError(f"--map {item!r}: unknown field {target!r}; fields: {', '.join(FIELDS)}, -")
        if mapped.setdefault(normalise(column), (column, field))[1] != field:
            raise InputError(f"--map names the column {column!r} twice")
    return mapped


def resolve(
    source: str, header: Sequence[str], mapping: dict[str, tuple[str, str]], *, ignore_unknown: bool
) -> Layout:
    """The layout of a file with this header, or one InputError naming every problem of it."""
    reading = _Reading(header, mapping, ignore_unknown)
    missing = reading.missing()
    problems = [*reading.unmapped(), *reading.doubled(), *reading.clashes(), *missing]
    if reading.unknown:
        problems.insert(0, f"unknown column{_s(reading.unknown)} {_listed(reading.unknown)}")
    if problems:
        hint = reading.hint() if reading.unknown or missing else ""
        raise InputError(f"{source}: {'; '.join(problems)}{hint}")
    return reading.layout()


class _Reading:
    """The header read column by column: which field each holds, and what does not fit."""

    def __init__(
        self, header: Sequence[str], mapping: dict[str, tuple[str, str]], ignore_unknown: bool
    ) -> None:
        self.header, self.mapping = [name.strip() for name in header], mapping
        self.at: dict[str, list[int]] = {}  # field -> positions of the columns holding it
        self.unknown: list[str] = []
        self.unnamed: list[int] = []
        for position, name in enumerate(self.header):
            mapped = mapping.get(normalise(name))
            field = mapped[1] if mapped else _FIELD_OF.get(normalise(name))
            if not name:
                self.unnamed.append(position)
            elif field is not None and field != IGNORE:
                self.at.setdefault(field, []).append(position)
            elif field is None and not ignore_unknown:
                self.unknown.append(name)
        self._start_time_as_time()
        self._date_alone_as_start()

    def _date_alone_as_start(self) -> None:
        """An "Appointment Date" with no time column beside it holds the whole start
        ("12/05/2026 09:00 AM"): most exports that do not split them name it so. Not when
        --map said `date` in so many words: then the missing time is reported."""
        dates = self.at.get("date", [])
        if "time" in self.at or "start" in self.at or len(dates) != 1:
            return
        if normalise(self.header[dates[0]]) not in self.mapping:
            self.at["start"] = self.at.pop("date")

    def _start_time_as_time(self) -> None:
        """ "Start Time" beside a date column is the time of day: the split export's usual pair."""
        starts = self.at.get("start", [])
        if "date" in self.at and "time" not in self.at and len(starts) == 1:
            name = normalise(self.header[starts[0]])
            if name == "starttime" and name not in self.mapping:
                self.at["time"] = self.at.pop("start")

    def unmapped(self) -> list[str]:
        present = {normalise(name) for name in self.header}
        return [
            f"--map names no column of the file: {_shown(column)}"
            for key, (column, _) in self.mapping.items()
            if key not in present
        ]

    def doubled(self) -> list[str]:
        found = []
        for field, positions in self.at.items():
            names = [self.header[at] for at in positions]
            if len(names) < 2:
                continue
            if len({name.casefold() for name in names}) == 1:
                found.append(f"column {_shown(names[0])} appears twice")
            else:
                every = "both" if len(names) == 2 else "all"
                found.append(
                    f"columns {_listed(names)} {every} hold {field}; drop one with {_drop(names[-1])}"
                )
        return found

    def clashes(self) -> list[str]:
        groups = (
            ("start", ("date", "time"), "a date and a time"),
            ("name", ("first_name", "last_name"), "a first and a last name"),
        )
        found = []
        for whole, parts, described in groups:
            other = next((part for part in parts if part in self.at), None)
            if whole in self.at and other is not None:
                dropped = self.header[self.at[other][0]]
                found.append(
                    f"columns {self._name(whole)} and {_shown(dropped)} both give the {whole} "
                    f"(a {whole} column, or {described}); drop one with {_drop(dropped)}"
                )
        return found

    def missing(self) -> list[str]:
        found = []
        has = self.at.keys()
        if not has & {"start", "date", "time"}:
            found.append("missing column 'start' (or 'date' and 'time')")
        elif "start" not in has and "time" not in has:
            date = self.header[self.at["date"][0]]
            found.append(
                f"missing column 'time' (the time of day beside {_shown(date)}; if that column holds "
                f"the time too, read it as the start: --map {date + '=start'!r})"
            )
        elif "start" not in has and "date" not in has:
            found.append(f"missing column 'date' (the day beside {self._name('time')})")
        if not has & {"phone", "patient_id"}:
            found.append("missing column 'phone' (or 'patient_id')")
        return found

    def hint(self) -> str:
        example = self.unknown[0][:_SHOWN] if self.unknown else "Column"
        drop_all = ", --ignore-unknown drops every unknown column" if self.unknown else ""
        return (
            f"; fields: {', '.join(FIELDS)} (or their spreadsheet names, see docs/operations.md); "
            f"--map {example + '=FIELD'!r} reads a column as a field, {_drop(example)} drops it"
            f"{drop_all}"
        )

    def layout(self) -> Layout:
        parts = ("first_name", "last_name")
        single = tuple((field, at[0]) for field, at in self.at.items() if field not in parts)
        name_parts = tuple(self.at[field][0] for field in parts if field in self.at)
        return Layout(len(self.header), single, name_parts, tuple(self.unnamed))

    def _name(self, field: str) -> str:
        return _shown(self.header[self.at[field][0]])


def _shown(name: str) -> str:
    return repr(name if len(name) <= _SHOWN else name[:_SHOWN] + "...")


def _drop(name: str) -> str:
    return f"--map {name[:_SHOWN] + '=-'!r}"


def _listed(names: Sequence[str], joiner: str = ", ") -> str:
    return joiner.join(_shown(name) for name in names)


def _s(items: Sequence[object]) -> str:
    return "" if len(items) == 1 else "s"
