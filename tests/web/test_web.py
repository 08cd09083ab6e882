"""GET /healthz through the real ASGI app."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import make_settings
from tests.twilio_standin import StandIn
from worker.runtime import Runtime, build_runtime
from worker.settings import Settings
from worker.web import create_app


async def _get(settings: Settings, rt: Runtime) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings, rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/healthz")


@pytest.mark.anyio
async def test_healthz_answers_ok_when_database_and_redis_answer(runtime: Runtime) -> None:
    response = await _get(runtime.settings, runtime)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and set(body["checks"]) == {"database", "redis", "queue"}


@pytest.mark.anyio
async def test_healthz_is_503_and_names_redis_when_redis_is_down(db_url: str, standin: StandIn) -> None:
    settings = make_settings(db_url, "redis://127.0.0.1:1/0", standin.url)
    rt = build_runtime(settings)
    response = await _get(settings, rt)
    rt.close()
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == {"ok": False, "detail": "no answer: ConnectionError"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_web_refuses_to_start_without_what_signatures_need(db_url: str) -> None:
    from worker.lib.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        create_app(make_settings(db_url, "redis://127.0.0.1:1/0", public_url=""))
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "CLINIC_PUBLIC_URL",
        "CLINIC_TWILIO_AUTH_TOKEN",
    ]
