"""The wheel, installed into a fresh venv and run from outside the checkout, is a working
`clinic-worker`: every package, the shipped config and the migrations are in it, and every
third-party import it makes is a declared dependency (the venv has nothing else).

Slow-ish (a wheel build, a venv and a `pip install`, then the ~35 s demo) but not marked: a
worker that cannot start once installed is the bug this exists to catch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a checkout has beside the sources: none of it belongs in a build. `build/` above all:
# setuptools never cleans it, so a module moved away would still ship from a stale copy.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", ".env", "*.sqlite3*",
)  # fmt: skip


@dataclass(frozen=True)
class Installed:
    venv: Path
    bin: Path
    outside: Path  # the working directory for every command: not the repository
    env: dict[str, str]
    seconds: dict[str, float]


def _run(cmd: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(map(str, cmd))}` exited {result.returncode} (cwd {cwd})\n"
            f"--- stdout (tail)\n{result.stdout[-3000:]}\n--- stderr (tail)\n{result.stderr[-3000:]}",
            pytrace=False,
        )
    return result.stdout


def _clean_env(venv_bin: Path | None = None) -> dict[str, str]:
    """The caller's environment less everything that could point back at the checkout."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CLINIC_") and key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(ROOT))]
    if venv_bin is not None:
        path.insert(0, str(venv_bin))
    env["PATH"] = os.pathsep.join(path)
    env["PYTHONNOUSERSITE"] = "1"
    return env


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    seconds: dict[str, float] = {}
    outside = base / "elsewhere"
    outside.mkdir()

    # A copy of the checkout, as the Dockerfile and a fresh clone see it (symlinks kept:
    # worker/bundled_config is one).
    source = base / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_SOURCES)
    started = time.monotonic()
    dist = base / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", ".", "-w", dist],
        cwd=source,
        env=_clean_env(),
        timeout=600,
    )
    [wheel] = dist.glob("clinic_worker-*.whl")
    seconds["wheel"] = time.monotonic() - started

    started = time.monotonic()
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=outside, env=_clean_env(), timeout=300)
    seconds["venv"] = time.monotonic() - started

    # With its dependencies, from the index or pip's cache: only what the wheel declares.
    started = time.monotonic()
    bin_ = venv / "bin"
    env = _clean_env(bin_)
    _run(
        [bin_ / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel],
        cwd=outside,
        env=env,
        timeout=900,
    )
    seconds["install"] = time.monotonic() - started
    print("\nwheel test set-up: " + ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items()))
    return Installed(venv=venv, bin=bin_, outside=outside, env=env, seconds=seconds)


def test_worker_is_imported_from_the_venv_not_the_checkout(installed: Installed) -> None:
    out = _run(
        [
            installed.bin / "python",
            "-c",
            "import sys, sysconfig, worker; print(worker.__file__); print(sysconfig.get_paths()['purelib'])",
        ],
        cwd=installed.outside,
        env=installed.env,
        timeout=60,
    )
    module_file, purelib = (Path(line).resolve() for line in out.splitlines()[-2:])
    assert module_file.is_relative_to(purelib), (module_file, purelib)
    assert module_file.is_relative_to(installed.venv.resolve())
    assert not module_file.is_relative_to(ROOT), module_file
    # The shipped config is real files inside the package, not a link back to config/.
    templates = purelib / "worker" / "bundled_config" / "templates.yaml"
    assert templates.is_file() and not templates.is_symlink(), templates
    assert (purelib / "worker" / "bundled_config" / "example.env").is_file()
    assert (purelib / "worker" / "bundled_config" / "crisis_rules.yaml").is_file()
    assert (purelib / "worker" / "bundled_config" / "crisis_model.json").is_file()
    assert (purelib / "worker" / "bundled_config" / "examples" / "appointments.csv").is_file()
    migrations = purelib / "worker" / "db" / "migrations"
    assert (migrations / "env.py").is_file() and (migrations / "script.py.mako").is_file()
    assert list((migrations / "versions").glob("0001*.py")), "the first migration is missing"


def test_help(installed: Installed) -> None:
    out = _run(
        [installed.bin / "clinic-worker", "--help"], cwd=installed.outside, env=installed.env, timeout=60
    )
    assert "Usage: clinic-worker" in out
    assert "demo" in out


def test_questionnaires_validate_finds_the_shipped_config(installed: Installed) -> None:
    out = _run(
        [installed.bin / "clinic-worker", "questionnaires", "validate"],
        cwd=installed.outside,
        env=installed.env,
        timeout=60,
    )
    assert re.search(r"^ok\s+phq9\.yaml: phq9, \d+ items$", out, re.MULTILINE), out
    assert re.search(r"^ok\s+crisis_rules\.yaml: \d+ rules$", out, re.MULTILINE), out


def test_replies_classify_reads_the_shipped_rules(installed: Installed) -> None:
    out = _run(
        [installed.bin / "clinic-worker", "replies", "classify", "--json", "i have pills saved up"],
        cwd=installed.outside,
        env=installed.env,
        timeout=60,
    )
    assert '"rule": "en.plan.pills_saved"' in out, out


def test_demo_sends_its_reminders(installed: Installed) -> None:
    out = _run(
        [installed.bin / "clinic-worker", "demo"], cwd=installed.outside, env=installed.env, timeout=180
    )
    # Each text is printed after its local send time: `2026-12-03 10:02 EST  [sms ...] ...`.
    texts = re.findall(
        r"^\S+ \S+ \S+  \[sms CONSOLE\w+ to \+1\*+0143\] Riverside Clinic: reminder of your appointment",
        out,
        re.M,
    )
    finished = re.search(r"^demo: (\d+) of (\d+) reminders sent$", out, re.MULTILINE)
    assert re.search(r"^demo: finished\.", out, re.MULTILINE), out[-3000:]
    assert finished, out[-3000:]
    sent, planned = int(finished[1]), int(finished[2])
    assert sent == planned >= 1, out[-3000:]
    assert len(texts) == sent, out[-3000:]
