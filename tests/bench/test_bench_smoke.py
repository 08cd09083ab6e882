"""`python -m bench --smoke`: every benchmark step runs, with tiny counts, so it cannot rot.
Its figures mean nothing; what is checked is that each step measured what it says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL, RedisServer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_end_to_end_and_reports_every_figure(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    output = tmp_path / "bench.json"
    command = [sys.executable, "-m", "bench", "--smoke", "--output", str(output)]
    command += ["--redis-url", redis_server.url, "--postgres-url", PG_ADMIN_URL]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(output.read_text())
    databases = set(figures["throughput"])
    assert "sqlite" in databases
    for db in databases:
        burst = figures["throughput"][db]
        assert burst["accepted"] == burst["messages"] and burst["duplicates"] == 0
        assert burst["per_second"] > 0 and max(burst["peak_rss_mb"].values()) > 0
        paced = figures["paced"][db]
        assert paced["accepted"] == paced["messages"] and paced["lateness_p99_s"] >= 0
        assert all(
            size["claimed"] == figures["dispatcher"][db]["claim"]
            for size in figures["dispatcher"][db]["sizes"]
        )
        hook = figures["webhook"][db]
        assert hook["errors"] == 0 and hook["rows_match"]
    assert figures["rate_limit"]["max_in_any_second"] > 0
    during = figures["crisis"]
    assert during["patient_texts"] == during["oncall_texts"] == during["crisis_texts"] == 4
    assert 0 < during["patient"]["p50_s"] <= during["patient"]["max_s"]
    assert figures["usual"]["per_second"] > 0 and figures["noop"]["per_second"] > 0
    for line in (
        "burst of",
        "dispatcher claims",
        "crisis texts during a burst of",
        "webhook POST /twilio/sms",
        "usual design",
        "no-op Celery task",
    ):
        assert line in result.stdout


def test_a_reference_count_below_one_is_refused() -> None:
    command = [sys.executable, "-m", "bench", "--usual-count", "0"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("--usual-count must be at least 1")
