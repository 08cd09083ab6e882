"""`clinic-worker demo` on embedded defaults, as a new user runs it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import RedisServer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("broker", ["redis", "in-process"])
def test_demo_sends_both_reminders_and_finishes_within_a_minute(
    tmp_path: Path, redis_server: RedisServer, broker: str
) -> None:
    url = redis_server.url if broker == "redis" else "redis://127.0.0.1:1/0"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no CLINIC_* settings at all
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "worker", "demo", "--redis-url", url],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 60
    assert ("memory://" in result.stdout) == (broker == "in-process")
    assert result.stdout.count("[sms ") == 2
    assert "Reply C to confirm or R to reschedule" in result.stdout
    assert "demo: finished, 2 of 2 reminders sent" in result.stdout
