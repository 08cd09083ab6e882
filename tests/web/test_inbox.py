"""Group commit of inbound texts: many texts, few commits, each answered only once committed."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import event, func, select, text
from starlette.testclient import TestClient

from tests.webhooks import PUBLIC_URL, inbound_form, signed
from worker.db.models import AlertTrigger, InboundMessage, SafetyAlert
from worker.inbound.screening import Stored
from worker.runtime import Runtime
from worker.web import create_app
from worker.web import inbox as inbox_module
from worker.web.inbox import Inbox

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def form(body: str, sid: str | None = None, sender: str = "+12025550143") -> dict[str, list[str]]:
    pairs = inbound_form(body, sender, sid)
    return {k: [v for key, v in pairs if key == k] for k, _ in pairs}


def count_commits(rt: Runtime) -> list[int]:
    commits = [0]

    def on_commit(_connection: object) -> None:
        commits[0] += 1

    event.listen(rt.engine, "commit", on_commit)
    return commits


async def store_all(inbox: Inbox, forms: list[dict[str, list[str]]]) -> list[Stored]:
    try:
        return list(await asyncio.gather(*(inbox.store(f) for f in forms)))
    finally:
        await asyncio.to_thread(inbox.close)


async def test_texts_arriving_together_share_commits_and_each_is_stored_when_answered(
    runtime: Runtime,
) -> None:
    commits = count_commits(runtime)
    results = await store_all(Inbox(runtime), [form(f"text {i}") for i in range(60)])

    ids = [r.inbound_id for r in results]
    assert all(r.new for r in results)
    assert len(set(ids)) == 60 and None not in ids
    with runtime.sessions() as session:
        stored = session.scalar(select(func.count()).where(InboundMessage.id.in_(ids)))
    assert stored == 60
    assert 1 <= commits[0] < 60, f"{commits[0]} commits for 60 texts arriving together"


async def test_a_sid_repeated_in_one_batch_or_stored_before_is_stored_once_and_screened_once(
    runtime: Runtime,
) -> None:
    before = "SM" + uuid.uuid4().hex
    first = await store_all(Inbox(runtime), [form("I want to kill myself", before)])
    again = "SM" + uuid.uuid4().hex
    forms = [form("I want to kill myself", again), form("I want to kill myself", again)]
    results = await store_all(Inbox(runtime), [*forms, form("I want to kill myself", before)])

    assert first[0].new and first[0].urgent
    assert [r.new for r in results] == [True, False, False]
    # The second new text joins the first one's open alert: screened, counted, no new texts.
    assert not any(r.urgent for r in results)
    assert results[0].inbound_id == results[1].inbound_id
    assert results[2].inbound_id == first[0].inbound_id
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 2
        assert session.scalar(select(func.count()).select_from(AlertTrigger)) == 2  # each text once
        [alert] = session.scalars(select(SafetyAlert)).all()
        assert alert.more_texts == 1


async def test_a_text_the_database_refuses_fails_alone_and_its_batch_is_stored(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores an over-long string; PostgreSQL's varchar(64) refuses it")
    good = [form(f"fine {i}") for i in range(20)]
    bad = form("fine")
    # The webhook refuses such a form (worker.web.fields); the inbox must still survive one.
    bad["AccountSid"] = ["AC" + "7" * 100]
    inbox = Inbox(runtime)
    results = await asyncio.gather(*(inbox.store(f) for f in [*good, bad]), return_exceptions=True)
    await asyncio.to_thread(inbox.close)

    assert isinstance(results[-1], Exception)
    assert all(isinstance(r, Stored) and r.new for r in results[:-1])
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 20


def test_a_text_the_database_cannot_take_in_time_gets_503_and_its_retry_is_stored_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_module, "STORE_WAIT", 0.5)
    pairs = inbound_form("C", "+12025550143")
    blocker = runtime.engine.connect()
    transaction = blocker.begin()
    if runtime.engine.dialect.name == "postgresql":
        blocker.execute(text("LOCK TABLE inbound_messages IN EXCLUSIVE MODE"))
    # (on SQLite, begin() is BEGIN IMMEDIATE: the write lock is held from here)
    try:
        with TestClient(create_app(runtime.settings, runtime), base_url=PUBLIC_URL) as client:
            first = client.post("/twilio/sms", **signed("/twilio/sms", pairs))
            assert (first.status_code, first.headers["retry-after"]) == (503, "5")
            transaction.rollback()  # the database takes writes again
            again = client.post("/twilio/sms", **signed("/twilio/sms", pairs))
            assert again.status_code == 200
    finally:
        blocker.close()
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
