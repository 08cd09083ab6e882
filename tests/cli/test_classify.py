"""`clinic-worker replies classify` and the rule file check of `questionnaires validate`, run
as real processes with no database and no Redis configured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from worker.settings import bundled_config_dir


def run(
    *args: str, tmp_path: Path, stdin: str | None = None, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    # Nothing answers here: classify must not need them.
    env["CLINIC_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    env["CLINIC_REDIS_URL"] = "redis://127.0.0.1:1/0"
    if config is not None:
        env["CLINIC_CONFIG_DIR"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        input=stdin,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_classify_json_says_alert_category_rule_and_language(tmp_path: Path) -> None:
    done = run("replies", "classify", "--json", "i have pills saved up", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "text": "i have pills saved up",
        "language": "en",
        "alert": True,
        "category": "plan_or_means",
        "rule": "en.plan.pills_saved",
        "negated": False,
    }


def test_classify_prints_a_short_line_for_people(tmp_path: Path) -> None:
    assert (
        "ALERT  passive_ideation" in run("replies", "classify", "ya no aguanto más", tmp_path=tmp_path).stdout
    )
    assert run("replies", "classify", "my phone died", tmp_path=tmp_path).stdout.startswith("no alert")
    denied = run("replies", "classify", "not suicidal, just tired", tmp_path=tmp_path).stdout
    assert "denied or in the past" in denied and "en.ideation.suicidal" in denied


def test_classify_takes_the_language_given(tmp_path: Path) -> None:
    done = run("replies", "classify", "--json", "--language", "es", "kms", tmp_path=tmp_path)
    assert json.loads(done.stdout)["language"] == "es"
    bad = run("replies", "classify", "--language", "fr", "kms", tmp_path=tmp_path)
    assert bad.returncode == 1 and "language must be one of en, es" in bad.stderr


def test_classify_file_answers_each_line_in_order(tmp_path: Path) -> None:
    lines = [
        {"text": "kms"},
        {"text": "me corté el pelo", "language": "es"},
        {"text": "no thoughts of hurting myself"},
        {"text": "tengo pastillas guardadas"},
    ]
    corpus = tmp_path / "texts.jsonl"
    corpus.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n", encoding="utf-8")
    for source, stdin in ((str(corpus), None), ("-", corpus.read_text(encoding="utf-8"))):
        done = run("replies", "classify", "--file", source, tmp_path=tmp_path, stdin=stdin)
        assert done.returncode == 0, done.stderr
        results = [json.loads(line) for line in done.stdout.splitlines()]
        assert [r["text"] for r in results] == [x["text"] for x in lines]
        assert [(r["alert"], r["negated"]) for r in results] == [
            (True, False),
            (False, False),
            (False, True),
            (True, False),
        ]
        assert results[1]["language"] == "es" and results[3]["rule"] == "es.plan.pastillas_guardadas"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "kms"}\nnot json\n', "error: texts.jsonl:2: not JSON"),
        (
            '{"text": "kms"}\n\n{"language": "en"}\n',
            'error: texts.jsonl:3: expected an object with a "text" string',
        ),
        ('{"text": "kms", "language": "de"}\n', "error: texts.jsonl:1: language must be one of en, es"),
    ],
)
def test_classify_file_names_the_bad_line_without_a_traceback(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "texts.jsonl").write_text(content, encoding="utf-8")
    done = run("replies", "classify", "--file", "texts.jsonl", tmp_path=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), done.stderr
    assert "Traceback" not in done.stderr


def test_classify_wants_a_text_or_a_file(tmp_path: Path) -> None:
    done = run("replies", "classify", tmp_path=tmp_path)
    assert done.returncode == 1 and "give a TEXT or --file FILE" in done.stderr


def test_validate_lists_every_rule_file_problem_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(bundled_config_dir(), config)
    (config / "crisis_rules.yaml").write_text(
        "rules:\n"
        "  - {id: en.a, category: ideation, pattern: kms}\n"
        "  - {id: en.a, category: ideation, pattern: ctb}\n"
        "  - {id: en.b, category: worry, pattern: '(oops'}\n",
        encoding="utf-8",
    )
    done = run("questionnaires", "validate", tmp_path=tmp_path, config=config)
    assert done.returncode == 1
    assert "ok  phq9.yaml" in done.stdout
    assert done.stderr.splitlines() == [
        "error: crisis_rules.yaml:3: id 'en.a' is used twice (first on line 2)",
        "error: crisis_rules.yaml:4: unknown category 'worry' (expected one of plan_or_means, intent, "
        "ideation, self_harm, passive_ideation)",
        "error: crisis_rules.yaml:4: pattern '(oops': '(' is never closed",
    ]
    classify = run("replies", "classify", "kms", tmp_path=tmp_path, config=config)
    assert classify.returncode == 1 and classify.stderr.startswith("error: crisis_rules.yaml:3:")
