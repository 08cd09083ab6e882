"""Recall and false alarms of the crisis rules on the labelled corpus.

    python scripts/crisis_recall.py [CORPUS.jsonl ...]

Runs every text through the installed `clinic-worker replies classify --file -` (the code
the webhook runs, with the repository's config/crisis_rules.yaml) and prints recall per
category and language, the false alarm rate, and every miss and false alarm. Exits 1 when
recall is under 95% in a language or false alarms are over 3%.
tests/language/test_crisis_corpus.py runs the same functions.
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
CATEGORIES = ("plan_or_means", "intent", "ideation", "self_harm", "passive_ideation")
MIN_RECALL = 0.95
MAX_FALSE_ALARMS = 0.03


@dataclass(frozen=True)
class Case:
    text: str
    language: str
    alert: bool
    category: str
    source: str


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: dict[str, Any]

    @property
    def missed(self) -> bool:
        return self.case.alert and not self.result["alert"]

    @property
    def false_alarm(self) -> bool:
        return not self.case.alert and bool(self.result["alert"])


def load_corpus(paths: Sequence[Path]) -> list[Case]:
    cases = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                cases.append(
                    Case(row["text"], row["language"], row["alert"], row["category"], row.get("source", ""))
                )
            except KeyError as exc:
                raise SystemExit(f"{path.name}:{number}: missing {exc}") from None
    return cases


def clinic_worker() -> str:
    """The installed entry point beside this Python, else the one on PATH."""
    beside = Path(sys.executable).with_name("clinic-worker")
    found = str(beside) if beside.exists() else shutil.which("clinic-worker")
    if found is None:
        raise SystemExit("clinic-worker is not installed: pip install -e . first")
    return found


def classify(cases: Sequence[Case]) -> list[Outcome]:
    """One `replies classify --file -` run over all the texts, in order."""
    lines = "".join(json.dumps({"text": c.text}, ensure_ascii=False) + "\n" for c in cases)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env["CLINIC_CONFIG_DIR"] = str(ROOT / "config")
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [clinic_worker(), "replies", "classify", "--file", "-"],
            input=lines,
            capture_output=True,
            text=True,
            env=env,
            cwd=folder,
            timeout=300,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"replies classify exited {done.returncode}: {done.stderr[-2000:]}")
    results = [json.loads(line) for line in done.stdout.splitlines()]
    if [r["text"] for r in results] != [c.text for c in cases]:
        raise RuntimeError("replies classify did not answer every text in order")
    return [Outcome(case, result) for case, result in zip(cases, results, strict=True)]


def _rate(part: int, whole: int) -> str:
    return f"{part}/{whole} {100 * part / whole:5.1f}%" if whole else "-"


def recall(outcomes: Sequence[Outcome], language: str | None = None, category: str | None = None) -> float:
    chosen = [
        o
        for o in outcomes
        if o.case.alert
        and (language is None or o.case.language == language)
        and (category is None or o.case.category == category)
    ]
    return 1.0 if not chosen else sum(not o.missed for o in chosen) / len(chosen)


def false_alarm_rate(outcomes: Sequence[Outcome], language: str | None = None) -> float:
    chosen = [o for o in outcomes if not o.case.alert and (language is None or o.case.language == language)]
    return 0.0 if not chosen else sum(o.false_alarm for o in chosen) / len(chosen)


def report(outcomes: Sequence[Outcome]) -> str:
    languages = sorted({o.case.language for o in outcomes})
    out = [f"crisis corpus: {len(outcomes)} texts"]
    out.append("recall (alert=true texts that alerted)")
    for category in (*CATEGORIES, None):
        cells = []
        for language in (*languages, None):
            chosen = [
                o
                for o in outcomes
                if o.case.alert
                and (category is None or o.case.category == category)
                and (language is None or o.case.language == language)
            ]
            cells.append(f"{language or 'all'} {_rate(sum(not o.missed for o in chosen), len(chosen))}")
        out.append(f"  {category or 'all':<17} " + "   ".join(cells))
    cells = []
    for language in (*languages, None):
        chosen = [
            o for o in outcomes if not o.case.alert and (language is None or o.case.language == language)
        ]
        cells.append(f"{language or 'all'} {_rate(sum(o.false_alarm for o in chosen), len(chosen))}")
    out.append("false alarms (alert=false texts that alerted)")
    out.append("  " + "   ".join(cells))
    alerted = [o for o in outcomes if o.case.alert and o.result["alert"]]
    same = sum(o.result["category"] == o.case.category for o in alerted)
    out.append(f"category agrees with the label on {_rate(same, len(alerted))} of alerted texts")
    out.extend(_listing("misses", [o for o in outcomes if o.missed]))
    out.extend(_listing("false alarms", [o for o in outcomes if o.false_alarm]))
    return "\n".join(out)


def _listing(title: str, outcomes: Sequence[Outcome]) -> list[str]:
    lines = [f"{title}: {len(outcomes)}"]
    for o in outcomes:
        why = o.result["rule"] or "no rule"
        flag = ", negated" if o.result["negated"] else ""
        lines.append(f"  [{o.case.language} {o.case.category}] {o.case.text!r} -> {why}{flag}")
    return lines


def meets_targets(outcomes: Sequence[Outcome]) -> bool:
    languages = {o.case.language for o in outcomes}
    return all(recall(outcomes, language) >= MIN_RECALL for language in languages) and (
        false_alarm_rate(outcomes) <= MAX_FALSE_ALARMS
    )


def main(argv: Sequence[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(CORPUS.glob("crisis_*.jsonl"))
    outcomes = classify(load_corpus(paths))
    print(report(outcomes))
    return 0 if meets_targets(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
