"""Quiet hours: no planned text at night in the patient's own wall-clock time. Pure functions.

Quiet hours are wall-clock times in the patient's zone (TCPA: no texts before 8 a.m. or after
9 p.m. at the recipient's location). Instants are walked in real minutes and each is read on
the local clock, so daylight-saving jumps (a skipped or repeated hour) need no special case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from worker.lib.quiet_window import QuietHours

# How every reason given here begins: re-planning (worker.messages.replan) recognises a row
# skipped for quiet hours by it.
REASON_PREFIX = "quiet hours"


@dataclass(frozen=True)
class Placement:
    """Where a planned message goes: `due_at`, or nowhere (`due_at` None) with a reason."""

    due_at: datetime | None
    reason: str | None = None

    @property
    def moved(self) -> bool:
        return self.reason is not None and self.due_at is not None


def place_before_session(
    due_at: datetime, session_start: datetime, not_before: datetime, zone: str, quiet: QuietHours | None
) -> Placement:
    """A pre-session reminder: outside quiet hours it stays; inside, it moves earlier to the
    last allowed minute before they began; if that is already past (`not_before`: when it was
    booked or planned), to the end of quiet hours if that is still before the session;
    otherwise it is not sent."""
    if quiet is None or not quiet.contains(due_at, zone):
        return Placement(due_at)
    earlier = quiet.last_allowed_before(due_at, zone)
    if earlier >= not_before:
        return Placement(earlier, f"{REASON_PREFIX} {quiet}: moved earlier")
    later = quiet.end_after(due_at, zone)
    if later < session_start:
        return Placement(later, f"{REASON_PREFIX} {quiet}: moved to their end")
    return Placement(None, f"{REASON_PREFIX} {quiet}: no allowed time before the session")


def place_after_session(due_at: datetime, zone: str, quiet: QuietHours | None) -> Placement:
    """A post-session message inside quiet hours waits for them to end."""
    if quiet is None or not quiet.contains(due_at, zone):
        return Placement(due_at)
    return Placement(quiet.end_after(due_at, zone), f"{REASON_PREFIX} {quiet}: moved to their end")
