"""Every mistake on the command line is one `error:` line on standard error (exit 2), never
a multi-line box; `--help` still prints the help.

Most cases run the command line in this process (`run_app`, what `main` runs): a mistake is
found before any setting is read or anything is written. One runs the installed entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli
from worker.cli.main import run_app

MISTAKES = [
    (["alerts", "ack", "1"], "error: alerts ack: missing option --by"),
    (["replies", "resolve", "--by", "dana"], "error: replies resolve: missing argument ID"),
    (["alrts", "list"], "error: unknown command 'alrts'; did you mean 'alerts'?"),
    (["alerts", "lst"], "error: alerts: unknown command 'lst'; did you mean 'list'?"),
    (["patients", "list", "--jsn"], "error: patients list: no such option --jsn; did you mean --json?"),
    (["patients", "list", "--bogus"], "error: patients list: no such option --bogus"),
    (
        ["--by", "a", "patients", "list", "--by", "b"],
        "error: --by given twice with different names; give it once",
    ),
]


@pytest.fixture
def bare_cli(tmp_path: Path) -> Cli:
    """No settings at all: a mistake on the command line is found before any are read."""
    return Cli({"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, tmp_path)


def _is_one_error_line(stderr: str) -> bool:
    boxed = set(stderr) & set("╭│╰─")
    return stderr.startswith("error: ") and stderr.count("\n") == 1 and not boxed


def _one_usage_line(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    assert run_app(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and _is_one_error_line(err), err
    return err.rstrip("\n")


@pytest.mark.parametrize(("args", "line"), MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_given_a_usage_mistake_when_run_expect_one_error_line_naming_the_command_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], line: str
) -> None:
    assert _one_usage_line(capsys, args) == line


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (["alerts", "ack", "x", "--by", "dana"], "error: alerts ack: invalid value for ALERT_ID: "),
        (["audit", "list", "--patient", "one"], "error: audit list: invalid value for --patient: "),
        (["patients", "add", "--name"], "error: "),
        (["replies", "list", "--since"], "error: "),
    ],
)
def test_given_a_bad_or_missing_value_when_run_expect_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], start: str
) -> None:
    line = _one_usage_line(capsys, args)
    assert line.startswith(start) and len(line) > len(start), line


def test_given_help_when_asked_expect_the_help_and_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["alerts", "ack", "--help"], ["patients", "list", "--help"]):
        assert run_app(args) == 0
        out, err = capsys.readouterr()
        assert "Usage" in out and err == ""
        assert ("--by" in out) == (args[0] != "patients")  # the global option is the root's


def test_given_the_installed_command_when_an_option_is_missing_expect_one_line_and_exit_2(
    bare_cli: Cli,
) -> None:
    result = bare_cli.run("alerts", "ack", "1", ok=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "error: alerts ack: missing option --by\n"
