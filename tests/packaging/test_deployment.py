"""docker-compose.yml is parsed (no Docker engine here), validated against the Compose
Specification's JSON schema, and every app command and health check is run against the real
CLI; config/example.env documents every setting."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from worker.jobs.heartbeats import BEAT, URGENT_WORKER, WORKER, heartbeat_path
from worker.lib.heartbeat import stamp
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = {"migrate", "worker", "worker-urgent", "beat", "web"}
APP_SECRETS = {
    "clinic_twilio_auth_token",
    "clinic_twilio_webhook_key",
    "clinic_encryption_keys",
    "clinic_blind_index_keys",
    "clinic_database_password",
    "clinic_metrics_token",
}
BOOTSTRAP_SECRETS = {"postgres_password", "db_owner_password"}
# The role whose heartbeat file each long-running service's health check must read.
CHECKED_ROLES = {"worker": WORKER, "worker-urgent": URGENT_WORKER, "beat": BEAT}


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _services() -> dict[str, Any]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _cli(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """A compose command (`clinic-worker ARGS` or the image's entrypoint with ARGS) run as
    `python -m worker ARGS`, the same CLI."""
    return subprocess.run(
        [sys.executable, "-m", "worker", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def _healthcheck_argv(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD", test
    return list(test[1:])


def test_the_compose_file_follows_the_compose_specification_schema() -> None:
    # The schema that check-jsonschema vendors (and refreshes) from compose-spec/compose-spec.
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_compose())
    ]
    assert not errors, errors


def test_a_misspelt_compose_key_would_be_caught_by_the_schema() -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    compose = _compose()
    compose["services"]["web"]["healthcheck"]["intervall"] = "30s"
    assert not jsonschema.validators.validator_for(schema)(schema).is_valid(compose)


def test_every_app_service_runs_a_real_cli_command() -> None:
    services = _services()
    app_services = {name: s for name, s in services.items() if s.get("image", "").startswith("clinic-worker")}
    assert set(app_services) == APP_SERVICES
    for name, service in app_services.items():
        # `--help` after the service's own arguments: the CLI parses them first, so an unknown
        # command or option fails (exit 2) before help is printed.
        result = _cli([*service["command"], "--help"])
        assert result.returncode == 0, f"{name}: {service['command']}: {result.stderr}"
        assert "Usage: python -m worker" in result.stdout


def test_a_wrong_command_in_compose_would_be_caught() -> None:
    assert _cli(["web", "--hots", "x", "--help"]).returncode == 2


def test_redis_keeps_its_queue_and_never_evicts() -> None:
    command = " ".join(_services()["redis"]["command"])
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command


def test_services_have_healthchecks_and_wait_for_the_migration() -> None:
    services = _services()
    for name in ("redis", "postgres", "worker", "worker-urgent", "beat", "web"):
        assert "healthcheck" in services[name], name
    for name in ("worker", "worker-urgent", "beat", "web"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_no_health_check_runs_doctor_or_reaches_twilio() -> None:
    for name, service in _services().items():
        if "healthcheck" in service:
            test = " ".join(service["healthcheck"]["test"]).lower()
            assert "doctor" not in test and "twilio" not in test, name


@pytest.mark.parametrize("name", sorted(CHECKED_ROLES))
def test_given_a_service_health_check_when_only_its_own_heartbeat_is_fresh_expect_it_to_pass(
    name: str, tmp_path: Path
) -> None:
    # The check compose runs, run for real: it fails before the process stamped its heartbeat
    # and passes once it has; a stamp of another role (a worker check reading beat's file, or
    # the urgent worker's check reading the main worker's) would not do.
    argv = _healthcheck_argv(_services()[name])
    assert argv[0] == "clinic-worker"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLINIC_")}
    env["CLINIC_HEARTBEAT_DIR"] = str(tmp_path / "heartbeats")
    before = _cli(argv[1:], env, tmp_path)
    assert before.returncode == 1, before.stdout + before.stderr
    assert "no heartbeat" in before.stdout + before.stderr
    # Defaults only, as the check in the clean environment above sees them (no CLINIC_* read).
    settings = Settings.model_construct(heartbeat_dir=tmp_path / "heartbeats")
    for role in set(CHECKED_ROLES.values()) - {CHECKED_ROLES[name]}:
        stamp(heartbeat_path(settings, role), state="running")
    assert _cli(argv[1:], env, tmp_path).returncode == 1, f"{name}'s check passed on another role's heartbeat"
    stamp(heartbeat_path(settings, CHECKED_ROLES[name]), state="running")
    after = _cli(argv[1:], env, tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr


def test_web_is_ready_only_when_its_dependencies_answer() -> None:
    test = " ".join(_services()["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/readyz" in test


def test_web_is_not_published_and_only_the_proxy_is() -> None:
    services = _services()
    published = {name for name, service in services.items() if "ports" in service}
    assert published == {"proxy"}
    assert services["web"]["expose"] == ["8000"]
    assert "--port" in services["web"]["command"]
    port = services["web"]["command"][services["web"]["command"].index("--port") + 1]
    assert services["proxy"]["environment"]["CLINIC_UPSTREAM"] == f"web:{port}"


def test_the_proxy_runs_the_repository_caddyfile_and_keeps_its_certificates() -> None:
    proxy = _services()["proxy"]
    assert proxy["image"] == "caddy:2"
    assert "./deploy/caddy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert (ROOT / "deploy" / "caddy" / "Caddyfile").is_file()
    mounts = {volume.split(":")[1] for volume in proxy["volumes"]}
    assert {"/data", "/config"} <= mounts  # caddy:2 keeps certificates and its CA in /data
    named = {volume.split(":")[0] for volume in proxy["volumes"] if not volume.startswith(".")}
    assert named <= set(_compose()["volumes"])
    ports = " ".join(proxy["ports"])
    assert "${CLINIC_HTTPS_PORT:-443}" in ports and "${CLINIC_HTTP_PORT:-80}" in ports
    environment = proxy["environment"]
    assert environment["CLINIC_DOMAIN"] == "${CLINIC_DOMAIN:-localhost}"
    assert environment["CLINIC_TLS"] == "${CLINIC_TLS:-internal}"
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"


def test_web_believes_forwarded_headers_from_the_proxy_address_alone() -> None:
    compose = _compose()
    services = compose["services"]
    web = services["web"]["command"]
    trusted = web[web.index("--forwarded-allow-ips") + 1]
    proxy_address = services["proxy"]["networks"]["edge"]["ipv4_address"]
    assert trusted == proxy_address
    [pool] = compose["networks"]["edge"]["ipam"]["config"]
    subnet, dynamic = ipaddress.ip_network(pool["subnet"]), ipaddress.ip_network(pool["ip_range"])
    address = ipaddress.ip_address(proxy_address)
    # In the subnet, but outside the range Docker hands out, so web (started first) never takes it.
    assert address in subnet and dynamic.subnet_of(subnet) and address not in dynamic  # type: ignore[arg-type]
    members = {name for name, s in services.items() if "edge" in (s.get("networks") or [])}
    assert members == {"web", "proxy"}


def test_every_app_container_gets_the_app_secrets_as_files_and_none_as_values() -> None:
    compose = _compose()
    declared = compose["secrets"]
    assert set(declared) == APP_SECRETS | BOOTSTRAP_SECRETS
    for name, secret in declared.items():
        assert secret == {"file": f"./secrets/{name}"}, name
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert set(service["secrets"]) >= APP_SECRETS, name
        for variable, value in service["environment"].items():
            if re.search(r"(TOKEN|KEY|KEYS|PASSWORD)$", variable):
                assert value == "", f"{name}: {variable} must come from its secret file"
    assert "${CLINIC_ENCRYPTION_KEYS" not in (ROOT / "docker-compose.yml").read_text()


def test_app_containers_connect_as_the_application_role_and_only_migrate_sees_the_admin_secrets() -> None:
    compose = _compose()
    url = compose["x-app"]["environment"]["CLINIC_DATABASE_URL"]
    assert url == "postgresql://clinic_app@postgres:5432/clinic"  # the password comes from its file
    text = (ROOT / "docker-compose.yml").read_text()
    assert "clinic:clinic@" not in text and "DB_APP_PASSWORD" not in text
    postgres = compose["services"]["postgres"]
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert set(postgres["secrets"]) == {"postgres_password"}
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"][:2] == ["db", "roles"] and "--upgrade" in migrate["command"]
    assert set(migrate["secrets"]) == APP_SECRETS | BOOTSTRAP_SECRETS
    for name in ("worker", "worker-urgent", "beat", "web"):
        assert not BOOTSTRAP_SECRETS & set(services[name]["secrets"]), name


def test_example_env_documents_every_setting_without_real_secrets() -> None:
    text = (ROOT / "config" / "example.env").read_text()
    documented = set(re.findall(r"^#?\s*(CLINIC_[A-Z_]+)=", text, re.MULTILINE))
    assert documented >= {f"CLINIC_{name.upper()}" for name in Settings.model_fields}
    # What compose's proxy and `web` read besides Settings.
    assert documented >= {"CLINIC_DOMAIN", "CLINIC_TLS", "CLINIC_FORWARDED_ALLOW_IPS"}
    assert re.search(r"AUTH_TOKEN=[0-9a-f]{32}", text) is None
    assert "DB_APP_PASSWORD" not in text
