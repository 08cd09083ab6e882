"""Checks shared by `clinic-worker doctor` and the web probes. None of them prints a secret.

Each failure is one line naming what was tried (the URL, its password masked) and the
underlying reason as the driver gave it. Warnings (placeholders from config/example.env, a
beat that never ran) do not fail a check: they are for the operator's first hour.
"""

from __future__ import annotations

import re
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from worker.db.engine import make_engine, require_database, session_factory, sqlite_file
from worker.db.errors import NoDatabase, connection_reason
from worker.db.migrate import current_revision, head_revision, known_revision
from worker.db.models import utcnow
from worker.lib.crypto import DEV_INDEX_KEY_FILE, DEV_KEY_FILE
from worker.lib.errors import InputError, SmsError
from worker.lib.files import readable_by_others
from worker.lib.localtime import show
from worker.lib.phones import is_fictional
from worker.lib.privacy import mask_phone
from worker.messages.templates import Templates, load_templates
from worker.outbound.dispatch import queue_health
from worker.planning.followups import load_overrides
from worker.questionnaires.definitions import load_catalogue
from worker.runtime import load_crisis_screener, make_redis
from worker.settings import Settings, beat_heartbeat_key, config_file
from worker.sms import make_sender

# Beat starts the dispatcher every CLINIC_DISPATCH_INTERVAL; a run that late is a warning,
# and one missing for ten minutes (or six intervals, if longer) means nothing is claimed.
BEAT_WARN_INTERVALS = 3
BEAT_FAIL_INTERVALS = 6
BEAT_FAIL_AFTER_SECONDS = 600.0
# Twilio's codes for credentials that cannot work; other codes are named by number only.
_TWILIO_CODES = {
    20003: "authentication failed: check CLINIC_TWILIO_ACCOUNT_SID and CLINIC_TWILIO_AUTH_TOKEN",
    20404: "no such account: check CLINIC_TWILIO_ACCOUNT_SID",
    20005: "the account is not active",
}
# The values config/example.env ships with, flagged by `doctor` until replaced.
_EXAMPLE_SID = re.compile(r"^(AC|MG)x+$", re.IGNORECASE)
_EXAMPLE_SECRETS = {"replace-me", "changeme", "change-me"}
_EXAMPLE_HOSTS = ("example.org", "example.com", "example.net")
_DEFAULT_CLINIC_NAME = "Our clinic"
# Stand-ins for what a template says besides the clinic's own name and phone.
_SAMPLE_VALUES = {
    "when": "on Tue Dec 1 at 3:30 PM",
    "appointment_id": "1",
    "reply_id": "1",
    "alert_id": "1",
    "alert_summary": "PHQ-9 item 9 = 2",
    "alert_more": "",
    "alert_minutes": "15",
    "alert_acked_by": "+1******0100",
}


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail}

    def as_report(self) -> dict[str, object]:
        """doctor's --json: the same, and every warning (a list, empty when none)."""
        return {**self.as_dict(), "warnings": list(self.warnings)}

    def joined(self, other: Check) -> Check:
        return Check(self.ok and other.ok, f"{self.detail}; {other.detail}", self.warnings + other.warnings)


def mask_url(url: str) -> str:
    """`redis://:s3cret@host:6379/0` -> `redis://:***@host:6379/0` (and any password= query)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = parts.query
    if "password" in query.lower():
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if "password" in k.lower() else v) for k, v in pairs], safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # as written: urlunsplit would turn sqlite:///x into sqlite:/x
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def database_label(url: str) -> str:
    """What doctor names: the SQLite file's full path, or the URL with its password masked."""
    path = sqlite_file(url)
    return f"SQLite {path}" if path is not None else mask_url(url)


