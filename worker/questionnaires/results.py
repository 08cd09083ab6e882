"""Results as operators and other systems read them: rows, history, CSV, JSON and FHIR R4."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db.models import QuestionnaireRun
from worker.enums import RunStatus
from worker.questionnaires.definitions import Catalogue, pick
from worker.questionnaires.runs import answers_of
from worker.questionnaires.scoring import progress

LOINC = "http://loinc.org"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def result_rows(
    session: Session, catalogue: Catalogue, patient_id: int | None = None
) -> list[dict[str, Any]]:
    """Every run, oldest first, with its answers and, for scored runs, the change from the
    patient's first score on the same questionnaire."""
    query = select(QuestionnaireRun).order_by(QuestionnaireRun.created_at, QuestionnaireRun.id)
    if patient_id is not None:
        query = query.where(QuestionnaireRun.patient_id == patient_id)
    first: dict[tuple[int, str], int] = {}
    rows = []
    for run in session.scalars(query):
        row = _row(session, catalogue, run)
        if run.score is not None:
            baseline = first.setdefault((run.patient_id, run.questionnaire), run.score)
            row["progress"] = vars(progress(run.questionnaire, baseline, run.score))
        rows.append(row)
    return rows


def _row(session: Session, catalogue: Catalogue, run: QuestionnaireRun) -> dict[str, Any]:
    questionnaire = catalogue.by_id.get(run.questionnaire)
    answers = answers_of(session, questionnaire, run.id) if questionnaire else {}
    return {
        "id": run.id,
        "patient_id": run.patient_id,
        "appointment_id": run.appointment_id,
        "questionnaire": run.questionnaire,
        "status": run.status,
        "score": run.score,
        "severity": run.severity,
        "answers": answers,
        "current_item": run.current_item,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "progress": None,
    }


def to_csv(rows: list[dict[str, Any]]) -> str:
    """One line per answer. Cells that a spreadsheet would run as a formula are escaped."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "run_id",
            "patient_id",
            "questionnaire",
            "status",
            "score",
            "severity",
            "item",
            "answer",
            "finished_at",
        ]
    )
    for row in rows:
        for item, answer in row["answers"].items():
            writer.writerow(
                [
                    row["id"],
                    row["patient_id"],
                    row["questionnaire"],
                    row["status"],
                    row["score"],
                    row["severity"],
                    item,
                    _safe_cell(answer),
                    row["finished_at"] or "",
                ]
            )
    return out.getvalue()


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=str, ensure_ascii=False, indent=2)


def to_fhir(rows: list[dict[str, Any]], catalogue: Catalogue) -> str:
    """A FHIR R4 Bundle of QuestionnaireResponse resources, LOINC-coded where the definition is."""
    entries = [{"resource": questionnaire_response(row, catalogue)} for row in rows]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return json.dumps(bundle, ensure_ascii=False, indent=2)


def questionnaire_response(row: dict[str, Any], catalogue: Catalogue) -> dict[str, Any]:
    questionnaire = catalogue.get(row["questionnaire"])
    items = []
    for item in questionnaire.items:
        value = row["answers"].get(item.id)
        if value is None:
            continue
        entry: dict[str, Any] = {
            "linkId": item.id,
            "text": pick(item.prompt, "en"),
            "answer": [_answer(item, value)],
        }
        if item.code:
            entry["code"] = [{"system": LOINC, "code": item.code}]
        items.append(entry)
    if row["score"] is not None:
        total: dict[str, Any] = {
            "linkId": "total",
            "text": "Total score",
            "answer": [{"valueInteger": row["score"]}],
        }
        if questionnaire.total_code:
            total["code"] = [{"system": LOINC, "code": questionnaire.total_code}]
        items.append(total)
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"run-{row['id']}",
        "status": "completed" if row["status"] in (RunStatus.COMPLETED, RunStatus.PARTIAL) else "in-progress",
        "subject": {"reference": f"Patient/{row['patient_id']}"},
        "item": items,
    }
    if row["status"] in (RunStatus.EXPIRED, RunStatus.STOPPED):
        resource["status"] = "stopped"
    if questionnaire.code:
        resource["questionnaire"] = f"{LOINC}/q/{questionnaire.code}"
    if row["finished_at"] or row["started_at"]:
        resource["authored"] = (row["finished_at"] or row["started_at"]).isoformat()
    return resource


def _answer(item: Any, value: Any) -> dict[str, Any]:
    if item.type == "choice":
        option = next(o for o in item.options if o.value == value)
        coding = {"display": pick(option.label, "en")}
        if option.code:
            coding.update(system=LOINC, code=option.code)
        else:
            coding["code"] = str(option.value)
        return {"valueCoding": coding}
    if item.type == "yes_no":
        return {"valueBoolean": bool(value)}
    if item.type == "integer":
        return {"valueInteger": int(value)}
    return {"valueString": str(value)}
