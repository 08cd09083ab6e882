"""Every metric the code defines: name, type, labels, help and buckets.

The names are fixed: docs/monitoring/ (alert rules, Grafana dashboard) and the deployment
files use them. No label ever carries a phone number, a name, a text or an id: labels are
enum values (message kind and status, reply intent), Twilio error codes or short error
classes, and route paths. `worker.metrics.record` makes the recorded ones; the scrape-time
gauges are computed from the database and Redis by `worker.web.metrics` at each scrape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["counter", "histogram", "gauge"]

# Reminders are planned minutes to days ahead: lateness that matters is counted in minutes.
LATENESS_BUCKETS_SECONDS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
# One Messages.create call: tens of milliseconds when well, up to the Twilio timeouts when not.
PROVIDER_LATENCY_BUCKETS_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# A metered send waits at most RATE_WAIT_SECONDS (10 s) for its slot before handing back.
RATE_WAIT_BUCKETS_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
# Twilio gives a webhook 15 s; a group commit answers in milliseconds when the database is well.
WEBHOOK_LATENCY_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)


@dataclass(frozen=True)
class Spec:
    name: str  # as exposed: counters end in _total
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    def exposed(self) -> tuple[str, ...]:
        """The sample names Prometheus sees for this metric."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


# Recorded where things happen, in whichever process they happen (multiprocess mode).
MESSAGES = Spec(
    "clinic_messages_total",
    "counter",
    "Messages reaching an outcome at send time (sent, failed, skipped, ambiguous), by kind.",
    ("kind", "status"),
)
SEND_ATTEMPTS = Spec(
    "clinic_send_attempts_total", "counter", "Provider calls made to send a text.", ("kind",)
)
PROVIDER_ERRORS = Spec(
    "clinic_provider_errors_total",
    "counter",
    "Failed provider calls, by Twilio error code or a short class (timeout, connection, http_NNN).",
    ("code",),
)
SEND_LATENESS = Spec(
    "clinic_send_lateness_seconds",
    "histogram",
    "Seconds from a message's due time to the provider accepting it.",
    ("kind",),
    LATENESS_BUCKETS_SECONDS,
)
PROVIDER_LATENCY = Spec(
    "clinic_provider_latency_seconds",
    "histogram",
    "Duration of one provider send call.",
    buckets=PROVIDER_LATENCY_BUCKETS_SECONDS,
)
RATE_LIMIT_WAIT = Spec(
    "clinic_rate_limit_wait_seconds",
    "histogram",
    "Seconds a send waited for a slot of the account-wide rate limit.",
    buckets=RATE_WAIT_BUCKETS_SECONDS,
)
CLAIMS = Spec("clinic_claims_total", "counter", "Due messages claimed by the dispatcher.")
LEASE_EXPIRIES = Spec(
    "clinic_lease_expiries_total",
    "counter",
    "Messages whose worker's lease ran out mid-send, found by the sweep (queued again or ambiguous).",
)
AMBIGUOUS_SENDS = Spec(
    "clinic_ambiguous_sends_total",
    "counter",
    "Sends that may or may not have reached the provider; never resent, left for an operator.",
)
INBOUND_TEXTS = Spec(
    "clinic_inbound_texts_total", "counter", "Inbound texts processed, by what they meant.", ("intent",)
)
DELIVERY_STATUSES = Spec(
    "clinic_delivery_statuses_total",
    "counter",
    "Delivery statuses applied to sent messages (callbacks and reconciliation), by new status.",
    ("status",),
)
WEBHOOK_REQUESTS = Spec(
    "clinic_webhook_requests_total", "counter", "Twilio webhook requests answered.", ("route", "status")
)
WEBHOOK_LATENCY = Spec(
    "clinic_webhook_latency_seconds",
    "histogram",
    "Seconds from a webhook request's arrival to its answer.",
    ("route",),
    WEBHOOK_LATENCY_BUCKETS_SECONDS,
)
RECORDED = (
    MESSAGES,
    SEND_ATTEMPTS,
    PROVIDER_ERRORS,
    SEND_LATENESS,
    PROVIDER_LATENCY,
    RATE_LIMIT_WAIT,
    CLAIMS,
    LEASE_EXPIRIES,
    AMBIGUOUS_SENDS,
    INBOUND_TEXTS,
    DELIVERY_STATUSES,
    WEBHOOK_REQUESTS,
    WEBHOOK_LATENCY,
)

# Computed at scrape time by the web server's /metrics, so they equal what the stores hold.
MESSAGE_ROWS = Spec("clinic_message_rows", "gauge", "Message rows by kind and status.", ("kind", "status"))
DUE_BACKLOG = Spec(
    "clinic_due_backlog_messages",
    "gauge",
    "Messages due but not claimed: planned rows past due, and queued rows whose lease ran out.",
)
OLDEST_DUE_AGE = Spec(
    "clinic_oldest_due_age_seconds", "gauge", "Age of the oldest due, unclaimed message (0 when none)."
)
AMBIGUOUS_ROWS = Spec(
    "clinic_ambiguous_messages", "gauge", "Messages in status ambiguous, waiting for an operator."
)
STUCK_SENDING = Spec(
    "clinic_stuck_sending_messages", "gauge", "Messages in sending whose lease ran out (the sweep's work)."
)
UNPROCESSED_REPLIES = Spec(
    "clinic_unprocessed_replies",
    "gauge",
    "Stored inbound texts not processed after a few dispatch intervals.",
)
OPEN_ALERTS = Spec("clinic_open_safety_alerts", "gauge", "Safety alerts nobody has acknowledged.")
OLDEST_OPEN_ALERT_AGE = Spec(
    "clinic_oldest_open_alert_age_seconds",
    "gauge",
    "Age of the oldest unacknowledged safety alert (0 when none).",
)
QUEUE_DEPTH = Spec("clinic_queue_depth", "gauge", "Tasks waiting in a Celery queue in Redis.", ("queue",))
BEAT_LAST_RUN_AGE = Spec(
    "clinic_beat_last_run_age_seconds",
    "gauge",
    "Seconds since the dispatcher (started by beat) last ran; absent if it never ran.",
)
DATABASE_UP = Spec("clinic_database_up", "gauge", "1 if the database answered this scrape's queries, else 0.")
REDIS_UP = Spec("clinic_redis_up", "gauge", "1 if Redis answered this scrape's reads, else 0.")
SCRAPED = (
    MESSAGE_ROWS,
    DUE_BACKLOG,
    OLDEST_DUE_AGE,
    AMBIGUOUS_ROWS,
    STUCK_SENDING,
    UNPROCESSED_REPLIES,
    OPEN_ALERTS,
    OLDEST_OPEN_ALERT_AGE,
    QUEUE_DEPTH,
    BEAT_LAST_RUN_AGE,
    DATABASE_UP,
    REDIS_UP,
)


def exposed_names() -> frozenset[str]:
    """Every sample name the code can expose, for checking the alert rules and dashboard."""
    return frozenset(name for spec in (*RECORDED, *SCRAPED) for name in spec.exposed())
