"""Every retry, hand-back and repeat timing, in one place, each with its unit in its name.

What is a setting (CLINIC_SEND_MAX_ATTEMPTS, CLINIC_CLAIM_LEASE, CLINIC_ALERT_REPEAT_MINUTES,
CLINIC_DISPATCH_INTERVAL) stays in Settings; this module holds the policy around them. The
backoff curve itself is the pure `worker.lib.backoff.backoff_seconds`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from worker.lib.backoff import backoff_seconds

# -- Sending -------------------------------------------------------------------------------
# A send that failed in a way worth retrying (connection, 5xx, 429) goes back to `queued`
# with a lease ending after this backoff: 5 s doubling per attempt, at most 300 s, each a
# random time between half and all of that, so many workers do not return in the same
# second after a provider outage.
SEND_RETRY_BASE_SECONDS = 5.0
SEND_RETRY_CAP_SECONDS = 300.0

# A text that was not sent after all (no send slot in time, the row no longer held, the
# limiter or the database failed before the call) is handed back: queued again, for the
# dispatcher to take after this pause. Not counted as an attempt.
HAND_BACK_SECONDS = 5.0

# Longest a text waits for a slot of the account-wide rate limit before it is handed back.
RATE_WAIT_SECONDS = 10.0

# A send task whose database was unavailable is retried by Celery (the rows are as the last
# commit left them): 2 s doubling, at most 30 s.
TASK_RETRY_BASE_SECONDS = 2.0
TASK_RETRY_CAP_SECONDS = 30.0

# Waiting out a database outage for a result that exists nowhere else (a SID Twilio just
# returned): 0.25 s doubling, at most 2 s between tries.
DB_RETRY_FIRST_PAUSE_SECONDS = 0.25
DB_RETRY_MAX_PAUSE_SECONDS = 2.0

# -- Replies -------------------------------------------------------------------------------
# The webhook hands the ids of stored replies to workers at most this long after storing
# them, in one Celery message for everything stored meanwhile.
REPLY_BATCH_SECONDS = 0.02
# The periodic sweep takes a stored reply nobody processed once it is this old: the task
# the webhook queued gets a head start.
REPLY_SWEEP_AFTER_SECONDS = 10.0

# -- Beat ---------------------------------------------------------------------------------
# Beat keeps its lock and schedule in Redis. While Redis does not answer (at start-up or
# later) it tries again this often instead of stopping.
BEAT_REDIS_RETRY_SECONDS = 2.0

# -- Safety --------------------------------------------------------------------------------
# A safety text (to the patient or to on-call) is written already claimed, with this lease:
# if the hand-over to a worker is lost, the dispatcher queues it again after this.
URGENT_LEASE_SECONDS = 10.0
# Alerts are texted to on-call again every CLINIC_ALERT_REPEAT_MINUTES until acknowledged.


def send_retry_seconds(attempt: int) -> float:
    """Seconds until a failed send is tried again, for its `attempt`-th attempt (1, 2, ...)."""
    return backoff_seconds(attempt, base=SEND_RETRY_BASE_SECONDS, cap=SEND_RETRY_CAP_SECONDS)


def task_retry_seconds(retries: int) -> float:
    """Seconds until a send task that met an unavailable database runs again."""
    return backoff_seconds(retries, base=TASK_RETRY_BASE_SECONDS, cap=TASK_RETRY_CAP_SECONDS)


def hand_back_until(now: datetime) -> datetime:
    return now + timedelta(seconds=HAND_BACK_SECONDS)


def urgent_lease() -> timedelta:
    return timedelta(seconds=URGENT_LEASE_SECONDS)


def reply_sweep_cutoff(now: datetime) -> datetime:
    """Stored replies received before this and still unprocessed are the sweep's."""
    return now - timedelta(seconds=REPLY_SWEEP_AFTER_SECONDS)


def alert_repeat_cutoff(now: datetime, repeat_minutes: int) -> datetime:
    """Open alerts last texted before this are texted to on-call again."""
    return now - timedelta(minutes=repeat_minutes)


def alert_escalation_level(opened_at: datetime, now: datetime, escalate_minutes: int, backups: int) -> int:
    """How many backup numbers an open alert should have reached by now: one more for every
    CLINIC_ALERT_ESCALATE_MINUTES since it opened, up to all of them."""
    elapsed_minutes = (now - opened_at).total_seconds() / 60
    return min(backups, max(0, int(elapsed_minutes // escalate_minutes)))
