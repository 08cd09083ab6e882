"""worker.db.bulk.insert_many: many rows through every column's type, defaults taken, on
SQLite (executemany) and PostgreSQL (COPY)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from worker.db import bulk
from worker.db.engine import transaction
from worker.db.models import Base, Message, Patient, utcnow
from worker.enums import MessageKind, MessageStatus


def _patient(pid: int, name: str) -> dict[str, object]:
    return {
        "id": pid,
        "name": name,
        "phone": f"+1202555{pid:04d}",
        "phone_index": f"{pid:064d}",
        "timezone": "America/New_York",
        "language": "en",
        "sms_consent": True,
        "opted_out": False,
    }


def test_given_rows_without_their_defaulted_columns_when_inserted_expect_the_models_defaults(
    sessions: sessionmaker[Session],
) -> None:
    due = utcnow() + timedelta(days=2)
    with transaction(sessions) as session:
        bulk.insert_many(session, Base.metadata.tables["patients"], [_patient(1, "Ana"), _patient(2, "Ben")])
        rows = [
            {
                "id": n,
                "key": f"k{n}",
                "patient_id": 1,
                "kind": MessageKind.REMINDER,
                "template": "reminder",
                "due_at": due,
            }
            for n in (1, 2, 3)
        ]
        bulk.insert_many(session, Base.metadata.tables["messages"], rows)
    with sessions() as session:
        messages = session.scalars(select(Message).order_by(Message.id)).all()
        names = session.scalars(select(Patient.name).order_by(Patient.id)).all()
        stored_names = session.scalars(text("SELECT name FROM patients ORDER BY id")).all()
    assert [(m.status, m.attempts, m.kind) for m in messages] == [(MessageStatus.PLANNED, 0, "reminder")] * 3
    assert all(m.created_at is not None and m.due_at == due for m in messages)
    assert names == ["Ana", "Ben"]
    assert all(name.startswith("enc:") for name in stored_names)  # encrypted by the column type


def test_given_no_rows_when_inserted_expect_nothing_sent(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        bulk.insert_many(session, Base.metadata.tables["patients"], [])
        assert session.scalar(select(func.count()).select_from(Patient)) == 0


def test_given_a_column_with_a_sql_default_when_copied_expect_a_refusal_not_a_null(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("only COPY leaves Python-side defaults to the caller")
    table = Table(
        "stamped",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", DateTime(timezone=True), default=func.now()),
    )
    with pytest.raises(TypeError, match=r"stamped\.at"), transaction(sessions) as session:
        bulk.insert_many(session, table, [{"id": 1}])
