"""Settings: defaults, parsing, secrets, and one clear line per bad value."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from worker.lib.durations import parse_duration
from worker.lib.errors import ConfigError
from worker.settings import load_settings


def test_defaults_match_the_documented_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.sms_backend == "console"
    assert settings.reminder_offsets == (timedelta(hours=48), timedelta(hours=2))
    assert settings.dispatch_interval == 30
    assert settings.send_rate == 1
    assert settings.twilio_api_url == "https://api.twilio.com"
    assert settings.database_url.startswith("sqlite:///")


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("2d", 172800)])
def test_durations_take_s_m_h_d(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_offsets_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_REMINDER_OFFSETS", "30s, 90s")
    assert load_settings().reminder_offsets == (timedelta(seconds=90), timedelta(seconds=30))


def test_each_bad_value_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("CLINIC_REMINDER_OFFSETS", "2 hours")
    monkeypatch.setenv("CLINIC_SEND_RATE", "0")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    problems = caught.value.problems
    assert len(problems) == 3
    assert any(p.startswith("CLINIC_TIMEZONE: unknown time zone 'Mars/Olympus'") for p in problems)
    assert any(p.startswith("CLINIC_REMINDER_OFFSETS:") for p in problems)
    assert any(p.startswith("CLINIC_SEND_RATE:") for p in problems)


def test_twilio_backend_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_SMS_BACKEND", "twilio")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "CLINIC_TWILIO_ACCOUNT_SID" in caught.value.problems[0]
    assert "CLINIC_TWILIO_FROM_NUMBER or CLINIC_TWILIO_MESSAGING_SERVICE_SID" in caught.value.problems[0]


def test_secrets_directory_supplies_the_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "clinic_twilio_auth_token").write_text("from-a-secret-file")
    monkeypatch.setenv("CLINIC_SECRETS_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.twilio_auth_token.get_secret_value() == "from-a-secret-file"
    assert "from-a-secret-file" not in repr(settings)


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CLINIC_CLINIC_NAME=Lakeside Clinic\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().clinic_name == "Lakeside Clinic"


def test_cli_start_up_with_bad_settings_prints_lines_not_a_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CLINIC_TIMEZONE": "Nowhere/Land", "CLINIC_DISPATCH_INTERVAL": "soon"}
    result = subprocess.run(
        [sys.executable, "-m", "worker", "patients", "list"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert all(line.startswith("error: CLINIC_") for line in lines)
    assert "Traceback" not in result.stderr


def test_backup_numbers_are_an_ordered_list_of_e164_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_ONCALL_BACKUP_NUMBERS", " (202) 555-0178, +1 202 555 0179 ")
    settings = load_settings()
    assert settings.oncall_backup_numbers == ("+12025550178", "+12025550179")
    assert settings.alert_escalate_minutes == 10  # the default


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "+12025550178,call dr lee",
            "CLINIC_ONCALL_BACKUP_NUMBERS: number 2: 'call dr lee' is not a phone number",
        ),
        ("+12025550178,+1 202 555 0178", "CLINIC_ONCALL_BACKUP_NUMBERS: a number is listed twice"),
    ],
)
def test_a_bad_backup_number_is_named(monkeypatch: pytest.MonkeyPatch, value: str, message: str) -> None:
    monkeypatch.setenv("CLINIC_ONCALL_BACKUP_NUMBERS", value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert error.value.problems == [message]


@pytest.mark.parametrize("phone", ["(202) 555-0100", "+44 20 7946 0000", "202.555.0100 ext. 2"])
def test_the_clinic_phone_is_kept_as_written_when_it_can_be_dialled(
    monkeypatch: pytest.MonkeyPatch, phone: str
) -> None:
    monkeypatch.setenv("CLINIC_CLINIC_PHONE", f" {phone} ")
    assert load_settings().clinic_phone == phone


@pytest.mark.parametrize("phone", ["call us", "555", "Riverside front desk"])
def test_a_clinic_phone_nobody_can_dial_is_refused(monkeypatch: pytest.MonkeyPatch, phone: str) -> None:
    monkeypatch.setenv("CLINIC_CLINIC_PHONE", phone)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert error.value.problems == [
        f"CLINIC_CLINIC_PHONE: {phone!r} is not a phone number a patient can call"
    ]


@pytest.mark.parametrize("command", ["worker", "beat", "web"])
def test_worker_beat_and_web_refuse_to_start_without_the_clinic_phone(tmp_path: Path, command: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "CLINIC_REDIS_URL": "redis://127.0.0.1:1/0"}
    result = subprocess.run(
        [sys.executable, "-m", "worker", command],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: CLINIC_CLINIC_PHONE: needed in every crisis-resources text (for example CLINIC_CLINIC_PHONE='(202) 555-0100')"
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["send", "reminder", "1"],
        ["send", "checkin", "1"],
        ["questionnaires", "start", "phq9", "--patient", "1"],
    ],
)
def test_commands_that_send_a_text_refuse_without_the_clinic_phone(
    tmp_path: Path, command: list[str]
) -> None:
    env = {"PATH": "/usr/bin:/bin", "CLINIC_REDIS_URL": "redis://127.0.0.1:1/0"}
    result = subprocess.run(
        [sys.executable, "-m", "worker", *command],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: CLINIC_CLINIC_PHONE: needed in every crisis-resources text")
    assert list(tmp_path.iterdir()) == []  # refused before anything was created


TWILIO_ENV = {
    "CLINIC_SMS_BACKEND": "twilio",
    "CLINIC_TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "CLINIC_TWILIO_AUTH_TOKEN": "token",
    "CLINIC_TWILIO_FROM_NUMBER": "+12025550170",
    "CLINIC_ENCRYPTION_KEYS": "",
    "CLINIC_BLIND_INDEX_KEYS": "",
}


def _twilio(monkeypatch: pytest.MonkeyPatch, public_url: str) -> None:
    from cryptography.fernet import Fernet

    for name, value in TWILIO_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLINIC_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("CLINIC_BLIND_INDEX_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("CLINIC_PUBLIC_URL", public_url)


def test_with_twilio_an_http_public_url_is_refused_in_one_line_naming_the_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _twilio(monkeypatch, "http://reminders.clinic.org")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    [problem] = caught.value.problems
    assert "CLINIC_PUBLIC_URL must start with https:// with the twilio backend" in problem
    assert "CLINIC_ALLOW_INSECURE_PUBLIC_URL=true" in problem


def test_with_the_insecure_switch_an_http_public_url_starts_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from worker.settings import insecure_public_url_warning

    _twilio(monkeypatch, "http://localhost:8000")
    monkeypatch.setenv("CLINIC_ALLOW_INSECURE_PUBLIC_URL", "true")
    settings = load_settings()
    assert settings.public_url == "http://localhost:8000"
    warning = insecure_public_url_warning(settings)
    assert warning is not None and "in clear" in warning
    monkeypatch.setenv("CLINIC_PUBLIC_URL", "https://reminders.clinic.org")
    assert insecure_public_url_warning(load_settings()) is None


def test_the_console_backend_takes_an_http_public_url_without_a_word(monkeypatch: pytest.MonkeyPatch) -> None:
    from worker.settings import insecure_public_url_warning

    monkeypatch.setenv("CLINIC_PUBLIC_URL", "http://localhost:8000")
    assert insecure_public_url_warning(load_settings()) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://clinic_app@db:5432/clinic",
            "postgresql+psycopg://clinic_app:p%40ss%2Fw%3Ard@db:5432/clinic",
        ),
        (
            "postgresql://clinic_app:from-env@db:5432/clinic",
            "postgresql+psycopg://clinic_app:from-env@db:5432/clinic",
        ),
        ("sqlite:///clinic.sqlite3", "sqlite:///clinic.sqlite3"),
    ],
)
def test_the_database_password_from_its_secret_file_goes_into_a_url_written_without_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, expected: str
) -> None:
    (tmp_path / "clinic_database_password").write_text("p@ss/w:rd\n")
    monkeypatch.setenv("CLINIC_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("CLINIC_DATABASE_URL", url)
    settings = load_settings()
    assert settings.database_url == expected
    assert "p@ss" not in repr(settings)
