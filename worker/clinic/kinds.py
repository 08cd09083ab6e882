"""Appointment kinds: a known set from the clinic's config/kinds.yaml, read in any case.

The kind picks the follow-up plan (config/followups.yaml), so free text was a trap: `Consult`
planned three questionnaires after a consultation that `consult` planned none for. Every
way in (a command, the CSV import) goes through `canonical_kind`, which stores the form the
file lists and refuses anything else with the list.
"""

from __future__ import annotations

import functools
from pathlib import Path

from worker.lib.errors import InputError
from worker.planning.followups import KINDS_FILE, kind_key, kinds_file, load_kinds, unknown_kind
from worker.settings import Settings, config_file


def known_kinds(settings: Settings) -> tuple[str, ...]:
    """The kinds that can be booked, as stored (lowercase, hyphenated), in the file's order."""
    path = kinds_file(config_file(settings, KINDS_FILE).parent)
    # Read once per change of the file (an import asks once per spelling); the size too, since
    # two quick edits can share a modification time.
    stat = path.stat() if path.exists() else None
    return _cached_kinds(path, (stat.st_mtime_ns, stat.st_size) if stat else (0, 0))


def canonical_kind(settings: Settings, text: str) -> str:
    """`text` as the known kind it names (`Consult` -> `consult`); InputError, one line with
    the known kinds, when it names none."""
    known = known_kinds(settings)
    key = kind_key(text)
    if key not in known:
        raise InputError(unknown_kind(text, known))
    return key


@functools.lru_cache(maxsize=8)
def _cached_kinds(path: Path, _stamp: tuple[int, int]) -> tuple[str, ...]:
    return load_kinds(path)
