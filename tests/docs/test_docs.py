"""The documentation keeps up with the code: every setting, every command, every link.

These tests read README.md, docs/*.md and config/example.env, and compare them with
`worker.settings.Settings` and the typer app of `worker.cli.main`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
OPERATIONS = DOCS / "operations.md"
EXAMPLE_ENV = ROOT / "config" / "example.env"
README_MAX_LINES = 160

# A markdown link or image: [text](target) or ![alt](target), target without spaces.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def setting_names() -> list[str]:
    from worker.settings import Settings

    return sorted(f"CLINIC_{name.upper()}" for name in Settings.model_fields)


def command_paths() -> list[str]:
    """Every leaf command of the CLI as typed, e.g. `clinic-worker messages list`."""
    import typer

    from worker.cli.main import app

    paths: list[str] = []

    def walk(command: Any, path: list[str]) -> None:
        # typer may vendor its own click; a group is anything with a dict of subcommands.
        subcommands = getattr(command, "commands", None)
        if isinstance(subcommands, dict) and subcommands:
            for name, sub in subcommands.items():
                if not getattr(sub, "hidden", False):
                    walk(sub, [*path, name])
        else:
            paths.append(" ".join(path))

    walk(typer.main.get_command(app), ["clinic-worker"])
    return sorted(paths)


def doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def all_docs_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in doc_files())


def mentions(text: str, phrase: str) -> bool:
    """`phrase` occurs as a whole: not followed by more of a name (`-`, `_`, a letter)."""
    return re.search(re.escape(phrase) + r"(?![\w-])", text) is not None


def settings_table_names(text: str) -> set[str]:
    """The settings named in the first cell of a table row: | `CLINIC_X` | ... |"""
    return set(re.findall(r"^\|\s*`(CLINIC_[A-Z0-9_]+)`\s*\|", text, flags=re.MULTILINE))


def env_example_names(text: str) -> set[str]:
    """Variables assigned in example.env, including commented-out examples (# CLINIC_X=...)."""
    return set(re.findall(r"^\s*#?\s*(CLINIC_[A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_the_walk_finds_the_cli_and_the_settings() -> None:
    # Guards the other tests: if either walk found nothing, they would pass vacuously.
    commands = command_paths()
    assert "clinic-worker messages list" in commands
    assert "clinic-worker db upgrade" in commands
    assert len(commands) > 20
    assert "CLINIC_DATABASE_URL" in setting_names()


def test_every_setting_is_in_the_operations_settings_table() -> None:
    in_table = settings_table_names(OPERATIONS.read_text(encoding="utf-8"))
    missing = [name for name in setting_names() if name not in in_table]
    assert not missing, f"add a row to the settings table in docs/operations.md for: {missing}"


def test_the_settings_table_names_only_real_settings() -> None:
    in_table = settings_table_names(OPERATIONS.read_text(encoding="utf-8"))
    unknown = sorted(in_table - set(setting_names()))
    assert not unknown, f"docs/operations.md documents settings that do not exist: {unknown}"


def test_every_setting_is_in_example_env() -> None:
    in_env = env_example_names(EXAMPLE_ENV.read_text(encoding="utf-8"))
    missing = [name for name in setting_names() if name not in in_env]
    assert not missing, f"add a line NAME=value to config/example.env for: {missing}"


def test_every_command_is_documented() -> None:
    text = all_docs_text()
    missing = [path for path in command_paths() if not mentions(text, path)]
    assert not missing, f"add these to the command table in docs/operations.md: {missing}"


def test_the_command_tables_name_only_real_commands() -> None:
    known = command_paths()
    text = OPERATIONS.read_text(encoding="utf-8")
    # First cell of each table row that starts with a command: | `clinic-worker a b [--x]` |
    cells = re.findall(r"^\|\s*`(clinic-worker [^`]*)`", text, flags=re.MULTILINE)
    assert cells, "docs/operations.md has no command table"
    unknown = [cell for cell in cells if not any(mentions(cell, path) for path in known)]
    assert not unknown, f"docs/operations.md documents commands that do not exist: {unknown}"


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}); move detail to docs/"
    )


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors for a markdown file's headings: lower case, punctuation dropped."""
    anchors = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (match := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)):
            text = match.group(1).lower()
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("doc", doc_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_to_files_that_exist(doc: Path) -> None:
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.IGNORECASE):
            continue  # http:, https:, mailto:
        relative, _, anchor = target.partition("#")
        linked = (doc.parent / relative) if relative else doc
        if not linked.exists():
            broken.append(target)
            continue
        if anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
            broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)} links to missing files or headings: {broken}"


def test_the_docs_pages_exist() -> None:
    for name in ("architecture", "operations", "clinical-safety", "performance", "reliability"):
        assert (DOCS / f"{name}.md").is_file(), f"docs/{name}.md is missing"


def test_the_architecture_page_has_its_picture() -> None:
    assert "```mermaid" in (DOCS / "architecture.md").read_text(encoding="utf-8")
