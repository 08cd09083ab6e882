"""docker-compose.yml is parsed (no Docker engine here) and every app command is checked
against the real CLI; config/example.env documents every setting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_app_service_runs_a_real_cli_command() -> None:
    services = _compose()["services"]
    app_services = {name: s for name, s in services.items() if s.get("image", "").startswith("clinic-worker")}
    assert set(app_services) == {"migrate", "worker", "worker-urgent", "beat", "web"}
    for name, service in app_services.items():
        # `--help` after the service's own arguments: the CLI parses them first, so an unknown
        # command or option fails (exit 2) before help is printed.
        result = subprocess.run(
            [sys.executable, "-m", "worker", *service["command"], "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{name}: {service['command']}: {result.stderr}"
        assert "Usage: python -m worker" in result.stdout


def test_a_wrong_command_in_compose_would_be_caught() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worker", "web", "--hots", "x", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2


def test_redis_keeps_its_queue_and_never_evicts() -> None:
    command = " ".join(_compose()["services"]["redis"]["command"])
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command


def test_services_have_healthchecks_and_wait_for_the_migration() -> None:
    services = _compose()["services"]
    for name in ("redis", "postgres", "worker", "web"):
        assert "healthcheck" in services[name], name
    for name in ("worker", "beat", "web"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_example_env_documents_every_setting_without_real_secrets() -> None:
    text = (ROOT / "config" / "example.env").read_text()
    documented = set(re.findall(r"^#?\s*(CLINIC_[A-Z_]+)=", text, re.MULTILINE))
    assert documented >= {f"CLINIC_{name.upper()}" for name in Settings.model_fields}
    assert re.search(r"AUTH_TOKEN=[0-9a-f]{32}", text) is None


def test_every_app_container_gets_the_same_encryption_keys_or_compose_refuses_to_start() -> None:
    app = _compose()["x-app"]["environment"]
    assert app["CLINIC_ENCRYPTION_KEYS"].startswith("${CLINIC_ENCRYPTION_KEYS:?")
    assert app["CLINIC_BLIND_INDEX_KEYS"].startswith("${CLINIC_BLIND_INDEX_KEYS:?")


def test_app_containers_connect_as_the_application_role_and_only_migrate_sees_the_admin_secrets() -> None:
    compose = _compose()
    url = compose["x-app"]["environment"]["CLINIC_DATABASE_URL"]
    assert url.startswith("postgresql://clinic_app:${DB_APP_PASSWORD:?")
    assert "clinic:clinic@" not in (ROOT / "docker-compose.yml").read_text()
    postgres = compose["services"]["postgres"]["environment"]
    assert "POSTGRES_PASSWORD" not in postgres and postgres["POSTGRES_PASSWORD_FILE"].startswith(
        "/run/secrets/"
    )
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"][:2] == ["db", "roles"] and "--upgrade" in migrate["command"]
    assert set(migrate["secrets"]) == {"postgres_password", "db_owner_password"}
    for name in ("worker", "worker-urgent", "beat", "web"):
        assert "secrets" not in services[name], name
