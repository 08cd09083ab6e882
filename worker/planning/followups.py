"""Follow-up questionnaires after a session: which, and when (relative to the session's end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from worker.lib.durations import format_duration
from worker.lib.errors import InputError
from worker.lib.quiet_window import QuietHours
from worker.planning.quiet import place_after_session
from worker.settings import FollowUp, parse_plan


def load_overrides(path: Path) -> dict[str, tuple[FollowUp, ...]]:
    """config/followups.yaml: appointment kind -> its own plan (a list of `id@delay`)."""
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise InputError(f"{path.name}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path.name}: expected appointment kinds, each with a list like [phq9@7d]")
    plans = {}
    for kind, items in raw.items():
        try:
            plans[str(kind)] = parse_plan(",".join(str(i) for i in (items or [])))
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
