"""Seeding for the command-line tests of issue 18: hostile texts, alerts, results, audit rows.

Each test runs the real `clinic-worker` process (tests.conftest.Cli) against a database it
also reads and writes directly, through the same cipher the CLI uses.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import ACCOUNT_SID, FROM_NUMBER, TEST_CIPHER, Cli, settings_env
from worker.db import audit
from worker.db.engine import make_engine, session_factory, transaction
from worker.db.models import Answer, AuditEntry, InboundMessage, Patient, QuestionnaireRun, utcnow
from worker.enums import AlertCategory
from worker.safety.alerts import CRISIS_LANGUAGE, Trigger, raise_alert
from worker.settings import Settings

# Clears the screen, sets the window title, Rich markup, and a right-to-left override.
HOSTILE = "hi\x1b[2J\x1b]0;pwned\x07 [red]x[/red] \u202eevil\u202c done\x9b"
ANA_PHONE = "+12025550143"
BEN_PHONE = "+12025550144"


class Clinic:
    """The CLI and the same database opened directly, with the Settings both use."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.settings = settings
        self.cli = Cli(settings_env(settings), tmp_path)
        self.sessions: sessionmaker[Session] = session_factory(
            make_engine(settings.database_url, cipher=TEST_CIPHER)
        )

    def add_patient(self, name: str, phone: str) -> int:
        return int(self.cli.json("patients", "add", "--name", name, "--phone", phone)["id"])

    def rename(self, patient_id: int, name: str) -> None:
        """A name as hostile as a CSV file or an integration could bring in."""
        with transaction(self.sessions) as session:
            session.get_one(Patient, patient_id).name = name

    def add_reply(
        self, patient_id: int | None, body: str, sender: str = ANA_PHONE, attention: str | None = None
    ) -> int:
        with transaction(self.sessions) as session:
            row = InboundMessage(
                message_sid="SM" + uuid.uuid4().hex,
                account_sid=ACCOUNT_SID,
                from_number=sender,
                to_number=FROM_NUMBER,
                body=body,
                params={},
                source="webhook",
                received_at=utcnow(),
                processed_at=utcnow(),
                patient_id=patient_id,
                kind="unmatched",
                attention=attention,
            )
            session.add(row)
            session.flush()
            return row.id

    def raise_alert(self, patient_id: int, inbound_id: int) -> None:
        trigger = Trigger(
            CRISIS_LANGUAGE, AlertCategory.IDEATION, "crisis text, ideation", "en.test", inbound_id
        )
        with transaction(self.sessions) as session:
            patient = session.get_one(Patient, patient_id)
            raise_alert(session, self.settings, trigger, now=utcnow(), patient=patient, reply_to=None)

    def add_result(self, patient_id: int) -> int:
        now = utcnow()
        with transaction(self.sessions) as session:
            run = QuestionnaireRun(
                patient_id=patient_id,
                questionnaire="phq9",
                status="completed",
                score=5,
                severity="mild",
                created_at=now,
                started_at=now,
                finished_at=now,
            )
            session.add(run)
            session.flush()
            for n in range(1, 10):
                session.add(Answer(run_id=run.id, item_id=f"q{n}", value=n % 2, answered_at=now))
            return run.id

    def audit_count(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)

    def reads(self, action: str) -> list[tuple[AuditEntry, list[int]]]:
        """The audit rows of one action, oldest first, each with the patient ids it links."""
        with self.sessions() as session:
            found = [e for e in audit.entries(session) if e.action == action]
            return [(e, audit.linked_ids(e)) for e in found]
