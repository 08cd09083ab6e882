"""GET /metrics on the web server, and the timing of Twilio's webhooks.

/metrics adds up what every process of this web server recorded (worker.metrics.scrape)
and computes, at each scrape, gauges from the database and Redis: they equal what the
stores hold at that moment, whichever process reads them. A store that does not answer
costs only its own gauges (and sets clinic_database_up or clinic_redis_up to 0), never the
scrape. Behind CLINIC_METRICS_TOKEN when one is set.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.db.models import utcnow
from worker.health.figures import database_figures, redis_figures
from worker.metrics.catalogue import (
    AMBIGUOUS_ROWS,
    BEAT_LAST_RUN_AGE,
    DATABASE_UP,
    DUE_BACKLOG,
    MESSAGE_ROWS,
    OLDEST_DUE_AGE,
    OLDEST_OPEN_ALERT_AGE,
    OPEN_ALERTS,
    QUEUE_DEPTH,
    REDIS_UP,
    STUCK_SENDING,
    UNPROCESSED_REPLIES,
    Spec,
)
from worker.metrics.record import record_webhook
from worker.metrics.scrape import CONTENT_TYPE, render, scrape_registry
from worker.runtime import Runtime

log = logging.getLogger(__name__)

WEBHOOK_ROUTES = ("/twilio/sms", "/twilio/status")

Endpoint = Callable[[Request], Awaitable[Response]]


def make_metrics_endpoint(rt: Runtime) -> Endpoint:
    """The GET /metrics endpoint of this web server."""
    token = rt.settings.metrics_token.get_secret_value()
    registry = scrape_registry(StoreGauges(rt))

    async def metrics(request: Request) -> Response:
        if token and not bearer_matches(request.headers.get("authorization"), token):
            return Response(
                "unauthorised",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = await run_in_threadpool(render, registry)  # database queries: off the event loop
        return Response(body, media_type=CONTENT_TYPE)

    return metrics


def bearer_matches(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class WebhookMetrics:
    """ASGI middleware: each answered request to a webhook route is counted by status and
    timed. The label is the route's path, matched exactly: never a raw URL or a query."""

    def __init__(self, app: ASGIApp, routes: Iterable[str] = WEBHOOK_ROUTES) -> None:
        self.app = app
        self.routes = frozenset(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.get("path")
        if scope["type"] != "http" or route not in self.routes:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before it starts a response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            record_webhook(str(route), status, time.perf_counter() - started)


class StoreGauges(Collector):
    """The scrape-time gauges: message rows, backlog, stuck and ambiguous sends, unprocessed
    replies and open safety alerts from the database; queue depths and beat's last run
    from Redis."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def collect(self) -> Iterator[Metric]:
        yield from self._database(utcnow())
        yield from self._redis(time.time())

    def _database(self, now: datetime) -> Iterator[Metric]:
        try:
            found = self._read_database(now)
        except Exception as exc:
            log.warning("metrics: the database did not answer", extra={"error": type(exc).__name__})
            yield _gauge(DATABASE_UP, 0)
            return
        yield _gauge(DATABASE_UP, 1)
        yield from found

    def _read_database(self, now: datetime) -> list[Metric]:
        found = database_figures(self._rt, now)
        rows = GaugeMetricFamily(MESSAGE_ROWS.name, MESSAGE_ROWS.help, labels=MESSAGE_ROWS.labels)
        for (kind, status), count in sorted(found.message_rows.items()):
            rows.add_metric([kind, status], count)
        return [
            rows,
            _gauge(DUE_BACKLOG, found.due_backlog),
            _gauge(OLDEST_DUE_AGE, found.oldest_due_age_seconds),
            _gauge(AMBIGUOUS_ROWS, found.ambiguous),
            _gauge(STUCK_SENDING, found.stuck_sending),
            _gauge(UNPROCESSED_REPLIES, found.unprocessed_replies),
            _gauge(OPEN_ALERTS, found.open_alerts),
            _gauge(OLDEST_OPEN_ALERT_AGE, found.oldest_open_alert_age_seconds),
        ]

    def _redis(self, now: float) -> Iterator[Metric]:
        try:
            found = redis_figures(self._rt, now)
        except Exception as exc:
            log.warning("metrics: Redis did not answer", extra={"error": type(exc).__name__})
            yield _gauge(REDIS_UP, 0)
            return
        if found is None:
            return  # the in-process broker of the demo: no Redis to read
        yield _gauge(REDIS_UP, 1)
        queues = GaugeMetricFamily(QUEUE_DEPTH.name, QUEUE_DEPTH.help, labels=QUEUE_DEPTH.labels)
        for queue, depth in found.queue_depths.items():
            queues.add_metric([queue], depth)
        yield queues
        if found.beat_last_run_age_seconds is not None:
            yield _gauge(BEAT_LAST_RUN_AGE, found.beat_last_run_age_seconds)


def _gauge(spec: Spec, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.help, value=value)
