"""GET /metrics of the web server: the bearer token, the gauges read from the database and
Redis at scrape time (equal to what they hold), a store that is down, the webhook timing,
and no phone number or long digit run anywhere in the text."""

from __future__ import annotations

import random
import string
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.routing import Route

from tests.conftest import RedisServer, make_settings
from tests.helpers import add_appointment, add_patient, in_minutes, messages_of
from tests.metrics.scraped import LONG_DIGITS, Key, names, samples, value
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form, signed, status_form
from worker.db.engine import transaction
from worker.db.models import Message, SafetyAlert, utcnow
from worker.enums import MessageStatus
from worker.inbound.store import store_inbound
from worker.runtime import Runtime, build_runtime
from worker.settings import Settings, beat_heartbeat_key, urgent_queue
from worker.web import create_app
from worker.web.metrics import make_metrics_endpoint

TOKEN = "metrics-token-for-tests"
PHONES = ("+12025550143", "+12025550144")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def built(request: pytest.FixtureRequest) -> Iterator[list[Runtime]]:
    """Runtimes a test builds itself, closed however it ends."""
    made: list[Runtime] = []
    yield made
    for rt in made:
        rt.close()


def _settings(db_url: str, redis_url: str, standin: StandIn, **overrides: Any) -> Settings:
    """Test settings whose queue names hold no digits: the texts are checked for digit runs."""
    letters = "".join(random.choices(string.ascii_lowercase, k=10))
    return make_settings(db_url, redis_url, standin.url, queue_name=f"cw-metrics-{letters}", **overrides)


@pytest.fixture
def runtime(db_url: str, redis_server: RedisServer, standin: StandIn, built: list[Runtime]) -> Runtime:
    return _runtime(built, _settings(db_url, redis_server.url, standin))


def _runtime(built: list[Runtime], settings: Settings) -> Runtime:
    rt = build_runtime(settings)
    built.append(rt)
    return rt


def _metrics_app(rt: Runtime) -> Starlette:
    return Starlette(routes=[Route("/metrics", make_metrics_endpoint(rt), methods=["GET"])])


