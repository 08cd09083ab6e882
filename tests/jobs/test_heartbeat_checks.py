"""`clinic-worker worker --check` and `beat --check`: what a container health check runs.

They pass while the process does its work and fail within a minute of it stopping, even
when the process itself is still alive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import settings_env
from tests.helpers import eventually
from worker.settings import Settings

# The heartbeats touch no database: one is enough.
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

STALL_DEADLINE_SECONDS = 60


def check(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker", *args, "--check"],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=30,
    )


def passes(settings: Settings, *args: str) -> bool:
    return check(settings, *args).returncode == 0


def fails(settings: Settings, *args: str) -> bool:
    return check(settings, *args).returncode == 1


@pytest.fixture
def own_heartbeats(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"heartbeat_dir": tmp_path / "heartbeats"})


def test_given_no_worker_ever_started_expect_the_check_to_fail_and_say_so(own_heartbeats: Settings) -> None:
    result = check(own_heartbeats, "worker")
    assert result.returncode == 1
    assert "no heartbeat" in result.stdout


def test_given_a_worker_taking_tasks_when_its_event_loop_blocks_expect_the_check_to_fail_within_a_minute(
    own_heartbeats: Settings, spawn: Any
) -> None:
    worker = spawn(["worker", "--include", "tests.jobs.block_loop"], own_heartbeats, "worker")
    worker.wait_for("ready")
    eventually(lambda: passes(own_heartbeats, "worker"), timeout=30)
    assert "consuming" in check(own_heartbeats, "worker").stdout

    os.kill(worker.process.pid, signal.SIGUSR2)
    took = eventually(lambda: fails(own_heartbeats, "worker"), timeout=STALL_DEADLINE_SECONDS)

    assert worker.process.poll() is None, "the process is alive: only its heartbeat tells"
    assert took < STALL_DEADLINE_SECONDS
    assert "not taking tasks" in check(own_heartbeats, "worker").stdout


def test_given_an_urgent_only_worker_expect_its_own_heartbeat_and_not_the_main_workers(
    own_heartbeats: Settings, spawn: Any
) -> None:
    spawn(["worker", "--urgent-only"], own_heartbeats, "urgent").wait_for("ready")
    eventually(lambda: passes(own_heartbeats, "worker", "--urgent-only"), timeout=30)
    assert fails(own_heartbeats, "worker")


def test_given_beat_ticking_when_it_is_frozen_expect_the_check_to_fail_within_a_minute(
    own_heartbeats: Settings, spawn: Any
) -> None:
    beat = spawn(["beat"], own_heartbeats, "beat")
    beat.wait_for("beat: Starting")
    eventually(lambda: "active" in check(own_heartbeats, "beat").stdout, timeout=30)

    os.killpg(beat.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        eventually(lambda: fails(own_heartbeats, "beat"), timeout=STALL_DEADLINE_SECONDS)
        assert time.monotonic() - started < STALL_DEADLINE_SECONDS
    finally:
        os.killpg(beat.process.pid, signal.SIGCONT)


def test_given_a_standby_beat_waiting_for_the_lock_expect_its_check_to_pass(
    settings: Settings, tmp_path: Path, spawn: Any
) -> None:
    first = settings.model_copy(update={"heartbeat_dir": tmp_path / "first"})
    second = settings.model_copy(update={"heartbeat_dir": tmp_path / "second"})
    spawn(["beat"], first, "beat-1").wait_for("beat: Starting")
    eventually(lambda: passes(first, "beat"), timeout=30)
    spawn(["beat"], second, "beat-2").wait_for("beat: Starting")

    eventually(lambda: passes(second, "beat"), timeout=30)
    assert "waiting for the lock" in check(second, "beat").stdout
