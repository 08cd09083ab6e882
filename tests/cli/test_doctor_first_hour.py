"""`clinic-worker doctor` in the operator's first hour: config/example.env runs as shipped and
each placeholder is named; a missing clinic phone, an unreachable database or Redis, bad
Twilio credentials and a stopped beat each get one line saying what and why."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import PG_ADMIN_URL, Cli, RedisServer, _postgres_reachable, make_settings, settings_env
from tests.helpers import eventually
from tests.twilio_standin import StandIn
from worker.jobs.beat import record_heartbeat
from worker.settings import beat_heartbeat_key, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PLACEHOLDERS = [
    "CLINIC_CLINIC_PHONE",
    "CLINIC_TWILIO_FROM_NUMBER",
    "CLINIC_ONCALL_NUMBER",
    "CLINIC_ONCALL_BACKUP_NUMBERS",
    "CLINIC_TWILIO_ACCOUNT_SID",
    "CLINIC_TWILIO_AUTH_TOKEN",
    "CLINIC_PUBLIC_URL",
]


def _fresh_clone(tmp_path: Path, redis_url: str) -> Cli:
    """A folder laid out like the repository, after `cp config/example.env .env`; only the
    Redis URL comes from the environment (a test's own server, not localhost:6379)."""
    shutil.copytree(ROOT / "config", tmp_path / "config", symlinks=True)
    shutil.copy(ROOT / "config" / "example.env", tmp_path / ".env")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env["CLINIC_REDIS_URL"] = redis_url
    return Cli(env, tmp_path)


def _doctor(cli: Cli) -> tuple[int, dict[str, Any]]:
    result = cli.run("doctor", "--json", ok=False)
    return result.returncode, json.loads(result.stdout)


def _stamp(cli: Cli, seconds_ago: float) -> None:
    """A dispatcher run `seconds_ago`, as the dispatch task records it."""
    key = beat_heartbeat_key(load_settings(queue_name=cli.env["CLINIC_QUEUE_NAME"]))
    client = redis.Redis.from_url(cli.env["CLINIC_REDIS_URL"])
    client.set(key, f"{time.time() - seconds_ago:.3f}")
    client.close()


def test_given_example_env_in_a_fresh_folder_when_doctor_runs_expect_placeholders_named_and_nothing_made(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cli = _fresh_clone(tmp_path, redis_server.url)
    code, checks = _doctor(cli)
    assert code == 1
    assert checks["database"] == {
        "ok": False,
        "detail": f"no database at {tmp_path / 'clinic-worker.sqlite3'}; run `clinic-worker db upgrade` "
        "to create it, or set CLINIC_DATABASE_URL",
        "warnings": [],
    }
    assert {
        name: checks[name]["ok"] for name in ("settings", "redis", "sms", "config", "safety")
    } == dict.fromkeys(("settings", "redis", "sms", "config", "safety"), True)
    warnings = checks["settings"]["warnings"]
    for name in EXAMPLE_PLACEHOLDERS:
        assert any(w.startswith(f"{name} ") for w in warnings), name
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", "config"]


def test_given_example_env_after_db_upgrade_when_doctor_runs_expect_it_passes_with_warning_lines(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cli = _fresh_clone(tmp_path, redis_server.url)
    cli.run("db", "upgrade")
    result = cli.run("doctor")
    assert "ok  database  SQLite " in result.stdout
    assert "WARN  settings  CLINIC_CLINIC_PHONE +1******0171 is a placeholder" in result.stdout
    assert "WARN  queue     beat has never run against this Redis" in result.stdout


def test_given_no_clinic_phone_when_doctor_runs_expect_it_fails_and_says_what_patients_would_read(
    cli: Cli,
) -> None:
    cli.env["CLINIC_CLINIC_PHONE"] = ""
    result = cli.run("doctor", ok=False)
    assert result.returncode == 1
    assert (
        "FAIL  safety    CLINIC_CLINIC_PHONE is not set: crisis and HELP texts would say 'call us at .'"
        in result.stdout
    )
    config = next(line for line in result.stdout.splitlines() if "  config  " in line)
    assert config.startswith("FAIL  config    CLINIC_CLINIC_PHONE is not set: templates help, ")
    assert "safety" in config


def test_given_a_template_that_cannot_be_filled_when_doctor_runs_expect_it_named(
    cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "clinic-config"
    shutil.copytree(ROOT / "config", folder, symlinks=True)
    templates = folder / "templates.yaml"
    templates.write_text(
        templates.read_text().replace("reminder of your appointment {when}", "reminder {when:%Y}")
    )
    cli.env["CLINIC_CONFIG_DIR"] = str(folder)
    code, checks = _doctor(cli)
    assert code == 1
    assert checks["config"]["detail"].startswith("template reminder.en cannot be filled in: ValueError")


def test_given_a_docker_config_path_when_doctor_runs_outside_docker_expect_the_setting_named(
    cli: Cli,
) -> None:
    cli.env["CLINIC_CONFIG_DIR"] = "/app/config"
    code, checks = _doctor(cli)
    assert code == 1
    assert checks["config"]["detail"].startswith("CLINIC_CONFIG_DIR=/app/config is not a folder")


def test_given_unreachable_database_and_redis_when_doctor_runs_expect_masked_urls_and_the_reasons(
    cli: Cli,
) -> None:
    cli.env["CLINIC_DATABASE_URL"] = "postgres://clinic_app:s3cret@127.0.0.1:1/clinic"
    cli.env["CLINIC_REDIS_URL"] = "redis://:s3cret@127.0.0.1:1/0"
    result = cli.run("doctor", ok=False)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        "FAIL  database  cannot connect to postgresql+psycopg://clinic_app:***@127.0.0.1:1/clinic: "
        "Connection refused"
    ) in lines
    redis_line = next(line for line in lines if "  redis  " in line)
    assert redis_line.startswith("FAIL  redis     no answer at redis://:***@127.0.0.1:1/0: ")
    assert "Connection refused" in redis_line
    assert "s3cret" not in result.stdout + result.stderr


def test_given_a_role_postgres_does_not_know_when_doctor_runs_expect_the_servers_reason(cli: Cli) -> None:
    if not _postgres_reachable():
        pytest.skip("PostgreSQL is not reachable")
    server = PG_ADMIN_URL.split("@", 1)[1]
    cli.env["CLINIC_DATABASE_URL"] = f"postgresql://nobody_here:s3cret@{server}"
    code, checks = _doctor(cli)
    assert code == 1
    assert checks["database"]["detail"] == (
        f'cannot connect to postgresql+psycopg://nobody_here:***@{server}: role "nobody_here" does not exist'
    )


def test_given_a_postgres_scheme_url_when_doctor_runs_expect_it_connects(
    postgres_url: str, redis_server: RedisServer, standin: StandIn, tmp_path: Path
) -> None:
    settings = make_settings(postgres_url, redis_server.url, standin.url, oncall_number="+12025550177")
    env = settings_env(settings)
    env["CLINIC_DATABASE_URL"] = "postgres://" + postgres_url.split("://", 1)[1]
    code, checks = _doctor(Cli(env, tmp_path))
    assert checks["database"]["ok"] is True, checks["database"]
    assert code == 0


def test_given_a_wrong_twilio_token_when_doctor_runs_expect_the_code_once_and_its_meaning(cli: Cli) -> None:
    cli.env["CLINIC_TWILIO_AUTH_TOKEN"] = "wrong-token"
    code, checks = _doctor(cli)
    assert code == 1
    detail = checks["sms"]["detail"]
    assert detail.startswith(
        "rejected by Twilio (20003): authentication failed: check CLINIC_TWILIO_ACCOUNT_SID and "
        "CLINIC_TWILIO_AUTH_TOKEN ("
    )
    assert detail.count("20003") == 1


def test_given_beat_never_ran_when_doctor_runs_expect_a_warning_not_a_failure(cli: Cli) -> None:
    cli.env["CLINIC_ONCALL_NUMBER"] = "+12025550177"
    code, checks = _doctor(cli)
    assert code == 0
    assert checks["queue"]["ok"] is True
    assert checks["queue"]["warnings"] == [
        "beat has never run against this Redis: start `clinic-worker beat` "
        "(and a worker, which runs the dispatcher it schedules)"
    ]


@pytest.mark.parametrize(
    ("seconds_ago", "ok", "warned"),
    [(5, True, False), (120, True, True), (15 * 60, False, False)],
)
def test_given_beats_last_heartbeat_when_doctor_runs_expect_ok_then_warned_then_failed(
    cli: Cli, seconds_ago: float, ok: bool, warned: bool
) -> None:
    cli.env["CLINIC_ONCALL_NUMBER"] = "+12025550177"
    _stamp(cli, seconds_ago)
    code, checks = _doctor(cli)
    queue = checks["queue"]
    assert (queue["ok"], bool(queue["warnings"]), code) == (ok, warned, 0 if ok else 1)
    assert "the dispatcher last ran" in queue["detail"]
    if not ok:
        assert "15 min ago" in queue["detail"] and "is `clinic-worker beat` running" in queue["detail"]


def test_given_no_redis_client_when_a_heartbeat_is_recorded_expect_nothing_and_no_error(
    redis_server: RedisServer,
) -> None:
    settings = make_settings("sqlite://", redis_server.url)
    record_heartbeat(None, settings)  # the demo's in-process broker
    down = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    record_heartbeat(down, settings)  # Redis gone: the dispatch goes on


@pytest.mark.slow
def test_given_beat_and_a_worker_running_when_doctor_runs_expect_the_dispatcher_seen_recently(
    db_url: str, redis_server: RedisServer, standin: StandIn, spawn: Any, tmp_path: Path
) -> None:
    settings = make_settings(
        db_url, redis_server.url, standin.url, dispatch_interval=1.0, oncall_number="+12025550177"
    )
    worker = spawn(["worker", "--concurrency", "1"], settings, "worker")
    beat = spawn(["beat"], settings, "beat")
    worker.wait_for("ready")
    beat.wait_for("beat: Starting")
    client = redis.Redis.from_url(settings.redis_url)
    eventually(lambda: client.get(beat_heartbeat_key(settings)) is not None, timeout=30)
    client.close()
    code, checks = _doctor(Cli(settings_env(settings), tmp_path))
    assert code == 0, checks
    assert checks["queue"]["warnings"] == []
    assert "the dispatcher last ran" in checks["queue"]["detail"]
