"""Follow-up questionnaires after a session: which, and when (relative to the session's end).

Which plan an appointment gets depends on its kind, so the clinic's list of appointment kinds
(config/kinds.yaml) is read here too: a plan for a kind that cannot be booked is a typo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from worker.lib.durations import format_duration
from worker.lib.errors import InputError
from worker.lib.quiet_window import QuietHours
from worker.planning.quiet import place_after_session
from worker.settings import FollowUp, bundled_config_dir, parse_plan

KINDS_FILE = "kinds.yaml"
DEFAULT_KIND = "session"  # what `appointments add` and the CSV import book without a kind
MAX_KIND_LENGTH = 64  # the CSV import's limit for the kind column
_SEPARATORS = re.compile(r"[\s_-]+")
_KIND_SHAPE = re.compile(r"\w+(?:-\w+)*")


def kind_key(text: str) -> str:
    """A kind as it is stored: lowercase, words joined by one hyphen. So `Consult`, ` consult `
    and `CONSULT` are one kind, and a spreadsheet's "Ketamine Infusion" is ketamine-infusion."""
    return _SEPARATORS.sub("-", text.strip().lower()).strip("-")


def unknown_kind(text: str, known: tuple[str, ...]) -> str:
    shown = text.strip()
    if len(shown) > MAX_KIND_LENGTH:
        shown = shown[:MAX_KIND_LENGTH] + "..."
    return f"unknown kind {shown!r}; known kinds: {', '.join(known)}"


def kinds_file(folder: Path) -> Path:
    """kinds.yaml of a config folder, else the shipped one: a folder copied before the file
    existed keeps booking the shipped kinds rather than refusing every appointment."""
    own = folder / KINDS_FILE
    return own if own.exists() else bundled_config_dir() / KINDS_FILE


def load_kinds(path: Path) -> tuple[str, ...]:
    """config/kinds.yaml: the appointment kinds that can be booked, in the file's order."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read appointment kinds: {exc.strerror or exc}") from None
    except yaml.YAMLError:
        raise InputError(f"{path.name}: not valid YAML") from None
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{path.name}: expected a list of appointment kinds, like [session, consult]")
    kinds: list[str] = []
    for item in raw:
        kinds.append(_one_kind(path.name, item, kinds))
    if DEFAULT_KIND not in kinds:
        raise InputError(f"{path.name}: must list {DEFAULT_KIND!r}, the kind booked when none is given")
    return tuple(kinds)


def _one_kind(name: str, item: object, seen: list[str]) -> str:
    # YAML reads a bare `yes`, `no` or `2024` as a boolean or a number: not a kind's name.
    key = kind_key(item) if isinstance(item, str) else ""
    if not _KIND_SHAPE.fullmatch(key) or len(key) > MAX_KIND_LENGTH:
        raise InputError(
            f"{name}: {item!r} is not a kind name (letters or digits, words joined by hyphens, "
            f"at most {MAX_KIND_LENGTH} characters)"
        )
    if key in seen:
        raise InputError(f"{name}: {key!r} is listed twice")
    return key


def load_overrides(path: Path) -> dict[str, tuple[FollowUp, ...]]:
    """config/followups.yaml: appointment kind -> its own plan (a list of `id@delay`). Each kind
    must be one of kinds.yaml beside it (in any case); the plans are keyed by the stored form.
    kinds.yaml is read even when there is no followups.yaml, so `doctor` checks it either way."""
    known = load_kinds(kinds_file(path.parent))
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise InputError(f"{path.name}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path.name}: expected appointment kinds, each with a list like [phq9@7d]")
    plans: dict[str, tuple[FollowUp, ...]] = {}
    for kind, items in raw.items():
        key = kind_key(str(kind))
        if key not in known:
            raise InputError(f"{path.name}: {unknown_kind(str(kind), known)} (add it to {KINDS_FILE})")
        if key in plans:
            raise InputError(f"{path.name}: {key!r} is listed twice")
        try:
            plans[key] = parse_plan(",".join(str(i) for i in (items or [])))
        except ValueError as exc:
            raise InputError(f"{path.name}: {kind}: {exc}") from None
    return plans


@dataclass(frozen=True)
class PlannedFollowUp:
    key: str
    template: str
    due_at: datetime
    original_due_at: datetime | None
    adjust_reason: str | None


def plan_followups(
    appointment_id: int,
    start_at: datetime,
    duration: timedelta,
    plan: tuple[FollowUp, ...],
    now: datetime,
    zone: str,
    quiet: QuietHours | None,
) -> list[PlannedFollowUp]:
    end = start_at + duration
    planned = []
    for follow in plan:
        due = end + follow.after
        if due <= now:
            continue
        place = place_after_session(due, zone, quiet)
        assert place.due_at is not None  # after the session there is always an allowed time
        offset = format_duration(follow.after)
        key = f"appt:{appointment_id}:followup:{follow.questionnaire}:{offset}:{int(start_at.timestamp())}"
        planned.append(
            PlannedFollowUp(
                key, follow.questionnaire, place.due_at, due if place.moved else None, place.reason
            )
        )
    return planned
