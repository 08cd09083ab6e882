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
    env["CLINIC_CLINIC_NAME"], env["CLINIC_CLINIC_PHONE"] = "Riverside Clinic", "+14155550100"
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
        "intent": "unclear",
        "intent_rule": "none",
        "value": None,
        "when": None,
        "reply": SAFETY_EN,
    }


SAFETY_EN = (
    "If you are thinking about suicide or hurting yourself, call or text 988, or chat at 988lifeline.org. "
    "If you are in immediate danger, call 911. You can also call Riverside Clinic at +14155550100. "
    "These texts are not monitored around the clock."
)
Q3 = (
    "3/10 Over the last 2 weeks, how often have you been bothered by: trouble falling or staying asleep, or "
    "sleeping too much? 0 Not at all, 1 Several days, 2 More than half the days, 3 Nearly every day"
)


def classify_json(tmp_path: Path, *args: str) -> dict[str, object]:
    done = run("replies", "classify", "--json", *args, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


def test_classify_during_a_phq9_item_reads_the_answer_and_shows_the_next_question(tmp_path: Path) -> None:
    assert classify_json(tmp_path, "--during", "phq9:q2", "Over half the days") == {
        "text": "Over half the days",
        "language": "en",
        "alert": False,
        "category": None,
        "rule": None,
        "negated": False,
        "intent": "answer",
        "intent_rule": "answer",
        "value": 2,
        "when": None,
        "reply": Q3,
    }


def test_classify_shows_the_hint_for_an_ambiguous_answer(tmp_path: Path) -> None:
    result = classify_json(tmp_path, "--during", "phq9:q2", "2 days")
    assert (result["intent"], result["intent_rule"], result["value"]) == (
        "unclear",
        "answer.ambiguous.days",
        None,
    )
    assert str(result["reply"]).startswith(
        "Please reply with the number of one answer below, not a count of days. 2/10 Over the last 2 weeks"
    )


def test_classify_reads_an_opt_out_during_a_questionnaire_and_shows_the_confirmation(tmp_path: Path) -> None:
    result = classify_json(tmp_path, "--during", "phq9:q3", "please stop")
    assert (result["intent"], result["intent_rule"]) == ("opt_out", "en.opt_out.keyword")
    assert (
        result["reply"]
        == "Riverside Clinic: you will get no more texts from us. Reply START to get them again."
    )


def test_classify_keeps_the_day_of_a_reschedule_request(tmp_path: Path) -> None:
    result = classify_json(tmp_path, "--during", "reminder", "can we move it to thursday?")
    assert (result["intent"], result["when"]) == ("reschedule", "thursday")
    assert str(result["reply"]).startswith("Riverside Clinic: thank you, we will contact you")


def test_classify_opted_out_yes_is_an_opt_in(tmp_path: Path) -> None:
    assert classify_json(tmp_path, "--opted-out", "yes")["intent"] == "opt_in"
    assert classify_json(tmp_path, "yes")["intent"] == "unclear"


def test_classify_refuses_an_unknown_context_in_one_line(tmp_path: Path) -> None:
    bad = run("replies", "classify", "--during", "phq9:q99", "2", tmp_path=tmp_path)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "--during 'phq9:q99': phq9 has no item 'q99'" in bad.stderr
    unknown = run("replies", "classify", "--during", "nope:q1", "2", tmp_path=tmp_path)
    assert unknown.returncode == 1 and "no questionnaire 'nope'" in unknown.stderr


def test_classify_file_takes_the_context_per_line(tmp_path: Path) -> None:
    lines = [
        {"text": "never", "during": "gad7:q1"},
        {"text": "Yep see u then", "during": "reminder"},
        {"text": "START", "opted_out": True},
    ]
    done = run(
        "replies", "classify", "--file", "-", tmp_path=tmp_path, stdin="\n".join(json.dumps(x) for x in lines)
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["intent"], r["value"]) for r in results] == [
        ("answer", 0),
        ("confirm", None),
        ("opt_in", None),
    ]


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