def check_database(
    engine: Engine, settings: Settings, *, show_url: bool = False, rolling: bool = False
) -> Check:
    """`show_url` for doctor: the URL and the driver's reason. /healthz is reachable from
    outside, so it gets only the kind of error (no host, no user name). `rolling` for the
    readiness probe: a schema newer than this code (migrated for the release replacing this
    one) is no reason to stop serving."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        if not show_url:
            return Check(False, f"cannot connect: {type(getattr(exc, 'orig', None) or exc).__name__}")
        where = database_label(settings.database_url)
        return Check(False, f"cannot connect to {where}: {connection_reason(exc)}")
    head = head_revision()
    if current != head and rolling and current is not None and not known_revision(current):
        # A newer release's migration ran ahead of its rollout: this process keeps serving
        # until it is replaced (readiness only; doctor still names it).
        return Check(True, f"{engine.dialect.name}, schema {current} is newer than this code's {head}")
    if current != head:
        return Check(
            False, f"schema at {current or 'nothing'}, code needs {head}: run `clinic-worker db upgrade`"
        )
    name = database_label(settings.database_url) if show_url else engine.dialect.name
    return Check(True, f"{name}, schema {current}")


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
            f"{show(health.oldest_overdue, ZoneInfo(settings.timezone))}: is beat running?"
        )
    if health.unprocessed_replies:
        problems.append(f"{health.unprocessed_replies} stored repl(ies) not processed: is a worker running?")
    if health.stuck_sending:
        problems.append(f"{health.stuck_sending} message(s) stuck in sending: is a worker hung?")
    return Check(not problems, "; ".join(problems) or "no overdue or stuck messages")


def check_redis(client: Any, url: str | None = None) -> Check:
    """With `url` (doctor), the line names it (password masked) and the client's reason;
    without (/healthz, reachable from outside), only the kind of error."""
    if client is None:
        return Check(True, "in-process broker (no Redis)")
    try:
        client.ping()
    except Exception as exc:
        if url is None:
            return Check(False, f"no answer: {type(exc).__name__}")
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Check(False, f"no answer at {mask_url(url)}: {reason}")
    return Check(True, f"answers at {mask_url(url)}" if url else "answers")


def check_beat(client: Any, settings: Settings, now: float) -> Check:
    """The dispatcher stamps its run in Redis (worker.jobs.beat.record_heartbeat): how long ago?"""
    interval = settings.dispatch_interval
    try:
        raw = client.get(beat_heartbeat_key(settings))
    except Exception as exc:
        return Check(True, "beat not checked", (f"cannot read beat's heartbeat: {type(exc).__name__}",))
    if raw is None:
        return Check(
            True,
            "beat not seen",
            (
                "beat has never run against this Redis: start `clinic-worker beat` "
                "(and a worker, which runs the dispatcher it schedules)",
            ),
        )
    age = max(0.0, now - float(raw))
    ran = f"the dispatcher last ran {_ago(age)} (beat starts it every {interval:g} s)"
    advice = ": is `clinic-worker beat` running, and a worker on the urgent queue?"
    if age > max(BEAT_FAIL_AFTER_SECONDS, BEAT_FAIL_INTERVALS * interval):
        return Check(False, ran + advice)
    if age > BEAT_WARN_INTERVALS * interval:
        return Check(True, ran, (ran + advice,))
    return Check(True, ran)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def check_config(settings: Settings) -> Check:
    """Templates, questionnaires, crisis rules and follow-up plans all load, and every template
    renders with the configured clinic name and phone."""
    folder = settings.config_dir
    if folder is not None and not folder.is_dir():
        return Check(
            False,
            f"CLINIC_CONFIG_DIR={folder} is not a folder (run from the repository: CLINIC_CONFIG_DIR=config; "
            "unset: the copy shipped with the package)",
        )
    try:
        templates = load_templates(settings)
        catalogue = load_catalogue(config_file(settings, "questionnaires"))
        screener = load_crisis_screener(settings)
        load_overrides(config_file(settings, "followups.yaml"))
    except InputError as exc:
        return Check(False, str(exc))
    problem = template_problem(templates, settings)
    if problem:
        return Check(False, problem)
    count = sum(len(texts) for texts in templates.texts.values())
    return Check(
        True,
        f"{len(catalogue.by_id)} questionnaires, {len(screener)} crisis rules, "
        f"{count} template texts render with the clinic's name and phone",
    )


def template_problem(templates: Templates, settings: Settings) -> str | None:
    """What a patient would read wrongly: a template whose clinic name or phone is empty, or
    one that cannot be filled in at all."""
    values = {
        **_SAMPLE_VALUES,
        "clinic_name": settings.clinic_name.strip(),
        "clinic_phone": settings.clinic_phone.strip(),
    }
    empty: dict[str, list[str]] = {}
    for template, by_language in templates.texts.items():
        for language, body in by_language.items():
            try:
                templates.render(template, language, **values)
            except (KeyError, ValueError, IndexError) as exc:
                return f"template {template}.{language} cannot be filled in: {type(exc).__name__}: {exc}"
            for field in _fields(body) & {"clinic_name", "clinic_phone"}:
                if not values[field] and template not in empty.setdefault(field, []):
                    empty[field].append(template)
    for field, names in empty.items():
        setting = f"CLINIC_{field.upper()}"
        return f"{setting} is not set: templates {', '.join(names)} would say '... at .' (empty {{{field}}})"
    return None


def _fields(body: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(body) if name}


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
        return Check(
            False,
            "CLINIC_CLINIC_PHONE is not set: crisis and HELP texts would say 'call us at .'; "
            "worker, beat and web refuse to start without it",
        )
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


def check_settings(settings: Settings) -> Check:
    # Never the token: only whether one is set.
    token = "set" if settings.twilio_auth_token.get_secret_value() else "not set"
    config = settings.config_dir or "the copy shipped with the package"
    return Check(
        True,
        f"sms={settings.sms_backend}, timezone={settings.timezone}, send_rate={settings.send_rate}/s, "
        f"twilio token {token}, config {config}",
        tuple(placeholders(settings)),
    )


def placeholders(settings: Settings) -> list[str]:
    """A line per setting still holding an example value (config/example.env ships them so
    that every command runs; none of them reaches a real person)."""
    found = []
    numbers = [
        ("CLINIC_CLINIC_PHONE", settings.clinic_phone),
        ("CLINIC_TWILIO_FROM_NUMBER", settings.twilio_from_number),
        ("CLINIC_ONCALL_NUMBER", settings.oncall_number),
        ("CLINIC_FRONT_DESK_NUMBER", settings.front_desk_number),
        *(("CLINIC_ONCALL_BACKUP_NUMBERS", n) for n in settings.oncall_backup_numbers),
    ]
    for name, number in numbers:
        if number and is_fictional(number):
            fictional = f"{mask_phone(number)} is a placeholder (a fictional 555-01XX number)"
            found.append(f"{name} {fictional}: put the real one")
    if settings.clinic_name.strip() == _DEFAULT_CLINIC_NAME:
        found.append(f"CLINIC_CLINIC_NAME is the default {_DEFAULT_CLINIC_NAME!r}: every text starts with it")
    for name, value in (
        ("CLINIC_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
        ("CLINIC_TWILIO_MESSAGING_SERVICE_SID", settings.twilio_messaging_service_sid),
    ):
        if _EXAMPLE_SID.match(value):
            found.append(f"{name} is the example's placeholder (x's): put your Twilio value")
    if settings.twilio_auth_token.get_secret_value().strip().lower() in _EXAMPLE_SECRETS:
        found.append("CLINIC_TWILIO_AUTH_TOKEN is the example's placeholder: put your Twilio auth token")
    host = (urlsplit(settings.public_url).hostname or "").lower()
    if host.endswith(_EXAMPLE_HOSTS):
        found.append(f"CLINIC_PUBLIC_URL is on {host}, an example domain: put the URL Twilio reaches")
    return found


def check_sms(settings: Settings) -> Check:
    try:
        return Check(True, make_sender(settings).check())
    except SmsError as exc:
        detail = str(exc)
        if exc.code in _TWILIO_CODES:
            detail += f": {_TWILIO_CODES[exc.code]}"
        elif exc.code and str(exc.code) not in detail:
            detail += f" (code {exc.code})"
        return Check(False, f"{detail} ({settings.twilio_api_url})")


def doctor_checks(settings: Settings, folder: Path) -> dict[str, Check]:
    """Every check `clinic-worker doctor` prints, in order. Creates nothing: a missing SQLite
    file is reported, not made."""
    checks = {"settings": check_settings(settings)}
    checks.update(_database_checks(settings))
    redis = None if settings.redis_url.startswith("memory://") else make_redis(settings)
    try:
        checks["redis"] = check_redis(redis, settings.redis_url)
        if redis is not None and checks["redis"].ok and "queue" in checks:
            checks["queue"] = checks["queue"].joined(check_beat(redis, settings, time.time()))
    finally:
        if redis is not None:
            redis.close()
    checks["sms"] = check_sms(settings)
    checks["config"] = check_config(settings)
    checks["safety"] = check_safety(settings)
    checks["files"] = check_files(settings, folder)
    return checks


def _database_checks(settings: Settings) -> dict[str, Check]:
    try:
        require_database(settings.database_url)
    except NoDatabase as exc:
        return {"database": Check(False, str(exc))}
    engine = make_engine(settings.database_url)
    try:
        checks = {"database": check_database(engine, settings, show_url=True)}
        if checks["database"].ok:
            checks["queue"] = check_queue(engine, settings)
        return checks
    finally:
        engine.dispose()
