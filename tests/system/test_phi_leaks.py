"""No PHI in logs or Redis: a full reminder + questionnaire + safety-alert run through real
processes, with every log line and every Redis command (MONITOR) captured and searched."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import TEST_CIPHER, RedisServer, free_port, make_settings
from tests.helpers import add_appointment, add_patient, eventually, start_stack
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form, signed
from worker.db.engine import make_engine, session_factory
from worker.db.models import utcnow

pytestmark = pytest.mark.slow
PHONE, ONCALL, NAME = "+12025550193", "+12025550194", "Rosalind Testpatient"
REPLIES = ["7", "no", "my sister knows I want to end my life"]


def test_no_phone_name_or_reply_text_reaches_logs_or_redis(
    standin: StandIn, spawn: Any, tmp_path: Path, private_redis: RedisServer
) -> None:
    redis_server = private_redis
    commands: list[str] = []
    monitor_client = redis.Redis.from_url(redis_server.url)

    def watch() -> None:
        try:
            with monitor_client.monitor() as monitor:
                for command in monitor.listen():
                    commands.append(str(command.get("command", "")))
        except (redis.ConnectionError, ValueError):
            pass  # Redis stopped at the end of the test

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    port = free_port()
    settings = make_settings(
        f"sqlite:///{tmp_path / 'phi.sqlite3'}",
        redis_server.url,
        standin.url,
        oncall_number=ONCALL,
        dispatch_interval=1.0,
        send_rate=20.0,
        reminder_offsets="20s",
        log_level="DEBUG",
    )
    from worker.db.migrate import upgrade

    upgrade(settings.database_url)
    sessions = session_factory(make_engine(settings.database_url, cipher=TEST_CIPHER))
    procs = start_stack(spawn, settings, port)
    pid = add_patient(sessions, settings, PHONE, name=NAME)
    add_appointment(sessions, settings, pid, utcnow() + timedelta(seconds=22))
    eventually(lambda: len(standin.accepted_to(PHONE)) == 1, timeout=20)  # the reminder
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
    import subprocess
    import sys

    from tests.conftest import settings_env

    subprocess.run(
        [sys.executable, "-m", "worker", "questionnaires", "start", "--patient", str(pid), "checkin"],
        env=settings_env(settings),
        check=True,
        capture_output=True,
        timeout=60,
    )
    eventually(lambda: len(standin.accepted_to(PHONE)) == 2, timeout=15)
    for reply in REPLIES:
        sent = len(standin.accepted_to(PHONE))
        assert (
            client.post("/twilio/sms", **signed("/twilio/sms", inbound_form(reply, PHONE))).status_code == 200
        )
        eventually(lambda sent=sent: len(standin.accepted_to(PHONE)) > sent, timeout=15)
    eventually(lambda: len(standin.accepted_to(ONCALL)) == 1, timeout=15)  # the safety alert
    for proc in procs:
        proc.stop()
    redis_server.stop()
    watcher.join(timeout=5)

    logs = "\n".join(proc.output() for proc in procs)
    assert "SAFETY ALERT raised" in logs and "message sent" in logs  # the logs are there, and useful
    captured = logs + "\n".join(commands)
    assert len(commands) > 50
    secrets = [
        PHONE,
        PHONE[2:],
        PHONE[-7:],
        NAME,
        NAME.split()[1],
        *REPLIES[2:],
        "end my life",
        "Riverside Clinic:",
    ]
    leaked = [s for s in secrets if s in captured]
    assert leaked == []
