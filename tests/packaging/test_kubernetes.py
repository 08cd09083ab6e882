"""deploy/kubernetes/ is checked without a cluster: every manifest against the Kubernetes API
schemas (kubernetes-validate, strict, so an unknown or misspelt field fails), and what no
schema knows: probes on the endpoints and checks the code serves, commands the CLI accepts,
secret files the settings read, one image everywhere, the restricted pod profile."""

from __future__ import annotations

import copy
import functools
import ipaddress
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import typer
import yaml
from pydantic import SecretStr

from worker.cli.main import app as cli_app
from worker.jobs.celery_app import celery_config
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
DOCS = ROOT / "docs" / "kubernetes.md"
# The oldest Kubernetes the manifests promise to work on, and the newest the validator knows.
SCHEMA_VERSIONS = ("1.30", kubernetes_validate.latest_version())
SECRETS_DIR = "/run/secrets"
APP_SECRET, BOOTSTRAP_SECRET = "clinic-worker-secrets", "clinic-worker-bootstrap"
APP_SECRET_FILES = {  # the names fixed for issue 20
    "clinic_twilio_auth_token", "clinic_twilio_webhook_key", "clinic_encryption_keys",
    "clinic_blind_index_keys", "clinic_database_password", "clinic_metrics_token",
}  # fmt: skip
BOOTSTRAP_FILES = {"postgres_password", "db_owner_password"}
APP_DEPLOYMENTS = {"web", "worker", "worker-urgent", "beat"}
HEARTBEAT_PROBES = {
    "worker": ["clinic-worker", "worker", "--check"],
    "worker-urgent": ["clinic-worker", "worker", "--check", "--urgent-only"],
    "beat": ["clinic-worker", "beat", "--check"],
}
PASS_THROUGH = {"worker", "beat"}  # their other arguments go to `celery worker` / `celery beat`

Obj = dict[str, Any]


def _load(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def _objects() -> list[Obj]:
    """What the kustomizations apply: every manifest but the examples."""
    return [o for p in _manifest_files() if not p.name.endswith(".example.yaml") for o in _load(p)]


def _named(kind: str, objects: list[Obj] | None = None) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects or _objects() if o["kind"] == kind}


def _pod_specs(objects: list[Obj] | None = None) -> dict[str, Obj]:
    workloads = {**_named("Deployment", objects), **_named("Job", objects)}
    return {name: o["spec"]["template"]["spec"] for name, o in workloads.items()}


def _containers(objects: list[Obj] | None = None) -> Iterator[tuple[str, Obj]]:
    for name, spec in _pod_specs(objects).items():
        for container in spec["containers"] + spec.get("initContainers", []):
            yield name, container


def _config() -> dict[str, str]:
    data: dict[str, str] = _named("ConfigMap")["clinic-worker-settings"]["data"]
    return data


