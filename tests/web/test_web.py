"""The health probes through the real ASGI app: /livez, /readyz (and /healthz), /healthz/details."""

from __future__ import annotations

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from tests.conftest import RedisServer, make_settings
from tests.twilio_standin import StandIn
from worker.db.migrate import alembic_config, head_revision
from worker.runtime import Runtime, build_runtime
from worker.settings import Settings
from worker.web import create_app


async def _get(settings: Settings, rt: Runtime, path: str = "/healthz") -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings, rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/readyz", "/healthz"])
async def test_readiness_answers_ok_when_database_and_redis_answer(runtime: Runtime, path: str) -> None:
    response = await _get(runtime.settings, runtime, path)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and set(body["checks"]) == {"database", "redis"}


@pytest.mark.anyio
async def test_with_redis_down_readiness_is_503_naming_redis_and_liveness_stays_200(
    db_url: str, standin: StandIn
) -> None:
    settings = make_settings(db_url, "redis://127.0.0.1:1/0", standin.url)
    rt = build_runtime(settings)
    ready, old, alive = [await _get(settings, rt, path) for path in ("/readyz", "/healthz", "/livez")]
    rt.close()
    for response in (ready, old):
        assert response.status_code == 503
        assert response.json()["checks"]["redis"] == {"ok": False, "detail": "no answer: ConnectionError"}
    assert (alive.status_code, alive.json()) == (200, {"ok": True})


@pytest.mark.anyio
async def test_with_no_database_readiness_is_503_without_naming_the_host_and_liveness_stays_200(
    standin: StandIn, redis_server: RedisServer
) -> None:
    settings = make_settings(
        "postgresql://clinic_app:secret-pw@127.0.0.1:1/nothing", redis_server.url, standin.url
    )
    rt = build_runtime(settings)
    ready, alive = [await _get(settings, rt, path) for path in ("/readyz", "/livez")]
    rt.close()
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["ok"] is False
    assert "127.0.0.1" not in ready.text and "secret-pw" not in ready.text and "clinic_app" not in ready.text
    assert alive.status_code == 200


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


def _previous_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return str(script.get_revision(head_revision()).down_revision)


@pytest.mark.anyio
@pytest.mark.parametrize(("schema", "ready"), [("newer", 200), ("older", 503)])
async def test_readiness_keeps_serving_on_a_newer_schema_but_not_on_an_older_one(
    runtime: Runtime, schema: str, ready: int
) -> None:
    """A rollout migrates before it replaces the running pods: those keep serving webhooks
    until replaced. A schema behind the code is another matter: `db upgrade` was not run."""
    revision = "f00dfeedbeef" if schema == "newer" else _previous_revision()
    set_version = text("UPDATE alembic_version SET version_num = :v")
    with runtime.engine.begin() as connection:
        connection.execute(set_version, {"v": revision})
    try:
        response = await _get(runtime.settings, runtime, "/readyz")
        details = await _get(runtime.settings, runtime, "/healthz/details")
    finally:
        with runtime.engine.begin() as connection:
            connection.execute(set_version, {"v": head_revision()})
    assert response.status_code == ready, response.text
    assert details.json()["checks"]["database"]["ok"] is (ready == 200)
