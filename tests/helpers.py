"""Small builders for tests: a patient with an appointment, in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from worker.clinic import records
from worker.db.engine import transaction
from worker.db.models import Message, utcnow
from worker.enums import MessageStatus
from worker.settings import Settings


def add_patient(
    sessions: sessionmaker[Session], settings: Settings, phone: str = "+12025550143", **kwargs: object
) -> int:
    data = records.PatientInput(name=str(kwargs.pop("name", "Test Patient")), phone=phone, **kwargs)  # type: ignore[arg-type]
    with transaction(sessions) as session:
        return records.add_patient(session, settings, data, "test", utcnow()).id


def add_appointment(
    sessions: sessionmaker[Session],
    settings: Settings,
    patient_id: int,
    start_at: datetime,
    now: datetime | None = None,
) -> int:
    with transaction(sessions) as session:
        appointment, _ = records.add_appointment(
            session, settings, patient_id, start_at, actor="test", now=now or utcnow()
        )
        return appointment.id


def messages_of(sessions: sessionmaker[Session], appointment_id: int) -> list[Message]:
    with sessions() as session:
        return list(
            session.scalars(
                select(Message)
                .where(Message.appointment_id == appointment_id)
                .order_by(Message.due_at, Message.id)
            )
        )


def all_settled(sessions: sessionmaker[Session], appointment_ids: Iterable[int]) -> bool:
    """Every message of these appointments is past sending: none planned, queued or in a call.
    A row leaves `queued` only by its one claim, so once all have, nothing more can be sent."""
    unsettled = (MessageStatus.PLANNED, MessageStatus.QUEUED, MessageStatus.SENDING)
    return all(m.status not in unsettled for a in appointment_ids for m in messages_of(sessions, a))


def in_minutes(minutes: float) -> datetime:
    return utcnow() + timedelta(minutes=minutes)


def answering(base_url: str) -> bool:
    """The web server accepts a connection and answers (any status): its workers are up, not
    only the socket its supervisor bound and logged as "Uvicorn running"."""
    try:
        httpx.get(f"{base_url}/healthz", timeout=5)
    except httpx.TransportError:
        return False
    return True


def eventually(check: Callable[[], bool], timeout: float = 20) -> float:
    """Wait until `check()` holds; fail after `timeout` seconds. Returns the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)
    return time.monotonic() - started


def start_stack(spawn: Any, settings: Settings, port: int) -> list[Any]:
    """web on `port`, a worker and beat, as compose runs them; returned once each is ready."""
    procs = [
        spawn(["web", "--port", str(port)], settings, "web"),
        spawn(["worker"], settings, "worker"),
        spawn(["beat"], settings, "beat"),
    ]
    for proc, ready in zip(procs, ("Uvicorn running", "ready", "beat: Starting"), strict=True):
        proc.wait_for(ready)
    return procs
