"""The ASGI app: Twilio's webhooks, the health probes and /metrics, built from Settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from anyio import to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from worker.health.probes import details, readiness
from worker.lib.errors import ConfigError
from worker.lib.logs import configure_logging
from worker.runtime import Runtime, build_runtime
from worker.settings import Settings, load_settings
from worker.web.batcher import ReplyBatcher
from worker.web.hooks import make_inbound_endpoint, make_status_endpoint, status_writer
from worker.web.inbox import Inbox
from worker.web.metrics import WebhookMetrics, make_metrics_endpoint

# Threads for the work that still runs in one (health checks, enqueueing safety texts), and
# as many database connections, which also cover the two group-commit writers (inbound
# texts, status callbacks): with more users than connections a pool churns them.
WEB_THREADS = 20


def from_environment() -> Starlette:
    """The app for `web --workers N`: each server process reads the settings itself."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    require_webhook_settings(settings)
    rt = runtime or build_runtime(settings, pool_size=WEB_THREADS)
    inbox, statuses, batcher = Inbox(rt), status_writer(rt), ReplyBatcher(settings)

    async def livez(_request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def readyz(_request: Request) -> JSONResponse:
        checks = await asyncio.to_thread(readiness, rt)
        healthy = all(check.ok for check in checks.values())
        body = {"ok": healthy, "checks": {name: check.as_dict() for name, check in checks.items()}}
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def health_details(_request: Request) -> JSONResponse:
        return JSONResponse(await asyncio.to_thread(details, rt))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = WEB_THREADS
        yield
        inbox.close()
        statuses.close()
        batcher.flush()
        rt.close()

    routes = [
        Route("/twilio/sms", make_inbound_endpoint(rt, inbox, batcher), methods=["POST"]),
        Route("/twilio/status", make_status_endpoint(rt, statuses), methods=["POST"]),
        Route("/livez", livez, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/healthz", readyz, methods=["GET"]),  # what deployments made before /readyz probe
        Route("/healthz/details", health_details, methods=["GET"]),
        Route("/metrics", make_metrics_endpoint(rt), methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(WebhookMetrics)])


def require_webhook_settings(settings: Settings) -> None:
    """Without these no signature can be checked, and an unchecked webhook is an open door."""
    missing = []
    if not settings.public_url:
        missing.append("CLINIC_PUBLIC_URL: needed to check Twilio's signatures (the URL Twilio calls)")
    if not settings.twilio_auth_token.get_secret_value():
        missing.append("CLINIC_TWILIO_AUTH_TOKEN: needed to check Twilio's signatures")
    if missing:
        raise ConfigError(missing)
