"""What patients write, understood, as deployed: real web, worker and beat processes, signed
webhooks and the operator's CLI (issue 17's "done when", tried as a new user would)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import TEST_CIPHER, RedisServer, free_port, make_settings, settings_env
from tests.helpers import add_appointment, add_patient, eventually, start_stack
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form, signed
from worker.db.engine import make_engine, session_factory
from worker.db.models import Message, utcnow

pytestmark = pytest.mark.slow
ANSWERS, STOPPER, CONFIRMER, MOVER = "+12025550171", "+12025550172", "+12025550173", "+12025550174"


def test_patients_own_words_confirm_move_stop_and_answer_against_running_processes(
    db_url: str, standin: StandIn, spawn: Any, tmp_path: Path, private_redis: RedisServer
) -> None:
    port = free_port()
    settings = make_settings(
        db_url, private_redis.url, standin.url, reminder_offsets="40s", dispatch_interval=1.0, send_rate=20.0
    )
    env = settings_env(settings)
    sessions = session_factory(make_engine(settings.database_url, cipher=TEST_CIPHER))
    procs = start_stack(spawn, settings, port)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}")

    def cli(*args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "worker", *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if "--json" in args else done.stdout

    def texts_to(number: str) -> list[str]:
        return [a.body for a in standin.accepted_to(number)]

    def say(phone: str, body: str) -> str:
        sent = len(texts_to(phone))
        assert (
            client.post("/twilio/sms", **signed("/twilio/sms", inbound_form(body, phone))).status_code == 200
        )
        eventually(lambda: len(texts_to(phone)) > sent, timeout=10)
        return texts_to(phone)[-1]

    ids = {phone: add_patient(sessions, settings, phone) for phone in (ANSWERS, STOPPER, CONFIRMER, MOVER)}
    appts = {
        p: add_appointment(sessions, settings, ids[p], utcnow() + timedelta(seconds=42))
        for p in (CONFIRMER, MOVER)
    }
    eventually(lambda: all(texts_to(p) for p in (CONFIRMER, MOVER)), timeout=20)  # the reminders

    def reminders_recorded() -> bool:
        with sessions() as session:
            statuses = session.scalars(
                select(Message.status).where(Message.appointment_id.in_(appts.values()))
            ).all()
        return bool(statuses) and all(s in ("sent", "delivered") for s in statuses)

    # A reply is matched to a reminder the worker has recorded as sent, which it does just after
    # Twilio accepts the text: milliseconds on a quiet machine, seconds on a loaded CI runner,
    # where a reply posted in between was read as answering no reminder.
    eventually(reminders_recorded, timeout=20)

    # "Yep see u then" confirms; "can we move it to thursday?" is kept for the front desk.
    assert "is confirmed" in say(CONFIRMER, "Yep see u then")
    assert "we will contact you" in say(MOVER, "can we move it to thursday?")
    listed = {a["id"]: a["status"] for a in cli("appointments", "list", "--json")}
    assert (listed[appts[CONFIRMER]], listed[appts[MOVER]]) == ("confirmed", "reschedule_requested")
    [waiting] = cli("replies", "list", "--needs-attention", "--json")
    assert (waiting["patient_id"], waiting["attention"], waiting["detail"]) == (
        ids[MOVER],
        "reschedule request",
        "thursday",
    )

    # "please stop" during a PHQ-9 ends the run and opts out, with one confirmation.
    cli("questionnaires", "start", "--patient", str(ids[STOPPER]), "phq9")
    eventually(lambda: any("1/10" in t for t in texts_to(STOPPER)), timeout=10)
    assert "no more texts" in say(STOPPER, "please stop")
    [patient] = [p for p in cli("patients", "list", "--json") if p["id"] == ids[STOPPER]]
    assert patient["opted_out"] is True and len(texts_to(STOPPER)) == 2

    # The prompt's own words are answers; "2 days" gets a hint, not a guess.
    cli("questionnaires", "start", "--patient", str(ids[ANSWERS]), "phq9")
    eventually(lambda: any("1/10" in t for t in texts_to(ANSWERS)), timeout=10)
    assert "2/10" in say(ANSWERS, "Over half the days")
    assert say(ANSWERS, "2 days").startswith(
        "Please reply with the number of one answer below, not a count of days"
    )
    for answer in ("several days", "1", "never", "0", "0", "0", "0"):
        say(ANSWERS, answer)
    assert "10/10" in say(ANSWERS, "0")  # item 9, then the difficulty item: a problem was checked
    assert say(ANSWERS, "Very").startswith("Thank you.")
    [result] = cli("results", "list", "--patient", str(ids[ANSWERS]), "--json")
    assert (result["status"], result["score"], result["answers"]["difficulty"]) == ("completed", 4, 2)
    bundle = json.loads(cli("results", "export", "--format", "fhir", "--patient", str(ids[ANSWERS])))
    items = bundle["entry"][0]["resource"]["item"]
    [difficulty] = [i for i in items if i["linkId"] == "difficulty"]
    assert difficulty["answer"][0]["valueCoding"]["code"] == "LA6575-0"
    for proc in procs:
        assert "thursday" not in proc.output() and ANSWERS not in proc.output()
