"""A copied database says nothing about a patient: after a reminder, replies (a crisis text
and an MMS among them), a PHQ-9 with item 9 = 2 and a check-in with free text, a plain
`pg_dump` and a copy of the SQLite file hold no name, no phone number in any form, no
appointment kind, no reply text, no city or ZIP, no media link, no answer value and no
severity. Real web, worker and beat processes; the patient is added with the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import TEST_CIPHER, RedisServer, free_port, make_settings, settings_env
from tests.helpers import eventually, start_stack
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form, signed
from worker.db.engine import make_engine, session_factory
from worker.db.models import InboundMessage, QuestionnaireRun, SafetyAlert, utcnow

pytestmark = pytest.mark.slow
PHONE, ONCALL = "+12025550187", "+12025550194"
NAME, KIND = "Philippa Quennell-Dawe", "ketamine-infusion"
CITY, ZIP, MEDIA = (
    "SPRINGFIELDTOWN",
    "62704",
    "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
)
MMS_TEXT = "photo of my discharge sheet from today"
CRISIS_TEXT = "i keep thinking about ending my life tonight"
CHECKIN_NOTE = "cried for hours after the infusion and felt floaty"
PHQ9 = ["1", "2", "1", "0", "1", "2", "1", "0", "2", "1"]  # item 9 = 2, then how difficult


def _form(body: str, media: bool = False) -> list[tuple[str, str]]:
    form = [
        (k, CITY if k == "FromCity" else ZIP if k == "FromZip" else v) for k, v in inbound_form(body, PHONE)
    ]
    if media:
        form = [(k, "1" if k == "NumMedia" else v) for k, v in form]
        form += [("MediaUrl0", MEDIA), ("MediaContentType0", "image/jpeg")]
    return form


def _cli(settings: Any, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "worker", "--by", "dana", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _dump(url: str) -> bytes:
    if url.startswith("sqlite"):
        database = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in sorted(database.parent.glob(database.name + "*")))
    parsed = make_url(url)
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    return subprocess.run(
        [
            pg_dump,
            "-h",
            str(parsed.host),
            "-p",
            str(parsed.port or 5432),
            "-U",
            str(parsed.username),
            str(parsed.database),
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout


def _all_processed(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return not session.scalar(select(func.count()).where(InboundMessage.processed_at.is_(None)))


def _forms_of(phone: str) -> list[str]:
    digits = phone[2:]
    return [
        phone,
        digits,
        f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
        f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
        f"{digits[3:6]}-{digits[6:]}",
        digits[3:],
    ]


def test_a_dump_holds_no_identifier_and_no_health_data(
    db_url: str, standin: StandIn, spawn: Any, private_redis: RedisServer
) -> None:
    port = free_port()
    settings = make_settings(
        db_url,
        private_redis.url,
        standin.url,
        oncall_number=ONCALL,
        dispatch_interval=1.0,
        reminder_offsets="50s",
    )
    procs = start_stack(spawn, settings, port)
    added = _cli(settings, "patients", "add", "--name", NAME, "--phone", PHONE, "--consent", "--json")
    pid = int(json.loads(added)["id"])
    clinic_time = (utcnow() + timedelta(seconds=62)).astimezone(ZoneInfo(settings.timezone))
    start = clinic_time.replace(tzinfo=None).isoformat(timespec="seconds")
    _cli(settings, "appointments", "add", "--patient", str(pid), "--start", start, "--kind", KIND)
    eventually(lambda: len(standin.accepted_to(PHONE)) == 1, timeout=30)  # the reminder
    web = httpx.Client(base_url=f"http://127.0.0.1:{port}")

    sessions = session_factory(make_engine(db_url, cipher=TEST_CIPHER))

    def reply(body: str, media: bool = False, answered: bool = True) -> None:
        sent = len(standin.accepted_to(PHONE))
        assert web.post("/twilio/sms", **signed("/twilio/sms", _form(body, media))).status_code == 200
        eventually(lambda: _all_processed(sessions), timeout=20)
        if answered:
            eventually(lambda: len(standin.accepted_to(PHONE)) > sent, timeout=20)

    reply("yes I'll be there")
    reply(MMS_TEXT, media=True, answered=False)  # on the staff list, unanswered
    for questionnaire, answers in (("phq9", PHQ9), ("checkin", ["3", "yes", "nausea", CHECKIN_NOTE])):
        sent = len(standin.accepted_to(PHONE))
        _cli(settings, "questionnaires", "start", "--patient", str(pid), questionnaire)
        eventually(lambda sent=sent: len(standin.accepted_to(PHONE)) > sent, timeout=20)
        for answer in answers:
            reply(answer)
    reply(CRISIS_TEXT, answered=False)  # joins the alert item 9 opened
    eventually(lambda: len(standin.accepted_to(ONCALL)) >= 1, timeout=20)
    for proc in procs:
        proc.stop()

    with sessions() as session:  # what staff read back, decrypted: the data is all there
        runs = {r.questionnaire: r for r in session.scalars(select(QuestionnaireRun))}
        alert = session.scalars(select(SafetyAlert)).one()
        severity, source = runs["phq9"].severity, alert.source
        assert runs["phq9"].score == 10 and severity and "q9" in source
        raw = {
            column: session.execute(text(f"SELECT {column}")).scalars().all()
            for column in (
                "value FROM questionnaire_answers WHERE value IS NOT NULL",
                "score FROM questionnaire_runs WHERE score IS NOT NULL",
                "severity FROM questionnaire_runs WHERE severity IS NOT NULL",
                "kind FROM appointments",
                "category FROM safety_alerts",
            )
        }
    assert all(raw.values()) and all(str(v).startswith("enc:") for values in raw.values() for v in values)
    dump = _dump(db_url).decode("utf-8", "replace")
    secrets = [
        NAME,
        "Philippa",
        "Quennell",
        *_forms_of(PHONE),
        KIND,
        "ketamine",
        "Ketamine",
        CITY,
        ZIP,
        MEDIA,
        MMS_TEXT,
        CRISIS_TEXT,
        "ending my life",
        CHECKIN_NOTE,
        "floaty",
        "nausea",
        severity,
        source,
        "phq9:q9",
        "Springfieldtown",
    ]
    # Case-sensitive, and no secret shorter than 5 characters: a short string turns up by chance
    # in megabytes of base64 tokens.
    assert min(len(s) for s in secrets) >= 5
    leaked = [s for s in secrets if s in dump]
    assert leaked == []
