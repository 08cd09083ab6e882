"""Questionnaires and safety as deployed: real web, worker and beat processes, signed webhooks,
the operator's CLI, and Redis stopped while a patient in crisis writes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_CIPHER, RedisServer, free_port, make_settings, settings_env
from tests.helpers import add_patient, eventually, start_stack
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form, signed
from worker.db.engine import make_engine, session_factory

pytestmark = pytest.mark.slow
PHONE, ONCALL = "+12025550181", "+12025550199"


def test_phq9_by_text_scores_right_and_danger_reaches_patient_and_on_call_within_seconds(
    db_url: str, standin: StandIn, spawn: Any, tmp_path: Path, private_redis: RedisServer
) -> None:
    redis_server = private_redis
    port = free_port()
    settings = make_settings(
        db_url, redis_server.url, standin.url, oncall_number=ONCALL, dispatch_interval=1.0, send_rate=20.0
    )
    env = settings_env(settings)
    sessions = session_factory(make_engine(settings.database_url, cipher=TEST_CIPHER))
    procs = start_stack(spawn, settings, port)
    pid = add_patient(sessions, settings, PHONE, name="Maria Example")
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}")

    def cli(*args: str) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "worker", *args, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def texts_to(number: str) -> list[str]:
        return [a.body for a in standin.accepted_to(number)]

    def say(body: str) -> None:
        sent = len(texts_to(PHONE))
        assert (
            client.post("/twilio/sms", **signed("/twilio/sms", inbound_form(body, PHONE))).status_code == 200
        )
        eventually(lambda: len(texts_to(PHONE)) > sent, timeout=10)

    cli("questionnaires", "start", "--patient", str(pid), "phq9")
    eventually(lambda: any("1/10" in t for t in texts_to(PHONE)), timeout=10)
    for answer in ["2", "2 days", "1", "1", "1", "3", "1", "0", "2"]:  # "2 days" is asked again
        say(answer)
    assert texts_to(PHONE)[2].startswith(
        "Please reply with the number of one answer below, not a count of days"
    )
    started = time.monotonic()
    say("1")  # item 9
    eventually(lambda: any("988" in t for t in texts_to(PHONE)) and texts_to(ONCALL), timeout=5)
    item9_seconds = time.monotonic() - started
    say("0")  # the difficulty item: the run ends
    [result] = cli("results", "list", "--patient", str(pid))
    assert (result["status"], result["score"], result["severity"]) == ("completed", 12, "moderate")
    [alert] = cli("alerts", "list", "--open")
    assert alert["source"] == "phq9:q9" and "Maria" not in texts_to(ONCALL)[0]
    assert texts_to(ONCALL)[0].startswith(f"SAFETY ALERT {alert['id']}: PHQ-9 item 9 = 1.")
    acked = cli("alerts", "ack", str(alert["id"]), "--by", "dr-lee", "--note", "called")
    assert acked["status"] == "acknowledged"  # later crisis texts open a new alert, not join this one

    # Crisis words while Redis is down: committed at once, sent when Redis is back.
    redis_server.stop()
    assert (
        client.post(
            "/twilio/sms", **signed("/twilio/sms", inbound_form("I want to end my life", PHONE))
        ).status_code
        == 200
    )
    [outage_alert] = cli("alerts", "list", "--open")
    oncall_before = len(texts_to(ONCALL))
    redis_server.start()
    eventually(lambda: len(texts_to(ONCALL)) > oncall_before, timeout=40)
    cli("alerts", "ack", str(outage_alert["id"]), "--by", "dr-lee", "--note", "called")

    # With Redis up, crisis words reach both within 5 seconds.
    oncall_before = len(texts_to(ONCALL))
    started = time.monotonic()
    assert (
        client.post(
            "/twilio/sms", **signed("/twilio/sms", inbound_form("thinking about suicide", PHONE))
        ).status_code
        == 200
    )
    eventually(lambda: len(texts_to(ONCALL)) > oncall_before, timeout=5)
    crisis_seconds = time.monotonic() - started
    fhir = subprocess.run(
        [sys.executable, "-m", "worker", "results", "export", "--format", "fhir"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    bundle = json.loads(fhir.stdout)
    response = bundle["entry"][0]["resource"]
    assert response["resourceType"] == "QuestionnaireResponse" and response["status"] == "completed"
    assert {"system": "http://loinc.org", "code": "44260-8"} in [
        c for i in response["item"] for c in i.get("code", [])
    ]
    print(f"item 9 to 988 + on-call: {item9_seconds:.1f}s; crisis words: {crisis_seconds:.1f}s")
    for proc in procs:
        assert PHONE not in proc.output() and "Maria" not in proc.output()
    redis_server.stop()