async def _get(app: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get("/metrics", headers=headers or {})


def _no_phi(text: str) -> None:
    assert [line for line in text.splitlines() if LONG_DIGITS.search(line)] == []
    for phone in PHONES:
        assert phone not in text and phone[2:] not in text


@pytest.mark.anyio
async def test_given_a_token_when_scraped_without_it_or_with_another_expect_401_and_with_it_200(
    db_url: str, redis_server: RedisServer, standin: StandIn, built: list[Runtime]
) -> None:
    settings = _settings(db_url, redis_server.url, standin, metrics_token=TOKEN)
    app = _metrics_app(_runtime(built, settings))
    refused = [
        await _get(app),
        await _get(app, {"Authorization": "Bearer wrong-token"}),
        await _get(app, {"Authorization": f"Basic {TOKEN}"}),
        await _get(app, {"Authorization": f"Bearer {TOKEN}x"}),
    ]
    assert [r.status_code for r in refused] == [401] * 4
    assert refused[0].headers["www-authenticate"] == "Bearer" and TOKEN not in refused[0].text
    allowed = await _get(app, {"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200
    assert allowed.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "clinic_message_rows" in allowed.text


@pytest.mark.anyio
async def test_given_no_token_set_when_scraped_expect_200_without_a_header(runtime: Runtime) -> None:
    assert (await _get(_metrics_app(runtime))).status_code == 200


def _plant(rt: Runtime) -> None:
    """Rows in every state a gauge reads: due and overdue reminders, a stuck send, an
    ambiguous one, an old unprocessed reply, an open and an acknowledged safety alert."""
    now = utcnow()
    pid = add_patient(rt.sessions, rt.settings, PHONES[0])
    add_patient(rt.sessions, rt.settings, PHONES[1])
    appointments = [
        add_appointment(rt.sessions, rt.settings, pid, in_minutes(60 * (72 + i))) for i in range(3)
    ]
    first, second, third = (messages_of(rt.sessions, a)[0].id for a in appointments)
    with transaction(rt.sessions) as session:
        session.execute(update(Message).where(Message.id == first).values(due_at=now - timedelta(minutes=10)))
        session.execute(
            update(Message)
            .where(Message.id == second)
            .values(status=MessageStatus.SENDING, lease_until=now - timedelta(minutes=1))
        )
        session.execute(update(Message).where(Message.id == third).values(status=MessageStatus.AMBIGUOUS))
        form = {name: [text] for name, text in inbound_form("Yes", PHONES[1])}
        store_inbound(session, form, "webhook", now - timedelta(minutes=30))
        for created, acknowledged in ((20, None), (90, now)):
            session.add(
                SafetyAlert(
                    source="crisis_language",
                    source_index=f"planted-{created}",
                    created_at=now - timedelta(minutes=created),
                    acknowledged_at=acknowledged,
                )
            )


def _database_rows(rt: Runtime) -> dict[Key, float]:
    with rt.sessions() as session:
        rows = list(session.scalars(select(Message)))
    counted = Counter((str(m.kind), str(m.status)) for m in rows)
    return {
        ("clinic_message_rows", frozenset({("kind", k), ("status", s)})): float(n)
        for (k, s), n in counted.items()
    }


def _due_in_database(rt: Runtime) -> int:
    now = utcnow()
    with rt.sessions() as session:
        rows = list(session.scalars(select(Message)))
    planned = [m for m in rows if m.status == MessageStatus.PLANNED and m.due_at <= now]
    expired = [m for m in rows if m.status == MessageStatus.QUEUED and m.lease_until and m.lease_until <= now]
    return len(planned) + len(expired)


@pytest.mark.anyio
async def test_given_rows_in_every_state_when_scraped_expect_the_gauges_to_equal_what_the_stores_hold(
    runtime: Runtime,
) -> None:
    _plant(runtime)
    redis, settings = runtime.redis, runtime.settings
    redis.rpush(settings.queue_name, "task-1", "task-2")
    redis.rpush(urgent_queue(settings), "task-3")
    redis.rpush(f"{urgent_queue(settings)}\x06\x163", "task-4")  # a prioritised task: its own list
    redis.set(beat_heartbeat_key(settings), f"{time.time() - 30:.3f}")

    response = await _get(_metrics_app(runtime))
    assert response.status_code == 200
    found = samples(response.text)
    rows = {key: n for key, n in found.items() if key[0] == "clinic_message_rows"}
    assert rows == _database_rows(runtime)
    assert value(found, "clinic_due_backlog_messages") == _due_in_database(runtime) == 1
    assert 600 <= (value(found, "clinic_oldest_due_age_seconds") or 0) < 660
    assert value(found, "clinic_ambiguous_messages") == 1
    assert value(found, "clinic_stuck_sending_messages") == 1
    assert value(found, "clinic_unprocessed_replies") == 1
    assert value(found, "clinic_open_safety_alerts") == 1
    assert 1200 <= (value(found, "clinic_oldest_open_alert_age_seconds") or 0) < 1260
    assert value(found, "clinic_queue_depth", queue=settings.queue_name) == 2
    assert value(found, "clinic_queue_depth", queue=urgent_queue(settings)) == 2
    assert 30 <= (value(found, "clinic_beat_last_run_age_seconds") or 0) < 60
    assert value(found, "clinic_database_up") == value(found, "clinic_redis_up") == 1
    _no_phi(response.text)


@pytest.mark.anyio
async def test_given_an_empty_database_when_scraped_expect_zero_ages_and_no_beat_age(
    runtime: Runtime,
) -> None:
    found = samples((await _get(_metrics_app(runtime))).text)
    assert value(found, "clinic_due_backlog_messages") == 0
    assert value(found, "clinic_oldest_due_age_seconds") == 0
    assert value(found, "clinic_oldest_open_alert_age_seconds") == 0
    assert "clinic_beat_last_run_age_seconds" not in names(found)  # beat never ran


@pytest.mark.anyio
async def test_given_redis_down_when_scraped_expect_200_with_the_database_gauges_and_no_redis_ones(
    db_url: str, private_redis: RedisServer, standin: StandIn, built: list[Runtime]
) -> None:
    rt = _runtime(built, _settings(db_url, private_redis.url, standin))
    _plant(rt)
    private_redis.stop()
    response = await _get(_metrics_app(rt))
    assert response.status_code == 200
    found = samples(response.text)
    assert value(found, "clinic_redis_up") == 0 and value(found, "clinic_database_up") == 1
    assert not names(found) & {"clinic_queue_depth", "clinic_beat_last_run_age_seconds"}
    assert value(found, "clinic_due_backlog_messages") == 1


@pytest.mark.anyio
async def test_given_the_database_down_when_scraped_expect_200_with_the_redis_gauges_and_no_database_ones(
    redis_server: RedisServer, standin: StandIn, built: list[Runtime]
) -> None:
    unreachable = "postgresql+psycopg://clinic@127.0.0.1:1/clinic?connect_timeout=2"
    rt = _runtime(built, _settings(unreachable, redis_server.url, standin))
    response = await _get(_metrics_app(rt))
    assert response.status_code == 200
    found = samples(response.text)
    assert value(found, "clinic_database_up") == 0 and value(found, "clinic_redis_up") == 1
    assert not names(found) & {
        "clinic_message_rows",
        "clinic_due_backlog_messages",
        "clinic_open_safety_alerts",
    }
    assert value(found, "clinic_queue_depth", queue=rt.settings.queue_name) == 0


@pytest.mark.anyio
async def test_given_webhook_requests_when_scraped_expect_counts_by_route_and_status_and_delivery_statuses(
    runtime: Runtime,
) -> None:
    settings = runtime.settings
    pid = add_patient(runtime.sessions, settings, PHONES[0])
    appointment = add_appointment(runtime.sessions, settings, pid, in_minutes(60 * 72))
    reminder = messages_of(runtime.sessions, appointment)[0]
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Message)
            .where(Message.id == reminder.id)
            .values(status=MessageStatus.SENT, twilio_sid="SM" + "a" * 32)
        )
    app = create_app(settings, runtime)  # the webhook middleware is part of the app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        unsigned = await client.post(f"/twilio/sms?From={PHONES[0]}", data={"Body": "hello"})
        stored = await client.post("/twilio/sms", **signed("/twilio/sms", inbound_form("Yes", PHONES[0])))
        status_form_ = status_form("SM" + "a" * 32, "delivered", to=PHONES[0])
        delivered = await client.post("/twilio/status", **signed("/twilio/status", status_form_))
        elsewhere = await client.post("/twilio/other", data={})
    assert [r.status_code for r in (unsigned, stored, delivered, elsewhere)] == [403, 200, 200, 404]

    response = await _get(_metrics_app(runtime))
    found = samples(response.text)
    assert value(found, "clinic_webhook_requests_total", route="/twilio/sms", status="403") == 1
    assert value(found, "clinic_webhook_requests_total", route="/twilio/sms", status="200") == 1
    assert value(found, "clinic_webhook_requests_total", route="/twilio/status", status="200") == 1
    assert value(found, "clinic_webhook_latency_seconds_count", route="/twilio/sms") == 2
    assert {dict(labels).get("route") for name, labels in found if name.startswith("clinic_webhook_")} == {
        "/twilio/sms",
        "/twilio/status",
    }
    assert value(found, "clinic_delivery_statuses_total", status="delivered") == 1
    _no_phi(response.text)
