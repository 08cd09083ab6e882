"""Every secret file that docker-compose.yml, config/example.env and the docs name for the app
is one `Settings` reads, and a container laid out as compose lays it out sees each value from
its file, whatever .env (copied from config/example.env) still says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from dotenv import dotenv_values
from pydantic import SecretStr

from worker.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
EXAMPLE_ENV = ROOT / "config" / "example.env"
OPERATIONS = ROOT / "docs" / "operations.md"
BOOTSTRAP_SECRETS = {"postgres_password", "db_owner_password"}
# A secret file as a path (./secrets/NAME, /run/secrets/NAME) or as prose names one: "file NAME"
# (in example.env perhaps across a line break: "file\n# NAME").
# A name with a dash or a dot after it is someone else's (/etc/prometheus/secrets/x-y).
SECRET_PATH = re.compile(r"secrets/([a-z][a-z0-9_]*)(?![\w.-])")
SECRET_WORD = re.compile(r"\bfiles?\s+(?:#\s*)?`?(clinic_[a-z0-9_]+)(?![\w.-])")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def secret_fields() -> set[str]:
    """The settings that are secrets: the file the app reads for each, clinic_<field>."""
    return {
        f"clinic_{name}" for name, field in Settings.model_fields.items() if field.annotation is SecretStr
    }


def readable_files() -> set[str]:
    """Every file the app would read from its secrets folder: one per setting (a Redis URL
    with a password in it may be a file too), clinic_<field>."""
    return {f"clinic_{name}" for name in Settings.model_fields}


def names_in(text: str) -> set[str]:
    return set(SECRET_PATH.findall(text)) | set(SECRET_WORD.findall(text))


def secrets_section_names(text: str) -> set[str]:
    """The first cells of the table rows under operations.md's "## Secrets" heading."""
    section = text.split("\n## Secrets\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\|\s*`([a-z][a-z0-9_]*)`\s*\|", section, flags=re.MULTILINE))


def named_anywhere() -> dict[str, set[str]]:
    compose = _compose()
    in_compose = set(compose["secrets"])
    for service in compose["services"].values():
        in_compose |= set(service.get("secrets", []))
    docs = {
        str(path.relative_to(ROOT)): names_in(path.read_text(encoding="utf-8"))
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    }
    return {
        "docker-compose.yml": in_compose | names_in(COMPOSE.read_text()),
        "config/example.env": names_in(EXAMPLE_ENV.read_text()),
        "docs/operations.md table": secrets_section_names(OPERATIONS.read_text(encoding="utf-8")),
        **docs,
    }


def test_the_secret_settings_are_the_six_the_contract_names() -> None:
    # Guards the tests below: were the walk of Settings to find nothing, they would pass vacuously.
    assert secret_fields() == {
        "clinic_twilio_auth_token",
        "clinic_twilio_webhook_key",
        "clinic_encryption_keys",
        "clinic_blind_index_keys",
        "clinic_database_password",
        "clinic_metrics_token",
    }


def test_every_secret_file_named_for_the_app_is_one_settings_reads() -> None:
    unknown = {
        where: sorted(name for name in names if name not in BOOTSTRAP_SECRETS | readable_files())
        for where, names in named_anywhere().items()
    }
    assert not any(unknown.values()), f"secret files nothing reads: {unknown}"


def test_compose_example_env_and_the_operations_table_each_name_every_secret() -> None:
    found = named_anywhere()
    assert found["docker-compose.yml"] == secret_fields() | BOOTSTRAP_SECRETS
    assert found["docs/operations.md table"] == secret_fields() | BOOTSTRAP_SECRETS
    assert found["config/example.env"] >= secret_fields()


def test_a_wrong_secret_name_in_the_docs_would_be_caught() -> None:
    text = (
        "put the token in secrets/twilio_auth_token, the key in the file clinic_encryption_key "
        "(Prometheus keeps its own in /etc/prometheus/secrets/clinic-metrics-token)"
    )
    assert names_in(text) - readable_files() == {"twilio_auth_token", "clinic_encryption_key"}


def _secret_files(folder: Path) -> dict[str, str]:
    values = {
        "clinic_twilio_auth_token": "token-from-its-file",
        "clinic_twilio_webhook_key": "webhook-key-from-its-file",
        "clinic_encryption_keys": Fernet.generate_key().decode(),
        "clinic_blind_index_keys": Fernet.generate_key().decode(),
        "clinic_database_password": "p@ss/word from its file",
        "clinic_metrics_token": "metrics-token-from-its-file",
    }
    folder.mkdir()
    for name, value in values.items():
        (folder / name).write_text(value + "\n")  # as `openssl rand -hex 32 > FILE` writes it
    return values


def _a_container(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, environment: dict[str, str]
) -> dict[str, str]:
    """The process environment of an app container: `environment` only, the secret files in
    a folder of their own, and a working folder without a .env (the image's /app)."""
    import os

    for name in [key for key in os.environ if key.startswith("CLINIC_")]:
        monkeypatch.delenv(name)
    values = _secret_files(tmp_path / "run-secrets")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLINIC_SECRETS_DIR", str(tmp_path / "run-secrets"))
    workdir = tmp_path / "app"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return values


def _twilio_for_real() -> dict[str, str]:
    """What an operator adds to .env to send: with the twilio backend every secret is checked."""
    return {
        "CLINIC_SMS_BACKEND": "twilio",
        "CLINIC_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "CLINIC_TWILIO_FROM_NUMBER": "+12025550170",
        "CLINIC_PUBLIC_URL": "https://reminders.clinic.test",
    }


def _expect_every_value_from_its_file(values: dict[str, str]) -> None:
    settings = load_settings()
    for name, value in values.items():
        field = name.removeprefix("clinic_")
        assert getattr(settings, field).get_secret_value() == value, field
    assert (
        settings.database_url
        == "postgresql+psycopg://clinic_app:p%40ss%2Fword%20from%20its%20file@postgres:5432/clinic"
    )


def test_given_the_secret_files_and_a_url_without_password_when_settings_load_expect_every_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment = {"CLINIC_DATABASE_URL": _compose()["x-app"]["environment"]["CLINIC_DATABASE_URL"]}
    values = _a_container(monkeypatch, tmp_path, environment | _twilio_for_real())
    _expect_every_value_from_its_file(values)


def test_given_compose_environment_over_the_example_env_when_settings_load_expect_the_files_to_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # compose passes .env (here config/example.env as copied, its placeholder auth token
    # included) and then its own `environment`, which blanks every secret variable.
    dot_env = {name: value or "" for name, value in dotenv_values(EXAMPLE_ENV).items()}
    assert dot_env["CLINIC_TWILIO_AUTH_TOKEN"] == "replace-me"
    environment = dot_env | _twilio_for_real() | _compose()["x-app"]["environment"]
    values = _a_container(monkeypatch, tmp_path, environment)
    _expect_every_value_from_its_file(values)
