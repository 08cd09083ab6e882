"""ASGI app: health now; Twilio's webhooks are added by the replies feature."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from worker.health import check_database, check_queue, check_redis
from worker.runtime import Runtime, build_runtime
from worker.settings import Settings


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    rt = runtime or build_runtime(settings)

    async def healthz(_request: Request) -> JSONResponse:
        checks = await asyncio.to_thread(_health, rt)
        healthy = all(check["ok"] for check in checks.values())
        return JSONResponse({"ok": healthy, "checks": checks}, status_code=200 if healthy else 503)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        rt.close()

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"])], lifespan=lifespan)


def _health(rt: Runtime) -> dict[str, dict[str, object]]:
    return {
        "database": check_database(rt.engine, rt.settings).as_dict(),
        "redis": check_redis(rt.redis).as_dict(),
        "queue": check_queue(rt.engine, rt.settings).as_dict(),
    }
