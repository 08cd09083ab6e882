"""Where worker and beat stamp their heartbeats, how old a stamp may be, and the check that
`clinic-worker worker --check` and `beat --check` run.

A worker stamps only while its consumer is taking tasks: the watchdog thread stamps after a
check at which the worker's event loop answered and no waiting task was left standing while
the worker had room (worker.jobs.watchdog). Beat stamps while its scheduler ticks, or while
it waits as the standby for another beat's lock (worker.jobs.beat).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from worker.lib.heartbeat import HEARTBEAT_SUFFIX, default_heartbeat_dir, read
from worker.settings import Settings, urgent_queue

# Six of the watchdog's 5-second checks: a stalled consumer fails its check within
# ten seconds of stall detection plus this, well inside a minute.
WORKER_STALE_SECONDS = 30.0
# Beat ticks at least every 5 s (beat_max_loop_interval); a dispatch interval longer than
# that does not slow the ticks.
BEAT_STALE_SECONDS = 30.0

WORKER = "worker"
URGENT_WORKER = "worker-urgent"
BEAT = "beat"
_STALE_SECONDS = {WORKER: WORKER_STALE_SECONDS, URGENT_WORKER: WORKER_STALE_SECONDS, BEAT: BEAT_STALE_SECONDS}


def heartbeat_path(settings: Settings, role: str) -> Path:
    folder = settings.heartbeat_dir or default_heartbeat_dir()
    return folder / f"{settings.queue_name}.{role}{HEARTBEAT_SUFFIX}"


def worker_role(settings: Settings, queues: Sequence[str]) -> str:
    """`worker --urgent-only` consumes the urgent queue alone; every other worker is `worker`."""
    return URGENT_WORKER if list(queues) == [urgent_queue(settings)] else WORKER


def check_heartbeat(settings: Settings, role: str) -> tuple[bool, str]:
    """(fresh?, one line for the operator)."""
    path = heartbeat_path(settings, role)
    limit = _STALE_SECONDS[role]
    reading = read(path)
    if reading.age_seconds is None:
        return False, f"{role}: no heartbeat at {path} (not started yet, or not in this container)"
    state = reading.facts.get("state", "running")
    age = f"{reading.age_seconds:.0f} s ago"
    if not reading.fresh(limit):
        return False, f"{role}: last heartbeat {age} (more than {limit:g} s): {_stale_advice(role)}"
    return True, f"{role}: {state}, heartbeat {age} (pid {reading.facts.get('pid', '?')})"


def _stale_advice(role: str) -> str:
    if role == BEAT:
        return "beat is hung or stopped"
    return "its consumer is not taking tasks (event loop blocked or queue left standing)"
