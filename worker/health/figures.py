"""The counts and ages that say how the work is going, read from the database and Redis:
the web server's scrape-time gauges (worker.web.metrics) and /healthz/details show the same
figures, read by the same queries. Counts and ages only: no id, phone, name or text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.outbound.dispatch import due_backlog, message_counts, queue_health
from worker.runtime import Runtime
from worker.safety.alerts import count_alerts, list_alerts
from worker.settings import beat_heartbeat_key, urgent_queue

# Celery's Redis transport keeps a queue's prioritised tasks in lists of their own, named
# with this separator and the priority step (kombu.transport.redis).
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


@dataclass(frozen=True)
class DatabaseFigures:
    message_rows: dict[tuple[str, str], int]  # (kind, status) -> rows
    due_backlog: int  # what the dispatcher would claim now
    oldest_due_age_seconds: float
    ambiguous: int
    stuck_sending: int
    unprocessed_replies: int
    open_alerts: int
    oldest_open_alert_age_seconds: float

    def as_json(self) -> dict[str, object]:
        return {
            "due_backlog": self.due_backlog,
            "oldest_due_age_seconds": round(self.oldest_due_age_seconds, 1),
            "ambiguous": self.ambiguous,
            "stuck_sending": self.stuck_sending,
            "unprocessed_replies": self.unprocessed_replies,
            "open_safety_alerts": self.open_alerts,
            "oldest_open_alert_age_seconds": round(self.oldest_open_alert_age_seconds, 1),
        }


@dataclass(frozen=True)
class RedisFigures:
    queue_depths: dict[str, int]  # Celery queue -> tasks waiting
    beat_last_run_age_seconds: float | None  # None: beat never ran against this Redis

    def as_json(self) -> dict[str, object]:
        age = self.beat_last_run_age_seconds
        return {
            "queue_depths": self.queue_depths,
            "beat_last_run_age_seconds": None if age is None else round(age, 1),
        }


def database_figures(rt: Runtime, now: datetime) -> DatabaseFigures:
    """Raises what the database raises: the caller says what a failure costs."""
    with rt.sessions() as session:
        counts = message_counts(session)
        backlog, oldest_due = due_backlog(session, now)
        health = queue_health(session, now, rt.settings.dispatch_interval)
        open_alerts = count_alerts(session, open_only=True)
        # Newest first: the last of the open ones is the oldest.
        oldest = list_alerts(session, open_only=True, limit=1, offset=max(open_alerts - 1, 0))
    return DatabaseFigures(
        message_rows=counts,
        due_backlog=backlog,
        oldest_due_age_seconds=_age(now, oldest_due),
        ambiguous=sum(n for (_, status), n in counts.items() if status == "ambiguous"),
        stuck_sending=health.stuck_sending,
        unprocessed_replies=health.unprocessed_replies,
        open_alerts=open_alerts,
        oldest_open_alert_age_seconds=_age(now, oldest[0].created_at if oldest else None),
    )


def redis_figures(rt: Runtime, now: float) -> RedisFigures | None:
    """None without Redis (the demo's in-process broker); raises what Redis raises."""
    client: Any = rt.redis
    if client is None:
        return None
    settings = rt.settings
    names = (settings.queue_name, urgent_queue(settings))
    pipe = client.pipeline(transaction=False)
    for name in names:
        for key in _queue_keys(name):
            pipe.llen(key)
    pipe.get(beat_heartbeat_key(settings))
    *lengths, stamp = pipe.execute()
    per_queue = len(_PRIORITY_STEPS) + 1
    depths = {name: sum(lengths[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(names)}
    age = max(0.0, now - float(stamp)) if stamp is not None else None
    return RedisFigures(depths, age)


def _queue_keys(name: str) -> tuple[str, ...]:
    return (name, *(f"{name}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS))


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0
