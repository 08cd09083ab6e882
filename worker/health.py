"""Checks shared by `clinic-worker doctor` and `GET /healthz`. None of them prints a secret."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from worker.db.engine import session_factory
from worker.db.migrate import current_revision, head_revision
from worker.db.models import utcnow
from worker.lib.crypto import DEV_INDEX_KEY_FILE, DEV_KEY_FILE
from worker.lib.errors import InputError
from worker.lib.files import readable_by_others
from worker.lib.privacy import mask_phone
from worker.messages.templates import load_templates
from worker.outbound.dispatch import queue_health
from worker.planning.followups import load_overrides
from worker.questionnaires.definitions import load_catalogue
from worker.runtime import load_crisis_screener
from worker.settings import Settings, config_file


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail}


def check_database(engine: Engine, settings: Settings) -> Check:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        return Check(False, f"cannot connect: {type(getattr(exc, 'orig', None) or exc).__name__}")
    head = head_revision()
    if current != head:
        return Check(
            False, f"schema at {current or 'nothing'}, code needs {head}: run `clinic-worker db upgrade`"
        )
    return Check(True, f"{engine.dialect.name}, schema {current}")


def check_queue(engine: Engine, settings: Settings) -> Check:
    try:
        with session_factory(engine)() as session:
            health = queue_health(session, utcnow(), settings.dispatch_interval)
    except SQLAlchemyError as exc:
        return Check(False, f"cannot read messages: {type(exc).__name__}")
    problems = []
    if health.overdue:
        problems.append(
            f"{health.overdue} due message(s) not claimed since "
            f"{health.oldest_overdue:%Y-%m-%d %H:%M:%S} UTC: is beat running?"
        )
    if health.unprocessed_replies:
        problems.append(f"{health.unprocessed_replies} stored repl(ies) not processed: is a worker running?")
    if health.stuck_sending:
        problems.append(f"{health.stuck_sending} message(s) stuck in sending: is a worker hung?")
    return Check(not problems, "; ".join(problems) or "no overdue or stuck messages")


def check_redis(client: Any) -> Check:
    if client is None:
        return Check(True, "in-process broker (no Redis)")
    try:
        client.ping()
    except Exception as exc:
        return Check(False, f"no answer: {type(exc).__name__}")
    return Check(True, "answers")


def check_config(settings: Settings) -> Check:
    """Templates, questionnaires, crisis rules and follow-up plans all load."""
    try:
        load_templates(settings)
        catalogue = load_catalogue(config_file(settings, "questionnaires"))
        screener = load_crisis_screener(settings)
        load_overrides(config_file(settings, "followups.yaml"))
    except InputError as exc:
        return Check(False, str(exc))
    return Check(True, f"{len(catalogue.by_id)} questionnaires, {len(screener)} crisis rules")


def check_files(settings: Settings, folder: Path) -> Check:
    """The SQLite database (and its WAL and journal) and the development key files in `folder`
    are private to their owner: a file any local user can read is a copy of the PHI."""
    exposed = [path for path in _private_files(settings, folder) if readable_by_others(path)]
    if exposed:
        names = " ".join(str(path) for path in exposed)
        return Check(False, f"readable by other users: {names} (fix: chmod 600 {names})")
    return Check(True, "database file and key files are private (0600)")


def _private_files(settings: Settings, folder: Path) -> list[Path]:
    files = [folder / DEV_KEY_FILE, folder / DEV_INDEX_KEY_FILE]
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        files += [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm", "-journal"))]
    return files


def check_safety(settings: Settings) -> Check:
    if not settings.clinic_phone:
        return Check(False, "CLINIC_CLINIC_PHONE is not set: a crisis text would give no number to call")
    if not settings.oncall_number:
        return Check(
            False, "CLINIC_ONCALL_NUMBER is not set: nobody would be texted about a patient in danger"
        )
    backups = len(settings.oncall_backup_numbers)
    escalation = (
        f"; {backups} backup number(s), one more every {settings.alert_escalate_minutes} min unacknowledged"
        if backups
        else "; no CLINIC_ONCALL_BACKUP_NUMBERS: nobody else is told if on-call does not answer"
    )
    return Check(
        True,
        f"on-call texted at {mask_phone(settings.oncall_number)}, "
        f"again every {settings.alert_repeat_minutes} min until acknowledged{escalation}",
    )
