"""The sample export config/examples/appointments.csv ships in the package and imports with
the one command docs/operations.md gives for it."""

from __future__ import annotations

import fnmatch
import re
import shlex
import tomllib
from pathlib import Path

from tests.conftest import Cli
from worker.settings import bundled_config_dir

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = "config/examples/appointments.csv"


def _documented_command() -> list[str]:
    """The arguments of the sample's import command in docs/operations.md, after clinic-worker."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    found = re.search(rf"`clinic-worker (appointments import {re.escape(SAMPLE)}[^`]*)`", text)
    assert found is not None, f"docs/operations.md gives no command importing {SAMPLE}"
    return shlex.split(found.group(1))


def test_given_the_documented_command_when_the_sample_is_imported_expect_every_row_in(
    cli: Cli,
) -> None:
    args = _documented_command()
    args[2] = str(ROOT / SAMPLE)  # the cli fixture runs in a temporary directory
    report = cli.json(*args)
    assert (report["imported"], report["patients_created"], report["invalid"]) == (5, 4, [])
    kinds = {a["kind"] for a in cli.json("appointments", "list")}
    assert kinds == {"intake", "consult", "session", "ketamine-infusion", "follow-up"}


def test_given_the_package_data_expect_the_sample_shipped() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["worker.bundled_config.examples"]
    assert any(fnmatch.fnmatch("appointments.csv", pattern) for pattern in patterns)
    assert (bundled_config_dir() / "examples" / "appointments.csv").is_file()
