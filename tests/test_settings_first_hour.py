"""The operator's first hour with the settings: every phone setting checked the same way,
config/example.env valid as shipped, database URLs as hosts hand them out, and no second,
empty database made by a command run in the wrong folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.lib.errors import ConfigError
from worker.settings import load_settings, require_clinic_phone

ROOT = Path(__file__).resolve().parents[1]
PHONE_SETTINGS = [
    "CLINIC_CLINIC_PHONE",
    "CLINIC_TWILIO_FROM_NUMBER",
    "CLINIC_ONCALL_NUMBER",
    "CLINIC_FRONT_DESK_NUMBER",
    "CLINIC_ONCALL_BACKUP_NUMBERS",
]


def _run(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        env={**clean, **env},
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", PHONE_SETTINGS)
def test_given_a_number_in_no_assigned_range_when_set_as_any_phone_setting_expect_it_refused(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "+15550000002")
    with pytest.raises(ConfigError) as error:
        load_settings()
    [problem] = error.value.problems
    assert problem.startswith(f"{name}: ") and "'+15550000002' is not a" in problem


@pytest.mark.parametrize("name", PHONE_SETTINGS)
def test_given_a_fictional_555_01xx_number_when_set_as_any_phone_setting_expect_it_accepted(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "(202) 555-0171")
    settings = load_settings()
    value = getattr(settings, name.removeprefix("CLINIC_").lower())
    assert value in {"(202) 555-0171", "+12025550171", ("+12025550171",)}


def test_given_example_env_as_dot_env_when_settings_load_expect_local_paths_and_the_console(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [k for k in os.environ if k.startswith("CLINIC_")]:
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text((ROOT / "config" / "example.env").read_text())
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.sms_backend == "console"
    assert settings.database_url == "sqlite:///clinic-worker.sqlite3"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.config_dir == tmp_path / "config"
    require_clinic_phone(settings)  # the example's clinic phone passes


def test_given_the_example_in_the_missing_phone_error_when_used_expect_it_valid() -> None:
    with pytest.raises(ConfigError) as error:
        require_clinic_phone(load_settings(clinic_phone=""))
    example = error.value.problems[0].split("CLINIC_CLINIC_PHONE='", 1)[1].split("'", 1)[0]
    assert load_settings(clinic_phone=example).clinic_phone == example


@pytest.mark.parametrize(
    "url", ["postgres://clinic_app:pw@db.example:5432/clinic", "postgresql://u@h/clinic"]
)
def test_given_a_postgres_url_as_hosts_give_it_when_read_expect_the_psycopg_3_driver(url: str) -> None:
    normalised = load_settings(database_url=url).database_url
    assert normalised == "postgresql+psycopg://" + url.split("://", 1)[1]


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg2://u:s3cret@h/db", "mysql://u:s3cret@h/db", "u:s3cret@h/db"]
)
def test_given_an_unsupported_database_url_when_a_command_runs_expect_one_line_without_the_password(
    tmp_path: Path, url: str
) -> None:
    result = _run(tmp_path, "patients", "list", CLINIC_DATABASE_URL=url)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: CLINIC_DATABASE_URL: ")
    assert "sqlite:///PATH, postgresql://, postgres:// or postgresql+psycopg://" in line
    assert "s3cret" not in result.stderr and "Traceback" not in result.stderr


def test_given_a_folder_without_configuration_when_a_read_command_runs_expect_no_database_made(
    tmp_path: Path,
) -> None:
    result = _run(tmp_path, "patients", "list")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: no database at {tmp_path / 'clinic-worker.sqlite3'}; run `clinic-worker db upgrade` "
        "to create it, or set CLINIC_DATABASE_URL"
    ]
    assert list(tmp_path.iterdir()) == []  # no database, no development key files


def test_given_a_folder_without_configuration_when_db_upgrade_runs_expect_the_database_then_used(
    tmp_path: Path,
) -> None:
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    assert (tmp_path / "clinic-worker.sqlite3").is_file()
    listed = _run(tmp_path, "patients", "list", "--json")
    assert listed.returncode == 0, listed.stderr


@pytest.mark.parametrize("command", ["worker", "beat", "web"])
def test_given_no_database_when_a_sending_process_starts_expect_it_refuses_and_creates_none(
    tmp_path: Path, command: str
) -> None:
    result = _run(
        tmp_path, command, CLINIC_CLINIC_PHONE="(202) 555-0100", CLINIC_REDIS_URL="redis://127.0.0.1:1/0"
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: no database at {tmp_path / 'clinic-worker.sqlite3'};")
    assert not (tmp_path / "clinic-worker.sqlite3").exists()


def test_given_a_relative_config_dir_when_read_expect_it_absolute_and_empty_means_the_shipped_copy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(config_dir="config").config_dir == tmp_path / "config"
    assert load_settings(config_dir="").config_dir is None
