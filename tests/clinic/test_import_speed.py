"""What keeps a large import fast, checked without timing anything: each batch sends the
same few statements whatever its size (its rows go in multi-row statements, never one
statement per row), the follow-up plans are read once per import, and the rows written
past the ORM are still encrypted and blind-indexed as the model would write them.
scripts/import_speed.py measures the time itself."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import TEST_CIPHER, make_settings
from worker.clinic import import_write, importer
from worker.db import bulk
from worker.db.engine import transaction
from worker.db.models import Base, Patient, utcnow
from worker.messages import replan
from worker.settings import Settings, config_file

START = datetime(2031, 3, 4, 6, 0)
SPRING_FORWARD = date(2031, 3, 9)  # 02:00-02:59 is skipped on the clinic's clock (New York)


def _csv(tmp_path: Path, count: int, first_phone: int = 0) -> Path:
    """`count` appointments, one new patient each, spread over the hours of the day."""
    lines = ["name,phone,start,duration,kind,timezone\n"]
    for n in range(count):
        moment = START + timedelta(minutes=37 * n)
        if moment.date() == SPRING_FORWARD and moment.hour == 2:  # no such time: the import refuses it
            moment += timedelta(hours=1)
        start = moment.isoformat(timespec="minutes")
        zone = ("America/New_York", "America/Los_Angeles", "")[n % 3]
        lines.append(f"Person {n},+1 202 555 {first_phone + n:04d},{start},45,session,{zone}\n")
    path = tmp_path / f"rows_{first_phone}_{count}.csv"
    path.write_text("".join(lines))
    return path


def _import(sessions: sessionmaker[Session], settings: Settings, path: Path) -> importer.ImportReport:
    now = utcnow()
    report = importer.read_rows(path, settings, now)
    with sessions() as session:
        importer.check_against_database(session, report, update_patients=False)
    import_write.write(sessions, settings, report, actor="operator:test", now=now)
    return report


@pytest.fixture
def planning_settings(db_url: str) -> Settings:
    return make_settings(
        db_url, "memory://", reminder_offsets="48h,2h", quiet_hours="21:00-08:00", followup_plan="checkin@24h"
    )


@pytest.fixture
def statements(sessions: sessionmaker[Session]) -> Iterator[list[str]]:
    """Every statement the sessions' engine sends (an executemany counts once)."""
    engine = sessions.kw["bind"]
    assert isinstance(engine, Engine)
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def test_given_a_small_and_a_large_batch_when_written_expect_the_same_statements(
    sessions: sessionmaker[Session], planning_settings: Settings, statements: list[str], tmp_path: Path
) -> None:
    _import(sessions, planning_settings, _csv(tmp_path, 5))  # first use: nothing cached yet
    statements.clear()
    _import(sessions, planning_settings, _csv(tmp_path, 10, first_phone=100))
    small = list(statements)
    statements.clear()
    report = _import(sessions, planning_settings, _csv(tmp_path, 900, first_phone=1000))
    assert report.imported == 900
    assert len(statements) == len(small), "a statement per row crept into the import"


def test_given_an_import_when_planned_expect_the_follow_up_plans_read_once(
    sessions: sessionmaker[Session],
    planning_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []

    def counted(settings: Settings, name: str) -> Path:
        reads.append(name)
        return config_file(settings, name)

    monkeypatch.setattr(replan, "config_file", counted)
    report = _import(sessions, planning_settings, _csv(tmp_path, 60))
    assert report.imported == 60
    assert reads == ["followups.yaml"]


def test_given_new_patients_written_past_the_orm_expect_them_encrypted_and_indexed(
    sessions: sessionmaker[Session], planning_settings: Settings, tmp_path: Path
) -> None:
    _import(sessions, planning_settings, _csv(tmp_path, 3))
    with sessions() as session:
        raw = session.execute(text("SELECT name, phone, phone_index FROM patients ORDER BY id")).all()
        kinds = session.scalars(text("SELECT kind FROM appointments")).all()
        phones = session.scalars(select(Patient.phone).order_by(Patient.id)).all()
    assert phones == ["+12025550000", "+12025550001", "+12025550002"]
    assert all(name.startswith("enc:") and phone.startswith("enc:") for name, phone, _ in raw)
    assert [index for _, _, index in raw] == [TEST_CIPHER.index(phone) for phone in phones]
    assert kinds and all(kind.startswith("enc:") for kind in kinds)


def test_given_an_over_long_value_when_bulk_inserted_expect_it_refused_not_cut(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite keeps no VARCHAR length to refuse by")
    patients = Base.metadata.tables["patients"]
    row = {
        "id": 1,
        "name": "Ana",
        "phone": "+12025550143",
        "phone_index": "0" * 64,
        "timezone": "America/New_York",
        "language": "en-" + "x" * 20,  # the column holds 8
        "sms_consent": True,
        "opted_out": False,
        "created_at": utcnow(),
    }
    with pytest.raises(DataError), transaction(sessions) as session:
        bulk.insert_many(session, patients, [row])


def test_given_an_import_when_written_expect_the_garbage_collector_as_it_was(
    sessions: sessionmaker[Session], planning_settings: Settings, tmp_path: Path
) -> None:
    before = (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled())
    _import(sessions, planning_settings, _csv(tmp_path, 20))
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == before