def _example_secrets() -> dict[str, set[str]]:
    secrets = _named("Secret", _load(K8S / "secrets.example.yaml"))
    return {name: set(secret["stringData"]) for name, secret in secrets.items()}


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize("path", _manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_given_each_manifest_when_validated_strictly_expect_every_object_to_pass(
    path: Path, version: str
) -> None:
    objects = _load(path)
    assert objects, f"{path} holds no object"
    for obj in objects:
        # Raises on a schema violation, and on a kind it has no schema for.
        kubernetes_validate.validate(obj, version, strict=True)


def test_given_a_misspelt_field_expect_the_strict_validator_to_refuse_it() -> None:
    deployment = copy.deepcopy(_named("Deployment")["web"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, SCHEMA_VERSIONS[0], strict=True)


def _kustomization(folder: Path) -> Obj:
    return _load(folder / "kustomization.yaml")[0]


def _listed_files(folder: Path) -> set[Path]:
    listed: set[Path] = set()
    for entry in _kustomization(folder)["resources"]:
        target = (folder / entry).resolve()
        assert target.exists(), f"{folder}/kustomization.yaml lists missing {entry}"
        listed |= _listed_files(target) if target.is_dir() else {target}
    return listed


def test_the_two_stages_apply_every_manifest_but_the_examples_and_the_same_image() -> None:
    app, migrate = _listed_files(K8S), _listed_files(K8S / "migrate")
    applied = {p for p in _manifest_files() if not p.name.endswith(".example.yaml")}
    assert app | migrate == applied
    assert [p.name for p in migrate - app] == ["job.yaml"], "the Job runs only in stage 1"
    images = [_kustomization(folder)["images"] for folder in (K8S, K8S / "migrate")]
    assert images[0] == images[1] and len(images[0]) == 1
    assert all(_kustomization(f)["namespace"] == "clinic-worker" for f in (K8S, K8S / "migrate"))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (and its kustomize) not installed")
@pytest.mark.parametrize("folder", ["", "migrate"])
def test_given_kustomize_expect_each_stage_to_build_valid_objects_in_one_namespace(folder: str) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S / folder)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    objects = [o for o in yaml.safe_load_all(built.stdout) if o]
    (image,) = _kustomization(K8S)["images"]
    for obj in objects:
        kubernetes_validate.validate(obj, SCHEMA_VERSIONS[0], strict=True)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "clinic-worker", obj["metadata"]["name"]
    images = {container["image"] for _, container in _containers(objects)}
    assert images == {f"{image['newName']}:{image['newTag']}"}


def test_each_process_kind_has_its_deployment_and_all_run_one_image_by_its_entrypoint() -> None:
    assert set(_named("Deployment")) == APP_DEPLOYMENTS and set(_named("Job")) == {"migrate"}
    images = {container["image"] for _, container in _containers()}
    assert len(images) == 1 and images.pop().startswith("clinic-worker:")
    # No `command`: the image's entrypoint (clinic-worker) gets `args`.
    assert all("command" not in container for _, container in _containers())
    assert 'ENTRYPOINT ["clinic-worker"]' in (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _web() -> Obj:
    container: Obj = _pod_specs()["web"]["containers"][0]
    return container


def test_web_is_live_on_livez_and_ready_on_readyz_on_the_port_it_serves() -> None:
    web = _web()
    (port,) = web["ports"]
    assert web["args"][web["args"].index("--port") + 1] == str(port["containerPort"])
    probes = ("startupProbe", "livenessProbe", "readinessProbe")
    assert [web[probe]["httpGet"]["path"] for probe in probes] == ["/livez", "/livez", "/readyz"]
    assert {web[probe]["httpGet"]["port"] for probe in probes} == {port["name"]}


@pytest.mark.parametrize("name", sorted(HEARTBEAT_PROBES))
def test_workers_and_beat_are_probed_by_their_own_heartbeat_check(name: str) -> None:
    (container,) = _pod_specs()[name]["containers"]
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == HEARTBEAT_PROBES[name], probe
        # The check imports the CLI (about 2-3 s); a probe that timed out would restart it.
        assert container[probe]["timeoutSeconds"] >= 10, probe
    assert ("--urgent-only" in container["args"]) == ("--urgent-only" in HEARTBEAT_PROBES[name])


def _cli_arguments() -> list[tuple[str, list[str]]]:
    """(where, the words after `clinic-worker`) for every container and exec probe."""
    found = []
    for owner, container in _containers():
        found.append((f"{owner} args", container["args"]))
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            command = container.get(probe, {}).get("exec", {}).get("command")
            if command:
                assert command[0] == "clinic-worker", f"{owner} {probe}: {command}"
                found.append((f"{owner} {probe}", command[1:]))
    return found


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # help text unwrapped, each flag whole
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=60, env=env)


@functools.cache
def _own_flags(command: str) -> frozenset[str]:
    return frozenset(re.findall(r"--[a-z][a-z-]*", _run(["-m", "worker", command, "--help"]).stdout))


@functools.cache  # a startup and a liveness probe often run the same command
def cli_problem(arguments: tuple[str, ...]) -> str | None:
    """Why `clinic-worker ARGUMENTS` is not a real command line (None if it is). `--help` after
    the arguments: the CLI parses them first, so an unknown command or option exits 2. For
    worker and beat, the flags their own help names are theirs; Celery must take the rest."""
    result = _run(["-m", "worker", *arguments, "--help"])
    if result.returncode != 0 or "Usage: python -m worker" not in result.stdout:
        return result.stderr or result.stdout
    if arguments[0] not in PASS_THROUGH:
        return None
    rest = [word for word in arguments[1:] if word not in _own_flags(arguments[0])]
    if not rest:
        return None
    celery = _run(["-m", "celery", "-A", "worker.celery_app", arguments[0], *rest, "--help"])
    return None if celery.returncode == 0 else f"celery {arguments[0]} {rest}: {celery.stderr}"


@pytest.mark.parametrize(("where", "arguments"), _cli_arguments(), ids=[w for w, _ in _cli_arguments()])
def test_every_container_and_probe_runs_a_real_cli_command(where: str, arguments: list[str]) -> None:
    assert cli_problem(tuple(arguments)) is None, f"{where}: clinic-worker {' '.join(arguments)}"


WRONG = [
    ("web", "--hots", "x"),
    ("db", "rolse"),
    ("worker", "--urgent-onyl"),
    ("worker", "--concurrenc", "4"),
]


@pytest.mark.parametrize("arguments", WRONG)
def test_a_wrong_command_in_a_manifest_would_be_caught(arguments: tuple[str, ...]) -> None:
    assert cli_problem(arguments) is not None


def test_workers_have_time_to_finish_their_sends_when_stopped() -> None:
    soft_shutdown_seconds = celery_config(Settings(_env_file=None))["worker_soft_shutdown_timeout"]
    for name in ("worker", "worker-urgent"):
        grace_seconds = _pod_specs()[name]["terminationGracePeriodSeconds"]
        assert grace_seconds >= max(30, soft_shutdown_seconds + 20), name


def test_a_beat_rollout_starts_the_new_beat_as_standby_before_stopping_the_old() -> None:
    beat = _named("Deployment")["beat"]["spec"]
    assert beat["replicas"] in (1, 2)  # one active; a second waits for RedBeat's lock
    assert beat["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_each_worker_serves_metrics_on_the_port_prometheus_is_told() -> None:
    for name in ("worker", "worker-urgent"):
        template = _named("Deployment")[name]["spec"]["template"]
        (container,) = template["spec"]["containers"]
        (port,) = [p for p in container["ports"] if p["name"] == "metrics"]
        env = {item["name"]: item["value"] for item in container["env"]}
        annotations = template["metadata"]["annotations"]
        assert env["CLINIC_METRICS_PORT"] == annotations["prometheus.io/port"] == str(port["containerPort"])
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_each_deployment_selects_its_own_pods_and_no_other() -> None:
    deployments = _named("Deployment")
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        for other, candidate in deployments.items():
            labels = candidate["spec"]["template"]["metadata"]["labels"]
            assert _selects(selector, labels) == (other == name), f"{name} selects {other}'s pods"
        for spread in deployment["spec"]["template"]["spec"].get("topologySpreadConstraints", []):
            assert spread["labelSelector"]["matchLabels"] == selector, f"{name} spreads other pods"


def test_web_has_two_replicas_a_disruption_budget_and_a_service() -> None:
    web = _named("Deployment")["web"]
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert web["spec"]["replicas"] >= 2
    budget = _named("PodDisruptionBudget")["web"]["spec"]
    assert budget["minAvailable"] == 1
    assert budget["selector"]["matchLabels"] == web["spec"]["selector"]["matchLabels"]
    service = _named("Service")["web"]["spec"]
    assert _selects(service["selector"], labels)
    assert [p["targetPort"] for p in service["ports"]] == [port["name"] for port in _web()["ports"]]


def test_the_ingress_publishes_only_the_webhooks_on_the_public_url_host_with_tls() -> None:
    ingress = _named("Ingress")["web"]["spec"]
    host = urlsplit(_config()["CLINIC_PUBLIC_URL"]).hostname
    (rule,) = ingress["rules"]
    assert rule["host"] == host and ingress["tls"][0]["hosts"] == [host]
    for path in rule["http"]["paths"]:
        assert path["path"].startswith("/twilio"), "health and /metrics stay inside the cluster"
        assert path["backend"]["service"] == {"name": "web", "port": {"name": "http"}}


def test_forwarded_headers_are_believed_from_a_network_not_from_anyone() -> None:
    allowed = _config()["CLINIC_FORWARDED_ALLOW_IPS"].split(",")
    assert "*" not in allowed
    assert all(ipaddress.ip_network(item.strip()) for item in allowed)


def _cli_envvars(command: Any = None) -> set[str]:
    """The variables the CLI's own options read (`web`'s CLINIC_FORWARDED_ALLOW_IPS, ...)."""
    command = command or typer.main.get_command(cli_app)
    found = {p.envvar for p in getattr(command, "params", ()) if isinstance(getattr(p, "envvar", None), str)}
    for sub in (getattr(command, "commands", None) or {}).values():
        found |= _cli_envvars(sub)
    return found


def test_the_configmap_names_only_real_settings_and_no_secret() -> None:
    settings = {f"CLINIC_{name.upper()}" for name in Settings.model_fields}
    assert "CLINIC_FORWARDED_ALLOW_IPS" in _cli_envvars()  # the walk works
    unknown = set(_config()) - settings - _cli_envvars()
    assert not unknown, f"not settings the code reads: {unknown}"
    secret = {f"CLINIC_{n.upper()}" for n, f in Settings.model_fields.items() if f.annotation is SecretStr}
    assert secret >= {"CLINIC_TWILIO_AUTH_TOKEN", "CLINIC_DATABASE_PASSWORD"}
    for name in _config():
        assert name not in secret and not re.search(r"TOKEN|KEYS?$|PASSWORD|SECRET", name), name
    assert urlsplit(_config()["CLINIC_DATABASE_URL"]).password is None


def test_the_secret_files_are_ones_the_settings_read_and_bootstrap_ones_only_reach_the_job() -> None:
    examples = _example_secrets()
    assert {f"clinic_{name}" for name in Settings.model_fields} >= APP_SECRET_FILES
    assert examples == {APP_SECRET: APP_SECRET_FILES, BOOTSTRAP_SECRET: BOOTSTRAP_FILES}
    for name, spec in _pod_specs().items():
        (mount,) = [m for c in spec["containers"] for m in c["volumeMounts"] if m["mountPath"] == SECRETS_DIR]
        (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
        sources = [s["secret"] for s in volume.get("projected", {"sources": [volume]})["sources"]]
        names = {source.get("secretName") or source.get("name") for source in sources}
        assert names == ({APP_SECRET, BOOTSTRAP_SECRET} if name == "migrate" else {APP_SECRET}), name
        # Whole Secrets: each key is a file of its own name (no `items` renaming them).
        assert all("items" not in source for source in sources), name
    args = _pod_specs()["migrate"]["containers"][0]["args"]
    files = {args[args.index(option) + 1] for option in ("--admin-password-file", "--owner-password-file")}
    assert files == {f"{SECRETS_DIR}/{name}" for name in BOOTSTRAP_FILES}


def _kubelet_secret_volume(folder: Path, files: dict[str, str]) -> None:
    """A Secret volume as the kubelet writes it: the files in a timestamped folder, `..data`
    linked to it, and each name a link through `..data`."""
    timestamped = folder / "..2030_01_01_00_00_00.000000001"
    timestamped.mkdir(parents=True)
    (folder / "..data").symlink_to(timestamped.name)
    for name, value in files.items():
        (timestamped / name).write_text(value + "\n")  # --from-file keeps a file's newline
        (folder / name).symlink_to(f"..data/{name}")


def test_given_the_configmap_and_a_secret_volume_expect_settings_to_load_for_twilio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import TEST_INDEX_KEY, TEST_KEY

    monkeypatch.chdir(tmp_path)  # no .env
    for name in [n for n in os.environ if n.startswith("CLINIC_")]:
        monkeypatch.delenv(name)
    for name, value in _config().items():
        monkeypatch.setenv(name, value)
    values = {"clinic_encryption_keys": TEST_KEY, "clinic_blind_index_keys": TEST_INDEX_KEY}
    values |= {name: f"value-of-{name}" for name in APP_SECRET_FILES - set(values)}
    _kubelet_secret_volume(tmp_path / "secrets", values)
    settings = Settings(_secrets_dir=str(tmp_path / "secrets"))
    assert settings.sms_backend == "twilio" and settings.public_url.startswith("https://")
    assert settings.twilio_auth_token.get_secret_value() == "value-of-clinic_twilio_auth_token"
    assert settings.metrics_token.get_secret_value() == "value-of-clinic_metrics_token"
    assert urlsplit(settings.database_url).password == "value-of-clinic_database_password"


def test_the_docs_create_exactly_the_secret_files_of_the_examples() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for secret, names in _example_secrets().items():
        command = re.search(rf"create secret generic {secret}((?:.*\\\n)*.*)", text)
        assert command is not None, f"docs/kubernetes.md: no `kubectl create secret generic {secret}`"
        assert set(re.findall(r"--from-file=([a-z_]+)=", command.group(1))) == names, secret
    assert text.index("apply -k deploy/kubernetes/migrate") < text.index("apply -k deploy/kubernetes\n")


def _writable(container: Obj, spec: Obj, path: str) -> bool:
    empty = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    return any(
        m["name"] in empty and not m.get("readOnly") and Path(path).is_relative_to(m["mountPath"])
        for m in container["volumeMounts"]
    )


@pytest.mark.parametrize("name", sorted(APP_DEPLOYMENTS | {"migrate"}))
def test_every_pod_runs_restricted_non_root_on_a_read_only_root(name: str) -> None:
    spec = _pod_specs()[name]
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0  # the image's user is a name
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    # A token would be mounted at /var/run/secrets, which is the image's /run/secrets.
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        for path in ("/tmp", _config()["CLINIC_HEARTBEAT_DIR"], _config()["CLINIC_METRICS_DIR"]):
            assert _writable(container, spec, path), f"{name}: {path} is not on a writable emptyDir"


def _quantity(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi)?", str(text)).groups()  # type: ignore[union-attr]
    return float(number) * {None: 1, "m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[unit]


def test_every_container_requests_and_limits_cpu_and_memory() -> None:
    for name, container in _containers():
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        for kind in ("cpu", "memory"):
            assert _quantity(requests[kind]) <= _quantity(limits[kind]), f"{name}: {kind}"
        # A probe's check (about 2-3 s of CPU at start-up) must not be throttled past its timeout.
        assert _quantity(limits["cpu"]) >= 1, name
