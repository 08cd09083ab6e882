"""Recording: one small call at each point where something worth counting happens.

A metric must never cost a text: every function here swallows its own failure (a full disk
under the multiprocess folder, a label refused) and logs it once per process. Label values
are checked before use: anything that is not a short code-like word becomes `other`, so a
phone number or a text can never become a series.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import ParamSpec

from worker.metrics.catalogue import (
    AMBIGUOUS_SENDS,
    CLAIMS,
    DELIVERY_STATUSES,
    INBOUND_TEXTS,
    LEASE_EXPIRIES,
    MESSAGES,
    PROVIDER_ERRORS,
    PROVIDER_LATENCY,
    RATE_LIMIT_WAIT,
    SEND_ATTEMPTS,
    SEND_LATENESS,
    WEBHOOK_LATENCY,
    WEBHOOK_REQUESTS,
)
from worker.metrics.live import live

log = logging.getLogger(__name__)
P = ParamSpec("P")

# Statuses a message can end a send attempt in (worker.enums.MessageStatus values); the
# others (planned, queued, sending) are steps on the way and are not counted.
OUTCOMES = frozenset({"sent", "failed", "skipped", "ambiguous", "cancelled", "delivered", "undelivered"})
OTHER = "other"
_LABEL = re.compile(r"[A-Za-z0-9_./-]{1,48}")
# Seven digits in a row could be part of a phone number: never a label.
_LONG_DIGITS = re.compile(r"\d{7,}")
_failed: set[str] = set()


def safe_label(value: object) -> str:
    """`value` as a label if it looks like a code or an enum value, else `other`."""
    text = str(value)
    if _LABEL.fullmatch(text) is None or _LONG_DIGITS.search(text) is not None:
        return OTHER
    return text


def _never_raises(record: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(record)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            record(*args, **kwargs)
        except Exception as exc:
            if record.__name__ not in _failed:
                _failed.add(record.__name__)
                log.warning(
                    "metric not recorded", extra={"metric": record.__name__, "error": type(exc).__name__}
                )

    return guarded


def _seconds(value: float) -> float:
    return max(0.0, float(value))


@_never_raises
def record_send_attempt(kind: str) -> None:
    """A provider call was made for a text of this kind."""
    live().counter(SEND_ATTEMPTS).labels(kind=safe_label(kind)).inc()


@_never_raises
def record_sent(kind: str, lateness_seconds: float) -> None:
    """The provider accepted a text `lateness_seconds` after its due time (committed as sent)."""
    metrics = live()
    kind = safe_label(kind)
    metrics.counter(MESSAGES).labels(kind=kind, status="sent").inc()
    metrics.histogram(SEND_LATENESS).labels(kind=kind).observe(_seconds(lateness_seconds))


@_never_raises
def record_outcome(kind: str, status: str, count: int = 1) -> None:
    """`count` messages of this kind reached `status`; steps on the way are ignored. Sent
    texts go through `record_sent`, which also times them."""
    status = str(status)
    if status not in OUTCOMES or count <= 0:
        return
    metrics = live()
    metrics.counter(MESSAGES).labels(kind=safe_label(kind), status=status).inc(count)
    if status == "ambiguous":
        metrics.counter(AMBIGUOUS_SENDS).inc(count)


@_never_raises
def record_provider_error(code: str) -> None:
    """A provider call failed: Twilio's error code, or a class such as `timeout`."""
    live().counter(PROVIDER_ERRORS).labels(code=safe_label(code)).inc()


@_never_raises
def observe_provider_latency(seconds: float) -> None:
    live().histogram(PROVIDER_LATENCY).observe(_seconds(seconds))


@_never_raises
def observe_rate_limit_wait(seconds: float) -> None:
    live().histogram(RATE_LIMIT_WAIT).observe(_seconds(seconds))


@_never_raises
def record_claims(count: int) -> None:
    if count > 0:
        live().counter(CLAIMS).inc(count)


@_never_raises
def record_lease_expiries(count: int) -> None:
    if count > 0:
        live().counter(LEASE_EXPIRIES).inc(count)


@_never_raises
def record_inbound(intent: str) -> None:
    """An inbound text was processed and read as `intent` (worker.inbound.intents.INTENTS)."""
    live().counter(INBOUND_TEXTS).labels(intent=safe_label(intent)).inc()


@_never_raises
def record_delivery_status(status: str) -> None:
    """A delivery status (delivered, undelivered, failed, sent) moved a sent message on."""
    live().counter(DELIVERY_STATUSES).labels(status=safe_label(status)).inc()


@_never_raises
def record_webhook(route: str, status: int, seconds: float) -> None:
    """A webhook request to `route` (the route's path, never the raw URL) was answered."""
    metrics = live()
    route = safe_label(route)
    metrics.counter(WEBHOOK_REQUESTS).labels(route=route, status=safe_label(status)).inc()
    metrics.histogram(WEBHOOK_LATENCY).labels(route=route).observe(_seconds(seconds))
