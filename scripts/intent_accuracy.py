"""Accuracy of the reading of replies (intents and answers) on the labelled corpus.

    python scripts/intent_accuracy.py [CORPUS.jsonl ...]

Runs every text through the installed `clinic-worker replies classify --file -` (the code
the worker runs, with the repository's config/) in its context (`during`, `opted_out`), and
prints per language: recall of each intent, opt-out precision, answers read right (all, and
those given as the prompt prints them or as the official label), and every miss. Exits 1
when a target is missed. tests/language/test_intent_corpus.py runs the same functions.

Targets (issue 17): opt-out recall 100% and precision at least 99%; confirm and reschedule
at least 90% each; answers in the prompt's own words or the official labels 100%; all
answers at least 95%.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "language" / "corpus"
INTENTS = ("opt_out", "opt_in", "help", "confirm", "reschedule", "answer", "question", "unclear")
MIN_OPT_OUT_PRECISION = 0.99
MIN_APPOINTMENT_RECALL = 0.90  # confirm and reschedule, each
MIN_ANSWERS = 0.95


@dataclass(frozen=True)
class Case:
    text: str
    language: str
    context: str
    opted_out: bool
    intent: str
    value: Any
    source: str


@dataclass(frozen=True)
class Outcome:
    case: Case
    intent: str
    value: Any
    rule: str

    @property
    def right(self) -> bool:
        if self.intent != self.case.intent:
            return False
        return self.case.intent != "answer" or self.value == self.case.value


def load_corpus(paths: Sequence[Path]) -> list[Case]:
    cases = []
    for path in paths:
        language = path.stem.rsplit("_", 1)[-1]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["intent"] not in INTENTS:
                raise SystemExit(f"{path.name}:{number}: unknown intent {row['intent']!r}")
            cases.append(
                Case(
                    row["text"], language, row["context"], bool(row.get("opted_out")), row["intent"],
                    row.get("value"), f"{path.name}:{number}",
                )
            )  # fmt: skip
    return cases


def classify(cases: Sequence[Case]) -> list[Outcome]:
    lines = []
    for case in cases:
        line: dict[str, Any] = {"text": case.text, "language": case.language, "opted_out": case.opted_out}
        if case.context != "none":
            line["during"] = case.context
        lines.append(json.dumps(line, ensure_ascii=False))
    command = [_clinic_worker(), "replies", "classify", "--file", "-"]
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "CLINIC_CONFIG_DIR": str(ROOT / "config"),
            "CLINIC_DATABASE_URL": f"sqlite:///{scratch}/unused.sqlite3",
            "CLINIC_ENCRYPTION_KEY_FILE": f"{scratch}/unused.key",
            "CLINIC_CLINIC_NAME": "Riverside Clinic",
            "CLINIC_CLINIC_PHONE": "+14155550100",
        }
        done = subprocess.run(
            command, input="\n".join(lines), capture_output=True, text=True, env=env, check=False
        )
    if done.returncode != 0:
        raise SystemExit(f"classify failed: {done.stderr.strip()}")
    results = [json.loads(line) for line in done.stdout.splitlines()]
    return [
        Outcome(case, r["intent"], r["value"], r["intent_rule"])
        for case, r in zip(cases, results, strict=True)
    ]


def _clinic_worker() -> str:
    found = shutil.which("clinic-worker", path=str(Path(sys.executable).parent)) or shutil.which(
        "clinic-worker"
    )
    if found is None:
        raise SystemExit("clinic-worker is not installed (pip install -e .)")
    return found


def recall(outcomes: Sequence[Outcome], intent: str, language: str) -> tuple[int, int]:
    wanted = [o for o in outcomes if o.case.intent == intent and o.case.language == language]
    return sum(o.right for o in wanted), len(wanted)


def opt_out_precision(outcomes: Sequence[Outcome], language: str) -> tuple[int, int]:
    said = [o for o in outcomes if o.intent == "opt_out" and o.case.language == language]
    return sum(o.case.intent == "opt_out" for o in said), len(said)


def printed_answers(outcomes: Sequence[Outcome], language: str) -> tuple[int, int]:
    """Answers given as the number, or as the prompt prints the option or its official label."""
    wanted = [
        o for o in outcomes if o.case.language == language and o.case.intent == "answer" and _printed(o.case)
    ]
    return sum(o.right for o in wanted), len(wanted)


def _printed(case: Case) -> bool:
    from worker.questionnaires.parsing import plain, printed_options

    catalogue = _catalogue()
    questionnaire_id, _, item_id = case.context.partition(":")
    item = catalogue.get(questionnaire_id).item(item_id)
    said = plain(case.text)
    if said.isdigit():
        return True
    shown = {plain(label) for prompt in item.prompt.values() for _, label in printed_options(prompt)}
    official = {plain(label) for option in item.options for label in option.label.values()}
    return said in shown | official


_CACHE: dict[str, Any] = {}


def _catalogue() -> Any:
    if "catalogue" not in _CACHE:
        from worker.questionnaires.definitions import load_catalogue

        _CACHE["catalogue"] = load_catalogue(ROOT / "config" / "questionnaires")
    return _CACHE["catalogue"]


def report(outcomes: Sequence[Outcome]) -> bool:
    ok = True
    for language in sorted({o.case.language for o in outcomes}):
        print(f"\n{language}: {sum(o.case.language == language for o in outcomes)} texts")
        for intent in INTENTS:
            right, total = recall(outcomes, intent, language)
            if total:
                print(f"  {intent:<11} {right:>4}/{total:<4} {right / total:6.1%}")
        right, total = opt_out_precision(outcomes, language)
        print(f"  opt-out precision {right}/{total} {right / max(total, 1):.1%}")
        printed = printed_answers(outcomes, language)
        print(f"  answers as printed or official {printed[0]}/{printed[1]}")
        ok &= _met(outcomes, language, printed, (right, total))
    misses = [o for o in outcomes if not o.right]
    print(f"\n{len(misses)} misses:")
    for o in misses:
        print(
            f"  {o.case.source}  [{o.case.context}] {o.case.text!r}: want {o.case.intent}"
            f"{'=' + str(o.case.value) if o.case.intent == 'answer' else ''}, got {o.intent}"
            f"{'=' + str(o.value) if o.intent == 'answer' else ''} ({o.rule})"
        )
    return ok


def _met(
    outcomes: Sequence[Outcome], language: str, printed: tuple[int, int], precision: tuple[int, int]
) -> bool:
    opt_out = recall(outcomes, "opt_out", language)
    confirm = recall(outcomes, "confirm", language)
    reschedule = recall(outcomes, "reschedule", language)
    answers = recall(outcomes, "answer", language)
    return (
        opt_out[0] == opt_out[1]
        and precision[0] >= MIN_OPT_OUT_PRECISION * precision[1]
        and confirm[0] >= MIN_APPOINTMENT_RECALL * confirm[1]
        and reschedule[0] >= MIN_APPOINTMENT_RECALL * reschedule[1]
        and printed[0] == printed[1]
        and answers[0] >= MIN_ANSWERS * answers[1]
    )


def main(argv: Sequence[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(CORPUS.glob("intents_*.jsonl"))
    outcomes = classify(load_corpus(paths))
    return 0 if report(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
