"""`clinic-worker demo` on embedded defaults, as a new user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import RedisServer

pytestmark = pytest.mark.slow

# `2026-12-03 10:02 EST  [sms CONSOLE... to +1******0143] text`: each text with its local time.
SMS_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d [A-Z]{2,5}  \[sms \w+ to (\+1\*+\d{4})\] (.*)$", re.M)
PATIENT, ONCALL = "+1******0143", "+1******0199"


def _run_demo(tmp_path: Path, redis_url: str, *, from_environment: bool) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no other CLINIC_* settings at all
    args = [sys.executable, "-m", "worker", "demo"]
    if from_environment:
        env["CLINIC_REDIS_URL"] = redis_url
    else:
        args += ["--redis-url", redis_url]
    return subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90)


@pytest.mark.parametrize("broker", ["redis from CLINIC_REDIS_URL", "in-process"])
def test_given_no_settings_when_demo_runs_expect_reminders_reply_checkin_and_alert_within_a_minute(
    tmp_path: Path, redis_server: RedisServer, broker: str
) -> None:
    in_process = broker == "in-process"
    started = time.monotonic()
    result = _run_demo(
        tmp_path, "redis://127.0.0.1:1/0" if in_process else redis_server.url, from_environment=not in_process
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 60
    out = result.stdout
    assert ("memory://" in out) == in_process
    assert (f"broker {redis_server.url}" in out) == (not in_process)
    headings = re.findall(r"^== (.*) ==$", out, re.M)
    assert headings == [
        "Setting up",
        "1. Reminders go out when they are due",
        "2. The patient confirms by text",
        "3. A short check-in, answered by text",
        "4. A crisis text raises a safety alert",
        "Next",
    ]
    texts = SMS_LINE.findall(out)
    assert out.count("[sms ") == len(texts)  # every text printed with its local send time
    to_patient = [body for to, body in texts if to == PATIENT]
    assert sum("Reply C to confirm or R to reschedule" in body for body in to_patient) == 2
    assert "2 of 2 reminders sent" in out
    # The confirmation, read through the webhook's path, confirms the visit and is acknowledged.
    assert any(body.endswith("is confirmed.") for body in to_patient)
    assert "read as a confirmation; appointment 1 is confirmed" in out
    # The check-in: intro and first question, two more questions, the closing; all answers kept.
    assert any("checking in after your visit" in body for body in to_patient)
    assert any("Any side effects since your visit?" in body for body in to_patient)
    assert to_patient[-2].startswith("Thank you. Your care team will see your answers.")
    assert 'check-in 1 completed: mood 7, side_effects no, note "feeling calmer, thanks"' in out
    # The crisis text: the crisis numbers to the patient, a page to on-call, the alert open.
    assert "call or text 988" in to_patient[-1] and "+12025550100" in to_patient[-1]
    pages = [body for to, body in texts if to == ONCALL]
    assert len(pages) == 1 and pages[0].startswith("SAFETY ALERT 1:") and "ACK 1" in pages[0]
    assert "alert 1 (ideation) opened" in out and f"on-call {ONCALL} paged" in out
    for command in ("replies list", "alerts list", "results list", "appointments list --date today"):
        assert f"  clinic-worker {command}" in out
