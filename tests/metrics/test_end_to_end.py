"""Metrics of a real reminder run: a real Celery worker (prefork children recording into
the multiprocess folder) and beat on a private Redis, the real twilio client talking to the
stand-in. What the worker's own port and the web server's /metrics show must be what the
database holds."""

from __future__ import annotations

import random
import string
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import TEST_CIPHER, RedisServer, free_port, make_settings, settings_env
from tests.helpers import add_appointment, add_patient, eventually, messages_of
from tests.metrics.scraped import LONG_DIGITS, Key, samples, value
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form
from worker.db.engine import make_engine, session_factory, transaction
from worker.db.models import InboundMessage, Message, Patient, utcnow
from worker.enums import MessageStatus
from worker.inbound.store import store_inbound
from worker.metrics.live import MULTIPROC_ENV
from worker.runtime import build_runtime
from worker.settings import Settings
from worker.web.metrics import make_metrics_endpoint

pytestmark = pytest.mark.slow
PHONES = {"ok": "+12025550150", "stopped": "+12025550151", "late": "+12025550152"}


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _start(processes: list[Any], module: str, args: list[str], settings: Settings, log: Path) -> None:
    with log.open("wb") as out:
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", module, *args],
                env=settings_env(settings),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )


def _ready(log: Path, needle: str) -> bool:
    return log.exists() and needle in log.read_text(errors="replace")


def _scrape_worker(port: int) -> str | None:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    except httpx.TransportError:
        return None
    return response.text if response.status_code == 200 else None


def _rows(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        return list(session.scalars(select(Message)))


def _settled(sessions: sessionmaker[Session]) -> bool:
    now = utcnow()
    with sessions() as session:
        waiting = session.scalar(select(InboundMessage.id).where(InboundMessage.processed_at.is_(None)))
    rows = _rows(sessions)
    busy = [m for m in rows if m.status in (MessageStatus.QUEUED, MessageStatus.SENDING)]
    due = [m for m in rows if m.status == MessageStatus.PLANNED and m.due_at <= now]
    return waiting is None and not busy and not due and any(m.status == MessageStatus.SENT for m in rows)


def _no_phi(text: str) -> None:
    assert [line for line in text.splitlines() if LONG_DIGITS.search(line)] == []
    for phone in PHONES.values():
        assert phone[2:] not in text


def _row_gauges(sessions: sessionmaker[Session]) -> dict[Key, float]:
    counted = Counter((str(m.kind), str(m.status)) for m in _rows(sessions))
    return {
        ("clinic_message_rows", frozenset({("kind", k), ("status", s)})): float(n)
        for (k, s), n in counted.items()
    }


def test_given_a_reminder_run_through_real_workers_when_scraped_expect_what_the_database_holds(
    db_url: str,
    redis_server: RedisServer,
    standin: StandIn,
    processes: list[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, port = tmp_path / "worker-metrics", free_port()
    letters = "".join(random.choices(string.ascii_lowercase, k=10))
    settings = make_settings(
        db_url,
        redis_server.url,
        standin.url,
        queue_name=f"cw-metrics-{letters}",  # no digits: the texts are checked for digit runs
        reminder_offsets="8s,4s",
        dispatch_interval=1.0,
        send_rate=20.0,
        metrics_dir=folder,
        metrics_port=port,
    )
    sessions = session_factory(make_engine(settings.database_url, cipher=TEST_CIPHER))
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    _start(processes, "worker", ["worker", "--concurrency", "2"], settings, worker_log)
    _start(processes, "worker", ["beat"], settings, beat_log)
    eventually(lambda: _ready(worker_log, "ready") and _ready(beat_log, "beat: Starting"), timeout=60)

    start = utcnow() + timedelta(seconds=14)
    ids = {name: add_patient(sessions, settings, phone) for name, phone in PHONES.items() if name != "late"}
    appointments = [add_appointment(sessions, settings, pid, start) for pid in ids.values()]
    with transaction(sessions) as session:
        session.execute(update(Patient).where(Patient.id == ids["stopped"]).values(opted_out=True))
    eventually(lambda: len(standin.accepted) >= 2 and _settled(sessions), timeout=60)
    # The patient confirms by text; stored as if long ago, the reply sweep processes it.
    with transaction(sessions) as session:
        form = {name: [text] for name, text in inbound_form("C", PHONES["ok"])}
        store_inbound(session, form, "webhook", utcnow() - timedelta(seconds=20))
    eventually(lambda: len(standin.accepted) >= 3 and _settled(sessions), timeout=60)
    assert [m.status for m in messages_of(sessions, appointments[1])] == ["skipped", "skipped"]

    # Beat stops; a reminder falls due: the backlog shows it, as the database does.
    processes[1].terminate()
    processes[1].wait(timeout=15)
    later = utcnow() + timedelta(hours=1)
    late = add_appointment(sessions, settings, add_patient(sessions, settings, PHONES["late"]), later)
    overdue = messages_of(sessions, late)[0]
    with transaction(sessions) as session:
        session.execute(
            update(Message).where(Message.id == overdue.id).values(due_at=utcnow() - timedelta(minutes=5))
        )

    worker_text = _scrape_worker(port)
    assert worker_text is not None, worker_log.read_text(errors="replace")[-3000:]
    monkeypatch.setenv(MULTIPROC_ENV, str(folder))  # the web server's view of the same process tree
    rt = build_runtime(settings)
    try:
        app = Starlette(routes=[Route("/metrics", make_metrics_endpoint(rt), methods=["GET"])])
        with TestClient(app) as client:
            web_text = client.get("/metrics").text
    finally:
        rt.close()

    rows = _rows(sessions)
    sent = Counter(str(m.kind) for m in rows if m.sent_at is not None)
    assert sent["reminder"] == 2 and sent["reply"] == 1, sent
    for text in (worker_text, web_text):
        found = samples(text)
        for kind, count in sent.items():
            assert value(found, "clinic_messages_total", kind=kind, status="sent") == count
            assert value(found, "clinic_send_lateness_seconds_count", kind=kind) == count
        assert value(found, "clinic_messages_total", kind="reminder", status="skipped") == 2
        assert value(found, "clinic_inbound_texts_total", intent="confirm") == 1
        # The four reminders; the answer to "C" was queued at once, never claimed.
        assert value(found, "clinic_claims_total") == 4
        _no_phi(text)

    found = samples(web_text)
    assert {key: n for key, n in found.items() if key[0] == "clinic_message_rows"} == _row_gauges(sessions)
    assert value(found, "clinic_due_backlog_messages") == 1
    assert 300 <= (value(found, "clinic_oldest_due_age_seconds") or 0) < 360
    assert value(found, "clinic_queue_depth", queue=settings.queue_name) == 0
    assert (value(found, "clinic_beat_last_run_age_seconds") or 0) < 60
