"""Results, exports and alerts through the operator's command line."""

from __future__ import annotations

import csv
import io
import json

from tests.conftest import TEST_CIPHER, Cli
from worker.db.engine import make_engine, session_factory, transaction
from worker.db.models import Answer, QuestionnaireRun, SafetyAlert, utcnow


def _seed(cli: Cli) -> None:
    cli.run("patients", "add", "--name", "Ana", "--phone", "+12025550143")
    sessions = session_factory(make_engine(cli.env["CLINIC_DATABASE_URL"], cipher=TEST_CIPHER))
    now = utcnow()
    with transaction(sessions) as session:
        for score, severity in ((20, "severe"), (9, "mild")):
            run = QuestionnaireRun(
                patient_id=1,
                questionnaire="phq9",
                status="completed",
                score=score,
                severity=severity,
                created_at=now,
                started_at=now,
                finished_at=now,
            )
            session.add(run)
            session.flush()
            values = [3, 3, 2, 2, 2, 2, 2, 2, 2] if score == 20 else [1, 1, 1, 1, 1, 1, 1, 2, 0]
            for n, value in enumerate(values, 1):
                session.add(Answer(run_id=run.id, item_id=f"q{n}", value=value, answered_at=now))
            session.add(Answer(run_id=run.id, item_id="difficulty", value=2, answered_at=now))
        run = QuestionnaireRun(
            patient_id=1,
            questionnaire="checkin",
            status="completed",
            created_at=now,
            started_at=now,
            finished_at=now,
        )
        session.add(run)
        session.flush()
        session.add(Answer(run_id=run.id, item_id="note", text="=cmd|' /C calc'!A0", answered_at=now))
        session.add(
            SafetyAlert(
                patient_id=1, source="crisis_language", created_at=now, notified_count=1, last_notified_at=now
            )
        )


def test_results_list_shows_scores_and_progress_from_the_first(cli: Cli) -> None:
    _seed(cli)
    rows = cli.json("results", "list", "--patient", "1")
    assert [
        set(r) >= {"id", "patient_id", "questionnaire", "status", "score", "severity", "answers"}
        for r in rows
    ] == [True] * 3
    assert rows[1]["progress"] == {"baseline": 20, "change": -11, "response": True, "remission": False}
    assert rows[0]["answers"]["q1"] == 3
    shown = cli.run("results", "show", "2").stdout
    assert "score 9, severity mild" in shown and "little interest" in shown


def test_exports_csv_without_live_formulas_json_and_fhir(cli: Cli) -> None:
    _seed(cli)
    table = list(csv.DictReader(io.StringIO(cli.run("results", "export", "--format", "csv").stdout)))
    [note] = [r for r in table if r["item"] == "note"]
    assert note["answer"].startswith("'=cmd")
    assert len(json.loads(cli.run("results", "export", "--format", "json").stdout)) == 3
    bundle = json.loads(cli.run("results", "export", "--format", "fhir").stdout)
    first = bundle["entry"][0]["resource"]
    assert first["resourceType"] == "QuestionnaireResponse" and first["status"] == "completed"
    assert first["questionnaire"] == "http://loinc.org/q/44249-1"
    q1 = next(i for i in first["item"] if i["linkId"] == "q1")
    assert q1["code"] == [{"system": "http://loinc.org", "code": "44250-9"}]
    assert q1["answer"] == [
        {"valueCoding": {"display": "Nearly every day", "system": "http://loinc.org", "code": "LA6571-9"}}
    ]
    difficulty = next(i for i in first["item"] if i["linkId"] == "difficulty")
    assert difficulty["answer"] == [
        {"valueCoding": {"display": "Very difficult", "system": "http://loinc.org", "code": "LA6575-0"}}
    ]
    total = next(i for i in first["item"] if i["linkId"] == "total")
    assert total["answer"] == [{"valueInteger": 20}] and total["code"][0]["code"] == "44261-6"
    bad = cli.run("results", "export", "--format", "xml", ok=False)
    assert bad.returncode == 1 and "must be csv, json or fhir" in bad.stderr


def test_alerts_are_listed_and_acknowledged_once(cli: Cli) -> None:
    _seed(cli)
    [alert] = cli.json("alerts", "list", "--open")
    assert alert["status"] == "open" and alert["source"] == "crisis_language"
    # An alert from before categories (a migrated database): nobody texted, no triggers stored.
    assert (alert["told"], alert["triggers"], alert["more_texts"], alert["category"]) == ([], [], 0, None)
    acked = cli.json("alerts", "ack", str(alert["id"]), "--by", "dr-lee", "--note", "called, safe")
    assert (acked["status"], acked["acknowledged_by"]) == ("acknowledged", "dr-lee")
    assert cli.json("alerts", "list", "--open") == []
    again = cli.run("alerts", "ack", str(alert["id"]), "--by", "x", ok=False)
    assert again.returncode == 1 and "was acknowledged by dr-lee" in again.stderr


def test_questionnaires_list_and_validate(cli: Cli, tmp_path: object) -> None:
    ids = [q["id"] for q in cli.json("questionnaires", "list")]
    assert ids == ["checkin", "gad7", "phq9"]
    assert "ok  crisis_rules.yaml" in cli.run("questionnaires", "validate").stdout
