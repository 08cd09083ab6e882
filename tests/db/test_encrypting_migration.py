"""Migration 0009 encrypts what a database from before it holds in clear, keeps every value
readable through the models, and refuses (changing nothing) when it has no keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, text

from tests.conftest import TEST_CIPHER, temporary_database
from worker.clinic.queries import patient_with_phone
from worker.db.cipher import MissingCipher
from worker.db.engine import make_engine, session_factory
from worker.db.migrate import current_revision, head_revision, upgrade
from worker.db.models import AlertTrigger, Answer, Appointment, InboundMessage, QuestionnaireRun, SafetyAlert

NOW = "2026-12-01 10:00:00"
FORM = {"From": ["+12025550143"], "FromCity": ["SPRINGFIELD"], "FromZip": ["62704"], "NumSegments": ["1"]}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    with temporary_database("cw_mig") as url:
        yield url


def _rows_in_clear(connection: Connection) -> None:
    statements = [
        "INSERT INTO patients (id, name, phone, timezone, language, sms_consent, opted_out, created_at) "
        "VALUES (1, 'Ana Example', '+12025550143', 'America/New_York', 'en', true, false, :now)",
        "INSERT INTO appointments (id, patient_id, start_at, duration_minutes, kind, status, created_at, "
        "updated_at) VALUES (1, 1, :now, 60, 'ketamine-infusion', 'scheduled', :now, :now)",
        "INSERT INTO messages (id, key, patient_id, to_number, kind, template, due_at, status, attempts, "
        "created_at, updated_at) VALUES (1, 'k1', NULL, '+12025550199', 'safety_notice', 'oncall', :now, "
        "'sent', 1, :now, :now)",
        "INSERT INTO inbound_messages (id, message_sid, account_sid, from_number, to_number, body, num_media, "
        "params, source, received_at) VALUES (1, 'SM1', 'AC1', '+12025550143', '+12025550100', 'hello', 0, "
        ":form, 'webhook', :now)",
        "INSERT INTO questionnaire_runs (id, patient_id, questionnaire, status, invalid_count, score, severity, "
        "created_at) VALUES (1, 1, 'phq9', 'completed', 0, 16, 'moderately severe', :now)",
        "INSERT INTO questionnaire_answers (id, run_id, item_id, value, skipped, answered_at) "
        "VALUES (1, 1, 'q9', 2, false, :now)",
        "INSERT INTO safety_alerts (id, patient_id, run_id, source, created_at, notified_count, category, rule, "
        "summary, more_texts, escalation_level) VALUES (1, 1, 1, 'phq9:q9', :now, 1, 'safety_item', 'q9>=1', "
        "'PHQ-9 item 9 = 2', 0, 0)",
        "INSERT INTO alert_triggers (id, alert_id, run_id, source, category, created_at) "
        "VALUES (1, 1, 1, 'phq9:q9', 'safety_item', :now)",
    ]
    for statement in statements:
        connection.execute(text(statement), {"now": NOW, "form": json.dumps(FORM)})


def test_rows_from_before_are_encrypted_indexed_and_still_read(empty_url: str) -> None:
    # Given a database at 0008 holding a patient's data in clear
    upgrade(empty_url, "0008")
    engine = make_engine(empty_url, cipher=TEST_CIPHER)
    with engine.begin() as connection:
        _rows_in_clear(connection)
    # When it is upgraded with the keys
    upgrade(empty_url, cipher=TEST_CIPHER)
    # Expect nothing readable in the raw rows
    with engine.connect() as connection:
        raw = connection.execute(
            text(
                "SELECT p.name, p.phone, a.kind, m.to_number, i.from_number, i.params, r.score, r.severity, "
                "q.value, s.source, s.summary, t.source FROM patients p, appointments a, messages m, "
                "inbound_messages i, questionnaire_runs r, questionnaire_answers q, safety_alerts s, alert_triggers t"
            )
        ).one()
    assert all(str(value).startswith("enc:") for value in raw)
    # and every value read back through the models, the patient found by phone
    with session_factory(engine)() as session:
        patient = patient_with_phone(session, "+12025550143")
        assert patient is not None and patient.name == "Ana Example"
        assert session.scalars(select(Appointment.kind)).one() == "ketamine-infusion"
        inbound = session.scalars(select(InboundMessage)).one()
        assert inbound.params == {"NumSegments": ["1"]}  # no city, no ZIP
        run = session.scalars(select(QuestionnaireRun)).one()
        assert (run.score, run.severity) == (16, "moderately severe")
        assert session.scalars(select(Answer.value)).one() == 2
        alert = session.scalars(select(SafetyAlert)).one()
        assert (alert.source, alert.summary) == ("phq9:q9", "PHQ-9 item 9 = 2")
        assert alert.source_index == TEST_CIPHER.index("phq9:q9")
        assert session.scalars(select(AlertTrigger.source_index)).one() == TEST_CIPHER.index("phq9:q9")
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_without_keys_it_stops_and_changes_nothing(empty_url: str) -> None:
    upgrade(empty_url, "0008")
    engine = make_engine(empty_url, cipher=TEST_CIPHER)
    with engine.begin() as connection:
        _rows_in_clear(connection)
    with pytest.raises(MissingCipher, match="CLINIC_ENCRYPTION_KEYS and CLINIC_BLIND_INDEX_KEYS"):
        upgrade(empty_url)
    assert current_revision(engine) == "0008"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM patients")).scalar() == "Ana Example"
    engine.dispose()
